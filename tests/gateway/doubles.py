"""Local doubles of Rasa and of the Telegram Bot API (aiohttp apps on 127.0.0.1), and fixtures.

The conftest files of tests/gateway, tests/channels and tests/e2e import the fixtures from here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import contract
from bot.gateway.app import create_app
from bot.refunds.migrate import upgrade
from bot.settings import GatewaySettings, Settings

SHOP_SECRET = "test-shop-secret"
TELEGRAM_TOKEN = "123456:TEST-TOKEN"

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
        self.reply: Callable[[dict[str, Any]], list[dict[str, Any]]] = scripted_reply
        self.url = ""
        # The HTTP API: events appended per conversation, the active form, executed actions.
        self.tracker_events: dict[str, list[dict[str, Any]]] = {}
        self.active_loop: dict[str, str] = {}
        self.executed: list[tuple[str, str]] = []
        self.tokens: list[str | None] = []

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
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response(self.reply(body))

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


class BotApiDouble:
    """A local Telegram Bot API: records every call, serves getUpdates and file downloads."""

    def __init__(self, token: str = TELEGRAM_TOKEN) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._message_ids = itertools.count(1000)
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", f"/bot{self.token}/{{method}}", self._method)
        # PTB percent-encodes the token's ":" in file URLs, so match any and compare decoded.
        app.router.add_get("/file/{bot}/{path:.+}", self._file)
        return app

    def queue_update(self, update: dict[str, Any]) -> None:
        self._updates.append(update)
        self._new_update.set()

    def called(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [
            p["text"]
            for p in self.called("sendMessage")
            if chat_id is None or int(p["chat_id"]) == chat_id
        ]

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        if method != "getUpdates":
            self.calls.append((method, params))
        handler = getattr(self, f"_do_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
                status=404,
            )
        result = await handler(params)
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        if urllib.parse.unquote(request.match_info["bot"]) != f"bot{self.token}":
            raise web.HTTPNotFound()
        path = request.match_info["path"]
        for file_path, data in self.files.values():
            if file_path == path:
                return web.Response(body=data)
        raise web.HTTPNotFound()

    async def _do_getMe(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": 123456,
            "is_bot": True,
            "first_name": "Refund assistant",
            "username": "refund_test_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _do_setWebhook(self, _: dict[str, Any]) -> bool:
        return True

    async def _do_deleteWebhook(self, _: dict[str, Any]) -> bool:
        return True

    async def _do_sendChatAction(self, _: dict[str, Any]) -> bool:
        return True

    async def _do_answerCallbackQuery(self, _: dict[str, Any]) -> bool:
        return True

    async def _do_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, text="(keyboard removed)")

    async def _do_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, text=params["text"])

    async def _do_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, photo=[])

    async def _do_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params["file_id"]
        file_path, data = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(data),
            "file_path": file_path,
        }

    async def _do_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            pending = [u for u in self._updates if u["update_id"] >= offset]
            remaining = deadline - time.monotonic()
            if pending or remaining <= 0:
                return pending
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            **content,
        }


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data: dict[str, Any] = await request.json()
        return data
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, str):
            try:
                params[key] = json.loads(value) if value[:1] in "[{" else value
            except ValueError:
                params[key] = value
    return params


# ---- Telegram updates as Telegram sends them ---------------------------------------------------

_update_ids = itertools.count(5000)
_tg_message_ids = itertools.count(1)


def buyer(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": "Buyer", "language_code": "en"}


def tg_message(chat_id: int, **content: Any) -> dict[str, Any]:
    return {
        "message_id": next(_tg_message_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Buyer"},
        "from": buyer(chat_id),
        **content,
    }


def text_update(chat_id: int, text: str, update_id: int | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split()[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {
        "update_id": update_id if update_id is not None else next(_update_ids),
        "message": tg_message(chat_id, **content),
    }


def callback_update(chat_id: int, data: str) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"cq-{next(_update_ids)}",
            "from": buyer(chat_id),
            "chat_instance": "ci-1",
            "data": data,
            "message": tg_message(
                chat_id,
                text="(keyboard)",
                **{"from": {"id": 123456, "is_bot": True, "first_name": "Refund assistant"}},
            ),
        },
    }


def photo_update(
    chat_id: int, file_id: str, size: int, caption: str | None = None
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "photo": [
            {
                "file_id": f"{file_id}-small",
                "file_unique_id": "s",
                "width": 90,
                "height": 90,
                "file_size": 100,
            },
            {
                "file_id": file_id,
                "file_unique_id": "b",
                "width": 800,
                "height": 800,
                "file_size": size,
            },
        ]
    }
    if caption:
        content["caption"] = caption
    return {"update_id": next(_update_ids), "message": tg_message(chat_id, **content)}


def document_update(chat_id: int, file_id: str, name: str, mime: str, size: int) -> dict[str, Any]:
    document = {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "file_name": name,
        "mime_type": mime,
        "file_size": size,
    }
    return {"update_id": next(_update_ids), "message": tg_message(chat_id, document=document)}


def edited_update(chat_id: int, text: str) -> dict[str, Any]:
    message = tg_message(chat_id, text=text)
    message["edit_date"] = int(time.time())
    return {"update_id": next(_update_ids), "edited_message": message}


# Smallest valid files of each kind the gateway takes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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
