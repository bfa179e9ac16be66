from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.gateway.app import create_app
from bot.gateway.identity import make_token
from bot.gateway.models import GatewayCursor, TranscriptMessage
from bot.gateway.notifier import has_news, start_cursor, take_batch
from bot.refunds import store
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import RefundStatus
from bot.refunds.models import Evidence, RefundApplication
from bot.settings import Settings
from tests.factories import NOW, move, submit
from tests.gateway.doubles import PNG, SHOP_SECRET, wait_until, with_gateway
from tests.gateway.webchat_client import bot_text, frame, hello


async def test_state_changes_reach_the_buyer_once(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    ws, welcome = await hello(client, token=make_token(SHOP_SECRET, "c-1001"))
    conversation_id = welcome["session"].rpartition(".")[0]
    application_id = submit(settings, conversation_id)

    # Evidence sent while the application waits for review is linked to it at once.
    form = aiohttp.FormData()
    form.add_field("session", welcome["session"])
    form.add_field("file", PNG, filename="torn.png", content_type="image/png")
    assert (await client.post("/webchat/upload", data=form)).status == 200
    await frame(ws, "message")
    ack = await bot_text(ws)
    assert "added torn.png to your refund application" in ack["text"]

    reference = move(settings, application_id, RefundStatus.APPROVED)
    approved = await bot_text(ws)
    assert approved["sender"] == "system"
    assert approved["text"].startswith(
        f"Your refund application {reference} was approved for return"
    )

    move(settings, application_id, RefundStatus.RETURN_RECEIVED, RefundStatus.REFUNDED)
    refunded = await bot_text(ws)
    assert (
        refunded["text"] == f"Your refund of 80.00 USD for application {reference} has been paid."
    )
    await ws.close()
    await client.close()

    # A restart does not tell the same news again.
    client = await aiohttp_client(create_app(settings))
    ws, again = await hello(client, token=make_token(SHOP_SECRET, "c-1001"))
    texts = [m["text"] for m in again["history"]]
    assert sum(reference in (t or "") for t in texts) == 3
    with get_sessionmaker(settings.database_url).begin() as session:
        evidence = session.execute(select(Evidence)).scalar_one()
        assert evidence.application_id == application_id
        last_event = session.execute(select(func.max(store.RefundEvent.id))).scalar_one()
        assert session.get(GatewayCursor, "refund_events_notifier").position == last_event
    await ws.close()


async def test_rejection_carries_the_merchants_note(
    gateway: TestClient, settings: Settings
) -> None:
    ws, welcome = await hello(gateway, token=make_token(SHOP_SECRET, "c-1001"))
    application_id = submit(settings, welcome["session"].rpartition(".")[0])
    with get_sessionmaker(settings.database_url).begin() as session:
        application = session.get(RefundApplication, application_id)
        store.transition(
            session,
            application=application,
            to=RefundStatus.REJECTED,
            actor="merchant",
            now=NOW + dt.timedelta(days=1),
            note="The photos show wear from use.",
        )
    rejected = await bot_text(ws)
    assert rejected["text"].endswith("Note from the merchant: The photos show wear from use.")
    await ws.close()


async def test_first_start_tells_no_old_news_and_skips_unknown_conversations(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:
    old = submit(settings, "web-old", key="old")
    move(settings, old, RefundStatus.APPROVED)
    client = await aiohttp_client(create_app(settings))
    ghost = submit(settings, "web-never-seen", key="ghost")
    move(settings, ghost, RefundStatus.APPROVED)
    nobody = submit(settings, None, key="nobody")
    move(settings, nobody, RefundStatus.APPROVED)
    sessions = get_sessionmaker(settings.database_url)

    def caught_up() -> bool:
        with sessions.begin() as session:
            newest = session.execute(select(func.max(store.RefundEvent.id))).scalar_one()
            return bool(session.get(GatewayCursor, "refund_events_notifier").position == newest)

    await wait_until(caught_up, what="the notifier to catch up")
    with sessions.begin() as session:
        assert session.execute(select(func.count(TranscriptMessage.id))).scalar_one() == 0
    await client.close()


async def test_an_unanswered_application_is_approved_and_the_buyer_told(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:
    client = await aiohttp_client(create_app(with_gateway(settings, review_sweep_seconds=0.1)))
    ws, welcome = await hello(client, token=make_token(SHOP_SECRET, "c-1001"))
    application_id = submit(settings, welcome["session"].rpartition(".")[0])
    with get_sessionmaker(settings.database_url).begin() as session:
        application = session.get(RefundApplication, application_id)
        # The merchant's review deadline passed a minute ago without an answer.
        application.review_due_at = utcnow() - dt.timedelta(minutes=1)

    approved = await bot_text(ws)
    assert approved["sender"] == "system"
    assert "approved" in approved["text"]
    with get_sessionmaker(settings.database_url).begin() as session:
        application = session.get(RefundApplication, application_id)
        assert application.status == RefundStatus.AWAITING_RETURN.value
        actors = [
            (e.to_status, e.actor) for e in store.events_of(session, application_id=application_id)
        ]
        assert actors[-2:] == [("approved", "system"), ("awaiting_return", "system")]
    await ws.close()


def test_a_poll_with_nothing_to_tell_is_a_read(settings: Settings) -> None:
    writes = get_sessionmaker(settings.database_url)
    reads = get_sessionmaker(settings.database_url, read_only=True)
    with reads.begin() as session:
        assert not has_news(session)  # no cursor and no event yet
    with writes.begin() as session:
        start_cursor(session)
    application_id = submit(settings, None)
    with reads.begin() as session:
        assert has_news(session)  # the submission's event
    with writes.begin() as session:
        take_batch(session)
    with reads.begin() as session:
        assert not has_news(session)
    move(settings, application_id, RefundStatus.APPROVED)
    with reads.begin() as session:
        assert has_news(session)
