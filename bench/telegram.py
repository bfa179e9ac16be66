"""Telegram without Telegram: a local Bot API double, updates as Telegram sends them, a buyer.

The gateway's real Telegram channel (python-telegram-bot) is pointed at :class:`BotApiDouble`
(``REFUNDBOT_TELEGRAM_API_URL``), which answers the Bot API methods the channel calls and
records them. A :class:`TelegramBuyer` writes to the gateway's webhook the updates Telegram
would send (a typed message, a callback query when a button is pressed) and reads the bot's
answers from the ``sendMessage`` calls for its chat, unescaped to the plain text the buyer reads.

The gateway tests use the same double in their own event loop; the corpus runs it in a thread
(:func:`serving_bot_api`) because the gateway under test is another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import aiohttp
from aiohttp import web

from bench.client import NO_ANSWER, TURN_TIMEOUT_SECONDS, Reply, Turn, find_button

TELEGRAM_TOKEN = "123456:TEST-TOKEN"
#: The secret the gateway's webhook expects in the corpus (``REFUNDBOT_TELEGRAM_WEBHOOK_SECRET``).
HOOK_SECRET = "hook-secret_1"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_MARKDOWN_ESCAPE = re.compile(r"\\([\\_*\[\]()~`>#+\-=|{}.!])")
_TAG = re.compile(r"<[^>]+>")


class BotApiDouble:
    """A local Telegram Bot API: records every call, serves getUpdates and file downloads."""

    def __init__(self, token: str = TELEGRAM_TOKEN) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.sent: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
        """``sendMessage`` calls by chat, in order (read by :class:`TelegramBuyer`)."""
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._message_ids = itertools.count(1000)
        self.url = ""

    def app(self) -> web.Application:
        """Return the aiohttp application serving the Bot API of ``token``."""
        app = web.Application()
        app.router.add_route("*", f"/bot{self.token}/{{method}}", self._method)
        # PTB percent-encodes the token's ":" in file URLs, so match any and compare decoded.
        app.router.add_get("/file/{bot}/{path:.+}", self._file)
        return app

    def queue_update(self, update: dict[str, Any]) -> None:
        """Hand ``update`` to the next getUpdates (polling mode); same event loop only."""
        self._updates.append(update)
        self._new_update.set()

    def called(self, method: str) -> list[dict[str, Any]]:
        """Return the parameters of every call of ``method``."""
        return [params for name, params in self.calls if name == method]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Return the texts sent (as sent: escaped), to ``chat_id`` or to anyone."""
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
        self.sent[int(params["chat_id"])].append(params)
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
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), remaining)

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
    """Return the Telegram user of a private chat."""
    return {"id": chat_id, "is_bot": False, "first_name": "Buyer", "language_code": "en"}


def tg_message(chat_id: int, **content: Any) -> dict[str, Any]:
    """Return a message of the buyer in chat ``chat_id``."""
    return {
        "message_id": next(_tg_message_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Buyer"},
        "from": buyer(chat_id),
        **content,
    }


def text_update(chat_id: int, text: str, update_id: int | None = None) -> dict[str, Any]:
    """Return the update of a typed message (a command when it starts with ``/``)."""
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split()[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {
        "update_id": update_id if update_id is not None else next(_update_ids),
        "message": tg_message(chat_id, **content),
    }


def callback_update(chat_id: int, data: str) -> dict[str, Any]:
    """Return the update of a press on an inline button carrying ``data``."""
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
    """Return the update of a photo (two sizes), with an optional caption."""
    content: dict[str, Any] = {
        "photo": [
            {"file_id": f"{file_id}-small", "file_unique_id": "s", "width": 90, "height": 90,
             "file_size": 100},
            {"file_id": file_id, "file_unique_id": "b", "width": 800, "height": 800,
             "file_size": size},
        ]
    }  # fmt: skip
    if caption:
        content["caption"] = caption
    return {"update_id": next(_update_ids), "message": tg_message(chat_id, **content)}


def document_update(chat_id: int, file_id: str, name: str, mime: str, size: int) -> dict[str, Any]:
    """Return the update of a document."""
    document = {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "file_name": name,
        "mime_type": mime,
        "file_size": size,
    }
    return {"update_id": next(_update_ids), "message": tg_message(chat_id, document=document)}


def edited_update(chat_id: int, text: str) -> dict[str, Any]:
    """Return the update of an edited message."""
    message = tg_message(chat_id, text=text)
    message["edit_date"] = int(time.time())
    return {"update_id": next(_update_ids), "edited_message": message}


def plain_text(text: str, parse_mode: str | None) -> str:
    """Return what the buyer reads of a message sent with ``parse_mode``."""
    mode = (parse_mode or "").casefold()
    if mode in ("markdownv2", "markdown"):
        return _MARKDOWN_ESCAPE.sub(r"\1", text)
    if mode == "html":
        return html.unescape(_TAG.sub("", text))
    return text


def reply_of(params: dict[str, Any]) -> Reply:
    """Return a ``sendMessage`` call as the buyer sees it: plain text and button titles."""
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    keys = [b for row in markup.get("inline_keyboard") or [] for b in row]
    return Reply(
        text=plain_text(str(params.get("text") or ""), params.get("parse_mode")),
        buttons=[str(b.get("text")) for b in keys],
        payloads=[str(b.get("callback_data")) for b in keys],
    )


@contextlib.contextmanager
def serving_bot_api(port: int, token: str = TELEGRAM_TOKEN) -> Iterator[BotApiDouble]:
    """Serve a :class:`BotApiDouble` on ``127.0.0.1:port`` from a thread of its own.

    Only webhook-mode buyers may use it from another thread: they read ``sent`` and never
    queue updates.
    """
    double = BotApiDouble(token)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(double.app(), access_log=None)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="bot-api-double", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the Bot API double did not start")
    double.url = f"http://127.0.0.1:{port}"
    try:
        yield double
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


def gateway_env(double: BotApiDouble) -> dict[str, str]:
    """Return the gateway's environment for Telegram through ``double``, by webhook."""
    return {
        "REFUNDBOT_TELEGRAM_TOKEN": double.token,
        "REFUNDBOT_TELEGRAM_API_URL": double.url,
        "REFUNDBOT_TELEGRAM_MODE": "webhook",
        "REFUNDBOT_TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET,
    }


class TelegramBuyer:
    """A buyer in a private Telegram chat with the bot, through the gateway's real channel.

    A turn starts when the update is posted to the webhook and ends at the first quiet gap
    after the bot's first ``sendMessage`` to the chat (Telegram has no "end of answer" either).
    """

    path = "telegram"

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        gateway_url: str,
        api: BotApiDouble,
        chat_id: int,
        quiet_seconds: float = 1.0,
    ) -> None:
        self._http = http
        self._webhook = f"{gateway_url.rstrip('/')}{WEBHOOK_PATH}"
        self._api = api
        self.chat_id = chat_id
        self.conversation_id = f"tg-{chat_id}"
        self._quiet = quiet_seconds
        self._seen = 0
        self._last: list[Reply] = []
        self.welcome: Turn | None = None

    @classmethod
    async def start(
        cls,
        http: aiohttp.ClientSession,
        *,
        gateway_url: str,
        api: BotApiDouble,
        chat_id: int,
        start_parameter: str | None,
        quiet_seconds: float = 1.0,
    ) -> TelegramBuyer:
        """Open the chat with ``/start`` (signed in by a shop deep link when given).

        Raises:
            ConnectionError: the bot did not answer ``/start``.
        """
        buyer = cls(
            http, gateway_url=gateway_url, api=api, chat_id=chat_id, quiet_seconds=quiet_seconds
        )
        command = f"/start {start_parameter}" if start_parameter else "/start"
        turn = await buyer.say(command)
        if turn.error:
            raise ConnectionError(f"the bot did not answer /start: {turn.error}")
        buyer.welcome = turn
        return buyer

    async def say(self, text: str, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Type ``text`` and wait up to ``wait`` seconds for the bot's answer."""
        return await self._turn(text, text_update(self.chat_id, text), wait)

    async def press(self, title: str, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Press the inline button titled ``title`` of the last answer (a callback query)."""
        reply, index = find_button(self._last, title)
        update = callback_update(self.chat_id, reply.payloads[index])
        return await self._turn(reply.buttons[index], update, wait)

    async def listen(self, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Send nothing; collect what the chat gets (e.g. from a person) within ``wait``."""
        return await self._collect(Turn(sent=""), time.perf_counter(), wait)

    async def rejoin(self) -> Turn:
        """Come back to the chat: it is still there, with the bot's earlier messages."""
        self._take_stray()
        return Turn(sent="(comes back to the chat)")

    async def close(self) -> None:
        """Leave (a Telegram chat has nothing to close)."""

    async def _turn(self, shown: str, update: dict[str, Any], wait: float) -> Turn:
        self._take_stray()
        turn = Turn(sent=shown)
        start = time.perf_counter()
        try:
            async with self._http.post(
                self._webhook,
                json=update,
                headers={SECRET_HEADER: HOOK_SECRET},
                timeout=aiohttp.ClientTimeout(total=wait),
            ) as response:
                if response.status != 200:
                    turn.error = f"webhook answered HTTP {response.status}"
                    return turn
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            turn.error = f"webhook: {type(e).__name__}: {e}"
            return turn
        return await self._collect(turn, start, wait)

    async def _collect(self, turn: Turn, start: float, wait: float) -> Turn:
        deadline = start + wait
        last_at: float | None = None
        while True:
            now = time.perf_counter()
            new = self._take()
            if new:
                turn.replies.extend(new)
                last_at = now
            elif last_at is not None and now - last_at >= self._quiet:
                break
            elif last_at is None and now >= deadline:
                turn.error = f"{NO_ANSWER} within {wait:.0f} s"
                break
            await asyncio.sleep(0.05)
        turn.latency = (last_at or time.perf_counter()) - start
        if turn.replies:
            self._last = turn.replies
        return turn

    def _take(self) -> list[Reply]:
        sent = self._api.sent[self.chat_id]
        new = [reply_of(params) for params in sent[self._seen :]]
        self._seen += len(new)
        return new

    def _take_stray(self) -> None:
        # Messages after the last turn's quiet gap still belong to it: keep their buttons.
        stray = self._take()
        if stray:
            self._last = [*self._last, *stray]
