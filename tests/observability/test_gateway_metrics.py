"""`/metrics` of a real gateway: a turn, a handoff and an agent taking it move the series."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient
from sqlalchemy import select, text

from bot.gateway import keys
from bot.gateway.app import create_app
from bot.gateway.models import Conversation
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.console.agents import Console, add_agent, client_of
from tests.gateway.doubles import RasaDouble, wait_until, with_gateway
from tests.gateway.webchat_client import bot_text, hello
from tests.observability.scrape import scrape

WEB = {"channel": "webchat"}


async def test_a_buyers_turn_is_timed_and_its_messages_counted(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    before = await scrape(gateway)
    assert before("refundbot_turn_seconds_count", outcome="answered", **WEB) == 0
    assert before("refundbot_backlogs_readable") == 1

    rasa.delay = 0.3
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "where is my parcel", "client_id": "m1"})
    assert (await bot_text(ws))["text"] == "You said: where is my parcel"
    await gateway.app[keys.ROUTER].idle()
    after = await scrape(gateway)

    assert after("refundbot_turn_seconds_count", outcome="answered", **WEB) == 1
    assert after("refundbot_turn_seconds_sum", outcome="answered", **WEB) >= 0.3
    # The double answered after 0.3 s: the turn is in no bucket below that, in every one above.
    assert after("refundbot_turn_seconds_bucket", outcome="answered", le="0.25", **WEB) == 0
    assert after("refundbot_turn_seconds_bucket", outcome="answered", le="+Inf", **WEB) == 1
    assert after("refundbot_turn_seconds_count", outcome="failed", **WEB) == 0
    counted = "refundbot_messages_total"
    for direction, sender in [("in", "buyer"), ("out", "bot")]:
        moved = after(counted, direction=direction, sender=sender, **WEB) - before(
            counted, direction=direction, sender=sender, **WEB
        )
        assert moved == 1, (direction, sender)
    assert after(counted, direction="out", sender="bot", channel="telegram") == 0
    assert after("refundbot_db_pool_size", pool="write") >= 1
    # A unit of work holding a connection shows (the notifier and webhook worker may hold more).
    with gateway.app[keys.SESSIONS].begin() as session:
        session.connection()
        held = await scrape(gateway)
    assert held("refundbot_db_pool_checked_out_connections", pool="write") >= 1
    assert after("refundbot_handoff_queue_length", state="waiting") == 0
    assert after("refundbot_notifier_lag_seconds") == 0
    assert after("refundbot_webhook_deliveries", state="failed") == 0
    # A conversation is never a label.
    (conversation_id,) = _conversations(gateway)
    assert conversation_id not in after.text
    await ws.close()


async def test_the_handoff_queue_and_the_wait_for_an_agent(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "a person please", "client_id": "m1"})
    await bot_text(ws)  # the bot says a person comes
    await gateway.app[keys.ROUTER].idle()
    await wait_until(
        lambda: len(_conversations(gateway)) == 1 and _handler(gateway) == "human",
        what="the handoff",
    )
    queued = await scrape(gateway)
    assert queued("refundbot_turn_seconds_count", outcome="handoff", **WEB) == 1
    assert queued("refundbot_handoff_queue_length", state="waiting") == 1
    assert queued("refundbot_handoff_queue_length", state="with_agent") == 0
    assert queued("refundbot_handoff_oldest_wait_seconds") >= 0
    assert queued("refundbot_handoff_wait_seconds_count", reason="buyer_asked") == 0

    add_agent(settings, "ana")
    ana = Console(gateway)
    assert await ana.sign_in("ana") == 302
    (conversation_id,) = _conversations(gateway)
    claimed = await ana.post(f"/console/api/conversations/{conversation_id}/claim")
    assert claimed.status == 200, await claimed.text()

    taken = await scrape(gateway)
    assert taken("refundbot_handoff_queue_length", state="waiting") == 0
    assert taken("refundbot_handoff_queue_length", state="with_agent") == 1
    assert taken("refundbot_handoff_oldest_wait_seconds") == 0
    assert taken("refundbot_handoff_wait_seconds_count", reason="buyer_asked") == 1
    system = "refundbot_messages_total"
    assert taken(system, direction="out", sender="system", **WEB) >= 1

    # Another agent taking it over moves the buyer between agents: no second wait.
    add_agent(settings, "ben")
    other_browser = await client_of(gateway.server)
    ben = Console(other_browser)
    assert await ben.sign_in("ben") == 302
    over = await ben.post(
        f"/console/api/conversations/{conversation_id}/claim", {"take_over": True}
    )
    assert over.status == 200, await over.text()
    moved = await scrape(gateway)
    assert moved("refundbot_handoff_wait_seconds_count", reason="buyer_asked") == 1
    assert moved("refundbot_handoff_queue_length", state="with_agent") == 1
    await other_browser.close()
    await ws.close()


async def test_metrics_are_for_this_machine_or_the_health_token(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:
    # The test client connects from 127.0.0.1; as a trusted proxy it speaks for a remote caller.
    behind_proxy = with_gateway(
        settings, trusted_proxies=("127.0.0.1",), health_token="health-secret-123"
    )
    client = await aiohttp_client(create_app(behind_proxy))
    remote = {"X-Forwarded-For": "203.0.113.9"}
    refused = await client.get("/metrics", headers=remote)
    assert refused.status == 403
    assert "refundbot_" not in await refused.text()
    wrong = await client.get("/metrics", headers={**remote, "Authorization": "Bearer nope"})
    assert wrong.status == 403
    allowed = await scrape(client, **remote, Authorization="Bearer health-secret-123")
    assert allowed("refundbot_backlogs_readable") == 1
    local = await scrape(client)
    assert "refundbot_turn_seconds" in local.families


async def test_two_apps_in_one_process_count_apart(
    aiohttp_client: Callable[..., Awaitable[TestClient]], gateway: TestClient, settings: Settings
) -> None:
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "hi", "client_id": "m1"})
    await bot_text(ws)
    await gateway.app[keys.ROUTER].idle()
    other = await aiohttp_client(create_app(settings))
    assert (await scrape(gateway))("refundbot_turn_seconds_count", outcome="answered", **WEB) == 1
    assert (await scrape(other))("refundbot_turn_seconds_count", outcome="answered", **WEB) == 0
    await ws.close()


def _conversations(client: TestClient) -> list[str]:
    url = client.app[keys.SETTINGS].database_url
    with get_sessionmaker(url).begin() as session:
        return list(session.execute(select(Conversation.id)).scalars())


def _handler(client: TestClient) -> str:
    url = client.app[keys.SETTINGS].database_url
    with get_sessionmaker(url).begin() as session:
        return str(session.execute(select(Conversation.handler)).scalar_one())


async def test_failed_notifier_passes_are_counted(gateway: TestClient) -> None:
    url = gateway.app[keys.SETTINGS].database_url
    sessions = get_sessionmaker(url)
    assert (await scrape(gateway))("refundbot_notifier_failures_total") == 0
    # The refund events out of reach: every pass fails until they are back.
    with sessions.begin() as session:
        session.execute(text("ALTER TABLE refund_events RENAME TO refund_events_away"))
    try:

        async def failing() -> bool:
            return (await scrape(gateway))("refundbot_notifier_failures_total") >= 2

        await wait_until(failing, what="failed notifier passes")
        assert (await scrape(gateway))("refundbot_backlogs_readable") == 0
    finally:
        with sessions.begin() as session:
            session.execute(text("ALTER TABLE refund_events_away RENAME TO refund_events"))
    assert (await scrape(gateway))("refundbot_backlogs_readable") == 1
