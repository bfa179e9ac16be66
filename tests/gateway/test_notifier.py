from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from telegram.helpers import escape_markdown

from bot.clock import utcnow
from bot.gateway import conversations, keys, transcript
from bot.gateway.app import create_app
from bot.gateway.identity import make_start_parameter, make_token
from bot.gateway.models import Channel, Conversation, GatewayCursor, TranscriptMessage
from bot.gateway.notifier import has_news, notify_once, start_cursor, take_batch
from bot.refunds import store
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import RefundStatus
from bot.refunds.models import Evidence, RefundApplication
from bot.settings import Settings
from tests.channels.telegram_buyer import CHAT, Buyer, telegram_settings
from tests.factories import NOW, move, submit, submit_for_review
from tests.gateway.doubles import (
    PNG,
    SHOP_SECRET,
    BotApiDouble,
    text_update,
    wait_until,
    with_gateway,
)
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


# ---- every channel the buyer uses, once each ---------------------------------------------------


def conversation_of(welcome: dict[str, Any]) -> str:
    return str(welcome["session"].rpartition(".")[0])


def told(settings: Settings, conversation_id: str, reference: str) -> int:
    """How many messages of the conversation's transcript carry ``reference``."""
    with get_sessionmaker(settings.database_url).begin() as session:
        messages = transcript.history(session, conversation_id=conversation_id)
        return sum(reference in (m.text or "") for m in messages)


def on_telegram(bot_api: BotApiDouble, chat_id: int, reference: str) -> int:
    escaped = escape_markdown(reference, version=2)
    return sum(escaped in t for t in bot_api.texts(chat_id))


def last_active(settings: Settings, conversation_id: str, days_ago: float) -> None:
    with get_sessionmaker(settings.database_url).begin() as session:
        row = session.get(Conversation, conversation_id)
        row.updated_at = utcnow() - dt.timedelta(days=days_ago)


def submit_as(settings: Settings, customer_id: str, conversation_id: str | None, key: str) -> int:
    with get_sessionmaker(settings.database_url).begin() as session:
        application = submit_for_review(
            session, customer_id=customer_id, conversation_id=conversation_id, key=key
        )
        return int(application.id)


async def signs_in_on_telegram(
    client: TestClient, bot_api: BotApiDouble, chat_id: int, customer_id: str
) -> None:
    link = make_start_parameter(SHOP_SECRET, customer_id)
    await Buyer(bot_api, client).send(text_update(chat_id, f"/start {link}"))
    await wait_until(lambda: len(bot_api.texts(chat_id)) >= 2, what="the welcome on Telegram")


async def test_news_reaches_the_widget_and_telegram_once_each_and_not_again_after_a_restart(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
) -> None:
    app_settings = telegram_settings(settings, bot_api, "webhook")
    client = await aiohttp_client(create_app(app_settings))
    ws, welcome = await hello(client, token=make_token(SHOP_SECRET, "c-1001"))
    web = conversation_of(welcome)
    await signs_in_on_telegram(client, bot_api, CHAT, "c-1001")
    # An older widget conversation of the same buyer, used a week ago: the widget opens the
    # latest one, so that is where the buyer reads the news.
    with get_sessionmaker(settings.database_url).begin() as session:
        conversations.ensure_conversation(
            session, conversation_id="web-older", channel=Channel.WEBCHAT, customer_id="c-1001"
        )
    last_active(settings, "web-older", days_ago=7)
    application_id = submit(settings, web)

    reference = move(settings, application_id, RefundStatus.APPROVED)
    approved = await bot_text(ws)
    assert approved["text"].startswith(f"Your refund application {reference} was approved")
    await wait_until(lambda: on_telegram(bot_api, CHAT, reference) == 1, what="Telegram told")
    move(settings, application_id, RefundStatus.RETURN_RECEIVED, RefundStatus.REFUNDED)
    # The widget's next message is the payment: the approval was not shown twice.
    paid = await bot_text(ws)
    assert paid["text"] == f"Your refund of 80.00 USD for application {reference} has been paid."
    await wait_until(lambda: on_telegram(bot_api, CHAT, reference) == 2, what="Telegram told")
    assert (told(settings, web, reference), told(settings, f"tg-{CHAT}", reference)) == (2, 2)
    assert told(settings, "web-older", reference) == 0
    await ws.close()
    await client.close()

    # A restart tells nothing again, on either channel.
    client = await aiohttp_client(create_app(app_settings))
    assert await notify_once(client.app[keys.OUTBOUND], client.app[keys.SESSIONS]) == 0
    ws, again = await hello(client, token=make_token(SHOP_SECRET, "c-1001"))
    assert sum(reference in (m["text"] or "") for m in again["history"]) == 2
    assert told(settings, f"tg-{CHAT}", reference) == 2
    assert on_telegram(bot_api, CHAT, reference) == 2
    await ws.close()


async def test_a_channel_idle_for_more_than_30_days_is_not_told(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
) -> None:
    client = await aiohttp_client(create_app(telegram_settings(settings, bot_api, "webhook")))
    await signs_in_on_telegram(client, bot_api, CHAT, "c-1001")
    last_active(settings, f"tg-{CHAT}", days_ago=31)
    ws, welcome = await hello(client, token=make_token(SHOP_SECRET, "c-1001"))
    web = conversation_of(welcome)
    reference = move(settings, submit(settings, web), RefundStatus.APPROVED)

    assert reference in (await bot_text(ws))["text"]
    # Recorded before it is delivered, in the same unit of work as the widget's copy.
    assert (told(settings, web, reference), told(settings, f"tg-{CHAT}", reference)) == (1, 0)
    assert on_telegram(bot_api, CHAT, reference) == 0
    await ws.close()


async def test_another_buyers_widget_and_telegram_hear_nothing(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
) -> None:
    client = await aiohttp_client(create_app(telegram_settings(settings, bot_api, "webhook")))
    ana_ws, ana = await hello(client, token=make_token(SHOP_SECRET, "c-1001"))
    ben_ws, ben = await hello(client, token=make_token(SHOP_SECRET, "c-1002"))
    await signs_in_on_telegram(client, bot_api, CHAT, "c-1001")
    await signs_in_on_telegram(client, bot_api, CHAT + 1, "c-1002")
    anas = move(settings, submit(settings, conversation_of(ana)), RefundStatus.APPROVED)
    assert anas in (await bot_text(ana_ws))["text"]
    await wait_until(lambda: on_telegram(bot_api, CHAT, anas) == 1, what="Ana told on Telegram")

    bens_application = submit_as(settings, "c-1002", conversation_of(ben), key="ben")
    bens = move(settings, bens_application, RefundStatus.APPROVED)
    # The first news Ben's widget shows is his own.
    assert bens in (await bot_text(ben_ws))["text"]
    await wait_until(lambda: on_telegram(bot_api, CHAT + 1, bens) == 1, what="Ben told")
    assert on_telegram(bot_api, CHAT + 1, anas) == 0
    assert on_telegram(bot_api, CHAT, bens) == 0
    for conversation in (conversation_of(ben), f"tg-{CHAT + 1}"):
        assert told(settings, conversation, anas) == 0
    for conversation in (conversation_of(ana), f"tg-{CHAT}"):
        assert told(settings, conversation, bens) == 0
    await ana_ws.close()
    await ben_ws.close()


def news_goes_to(
    settings: Settings,
    chats: list[tuple[str, str | None, float]],
    *,
    made_in: str | None,
) -> list[str]:
    """Where the approval of an application of ``c-1001`` made in ``made_in`` is told.

    ``chats`` are (id, customer signed in there, days since last used).
    """
    sessions = get_sessionmaker(settings.database_url)
    with sessions.begin() as session:
        for conversation_id, customer_id, _ in chats:
            channel = Channel.TELEGRAM if conversation_id.startswith("tg-") else Channel.WEBCHAT
            conversations.ensure_conversation(
                session,
                conversation_id=conversation_id,
                channel=channel,
                customer_id=customer_id,
                telegram_chat_id=int(conversation_id[3:]) if channel is Channel.TELEGRAM else None,
            )
        start_cursor(session)
    for conversation_id, _, days_ago in chats:
        last_active(settings, conversation_id, days_ago)
    move(settings, submit(settings, made_in), RefundStatus.APPROVED)
    with sessions.begin() as session:
        return sorted(draft.conversation_id for draft in take_batch(session))


def test_the_latest_conversation_on_each_recent_channel_is_told(settings: Settings) -> None:
    chats = [
        ("web-latest", "c-1001", 1),
        ("web-older", "c-1001", 2),
        ("tg-11", "c-1001", 29),
        ("tg-12", "c-1001", 40),
        ("web-ben", "c-1002", 0),
        ("tg-21", "c-1002", 0),
        ("web-anonymous", None, 0),
    ]
    assert news_goes_to(settings, chats, made_in="web-older") == ["tg-11", "web-latest"]


def test_when_no_channel_is_recent_the_last_used_one_keeps_the_news(settings: Settings) -> None:
    chats = [("web-a", "c-1001", 45), ("tg-11", "c-1001", 31), ("web-ben", "c-1002", 0)]
    assert news_goes_to(settings, chats, made_in="web-a") == ["tg-11"]


def test_an_application_made_anonymously_is_told_only_where_it_was_made(
    settings: Settings,
) -> None:
    # The buyer proved who they are with the order's e-mail, not a signed token.
    chats = [("web-anonymous", None, 60), ("web-a", "c-1001", 0), ("tg-11", "c-1001", 0)]
    assert news_goes_to(settings, chats, made_in="web-anonymous") == ["web-anonymous"]


def test_a_chat_since_signed_in_as_someone_else_is_not_told(settings: Settings) -> None:
    # Ana applied from Telegram chat 11; Ben has since signed that chat in with his link.
    chats = [("tg-11", "c-1002", 0), ("web-a", "c-1001", 3)]
    assert news_goes_to(settings, chats, made_in="tg-11") == ["web-a"]
