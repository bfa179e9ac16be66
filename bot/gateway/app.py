"""The gateway's composition root: builds every part with what it needs, for the app's lifetime.

Resources open in ``cleanup_ctx`` generators, in order, and close in reverse: the database
engines, the HTTP session to Rasa, the routing (outbound path, router, handoffs, web chat),
the fan-out to the other gateways (with Redis), Telegram, the notifier, the webhook deliveries.
The satisfaction survey (:mod:`bot.survey`) is built with the routing and hears of its events
through hooks: the router's turn watch, the handoff's close, the notifier's paid-out news.
Routes are added when the app is made; their handlers find the parts in the app under the typed
keys of :mod:`bot.gateway.keys`, :mod:`bot.console.keys` and
:data:`bot.handoff.service.HANDOFFS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from bot.api import problems as api_problems
from bot.api.delivery import Deliverer
from bot.api.destinations import client_session
from bot.api.routes import setup as setup_api
from bot.channels.telegram import TelegramChannel
from bot.channels.webchat import WebChat
from bot.console import keys as console_keys
from bot.console.hub import ConsoleHub
from bot.console.routes import setup as setup_console
from bot.contract import HandoffReason
from bot.gateway import demo_shop, inputs, keys, views
from bot.gateway.fanout import FanOut
from bot.gateway.models import Channel
from bot.gateway.notifier import notifier
from bot.gateway.outbound import Outbound
from bot.gateway.rasa import RasaClient
from bot.gateway.ratelimit import RateLimits
from bot.gateway.router import Router
from bot.handoff.service import HANDOFFS, Handoffs
from bot.observability import http as observability
from bot.observability.metrics import GatewayMetrics
from bot.refunds.db import Database
from bot.settings import Settings, ensure_rasa_token, ensure_shop_secret
from bot.survey.models import SurveyEvent
from bot.survey.service import SURVEY, Survey


def create_app(settings: Settings) -> web.Application:
    """Return the gateway app; resources open on startup and close on cleanup."""
    # The shop API's errors are problem+json, those of the middlewares after it included.
    app = web.Application(middlewares=[api_problems.problems, inputs.readable_paths])
    app[keys.SETTINGS] = settings
    limits = app[keys.LIMITS] = RateLimits.of(settings.gateway, settings.redis_url)
    app[keys.SHOP_SECRET] = ensure_shop_secret(settings)
    app[keys.TELEGRAM] = None
    fanout = (
        FanOut(settings.redis_url, on_lost=limits.forget_connections)
        if settings.redis_url
        else None
    )
    app[keys.FANOUT] = fanout
    app[console_keys.HUB] = ConsoleHub(share=fanout.publish if fanout else None)
    app.cleanup_ctx.extend([_database, _http, _routing, _fanout, _telegram, _notifier, _webhooks])
    # Open sockets would hold a graceful stop for its whole timeout; widgets reconnect anyway.
    app.on_shutdown.append(_close_sockets)  # type: ignore[arg-type]  # aiosignal/aiohttp stubs disagree
    app.on_cleanup.append(_close_limits)  # type: ignore[arg-type]
    views.setup_routes(app)
    if settings.gateway.demo_shop:
        demo_shop.setup(app)
    setup_console(app)
    setup_api(app)
    observability.setup(
        app,
        GatewayMetrics(
            channels=[c.value for c in Channel],
            handoff_reasons=[r.value for r in HandoffReason],
            rasa_servers=settings.rasa_servers,
        ),
    )
    return app


async def _close_sockets(app: web.Application) -> None:
    webchat = app.get(keys.WEBCHAT)
    if webchat is not None:
        await webchat.close()
    await app[console_keys.HUB].close()


async def _close_limits(app: web.Application) -> None:
    await app[keys.LIMITS].close()


async def _database(app: web.Application) -> AsyncIterator[None]:
    database = Database(app[keys.SETTINGS].database_url)
    app[keys.SESSIONS] = database.sessions
    app[keys.READ_SESSIONS] = database.read_sessions
    app[console_keys.HUB].check_sessions_with(database.read_sessions)
    try:
        yield
    finally:
        database.dispose()


async def _http(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as http:
        app[keys.HTTP] = http
        yield


async def _routing(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    sessions = app[keys.SESSIONS]
    hub = app[console_keys.HUB]
    metrics = app[observability.METRICS]
    rasa = RasaClient(
        app[keys.HTTP],
        settings.rasa_servers,
        timeout_seconds=settings.gateway.rasa_timeout_seconds,
        token=ensure_rasa_token(settings),
        on_request=metrics.rasa_request,
        down_seconds=settings.gateway.rasa_down_seconds,
    )
    fanout = app[keys.FANOUT]
    outbound = Outbound(
        sessions=sessions,
        observers=[metrics.message],
        viewers=[hub.message],
        share=fanout.publish if fanout else _alone,
    )
    survey = Survey(
        sessions=sessions, read_sessions=app[keys.READ_SESSIONS], rasa=rasa, outbound=outbound
    )

    async def closed(conversation_id: str, agent_id: int) -> None:
        await survey.offer(conversation_id, SurveyEvent.CLOSED, agent_id=agent_id)

    handoffs = Handoffs(
        sessions=sessions,
        rasa=rasa,
        outbound=outbound,
        settings=settings.console,
        publish=hub.publish,
        on_claim=metrics.handoff_claimed,
        on_close=closed,
    )
    router = Router(
        sessions=sessions,
        rasa=rasa,
        outbound=outbound,
        on_handoff=handoffs.request,
        slow_notice_seconds=settings.gateway.rasa_slow_notice_seconds,
        retry_max_seconds=settings.gateway.rasa_retry_max_seconds,
        on_turn=metrics.turn,
        watch=survey,
    )
    webchat = WebChat(
        settings=settings,
        shop_secret=app[keys.SHOP_SECRET],
        sessions=sessions,
        read_sessions=app[keys.READ_SESSIONS],
        router=router,
        outbound=outbound,
        limits=app[keys.LIMITS],
    )
    outbound.register(webchat, every_gateway=True)
    app[keys.RASA] = rasa
    app[keys.OUTBOUND] = outbound
    app[keys.ROUTER] = router
    app[keys.WEBCHAT] = webchat
    app[HANDOFFS] = handoffs
    app[SURVEY] = survey
    await router.start()
    try:
        yield
    finally:
        await router.close()


async def _alone(_: dict[str, Any]) -> None:
    """Share nothing: this gateway is the only one."""


async def _fanout(app: web.Application) -> AsyncIterator[None]:
    fanout = app[keys.FANOUT]
    if fanout is None:
        yield
        return
    hub, outbound = app[console_keys.HUB], app[keys.OUTBOUND]

    async def receive(event: dict[str, Any]) -> None:
        frame = event.get("frame")
        if event.get("kind") == "console" and isinstance(frame, dict):
            await hub.show(frame)
        else:
            await outbound.shown_elsewhere(event)

    async for _ in fanout.run(receive):
        yield


async def _telegram(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    if not settings.gateway.telegram_token:
        yield
        return
    outbound = app[keys.OUTBOUND]
    channel = TelegramChannel(
        settings=settings,
        shop_secret=app[keys.SHOP_SECRET],
        router=app[keys.ROUTER],
        outbound=outbound,
        sessions=app[keys.SESSIONS],
        limits=app[keys.LIMITS],
    )
    outbound.register(channel)
    app[keys.TELEGRAM] = channel
    async for _ in channel.run():
        if channel.failed:
            app[keys.TELEGRAM] = None
            outbound.unregister(channel)
        yield


async def _notifier(app: web.Application) -> AsyncIterator[None]:
    survey = app[SURVEY]

    async def paid(conversation_id: str, application_id: int) -> None:
        await survey.offer(conversation_id, SurveyEvent.PAID_OUT, application_id=application_id)

    async for _ in notifier(
        app[keys.OUTBOUND],
        app[keys.SESSIONS],
        interval_seconds=app[keys.SETTINGS].gateway.notify_interval_seconds,
        recent=dt.timedelta(days=app[keys.SETTINGS].gateway.notify_recent_days),
        sweep_seconds=app[keys.SETTINGS].gateway.review_sweep_seconds,
        read_sessions=app[keys.READ_SESSIONS],
        on_failure=app[observability.METRICS].notifier_failed,
        on_paid=paid,
    ):
        yield


async def _webhooks(app: web.Application) -> AsyncIterator[None]:
    async with client_session(app[keys.SETTINGS].gateway) as http:
        deliverer = Deliverer(
            sessions=app[keys.SESSIONS],
            read_sessions=app[keys.READ_SESSIONS],
            http=http,
            settings=app[keys.SETTINGS].gateway,
        )
        async for _ in deliverer.run():
            yield
