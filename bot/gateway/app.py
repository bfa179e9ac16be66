"""The gateway's aiohttp application: channels, router, notifier, health and the demo shop."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel
from bot.channels.webchat import STATIC_DIR, WebChat
from bot.console import views as console
from bot.console.hub import ConsoleHub
from bot.console.models import HandoffReason
from bot.gateway import keys, transcript
from bot.gateway.handoff import Handoffs, reason_of
from bot.gateway.identity import make_start_parameter, make_token
from bot.gateway.notifier import notifier
from bot.gateway.rasa import RasaClient, probe
from bot.gateway.router import Router
from bot.processes import read_status
from bot.refunds.db import get_sessionmaker
from bot.refunds.models import Customer, Order
from bot.settings import Settings, ensure_rasa_token, ensure_shop_secret

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    """Return the gateway app; resources open on startup and close on cleanup."""
    app = web.Application()
    app[keys.SETTINGS] = settings
    app[keys.SHOP_SECRET] = ensure_shop_secret(settings)
    app[keys.SESSIONS] = get_sessionmaker(settings.database_url)
    app[keys.READ_SESSIONS] = get_sessionmaker(settings.database_url, read_only=True)
    app[keys.WEBCHAT] = WebChat(app)
    app[keys.TELEGRAM] = None
    app[keys.CONSOLE_HUB] = ConsoleHub()
    app[keys.LOGIN_FAILURES] = {}
    app.cleanup_ctx.extend([_http, _routing, _telegram, _notifier])
    # Open sockets would hold a graceful stop for its whole timeout; widgets reconnect anyway.
    app.on_shutdown.append(_close_sockets)  # type: ignore[arg-type]  # aiosignal/aiohttp stubs disagree
    app.router.add_get("/health", health)
    app.router.add_get("/health/live", live)
    app.router.add_get("/webchat/ws", app[keys.WEBCHAT].websocket)
    app.router.add_post("/webchat/upload", app[keys.WEBCHAT].upload)
    app.router.add_route("OPTIONS", "/webchat/upload", app[keys.WEBCHAT].upload_preflight)
    app.router.add_post(WEBHOOK_PATH, telegram_webhook)
    app.router.add_get("/widget.js", _static_file("widget.js"))
    app.router.add_get("/widget.css", _static_file("widget.css"))
    if settings.gateway.demo_shop:
        app.router.add_get("/", demo_shop)
    console.setup(app)
    return app


async def _close_sockets(app: web.Application) -> None:
    await app[keys.WEBCHAT].close()
    await app[keys.CONSOLE_HUB].close()


async def _http(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as http:
        app[keys.HTTP] = http
        yield


async def _routing(app: web.Application) -> AsyncIterator[None]:
    gateway = app[keys.SETTINGS].gateway
    settings = app[keys.SETTINGS]
    rasa = RasaClient(
        app[keys.HTTP],
        settings.rasa_url,
        timeout_seconds=gateway.rasa_timeout_seconds,
        token=ensure_rasa_token(settings),
    )
    router = Router(
        sessions=app[keys.SESSIONS],
        rasa=rasa,
        slow_notice_seconds=gateway.rasa_slow_notice_seconds,
        retry_max_seconds=gateway.rasa_retry_max_seconds,
    )
    router.register(app[keys.WEBCHAT])
    hub = app[keys.CONSOLE_HUB]
    handoffs = Handoffs(
        sessions=app[keys.SESSIONS], rasa=rasa, router=router, settings=settings.console
    )
    handoffs.publish = hub.publish
    router.observe(hub.message)

    async def on_handoff(conversation_id: str, custom: Any) -> None:
        reason = reason_of(custom) or HandoffReason.BUYER_ASKED
        await handoffs.request(conversation_id, reason)

    router.on_handoff = on_handoff
    app[keys.RASA] = rasa
    app[keys.ROUTER] = router
    app[keys.HANDOFFS] = handoffs
    await router.start()
    try:
        yield
    finally:
        await router.close()
        await app[keys.WEBCHAT].close()


async def _telegram(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    if not settings.gateway.telegram_token:
        yield
        return
    channel = TelegramChannel(
        settings=settings,
        shop_secret=app[keys.SHOP_SECRET],
        router=app[keys.ROUTER],
        sessions=app[keys.SESSIONS],
    )
    app[keys.ROUTER].register(channel)
    app[keys.TELEGRAM] = channel
    async for _ in channel.run():
        if channel.failed:
            app[keys.TELEGRAM] = None
            app[keys.ROUTER].unregister(channel)
        yield


async def _notifier(app: web.Application) -> AsyncIterator[None]:
    async for _ in notifier(
        app[keys.ROUTER],
        app[keys.SESSIONS],
        interval_seconds=app[keys.SETTINGS].gateway.notify_interval_seconds,
        sweep_seconds=app[keys.SETTINGS].gateway.review_sweep_seconds,
        read_sessions=app[keys.READ_SESSIONS],
    ):
        yield


async def telegram_webhook(request: web.Request) -> web.Response:
    """Pass a Telegram webhook call to the Telegram channel, when it runs."""
    channel = request.app[keys.TELEGRAM]
    if channel is None:
        raise web.HTTPNotFound(text="Telegram is not configured")
    return await channel.webhook(request)


async def live(_: web.Request) -> web.Response:
    """Say the gateway process is up (for supervisors; ``/health`` checks dependencies)."""
    return web.json_response({"status": "ok"})


async def health(request: web.Request) -> web.Response:
    """Report each dependency: ``200`` when all are up, ``503`` otherwise; and the supervisor's."""
    app = request.app
    settings = app[keys.SETTINGS]
    http = app[keys.HTTP]
    checks: dict[str, dict[str, Any]] = {}
    try:
        await transcript.run_in_session(
            app[keys.SESSIONS], lambda s: s.execute(text("SELECT 1")).scalar_one()
        )
        checks["database"] = {"ok": True}
    except Exception as e:
        checks["database"] = {"ok": False, "error": type(e).__name__}
    checks["rasa"] = await probe(http, f"{settings.rasa_url}/")
    action_base = settings.action_server_url.rstrip("/").removesuffix("/webhook")
    checks["action_server"] = await probe(http, f"{action_base}/health")
    channel = app[keys.TELEGRAM]
    if settings.gateway.telegram_token:
        checks["telegram"] = {
            "ok": channel is not None and bool(channel.application.running),
            "mode": settings.gateway.telegram_mode,
        }
    ok = all(check["ok"] for check in checks.values())
    body: dict[str, Any] = {"status": "ok" if ok else "degraded", "checks": checks}
    if (processes := read_status(settings.var_dir)) is not None:
        body["processes"] = processes
    return web.json_response(body, status=200 if ok else 503)


async def demo_shop(request: web.Request) -> web.Response:
    """Serve a demo shop page with a few demo orders and the widget signed in as their buyer."""
    app = request.app
    settings = app[keys.SETTINGS]
    anonymous = request.query.get("anonymous") == "1"
    wanted = request.query.get("customer")

    def load(session: Session) -> tuple[list[Customer], Customer | None, list[Order]]:
        customers = list(session.execute(select(Customer).order_by(Customer.id).limit(5)).scalars())
        chosen = next((c for c in customers if c.id == wanted), None)
        if chosen is None and wanted:
            chosen = session.get(Customer, wanted)
        if chosen is None and customers:
            chosen = customers[0]
        orders: list[Order] = []
        if chosen is not None:
            orders = list(
                session.execute(
                    select(Order)
                    .where(Order.customer_id == chosen.id)
                    .order_by(Order.paid_at.desc())
                    .limit(6)
                ).scalars()
            )
            for order in orders:
                _ = list(order.items)
        return customers, chosen, orders

    customers, customer, orders = await transcript.run_in_session(app[keys.SESSIONS], load)
    secret = app[keys.SHOP_SECRET]
    token = ""
    if customer is not None and not anonymous:
        token = make_token(secret, customer.id, settings.gateway.token_ttl_seconds)
    telegram = app[keys.TELEGRAM]
    deep_link = ""
    if telegram is not None and telegram.username and customer is not None and not anonymous:
        try:
            parameter = make_start_parameter(secret, customer.id, 3600)
            deep_link = f"https://t.me/{telegram.username}?start={parameter}"
        except ValueError:
            deep_link = ""
    page = _render_shop(customers, None if anonymous else customer, orders, token, deep_link)
    return web.Response(text=page, content_type="text/html")


def _render_shop(
    customers: list[Customer],
    customer: Customer | None,
    orders: list[Order],
    token: str,
    deep_link: str,
) -> str:
    e = html.escape
    switch = " · ".join(
        f'<a href="/?customer={e(c.id)}">{e(c.name or c.id)}</a>' for c in customers
    )
    switch = (switch + " · " if switch else "") + '<a href="/?anonymous=1">guest</a>'
    if customer is None:
        who = "You are browsing as a guest. The assistant can explain the refund policy."
    else:
        who = f"Signed in as <strong>{e(customer.name or customer.id)}</strong> ({e(customer.id)})."
    rows = "".join(
        "<tr>"
        f"<td><code>{e(o.id)}</code></td>"
        f"<td>{e(', '.join(item.title for item in o.items) or '—')}</td>"
        f"<td>{e(o.status.replace('_', ' '))}</td>"
        f"<td>{e(str(o.total))} {e(o.currency)}</td>"
        "</tr>"
        for o in orders
    )
    table = (
        "<table><thead><tr><th>Order</th><th>Items</th><th>Status</th><th>Total</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
        if rows and customer is not None
        else "<p>No orders to show.</p>"
    )
    telegram = f'<p><a href="{e(deep_link)}">Continue on Telegram</a></p>' if deep_link else ""
    token_attr = f' data-token="{e(token)}"' if token else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo shop — refund assistant</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7fb; }}
header {{ background: #e62e04; color: #fff; padding: 1rem 1.5rem; }}
main {{ padding: 1rem 1.5rem; max-width: 60rem; }}
table {{ border-collapse: collapse; width: 100%; background: #fff; }}
th, td {{ text-align: left; padding: .5rem; border-bottom: 1px solid #e3e5ec; }}
a {{ color: #b42303; }}
</style>
</head>
<body>
<header><h1>Demo shop</h1></header>
<main>
<p>{who}</p>
<p>Shop as: {switch}</p>
<h2>Your orders</h2>
{table}
{telegram}
<p>Need help with a refund? Open the chat in the corner.</p>
</main>
<script src="/widget.js"{token_attr} async></script>
</body>
</html>
"""


def _static_file(name: str) -> Any:
    path = STATIC_DIR / name

    async def serve(_: web.Request) -> web.FileResponse:
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return serve
