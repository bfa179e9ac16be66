"""Local doubles of Rasa and of the Telegram Bot API (aiohttp apps on 127.0.0.1), and fixtures.

The conftest files of tests/gateway, tests/channels and tests/e2e import the fixtures from here.
The Bot API double and the Telegram update builders live in :mod:`bench.telegram` (the corpus
plays Telegram buyers through them too) and are re-exported here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bench.telegram import (
    TELEGRAM_TOKEN,
    BotApiDouble,
    buyer,
    callback_update,
    document_update,
    edited_update,
    photo_update,
    text_update,
    tg_message,
)
from bot import contract
from bot.gateway.app import create_app
from bot.refunds.migrate import upgrade
from bot.settings import GatewaySettings, Settings

SHOP_SECRET = "test-shop-secret"

METHOD_BUTTONS = [
    {"title": "Refund without return", "payload": '/inform{"refund_method":"no_return_refund"}'},
    {"title": "Return and refund", "payload": '/inform{"refund_method":"return_and_refund"}'},
]
CONFIRM_BUTTONS = [
    {"title": "Yes, submit", "payload": "/affirm"},
    {"title": "No", "payload": "/deny"},
]


def scripted_reply(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A tiny refund dialogue, enough to drive every channel feature."""
    sender, message = body["sender"], body["message"]

    def say(text: str, buttons: list[dict[str, str]] | None = None) -> dict[str, Any]:
        reply: dict[str, Any] = {"recipient_id": sender, "text": text}
        if buttons:
            reply["buttons"] = buttons
        return reply

    if message == "/greet":
        return [say("Hi! I can help you with refunds.")]
    if re.search(r"\b(person|human)\b", message, re.I) or message == "/human_handoff":
        return [
            say("Okay, I'll bring in a person from our support team."),
            {"recipient_id": sender, "custom": {"handoff": {"reason": "buyer_asked"}}},
            say("Sure. What is the order number?"),
        ]
    if re.search(r"\brefund\b", message, re.I) and not message.startswith("/"):
        return [say("Sure. What is the order number?")]
    if re.fullmatch(r"\d{12,19}", message.strip()):
        return [
            say(f"Order {message.strip()}: how would you like your money back?", METHOD_BUTTONS)
        ]
    if message.startswith('/inform{"refund_method"'):
        method = json.loads(message.removeprefix("/inform"))["refund_method"]
        return [
            say(f"A {method.replace('_', ' ')} of 12.00 USD. Shall I submit it?", CONFIRM_BUTTONS)
        ]
    if message == "/affirm":
        return [say("Submitted. Your application number is R-TEST1.")]
    if message == "long":
        return [say("word " * 2000 + "_end_ *stars* [link](x)")]
    if message == "image":
        return [{"recipient_id": sender, "image": "https://example.com/a.png"}]
    return [say(f"You said: {message}")]


class RasaDouble:
    """Rasa's REST channel and root, plus the action server's /health, on one local port."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.down = False
        self.refused = 0
        self.delay = 0.0
        # Holds each turn until this many are in Rasa at once (or a few seconds pass), so a test
        # can see whether the gateway sends conversations side by side without timing it.
        self.hold_until_in_flight = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._in_flight_changed = asyncio.Condition()
        self.reply: Callable[[dict[str, Any]], list[dict[str, Any]]] = scripted_reply
        self.url = ""
        # The HTTP API: events appended per conversation, the active form, executed actions.
        self.tracker_events: dict[str, list[dict[str, Any]]] = {}
        self.active_loop: dict[str, str] = {}
        self.executed: list[tuple[str, str]] = []
        self.tokens: list[str | None] = []
        # Awaited with the conversation id before events are appended (a pause, a resume).
        self.on_append: Callable[[str], Awaitable[None]] | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_get("/conversations/{id}/tracker", self._tracker)
        app.router.add_post("/conversations/{id}/tracker/events", self._append)
        app.router.add_post("/conversations/{id}/execute", self._execute)
        app.router.add_get("/", self._root)
        app.router.add_get("/health", self._root)
        return app

    @property
    def messages(self) -> list[str]:
        return [r["message"] for r in self.requests]

    async def _webhook(self, request: web.Request) -> web.Response:
        if self.down:
            self.refused += 1
            return web.Response(status=503, text="down")
        body = await request.json()
        self.requests.append(body)
        async with self._in_flight_changed:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._in_flight_changed.notify_all()
        try:
            if self.hold_until_in_flight:
                await self._wait_for_company()
            if self.delay:
                await asyncio.sleep(self.delay)
            return web.json_response(self.reply(body))
        finally:
            async with self._in_flight_changed:
                self.in_flight -= 1

    async def _wait_for_company(self) -> None:
        async with self._in_flight_changed:
            try:
                await asyncio.wait_for(
                    self._in_flight_changed.wait_for(
                        lambda: self.peak_in_flight >= self.hold_until_in_flight
                    ),
                    timeout=5,
                )
            except asyncio.TimeoutError:
                pass

    async def _tracker(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        self.tokens.append(request.query.get("token"))
        cid = request.match_info["id"]
        users = [
            {
                "event": "user",
                "text": r["message"],
                "parse_data": {"intent": {"name": "inform", "confidence": 0.9}},
            }
            for r in self.requests
            if r["sender"] == cid
        ]
        events = self.tracker_events.get(cid, [])
        paused = False
        slots: dict[str, Any] = {}
        for event in events:
            if event["event"] in ("pause", "resume"):
                paused = event["event"] == "pause"
            elif event["event"] == "slot":
                slots[event["name"]] = event["value"]
        loop = self.active_loop.get(cid)
        return web.json_response(
            {
                "sender_id": cid,
                "slots": slots,
                "paused": paused,
                "active_loop": {"name": loop} if loop else {},
                "events": users + events,
            }
        )

    async def _append(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        self.tokens.append(request.query.get("token"))
        if self.on_append is not None:
            await self.on_append(request.match_info["id"])
        body = await request.json()
        events = body if isinstance(body, list) else [body]
        self.tracker_events.setdefault(request.match_info["id"], []).extend(events)
        return web.json_response({"sender_id": request.match_info["id"]})

    async def _execute(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        self.tokens.append(request.query.get("token"))
        cid = request.match_info["id"]
        name = (await request.json())["name"]
        self.executed.append((cid, name))
        if name in (contract.HAND_BACK_ACTION, contract.CLOSED_ACTION):
            # The real actions check the agent's values and end a closed form; the double
            # asks its question only when the form runs.
            return web.json_response({"tracker": {}, "messages": []})
        slots = {
            e["name"]: e["value"] for e in self.tracker_events.get(cid, []) if e["event"] == "slot"
        }
        if "order_id" in slots:
            text = f"Order {slots['order_id']}: how would you like your money back?"
            message = {"recipient_id": cid, "text": text, "buttons": METHOD_BUTTONS}
        else:
            message = {"recipient_id": cid, "text": "Sure. What is the order number?"}
        return web.json_response({"tracker": {}, "messages": [message]})

    async def _root(self, _: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        return web.Response(text="Hello from Rasa: 3.6.21")


# Smallest valid files of each kind the gateway takes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

__all__ = [
    "TELEGRAM_TOKEN",
    "BotApiDouble",
    "buyer",
    "callback_update",
    "document_update",
    "edited_update",
    "photo_update",
    "text_update",
    "tg_message",
]


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0, what: str = ""
) -> None:
    """Poll ``predicate`` until it holds, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    upgrade(url)
    return url


@pytest.fixture
async def rasa(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> RasaDouble:
    double = RasaDouble()
    server = await aiohttp_server(double.app(), host="127.0.0.1")
    double.url = str(server.make_url("")).rstrip("/")
    return double


@pytest.fixture
async def bot_api(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> BotApiDouble:
    double = BotApiDouble()
    server = await aiohttp_server(double.app(), host="127.0.0.1")
    double.url = str(server.make_url("")).rstrip("/")
    return double


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, db_url: str, rasa: RasaDouble
) -> Settings:
    """Gateway settings for tests; ``@pytest.mark.demo_shop`` serves the demo shop page."""
    return Settings(
        var_dir=tmp_path / "var",
        database_url=db_url,
        rasa_url=rasa.url,
        action_server_url=f"{rasa.url}/webhook",
        gateway=GatewaySettings(
            shop_secret=SHOP_SECRET,
            rasa_timeout_seconds=5.0,
            rasa_slow_notice_seconds=1.0,
            rasa_retry_max_seconds=0.1,
            notify_interval_seconds=0.05,
            upload_max_bytes=64 * 1024,
            message_max_chars=500,
            telegram_poll_timeout_seconds=1,
            demo_shop=request.node.get_closest_marker("demo_shop") is not None,
        ),
    )


def with_gateway(settings: Settings, **changes: Any) -> Settings:
    """Return ``settings`` with some gateway settings changed."""
    return dataclasses.replace(settings, gateway=dataclasses.replace(settings.gateway, **changes))


@pytest.fixture
async def gateway(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> TestClient:
    return await aiohttp_client(create_app(settings))
