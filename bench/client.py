"""Simulated buyers: one speaks the web widget's WebSocket protocol, one Rasa's REST channel.

Both offer the same calls (``say``, ``press``) and return a :class:`Turn` with the bot's
replies and the latency the buyer saw, so one script can be played through the gateway or
straight to Rasa, and the two compared turn for turn.

The widget protocol has no "end of answer" frame. Per turn the gateway sends ``typing`` on,
``typing`` off, then the replies back to back (see :mod:`bot.gateway.router`); a turn therefore
ends at the first quiet gap after ``typing`` off, and its latency runs from sending to the last
reply. Replies that arrive after the gap, before the next turn's ``typing`` on, still belong to
the earlier turn (they are attached to it and counted as ``late``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from typing import Any, Protocol

import aiohttp

from bot.messages import text as message_text

TURN_TIMEOUT_SECONDS = 60.0
NO_ANSWER = "no answer"


@dataclasses.dataclass
class Reply:
    """One message of the bot."""

    text: str
    buttons: list[str]
    message_id: int | None = None
    payloads: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Turn:
    """What the buyer sent, what came back, and how long it took."""

    sent: str
    replies: list[Reply] = dataclasses.field(default_factory=list)
    latency: float = 0.0
    error: str | None = None
    late: int = 0
    slow_notice: bool = False
    marks: dict[str, float] = dataclasses.field(default_factory=dict)
    """Widget only: seconds from sending to ``echo`` (the gateway recorded the message),
    ``typing_on`` (its worker took the message to Rasa) and ``typing_off`` (Rasa answered and
    the replies were saved)."""

    @property
    def text(self) -> str:
        """Return the bot's replies joined into one string."""
        return "\n".join(r.text for r in self.replies if r.text)

    @property
    def buttons(self) -> list[str]:
        """Return the titles of every button the bot offered in this turn."""
        return [title for r in self.replies for title in r.buttons]


class Buyer(Protocol):
    """A buyer chatting through one path (widget, Telegram or bare Rasa)."""

    path: str
    conversation_id: str

    async def say(self, text: str, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Type ``text`` and wait up to ``wait`` seconds for the bot's answer."""

    async def press(self, title: str, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Press the button titled ``title`` of the last answer (case-insensitive)."""

    async def listen(self, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Send nothing; return what arrives within ``wait`` seconds (e.g. from a person)."""

    async def rejoin(self) -> Turn:
        """Leave and come back to the same chat; the turn's error says if it is another one."""

    async def close(self) -> None:
        """Leave."""


class NoSuchButton(Exception):
    """The last answer offered no button with that title."""


def find_button(replies: list[Reply], title: str) -> tuple[Reply, int]:
    """Return the reply holding the button titled ``title`` (or starting so) and its index.

    Raises:
        NoSuchButton: no reply has such a button.
    """
    wanted = title.strip().casefold()
    # An exact title first; else the one title that starts with it ("No-return refund" for
    # "No-return refund (up to 20.00 USD)"), since amounts in titles vary with the order.
    for exact in (True, False):
        matches = [
            (reply, index)
            for reply in reversed(replies)
            for index, candidate in enumerate(reply.buttons)
            if (candidate.strip().casefold() == wanted)
            or (not exact and candidate.strip().casefold().startswith(wanted))
        ]
        if len(matches) == 1 or (exact and matches):
            return matches[0]
    offered = [b for r in replies for b in r.buttons]
    raise NoSuchButton(f"no button {title!r}; offered: {offered}")


class RestBuyer:
    """A buyer whose messages go straight to Rasa's REST channel: the baseline."""

    path = "rasa"

    def __init__(
        self, http: aiohttp.ClientSession, rasa_url: str, *, customer_id: str | None
    ) -> None:
        self._http = http
        self._url = f"{rasa_url.rstrip('/')}/webhooks/rest/webhook"
        self._sender = f"rest-{uuid.uuid4().hex}"
        self.conversation_id = self._sender
        self._metadata: dict[str, Any] = {"channel": "rest"}
        if customer_id:
            self._metadata["customer_id"] = customer_id
        self._last: list[Reply] = []

    async def say(self, text: str, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Type ``text`` and wait for the bot's answer (``wait`` is not used: HTTP answers)."""
        return await self._send(text, text)

    async def press(self, title: str, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Press a button of the last answer: send its payload, as a channel would."""
        reply, index = find_button(self._last, title)
        return await self._send(reply.buttons[index], reply.payloads[index])

    async def listen(self, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Return a turn with an error: Rasa's REST channel cannot push messages."""
        return Turn(sent="", error="the REST channel receives nothing unasked")

    async def rejoin(self) -> Turn:
        """Come back: the same sender id is the same conversation."""
        return Turn(sent="(comes back)")

    async def close(self) -> None:
        """Leave (nothing to close: the HTTP session is shared)."""

    async def _send(self, shown: str, message: str) -> Turn:
        turn = Turn(sent=shown)
        body = {"sender": self._sender, "message": message, "metadata": self._metadata}
        start = time.perf_counter()
        try:
            async with self._http.post(
                self._url, json=body, timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_SECONDS)
            ) as response:
                raw = await response.read()
                turn.latency = time.perf_counter() - start
                if response.status != 200:
                    turn.error = f"HTTP {response.status}"
                    return turn
            data = json.loads(raw)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
            turn.latency = time.perf_counter() - start
            turn.error = f"{type(e).__name__}: {e}"
            return turn
        for item in data if isinstance(data, list) else []:
            buttons = [b for b in item.get("buttons") or [] if isinstance(b, dict)]
            turn.replies.append(
                Reply(
                    text=item.get("text") or "",
                    buttons=[str(b.get("title")) for b in buttons],
                    payloads=[str(b.get("payload")) for b in buttons],
                )
            )
        self._last = turn.replies
        return turn


class WidgetBuyer:
    """A buyer in the shop's web widget: the gateway's real WebSocket protocol."""

    path = "gateway"

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, quiet_seconds: float) -> None:
        self._ws = ws
        self._hello: dict[str, Any] = {}
        self._reconnect: tuple[aiohttp.ClientSession, str] | None = None
        self._quiet = quiet_seconds
        self._frames: asyncio.Queue[tuple[float, dict[str, Any] | None]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self._previous: Turn | None = None
        self._last: list[Reply] = []
        self.welcome: dict[str, Any] = {}
        self.conversation_id = ""

    @classmethod
    async def connect(
        cls,
        http: aiohttp.ClientSession,
        ws_url: str,
        *,
        token: str | None,
        quiet_seconds: float = 0.1,
    ) -> WidgetBuyer:
        """Open the socket, say hello (signed in when ``token`` is given), await ``welcome``.

        Raises:
            ConnectionError: the gateway did not welcome the buyer.
        """
        ws = await http.ws_connect(ws_url, heartbeat=None)
        buyer = cls(ws, quiet_seconds=quiet_seconds)
        hello: dict[str, Any] = {"type": "hello"}
        if token:
            hello["token"] = token
        buyer._reconnect, buyer._hello = (http, ws_url), hello
        await buyer._greet()
        return buyer

    async def _greet(self) -> None:
        """Say hello and await ``welcome``.

        Raises:
            ConnectionError: the gateway did not welcome the self.
        """
        await self._ws.send_json(self._hello)
        while True:
            frame = await self._next(TURN_TIMEOUT_SECONDS)
            if frame is None:
                await self.close()
                raise ConnectionError("the gateway closed the socket before welcoming")
            if frame[1].get("type") == "welcome":
                self.welcome = frame[1]
                # The session is the conversation id, signed: ``<id>.<signature>``.
                self.conversation_id = str(frame[1].get("session", "")).rpartition(".")[0]
                return
            if frame[1].get("type") == "error":
                await self.close()
                raise ConnectionError(f"the gateway refused hello: {frame[1]}")

    async def say(self, text: str, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Type ``text`` and wait up to ``wait`` seconds for the bot's answer."""
        return await self._turn(text, {"type": "message", "text": text}, wait)

    async def press(self, title: str, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Press the button titled ``title`` of the last answer."""
        reply, index = find_button(self._last, title)
        frame = {"type": "button", "message_id": reply.message_id, "index": index}
        return await self._turn(reply.buttons[index], frame, wait)

    async def listen(self, *, wait: float = TURN_TIMEOUT_SECONDS) -> Turn:
        """Send nothing; collect the messages that arrive, up to a quiet gap after the first."""
        turn = Turn(sent="")
        start = time.perf_counter()
        deadline = start + wait
        last_reply_at: float | None = None
        while True:
            remaining = deadline - time.perf_counter()
            timeout = self._quiet if last_reply_at is not None else remaining
            if timeout <= 0:
                turn.error = f"{NO_ANSWER} within {wait:.0f} s"
                break
            try:
                got = await self._next(timeout)
            except asyncio.TimeoutError:
                if last_reply_at is None:
                    turn.error = f"{NO_ANSWER} within {wait:.0f} s"
                break
            if got is None:
                turn.error = "socket closed"
                break
            received, data = got
            message = data.get("message") or {}
            if data.get("type") == "message" and message.get("sender") in (
                "bot",
                "system",
                "agent",
            ):
                turn.replies.append(_reply(message))
                last_reply_at = received
        turn.latency = (last_reply_at or time.perf_counter()) - start
        self._previous = turn
        if turn.replies:
            self._last = turn.replies
        return turn

    async def rejoin(self, ws_url: str | None = None) -> Turn:
        """Close the socket, open a new one and say hello with the signed session again.

        With ``ws_url``, the new socket goes there (another gateway, or the load balancer).
        """
        turn = Turn(sent="(comes back to the chat)")
        if self._reconnect is None:
            turn.error = "this buyer cannot reconnect"
            return turn
        http, ws_url = self._reconnect[0], ws_url or self._reconnect[1]
        before = self.conversation_id
        await self.close()
        self._ws = await http.ws_connect(ws_url, heartbeat=None)
        self._frames = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self._hello = {**self._hello, "session": self.welcome.get("session")}
        try:
            await self._greet()
        except (ConnectionError, asyncio.TimeoutError) as e:
            turn.error = f"could not come back: {e}"
            return turn
        if self.conversation_id != before:
            turn.error = f"came back to another conversation ({self.conversation_id})"
        return turn

    async def close(self) -> None:
        """Close the socket."""
        await self._ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._frames.put_nowait((time.perf_counter(), json.loads(message.data)))
        finally:
            self._frames.put_nowait((time.perf_counter(), None))

    async def _next(self, timeout: float) -> tuple[float, dict[str, Any]] | None:
        """Return the next frame, or ``None`` when the socket closed; raise on timeout."""
        received, frame = await asyncio.wait_for(self._frames.get(), timeout)
        if frame is None:
            self._frames.put_nowait((received, None))
            return None
        return received, frame

    async def _turn(
        self, shown: str, frame: dict[str, Any], wait: float = TURN_TIMEOUT_SECONDS
    ) -> Turn:
        self._drain_stray()
        client_id = uuid.uuid4().hex
        turn = Turn(sent=shown)
        start = time.perf_counter()
        deadline = start + wait
        await self._ws.send_json({**frame, "client_id": client_id})
        # Phase 1: until typing goes on; bot messages before it are the last turn's stragglers.
        # Phase 2: until typing goes off. Phase 3: the replies, up to a quiet gap.
        phase = 1
        last_reply_at: float | None = None
        try:
            while True:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise asyncio.TimeoutError
                timeout = min(remaining, self._quiet) if phase == 3 else remaining
                try:
                    got = await self._next(timeout)
                except asyncio.TimeoutError:
                    if phase == 3:
                        break
                    raise
                if got is None:
                    turn.error = "socket closed"
                    break
                received, data = got
                kind = data.get("type")
                if kind == "typing":
                    if data.get("on") and phase == 1:
                        phase = 2
                        turn.marks["typing_on"] = received - start
                    elif not data.get("on") and phase == 2:
                        phase = 3
                        last_reply_at = received
                        turn.marks["typing_off"] = received - start
                elif kind == "error" and data.get("client_id") == client_id:
                    turn.error = f"error frame: {data.get('code')}: {data.get('message')}"
                    break
                elif kind == "ack" and data.get("client_id") == client_id:
                    turn.error = "message taken as a duplicate"
                    break
                elif kind == "message":
                    message = data.get("message") or {}
                    sender = message.get("sender")
                    if message.get("client_id") == client_id and "echo" not in turn.marks:
                        turn.marks["echo"] = received - start
                    text = message.get("text") or ""
                    if sender == "system" and text == message_text("one_moment"):
                        turn.slow_notice = True
                    elif sender == "system" and text == message_text("unavailable"):
                        turn.error = "gateway said Rasa is unavailable"
                    elif sender in ("bot", "system", "agent"):
                        # Notices (a handoff's "a person will answer") are part of the answer.
                        reply = _reply(message)
                        if phase == 1 and self._previous is not None:
                            self._previous.replies.append(reply)
                            self._previous.late += 1
                        else:
                            turn.replies.append(reply)
                            last_reply_at = received
        except asyncio.TimeoutError:
            turn.error = f"{NO_ANSWER} within {wait:.0f} s"
        turn.latency = (last_reply_at or time.perf_counter()) - start
        self._previous = turn
        if turn.replies:
            self._last = turn.replies
        return turn

    def _drain_stray(self) -> None:
        while not self._frames.empty():
            received, data = self._frames.get_nowait()
            if data is None:
                self._frames.put_nowait((received, None))
                return
            message = data.get("message") or {}
            if data.get("type") == "message" and message.get("sender") in ("bot", "system"):
                if self._previous is not None:
                    self._previous.replies.append(_reply(message))
                    self._previous.late += 1
                    self._last = self._previous.replies


def _reply(message: dict[str, Any]) -> Reply:
    return Reply(
        text=message.get("text") or "",
        buttons=[str(b.get("title")) for b in message.get("buttons") or []],
        message_id=message.get("id") if isinstance(message.get("id"), int) else None,
    )
