"""A conversation's language through the real gateway: widget, Telegram, Rasa's metadata, notices.

The gateway's own sentences come from the message catalogues, so these tests compare what the
buyer got with ``messages.text(key, language=...)`` of the language the gateway chose.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from bot import contract, messages
from bot.gateway.app import create_app
from bot.gateway.identity import make_token
from bot.gateway.models import Conversation
from bot.language_choice import spoken
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import RefundStatus
from bot.settings import Settings
from tests.channels.telegram_buyer import CHAT, Buyer, telegram_settings
from tests.factories import move, submit
from tests.gateway.doubles import (
    PNG,
    SHOP_SECRET,
    BotApiDouble,
    RasaDouble,
    text_update,
    wait_until,
)
from tests.gateway.webchat_client import bot_text, frame


async def hello(
    gateway: TestClient, language: str | None = None
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await gateway.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "language": language})
    return ws, await frame(ws, "welcome")


async def say(ws: aiohttp.ClientWebSocketResponse, said: str, client_id: str) -> dict[str, Any]:
    """Send a message; return the first message to the buyer after it."""
    await ws.send_json({"type": "message", "text": said, "client_id": client_id})
    return await bot_text(ws)


def languages_sent(rasa: RasaDouble) -> list[str]:
    return [r["metadata"][contract.LANGUAGE] for r in rasa.requests]


def stored(settings: Settings, conversation_id: str) -> tuple[str, str]:
    with get_sessionmaker(settings.database_url).begin() as session:
        row = session.get(Conversation, conversation_id)
        return row.language, row.language_source


async def test_a_spanish_buyer_is_answered_in_spanish_and_it_sticks(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, welcome = await hello(gateway)
    assert welcome["language"] == "en"
    await ws.send_json({"type": "message", "text": "Hola, quiero un reembolso", "client_id": "1"})
    echo = await frame(ws, "message")
    assert (echo["message"]["direction"], echo["language"]) == ("in", "es")
    reply = await bot_text(ws)
    assert reply["text"] == "You said: Hola, quiero un reembolso"
    await say(ws, "ok", "2")
    await say(ws, "8041235566701234", "3")
    await say(ws, "I want my money back", "4")  # the fourth message: too late to change it
    assert rasa.messages[1:] == ["ok", "8041235566701234", "I want my money back"]
    assert languages_sent(rasa) == ["es", "es", "es", "es"]
    conversation_id = rasa.requests[0]["sender"]
    assert stored(settings, conversation_id) == ("es", "detected")
    await ws.close()

    # The widget opened again finds the conversation in Spanish.
    again = await gateway.ws_connect("/webchat/ws")
    await again.send_json({"type": "hello", "session": welcome["session"]})
    assert (await frame(again, "welcome"))["language"] == "es"
    await again.close()


async def test_the_widget_hint_starts_the_conversation_and_short_messages_keep_it(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, welcome = await hello(gateway, "ru-RU")
    assert welcome["language"] == "ru"
    reply = await say(ws, "ok", "1")
    assert reply["text"] == "You said: ok"
    assert languages_sent(rasa) == ["ru"]
    assert stored(settings, rasa.requests[0]["sender"]) == ("ru", "hint")
    await ws.close()


async def test_an_unsupported_hint_starts_in_english(gateway: TestClient, rasa: RasaDouble) -> None:
    ws, welcome = await hello(gateway, "pt-BR")
    assert welcome["language"] == "en"
    await say(ws, "ok", "1")
    assert languages_sent(rasa) == ["en"]
    await ws.close()


async def test_asking_for_a_language_switches_it_at_any_time(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, _ = await hello(gateway, "es")
    await say(ws, "quiero un reembolso", "1")
    await say(ws, "gracias", "2")
    await say(ws, "muy bien", "3")
    await say(ws, "ok", "4")
    switched = await say(ws, "can you answer in English?", "5")
    assert switched["text"] == messages.text("language.switched", language="en")
    assert switched["sender"] == "system"
    await say(ws, "ok", "6")
    back = await say(ws, "en español por favor", "7")
    assert back["text"] == messages.text("language.switched", language="es")
    await say(ws, "vale", "8")
    # The requests are answered by the gateway, not Rasa; every turn carries the language.
    assert rasa.messages == ["quiero un reembolso", "gracias", "muy bien", "ok", "ok", "vale"]
    assert languages_sent(rasa) == ["es", "es", "es", "es", "en", "es"]
    assert stored(settings, rasa.requests[0]["sender"]) == ("es", "asked")
    await ws.close()


async def test_a_language_we_do_not_speak_gets_our_languages_and_a_person(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws, _ = await hello(gateway)
    answer = await say(ws, "Ich möchte eine Rückerstattung für meine Bestellung", "1")
    assert answer["text"] == messages.text("language.unsupported", languages=spoken())
    assert "English, español, and русский" in answer["text"]
    assert [b["title"] for b in answer["buttons"]] == [messages.text("language.talk_to_person")]
    assert rasa.requests == []
    # The button asks Rasa for a person, as the bot's own "talk to a person" buttons do.
    await ws.send_json({"type": "button", "message_id": answer["id"], "index": 0, "client_id": "2"})
    handed = await bot_text(ws)
    assert handed["text"] == "Okay, I'll bring in a person from our support team."
    assert rasa.messages == ["/human_handoff"]
    assert languages_sent(rasa) == ["en"]
    await ws.close()


async def test_the_gateways_own_notices_are_in_the_conversations_language(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws, _ = await hello(gateway, "es")
    rasa.down = True
    notice = await say(ws, "¿dónde está mi pedido?", "1")
    assert notice["text"] == messages.text("unavailable", language="es")
    await wait_until(lambda: rasa.refused >= 1, what="a try")
    rasa.down = False
    assert (await bot_text(ws))["text"] == "You said: ¿dónde está mi pedido?"
    assert languages_sent(rasa) == ["es"]
    await ws.close()


async def test_evidence_and_status_news_are_told_in_the_conversations_language(
    gateway: TestClient, settings: Settings
) -> None:
    ws = await gateway.ws_connect("/webchat/ws")
    token = make_token(SHOP_SECRET, "c-1001")
    await ws.send_json({"type": "hello", "token": token, "language": "es"})
    welcome = await frame(ws, "welcome")
    application_id = submit(settings, welcome["session"].rpartition(".")[0])

    form = aiohttp.FormData()
    form.add_field("session", welcome["session"])
    form.add_field("file", PNG, filename="rota.png", content_type="image/png")
    assert (await gateway.post("/webchat/upload", data=form)).status == 200
    reference = move(settings, application_id, RefundStatus.APPROVED)
    ack = await bot_text(ws)
    assert ack["text"] == messages.text(
        "evidence.attached", filename="rota.png", reference=reference, language="es"
    )
    news = await bot_text(ws)
    assert news["text"] == messages.text(
        "status.awaiting_return", reference=reference, language="es"
    )
    await ws.close()


async def test_telegram_language_code_is_the_first_guess(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
) -> None:
    client = await aiohttp_client(create_app(telegram_settings(settings, bot_api, "webhook")))
    buyer = Buyer(bot_api, client)
    update = text_update(CHAT, "ok")
    update["message"]["from"]["language_code"] = "es"
    assert await buyer.send(update) == 200
    await wait_until(lambda: len(bot_api.texts(CHAT)) >= 1, what="the answer")
    assert rasa.requests[0]["metadata"] == {"channel": "telegram", "language": "es"}
    assert stored(settings, f"tg-{CHAT}") == ("es", "hint")
    # Then the buyer writes Russian, clearly: the first messages decide.
    await buyer.says("Здравствуйте, хочу вернуть деньги за заказ")
    assert languages_sent(rasa) == ["es", "ru"]
    assert stored(settings, f"tg-{CHAT}") == ("ru", "detected")


async def test_the_widgets_errors_are_told_in_the_tabs_language(
    gateway: TestClient, settings: Settings
) -> None:
    # A sign-in that no longer holds: told in the language the guest conversation starts in.
    ws = await gateway.ws_connect("/webchat/ws")
    forged = make_token("not-the-secret", "c-1001")
    await ws.send_json({"type": "hello", "token": forged, "language": "ru"})
    error = await frame(ws, "error")
    assert (error["code"], error["message"]) == (
        "invalid_token",
        messages.text("webchat.token_expired", language="ru"),
    )
    await frame(ws, "welcome")
    # A frame the tab cannot have meant: in the conversation's language.
    await ws.send_json({"type": "dance", "client_id": "d1"})
    error = await frame(ws, "error")
    assert error["message"] == messages.text("webchat.unknown_type", kind="'dance'", language="ru")
    await ws.close()
    # An upload refused before its conversation is read: in the language the widget shows.
    form = aiohttp.FormData()
    form.add_field("session", "not-a-session")
    form.add_field("language", "es")
    form.add_field("file", PNG, filename="rota.png", content_type="image/png")
    response = await gateway.post("/webchat/upload", data=form)
    assert response.status == 403
    assert (await response.json())["error"] == messages.text("upload.bad_session", language="es")
    assert messages.text("upload.bad_session", language="es") != messages.text("upload.bad_session")
