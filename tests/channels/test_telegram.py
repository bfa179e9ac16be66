from __future__ import annotations

import datetime as dt
import gc
import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from telegram.helpers import escape_markdown

from bot.channels.telegram import KEEP_UPDATE_IDS, SECRET_HEADER, split_text
from bot.gateway import keys
from bot.gateway.app import create_app
from bot.gateway.identity import make_start_parameter, make_token, verify_start_parameter
from bot.gateway.models import Conversation, TelegramUpdate, TranscriptMessage
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import RefundStatus
from bot.refunds.models import Evidence
from bot.settings import Settings
from tests.channels.telegram_buyer import CHAT, HOOK_SECRET, Buyer, telegram_settings
from tests.factories import make_customer, move, submit
from tests.gateway.doubles import (
    PDF,
    PNG,
    SHOP_SECRET,
    TELEGRAM_TOKEN,
    BotApiDouble,
    RasaDouble,
    callback_update,
    document_update,
    edited_update,
    photo_update,
    text_update,
    wait_until,
    with_gateway,
)
from tests.gateway.webchat_client import hello


@pytest.fixture
async def webhook_gateway(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
) -> TestClient:
    return await aiohttp_client(create_app(telegram_settings(settings, bot_api, "webhook")))


async def full_refund_conversation(buyer: Buyer, rasa: RasaDouble, settings: Settings) -> None:
    with get_sessionmaker(settings.database_url).begin() as session:
        make_customer(session, id="c-1001", name="Ada Buyer")
    start = f"/start {make_start_parameter(SHOP_SECRET, 'c-1001')}"
    await buyer.says(start)
    await wait_until(lambda: len(buyer.bot_api.texts(CHAT)) >= 2, what="the greeting")
    assert buyer.bot_api.texts(CHAT)[:2] == [
        "You're signed in as Ada Buyer\\.",
        "Hi\\! I can help you with refunds\\.",
    ]
    await buyer.says("I want a refund")
    await buyer.says("3000012345678901")
    assert [b["text"] for b in buyer.last_keyboard()] == [
        "Refund without return",
        "Return and refund",
    ]
    await buyer.presses("Refund without return")
    assert buyer.bot_api.called("answerCallbackQuery")
    removed = buyer.bot_api.called("editMessageReplyMarkup")
    assert len(removed) == 1
    assert int(removed[0]["chat_id"]) == CHAT
    assert "reply_markup" not in removed[0]
    await buyer.presses("Yes, submit")
    assert buyer.bot_api.texts(CHAT)[-1] == "Submitted\\. Your application number is R\\-TEST1\\."
    assert rasa.messages == [
        "/greet",
        "I want a refund",
        "3000012345678901",
        '/inform{"refund_method":"no_return_refund"}',
        "/affirm",
    ]
    assert {r["sender"] for r in rasa.requests} == {f"tg-{CHAT}"}
    assert all(
        r["metadata"] == {"channel": "telegram", "customer_id": "c-1001", "language": "en"}
        for r in rasa.requests
    )
    assert len(buyer.bot_api.called("sendChatAction")) >= 5
    assert all(p["parse_mode"] == "MarkdownV2" for p in buyer.bot_api.called("sendMessage"))


async def test_full_refund_conversation_by_webhook(
    webhook_gateway: TestClient, bot_api: BotApiDouble, rasa: RasaDouble, settings: Settings
) -> None:
    set_webhook = bot_api.called("setWebhook")
    assert set_webhook[0]["url"] == "https://shop.example/refundbot/telegram/webhook"
    assert set_webhook[0]["secret_token"] == HOOK_SECRET
    await full_refund_conversation(Buyer(bot_api, webhook_gateway), rasa, settings)


async def test_full_refund_conversation_by_polling(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
) -> None:
    client = await aiohttp_client(create_app(telegram_settings(settings, bot_api, "polling")))
    assert bot_api.called("deleteWebhook")
    await full_refund_conversation(Buyer(bot_api, None), rasa, settings)
    assert (await client.post("/telegram/webhook", json={})).status == 403


async def test_wrong_secret_is_rejected_and_nothing_recorded(
    webhook_gateway: TestClient, bot_api: BotApiDouble, rasa: RasaDouble, settings: Settings
) -> None:
    buyer = Buyer(bot_api, webhook_gateway)
    calls_before = list(bot_api.calls)
    assert await buyer.send(text_update(CHAT, "hi"), secret="wrong") == 403
    response = await webhook_gateway.post("/telegram/webhook", json=text_update(CHAT, "hi"))
    assert response.status == 403
    await webhook_gateway.app[keys.ROUTER].idle()
    assert bot_api.calls == calls_before
    assert rasa.requests == []
    with get_sessionmaker(settings.database_url).begin() as session:
        assert session.execute(select(func.count(TelegramUpdate.update_id))).scalar_one() == 0
        assert session.execute(select(func.count(TranscriptMessage.id))).scalar_one() == 0


async def test_duplicate_update_is_processed_once(
    webhook_gateway: TestClient, bot_api: BotApiDouble, rasa: RasaDouble
) -> None:
    buyer = Buyer(bot_api, webhook_gateway)
    update = text_update(CHAT, "hello", update_id=777)
    assert await buyer.send(update) == 200
    assert await buyer.send(update) == 200
    await wait_until(lambda: bot_api.texts(CHAT) == ["You said: hello"])
    await buyer.says("after")
    assert rasa.messages == ["hello", "after"]
    assert bot_api.texts(CHAT) == ["You said: hello", "You said: after"]


async def test_photo_is_kept_as_evidence(
    webhook_gateway: TestClient, bot_api: BotApiDouble, rasa: RasaDouble, settings: Settings
) -> None:
    buyer = Buyer(bot_api, webhook_gateway)
    bot_api.files["ph-1"] = ("photos/file_1.jpg", PNG)
    await buyer.send(photo_update(CHAT, "ph-1", len(PNG), caption="it arrived broken"))
    await wait_until(lambda: len(bot_api.texts(CHAT)) >= 2, what="ack and caption reply")
    assert bot_api.called("getFile")[0]["file_id"] == "ph-1"
    texts = bot_api.texts(CHAT)
    assert texts[0].startswith("Thanks, I've kept photo\\-")
    assert texts[1] == "You said: it arrived broken"
    with get_sessionmaker(settings.database_url).begin() as session:
        evidence = session.execute(select(Evidence)).scalar_one()
        assert evidence.conversation_id == f"tg-{CHAT}"
        assert evidence.content_type == "image/png"
        assert evidence.size == len(PNG)
        assert evidence.application_id is None


async def test_documents_over_the_limits_get_a_clear_answer(
    webhook_gateway: TestClient, bot_api: BotApiDouble, settings: Settings
) -> None:
    buyer = Buyer(bot_api, webhook_gateway)
    await buyer.send(document_update(CHAT, "big", "scan.pdf", "application/pdf", 10**7))
    await wait_until(lambda: len(bot_api.texts(CHAT)) >= 1)
    assert "I can take files up to 64 KB" in bot_api.texts(CHAT)[0]
    assert not bot_api.called("getFile")
    bot_api.files["exe"] = ("documents/x.exe", b"MZ\x90\x00")
    await buyer.send(document_update(CHAT, "exe", "invoice.pdf", "application/pdf", 4))
    await wait_until(lambda: len(bot_api.texts(CHAT)) >= 2)
    assert "only take photos" in bot_api.texts(CHAT)[1]
    bot_api.files["pdf"] = ("documents/receipt.pdf", PDF)
    await buyer.send(document_update(CHAT, "pdf", "receipt.pdf", "application/pdf", len(PDF)))
    await wait_until(lambda: len(bot_api.texts(CHAT)) >= 3)
    assert "receipt\\.pdf" in bot_api.texts(CHAT)[2]
    with get_sessionmaker(settings.database_url).begin() as session:
        assert session.execute(select(Evidence.filename)).scalars().all() == ["receipt.pdf"]


async def test_edited_messages_and_stale_buttons_do_not_crash(
    webhook_gateway: TestClient, bot_api: BotApiDouble, rasa: RasaDouble
) -> None:
    buyer = Buyer(bot_api, webhook_gateway)
    await buyer.send(edited_update(CHAT, "changed my mind"))
    await wait_until(lambda: len(bot_api.texts(CHAT)) == 1)
    assert "can't see edits" in bot_api.texts(CHAT)[0]
    await buyer.send(callback_update(CHAT, "b:999:0"))
    await buyer.send(callback_update(CHAT, '/inform{"x":1}'))
    await wait_until(lambda: len(bot_api.called("answerCallbackQuery")) == 2)
    assert all("no longer available" in a["text"] for a in bot_api.called("answerCallbackQuery"))
    await buyer.says("still fine")
    assert rasa.messages == ["still fine"]


async def test_invalid_deep_link_leaves_the_chat_anonymous(
    webhook_gateway: TestClient, bot_api: BotApiDouble, rasa: RasaDouble, settings: Settings
) -> None:
    buyer = Buyer(bot_api, webhook_gateway)
    forged = make_start_parameter("not-the-shop-secret", "c-1001")
    await buyer.says(f"/start {forged}")
    await wait_until(lambda: len(bot_api.texts(CHAT)) >= 2)
    assert "invalid or has expired" in bot_api.texts(CHAT)[0]
    assert rasa.requests[0]["metadata"] == {"channel": "telegram", "language": "en"}
    with get_sessionmaker(settings.database_url).begin() as session:
        assert session.get(Conversation, f"tg-{CHAT}").customer_id is None


async def test_long_texts_are_split_and_markdown_escaped(
    webhook_gateway: TestClient, bot_api: BotApiDouble
) -> None:
    buyer = Buyer(bot_api, webhook_gateway)
    await buyer.send(text_update(CHAT, "long"))
    await wait_until(lambda: len(bot_api.texts(CHAT)) == 3)
    texts = bot_api.texts(CHAT)
    assert all(len(t) <= 4096 * 2 for t in texts)
    assert texts[-1].endswith("\\_end\\_ \\*stars\\* \\[link\\]\\(x\\)")


def test_split_text_respects_the_limit_in_utf16_units() -> None:
    text = ("😀" * 3000) + "\n" + ("word " * 1000)
    pieces = split_text(text)
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )
    assert split_text("short") == ["short"]
    assert split_text("") == [""]


async def test_status_change_reaches_the_channel_the_buyer_used_last(
    webhook_gateway: TestClient, bot_api: BotApiDouble, settings: Settings
) -> None:
    ws, welcome = await hello(webhook_gateway, token=make_token(SHOP_SECRET, "c-1001"))
    web_conversation = welcome["session"].rpartition(".")[0]
    await ws.close()
    application_id = submit(settings, web_conversation)
    buyer = Buyer(bot_api, webhook_gateway)
    await buyer.says(f"/start {make_start_parameter(SHOP_SECRET, 'c-1001')}")
    await wait_until(lambda: len(bot_api.texts(CHAT)) >= 2)
    reference = escape_markdown(move(settings, application_id, RefundStatus.APPROVED), version=2)
    await wait_until(
        lambda: any(reference in t for t in bot_api.texts(CHAT)), what="the approval on Telegram"
    )
    assert "approved for return" in bot_api.texts(CHAT)[-1]


# python-telegram-bot leaves its HTTP connection open when Bot.initialize fails (shutdown() is a
# no-op for a bot that never initialised); the test collects the failed channel itself, below.
@pytest.mark.filterwarnings(r"ignore:unclosed (transport|resource|<socket\.socket):ResourceWarning")
async def test_gateway_runs_on_when_telegram_cannot_start(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    rasa: RasaDouble,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = with_gateway(
        settings, telegram_token=TELEGRAM_TOKEN, telegram_api_url=f"{rasa.url}/nothing-here"
    )
    client = await aiohttp_client(create_app(broken))
    health = await (await client.get("/health")).json()
    assert health["checks"]["telegram"]["ok"] is False
    assert (await client.post("/telegram/webhook", json={})).status == 404
    assert (await client.get("/health/live")).status == 200
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "text": "web still works", "client_id": "m"})
    await wait_until(lambda: rasa.messages == ["web still works"])
    await ws.close()
    assert "Telegram could not be started" in caplog.text
    # Once the app has shut down and the logged traceback is let go, the failed channel is
    # garbage: collect it now, so its connection is reported here and not in a later test.
    await client.close()
    for record in caplog.records:
        record.exc_info = None
    gc.collect()


@pytest.mark.demo_shop
async def test_demo_shop_offers_a_signed_deep_link(
    webhook_gateway: TestClient, settings: Settings
) -> None:
    with get_sessionmaker(settings.database_url).begin() as session:
        make_customer(session, id="c-1001", name="Ada Buyer")
    page = await (await webhook_gateway.get("/")).text()
    link = re.search(r'href="https://t\.me/refund_test_bot\?start=([A-Za-z0-9_-]+)"', page)
    assert link is not None
    assert verify_start_parameter(SHOP_SECRET, link.group(1)) == "c-1001"
    guest = await (await webhook_gateway.get("/?anonymous=1")).text()
    assert "t.me" not in guest


async def test_images_and_malformed_webhook_calls(
    webhook_gateway: TestClient, bot_api: BotApiDouble
) -> None:
    buyer = Buyer(bot_api, webhook_gateway)
    for junk in ({"no": "update"}, ["a", "list"]):
        assert await buyer.send(junk) == 400  # type: ignore[arg-type]
    response = await webhook_gateway.post(
        "/telegram/webhook", data=b"{not json", headers={SECRET_HEADER: HOOK_SECRET}
    )
    assert response.status == 400
    await buyer.send(text_update(CHAT, "image"))
    await wait_until(lambda: bool(bot_api.called("sendPhoto")))
    assert bot_api.called("sendPhoto")[0]["photo"] == "https://example.com/a.png"


async def test_records_of_old_update_ids_are_forgotten(
    webhook_gateway: TestClient, bot_api: BotApiDouble, rasa: RasaDouble, settings: Settings
) -> None:
    # Telegram redelivers an update for 24 hours at most: ids taken in days ago cannot come
    # back, and the table of ids must not grow for ever.
    long_ago = dt.datetime.now(dt.timezone.utc) - KEEP_UPDATE_IDS - dt.timedelta(minutes=1)
    recently = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=23)
    with get_sessionmaker(settings.database_url).begin() as session:
        session.add(TelegramUpdate(update_id=5, received_at=long_ago))
        session.add(TelegramUpdate(update_id=6, received_at=recently))
    buyer = Buyer(bot_api, webhook_gateway)
    assert await buyer.send(text_update(CHAT, "hello", update_id=900)) == 200
    await wait_until(lambda: bot_api.texts(CHAT) == ["You said: hello"])
    with get_sessionmaker(settings.database_url).begin() as session:
        kept = session.execute(select(TelegramUpdate.update_id)).scalars().all()
    assert sorted(kept) == [6, 900]
    # A redelivery of the recent one is still stopped.
    assert await buyer.send(text_update(CHAT, "again", update_id=6)) == 200
    await buyer.says("after")
    assert rasa.messages == ["hello", "after"]
