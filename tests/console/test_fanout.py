"""Two gateways on one database and one Redis: every socket sees every message, once.

Each test runs two real apps (``create_app`` with the same settings) in the test's loop, a
widget buyer and agents connected to either of them, and the Rasa double they share.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.console.models import Role
from bot.gateway import keys
from bot.gateway.app import create_app
from bot.gateway.fanout import FanOut
from bot.gateway.identity import make_token
from bot.gateway.models import TranscriptMessage
from bot.messages import text
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import RefundStatus
from bot.settings import Settings
from tests.channels.telegram_buyer import CHAT, Buyer, telegram_settings
from tests.console.agents import Console, add_agent, client_of
from tests.factories import make_customer, move, submit
from tests.gateway.doubles import SHOP_SECRET, BotApiDouble, wait_until
from tests.gateway.webchat_client import frame

Servers = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def start(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Servers:
    """Start a gateway; with Redis, return once it listens to the other gateways."""

    async def make(settings: Settings, *, listening: bool = True) -> TestServer:
        server = await aiohttp_server(create_app(settings), host="127.0.0.1")
        fanout = server.app[keys.FANOUT]
        if fanout is not None and listening:
            await asyncio.wait_for(fanout.subscribed.wait(), 5)
        return server

    return make


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[TestServer], Awaitable[TestClient]]]:
    made: list[TestClient] = []

    async def make(server: TestServer) -> TestClient:
        client = await client_of(server)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


def seed(settings: Settings) -> None:
    with get_sessionmaker(settings.database_url).begin() as session:
        make_customer(session, id="c-1001", name="Ada Buyer")


async def tab(
    client: TestClient, session: str | None = None
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    """Open a widget tab of Ada's (the same conversation as ``session``'s)."""
    ws = await client.ws_connect("/webchat/ws")
    token = make_token(SHOP_SECRET, "c-1001")
    await ws.send_json({"type": "hello", "token": token, "session": session})
    return ws, await frame(ws, "welcome")


async def console_events(console: Console) -> aiohttp.ClientWebSocketResponse:
    """Open the console's live view and return once the hub knows it."""
    events = await console.client.ws_connect("/console/ws")
    await events.send_str('{"type":"ping"}')
    await frame(events, "pong")
    return events


async def texts_until(ws: aiohttp.ClientWebSocketResponse, last: str) -> list[str]:
    """Return the texts of the message frames up to the one with ``last``, in order.

    Another gateway's events come in the order it published them, so a copy of an earlier
    message would arrive before ``last``.
    """
    seen: list[str] = []
    while not seen or seen[-1] != last:
        data = await frame(ws, "message")
        seen.append(data["message"]["text"])
    return seen


async def test_buyer_and_agents_on_different_gateways_see_each_message_once(
    start: Servers,
    clients: Callable[[TestServer], Awaitable[TestClient]],
    settings: Settings,
    redis_url: str,
) -> None:
    shared = dataclasses.replace(settings, redis_url=redis_url)
    a, b = await start(shared), await start(shared)
    seed(shared)
    add_agent(shared, "ana", Role.ADMIN)
    add_agent(shared, "ben", Role.AGENT)
    ana, ben = Console(await clients(b)), Console(await clients(a))
    assert await ana.sign_in("ana") == 302
    assert await ben.sign_in("ben") == 302
    console_b, console_a = await console_events(ana), await console_events(ben)

    on_a, welcome = await tab(await clients(a))
    on_b, _ = await tab(await clients(b), welcome["session"])
    conversation_id = welcome["session"].rpartition(".")[0]

    # Typed on A: the tab on B shows the buyer's words and the bot's reply, once each.
    await on_a.send_json({"type": "message", "text": "I want a refund", "client_id": "m1"})
    reply = "Sure. What is the order number?"
    assert await texts_until(on_a, reply) == ["I want a refund", reply]
    assert await texts_until(on_b, reply) == ["I want a refund", reply]
    # ... and the typing indicator the turn turned on, off again.
    assert (await frame(on_b, "typing"))["on"] is False

    # A handoff raised on A is in the queue of the console page held by B.
    await on_a.send_json({"type": "message", "text": "a person please", "client_id": "m2"})
    await frame(console_b, "queue")
    # Both tabs show A's notice before Ana answers on B: two gateways' messages reach a socket
    # in the order they arrive, and on a busy machine B's own could overtake A's.
    notice = text("handoff.queued", wait="").partition(".")[0]
    for ws in (on_a, on_b):
        while not (await frame(ws, "message"))["message"]["text"].startswith(notice):
            pass

    # Ana replies through B's console; the buyer's socket on A gets it once.
    base = f"/console/api/conversations/{conversation_id}"
    await ana.ok(f"{base}/claim")
    await ana.ok(f"{base}/reply", {"text": "Hi Ada, Ana here."})
    await ana.ok(f"{base}/reply", {"text": "Which order is it?"})
    for ws in (on_a, on_b):
        seen = await texts_until(ws, "Which order is it?")
        assert seen.count("Hi Ada, Ana here.") == 1, seen
        assert seen[-2:] == ["Hi Ada, Ana here.", "Which order is it?"]

    # Both console pages saw the agent's reply live, each once.
    for events in (console_a, console_b):
        said: list[str] = []
        while "Which order is it?" not in said:
            said.append((await frame(events, "message"))["message"]["text"])
        assert said.count("Hi Ada, Ana here.") == 1, said

    with get_sessionmaker(shared.database_url).begin() as session:
        rows = session.scalars(
            select(TranscriptMessage.text).where(
                TranscriptMessage.conversation_id == conversation_id
            )
        ).all()
    assert rows.count("Hi Ada, Ana here.") == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_gateway_whose_redis_is_gone_still_serves_its_own_buyers(
    start: Servers,
    clients: Callable[[TestServer], Awaitable[TestClient]],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.gateway.fanout")
    gone = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{closed_port()}/5")
    gateway = await start(gone, listening=False)
    seed(gone)
    first, welcome = await tab(await clients(gateway))
    second, _ = await tab(await clients(gateway), welcome["session"])

    await first.send_json({"type": "message", "text": "I want a refund", "client_id": "m1"})
    reply = "Sure. What is the order number?"
    assert await texts_until(first, reply) == ["I want a refund", reply]
    assert await texts_until(second, reply) == ["I want a refund", reply]
    await first.send_json({"type": "message", "text": "still there?", "client_id": "m2"})
    assert await texts_until(second, "You said: still there?") == [
        "still there?",
        "You said: still there?",
    ]

    def warned(start: str) -> bool:
        return any(
            r.name == "bot.gateway.fanout" and r.getMessage().startswith(start)
            for r in caplog.records
        )

    await wait_until(lambda: warned("Redis unreachable"), what="the publish warning")
    await wait_until(lambda: warned("Redis subscription lost"), what="the subscriber warning")
    assert gateway.app[keys.FANOUT] is not None
    assert not gateway.app[keys.FANOUT].subscribed.is_set()


async def test_a_telegram_buyer_is_sent_an_agent_reply_once_by_the_gateway_that_recorded_it(
    start: Servers,
    clients: Callable[[TestServer], Awaitable[TestClient]],
    settings: Settings,
    redis_url: str,
    bot_api: BotApiDouble,
) -> None:
    shared = telegram_settings(
        dataclasses.replace(settings, redis_url=redis_url), bot_api, "webhook"
    )
    a, b = await start(shared), await start(shared)
    add_agent(shared, "ana", Role.ADMIN)
    add_agent(shared, "ben", Role.AGENT)
    ana, ben = Console(await clients(b)), Console(await clients(a))
    assert await ana.sign_in("ana") == 302
    assert await ben.sign_in("ben") == 302
    console_b, console_a = await console_events(ana), await console_events(ben)

    # The buyer writes to A's webhook; the console page on B sees it live.
    await Buyer(bot_api, await clients(a)).says("a person please")
    said = await frame(console_b, "message")
    assert said["message"]["text"] == "a person please"
    conversation_id = said["conversation_id"]
    await frame(console_b, "queue")

    base = f"/console/api/conversations/{conversation_id}"
    await ana.ok(f"{base}/claim")
    await ana.ok(f"{base}/reply", {"text": "Hi Ada from Ana"})
    await ana.ok(f"{base}/reply", {"text": "Which order is it"})
    # A has shown B's last message to its console page, so it has handled the one before too.
    while (await frame(console_a, "message"))["message"]["text"] != "Which order is it":
        pass
    sent = bot_api.texts(CHAT)
    assert sum("Hi Ada from Ana" in text for text in sent) == 1, sent
    assert sum("Which order is it" in text for text in sent) == 1, sent


async def test_a_status_notice_from_either_gateway_reaches_tabs_on_both_once(
    start: Servers,
    clients: Callable[[TestServer], Awaitable[TestClient]],
    settings: Settings,
    redis_url: str,
) -> None:
    shared = dataclasses.replace(settings, redis_url=redis_url)
    a, b = await start(shared), await start(shared)
    on_a, welcome = await tab(await clients(a))
    on_b, _ = await tab(await clients(b), welcome["session"])
    application_id = submit(shared, welcome["session"].rpartition(".")[0])

    # Both gateways' notifiers watch the refund events; one of them tells the buyer.
    reference = move(shared, application_id, RefundStatus.APPROVED)
    move(shared, application_id, RefundStatus.RETURN_RECEIVED, RefundStatus.REFUNDED)
    paid = f"Your refund of 80.00 USD for application {reference} has been paid."
    for ws in (on_a, on_b):
        seen = await texts_until(ws, paid)
        approved = [t for t in seen if t.startswith(f"Your refund application {reference} was")]
        assert len(approved) == 1, seen
        assert seen.count(paid) == 1, seen


class Outage:
    """A TCP proxy to Redis that can be cut off and brought back on the same port."""

    def __init__(self, redis_url: str) -> None:
        target = urlsplit(redis_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 6379)
        self._db = target.path or "/0"
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self._db}"

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        self._writers += [writer, upstream_writer]
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


Tab = aiohttp.ClientWebSocketResponse


async def behind_an_outage(
    start: Servers,
    clients: Callable[[TestServer], Awaitable[TestClient]],
    settings: Settings,
    redis_url: str,
) -> tuple[Outage, FanOut, Tab, Tab]:
    """Start gateway A, which reaches Redis through an outage proxy, and B; a tab on each."""
    outage = Outage(redis_url)
    await outage.up()
    a = await start(dataclasses.replace(settings, redis_url=outage.url))
    b = await start(dataclasses.replace(settings, redis_url=redis_url))
    on_b, welcome = await tab(await clients(b))
    on_a, _ = await tab(await clients(a), welcome["session"])
    fanout = a.app[keys.FANOUT]
    assert fanout is not None
    return outage, fanout, on_a, on_b


async def test_a_gateway_picks_up_again_when_redis_comes_back(
    start: Servers,
    clients: Callable[[TestServer], Awaitable[TestClient]],
    settings: Settings,
    redis_url: str,
) -> None:
    outage, fanout, on_a, on_b = await behind_an_outage(start, clients, settings, redis_url)

    await outage.down()
    await wait_until(lambda: not fanout.subscribed.is_set(), what="A to notice")
    # A serves its own tab without Redis.
    await on_a.send_json({"type": "message", "text": "anyone there?", "client_id": "m1"})
    assert await texts_until(on_a, "You said: anyone there?") == [
        "anyone there?",
        "You said: anyone there?",
    ]

    await outage.up()
    await asyncio.wait_for(fanout.subscribed.wait(), 5)
    await on_b.send_json({"type": "message", "text": "back again", "client_id": "m2"})
    assert await texts_until(on_a, "You said: back again") == [
        "back again",
        "You said: back again",
    ]
    await on_a.send_json({"type": "message", "text": "from A", "client_id": "m3"})
    seen = await texts_until(on_b, "You said: from A")
    assert seen[-4:] == ["back again", "You said: back again", "from A", "You said: from A"]
    await outage.down()


async def test_a_gateways_first_messages_after_a_redis_restart_reach_the_others(
    start: Servers,
    clients: Callable[[TestServer], Awaitable[TestClient]],
    settings: Settings,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage, fanout, on_a, on_b = await behind_an_outage(start, clients, settings, redis_url)
    # A has published (a turn shares several events at once, so A holds pooled connections).
    await on_a.send_json({"type": "message", "text": "before", "client_id": "m1"})
    assert await texts_until(on_b, "You said: before") == ["before", "You said: before"]

    # Redis restarts while nobody writes: A's pooled connections die with the subscription's.
    await outage.down()
    await wait_until(lambda: not fanout.subscribed.is_set(), what="A to notice")
    await outage.up()
    await asyncio.wait_for(fanout.subscribed.wait(), 5)
    # A's first message afterwards is counted in Redis's buckets and its events go out, on new
    # connections: no command fails on a dead one.
    caplog.clear()
    caplog.set_level(logging.WARNING)
    await on_a.send_json({"type": "message", "text": "after", "client_id": "m2"})
    assert await texts_until(on_b, "You said: after") == ["after", "You said: after"]
    assert [r.getMessage() for r in caplog.records if "Redis" in r.getMessage()] == []
    await outage.down()


async def test_a_failure_while_closing_connections_does_not_end_the_subscription(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    async def receive(_: dict[str, object]) -> None:
        return None

    outage = Outage(redis_url)
    await outage.up()
    fanout = FanOut(outage.url, on_lost=broken)
    running = fanout.run(receive)
    await running.__anext__()
    try:
        await asyncio.wait_for(fanout.subscribed.wait(), 5)
        await outage.down()
        await wait_until(lambda: not fanout.subscribed.is_set(), what="the loss")
        await outage.up()
        await asyncio.wait_for(fanout.subscribed.wait(), 5)
    finally:
        await running.aclose()
        await outage.down()
    assert "closing the other pooled Redis connections failed" in caplog.text
