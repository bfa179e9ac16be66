"""Telegram at the edge: webhook bodies of any shape, text a database refuses, chats that flood."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.channels.telegram import SECRET_HEADER
from bot.gateway.app import create_app
from bot.gateway.models import TranscriptMessage
from bot.messages import text
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.channels.telegram_buyer import CHAT, HOOK_SECRET, Buyer, telegram_settings
from tests.gateway.doubles import (
    BotApiDouble,
    RasaDouble,
    callback_update,
    text_update,
    wait_until,
    with_gateway,
)

POLITE = "You're sending messages faster than I can read them; please wait a few seconds\\."


async def webhook_client(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    **changes: object,
) -> TestClient:
    return await aiohttp_client(
        create_app(with_gateway(telegram_settings(settings, bot_api, "webhook"), **changes))
    )


async def post_raw(client: TestClient, body: bytes) -> int:
    response = await client.post(
        "/telegram/webhook",
        # Over 1 MB as raw bytes aiohttp warns; a (non-empty) BytesIO it sends quietly.
        data=io.BytesIO(body) if len(body) > 1024 * 1024 else body,
        headers={SECRET_HEADER: HOOK_SECRET, "Content-Type": "application/json"},
    )
    return response.status


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, 400, id="deeply-nested"),
        pytest.param(
            json.dumps({"update_id": 1, "message": {"message_id": 1}}).encode(),
            400,
            id="not-an-update",
        ),
        pytest.param(json.dumps({"update_id": 1, "message": "text"}).encode(), 400, id="str"),
        pytest.param(
            json.dumps({"update_id": 1, "message": {"chat": 5, "date": "x"}}).encode(),
            400,
            id="wrong-types",
        ),
        pytest.param(b'{"update_id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}', 413, id="huge"),
        pytest.param(b"\xff\xfe not utf-8", 400, id="not-utf8"),
    ],
)
async def test_a_webhook_body_of_any_shape_is_a_4xx(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
    body: bytes,
    status: int,
) -> None:
    client = await webhook_client(aiohttp_client, settings, bot_api)
    assert await post_raw(client, body) == status
    buyer = Buyer(bot_api, client)
    await buyer.says("hello")
    assert rasa.messages == ["hello"]


async def test_a_chunked_webhook_body_is_refused_at_its_limit(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
) -> None:
    client = await webhook_client(aiohttp_client, settings, bot_api)

    async def body() -> AsyncIterator[bytes]:
        # No Content-Length to check first: 8 MB arrive in chunks, the read stops at 1 MB.
        yield b'{"update_id": 1, "pad": "'
        for _ in range(128):
            yield b"x" * 65536
        yield b'"}'

    response = await client.post(
        "/telegram/webhook",
        data=body(),
        headers={SECRET_HEADER: HOOK_SECRET, "Content-Type": "application/json"},
    )
    assert response.status == 413
    buyer = Buyer(bot_api, client)
    await buyer.says("hello")
    assert rasa.messages == ["hello"]


async def test_text_the_database_refuses_gets_a_clear_answer_and_the_chat_goes_on(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
) -> None:
    client = await webhook_client(aiohttp_client, settings, bot_api)
    buyer = Buyer(bot_api, client)
    for said in ("nul \x00 inside", "broken \ud800 text"):
        body = json.dumps(text_update(CHAT, said)).encode()
        assert await post_raw(client, body) == 200
    await wait_until(lambda: len(bot_api.texts(CHAT)) == 2, what="two refusals")
    assert (
        bot_api.texts(CHAT)
        == [
            "That message has characters I can't read \\(a NUL character or broken Unicode\\); "
            "please type it again\\."
        ]
        * 2
    )
    await buyer.says("fine text")
    assert rasa.messages == ["fine text"]


async def test_a_chat_over_its_rate_limit_is_told_once_and_rasa_is_spared(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
) -> None:
    client = await webhook_client(
        aiohttp_client, settings, bot_api, rate_limit_messages=2, rate_limit_seconds=3600
    )
    for i in range(8):
        assert await post_raw(client, json.dumps(text_update(CHAT, f"m{i}")).encode()) == 200
    await wait_until(lambda: len(rasa.messages) == 2, what="the first two messages")
    await wait_until(lambda: POLITE in bot_api.texts(CHAT), what="the polite notice")
    await asyncio.sleep(0.3)
    assert rasa.messages == ["m0", "m1"]
    assert bot_api.texts(CHAT).count(POLITE) == 1
    # Nothing of what was refused was recorded: the transcript has the two messages only.
    with get_sessionmaker(settings.database_url).begin() as session:
        inbound = session.execute(
            select(func.count())
            .select_from(TranscriptMessage)
            .where(TranscriptMessage.direction == "in")
        ).scalar_one()
    assert inbound == 2
    # Another chat is not held back by this one.
    assert await post_raw(client, json.dumps(text_update(CHAT + 1, "other")).encode()) == 200
    await wait_until(lambda: "other" in rasa.messages, what="the other chat's message")


async def test_a_secret_header_that_is_not_utf8_is_refused(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
) -> None:
    client = await webhook_client(aiohttp_client, settings, bot_api)
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    body = b'{"update_id": 1}'
    writer.write(
        b"POST /telegram/webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + SECRET_HEADER.encode()
        + b": \xff\xfe\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    status = await reader.readline()
    writer.close()
    await writer.wait_closed()
    assert status.startswith(b"HTTP/1.1 403"), status


async def test_a_stale_button_is_answered_in_the_buyers_language(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
) -> None:
    client = await webhook_client(aiohttp_client, settings, bot_api)
    buyer = Buyer(bot_api, client)
    # A chat with no conversation yet: the language the buyer's Telegram app is set to.
    press = callback_update(CHAT, "b:999:0")
    press["callback_query"]["from"]["language_code"] = "ru"
    assert await buyer.send(press) == 200
    # A conversation in Spanish: its language, whatever the press says of the app.
    other = CHAT + 1
    first = text_update(other, "ok")
    first["message"]["from"]["language_code"] = "es"
    assert await buyer.send(first) == 200
    await wait_until(lambda: rasa.messages == ["ok"], what="the Spanish buyer's message")
    assert await buyer.send(callback_update(other, '/inform{"x":1}')) == 200
    await wait_until(lambda: len(bot_api.called("answerCallbackQuery")) == 2, what="two answers")
    answers = sorted(a["text"] for a in bot_api.called("answerCallbackQuery"))
    expected = [text("telegram.button_gone", language=code) for code in ("ru", "es")]
    assert answers == sorted(expected)
    assert text("telegram.button_gone") not in answers
