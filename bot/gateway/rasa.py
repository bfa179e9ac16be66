"""Client of the Rasa servers' REST channel and HTTP API, and of the action server's health.

One gateway may talk to several Rasa servers (``REFUNDBOT_RASA_URL`` lists them). Each
conversation has a home server, picked by rendezvous hashing of the conversation id and the
servers' URLs: every gateway listing the same URLs picks the same home, each conversation's turns
go to one server while it is up (in order, under its lock store), and adding or removing a
server moves only the conversations that belonged to it.

When the home server does not take a request in, the request goes to the next server in the
conversation's own ranking (with the cluster's shared tracker store and Redis lock store the
conversation carries on there), and the server is tried after the others for ``down_seconds``
before it is tried first again. Only failures that show the request was not acted on move it
(:class:`RasaNotReached`): the connection was refused or could not be made in time, or the server
answered 503 (the REST channel of :mod:`bot.rasa_channel` says so for a turn that failed before
its tracker was saved; a proxy, for a server that is not there) or a 4xx. A request that reached
a server which then failed (a 500, 502 or 504, a dropped connection, no answer in time, an
answer that is not JSON) may have been acted on: it raises :class:`RasaOutcomeUnknown` and is
not moved to another server here. The router sends such a message again only under its name
(``message_id``): a Rasa server whose tracker already holds that name answers with what it said
then, so the turn is not made twice (it could, for example, advance a form twice).
Reads (the tracker) are safe to repeat and move on any failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.contract import HandoffReason, handoff_reason
from bot.gateway.transcript import Button

log = logging.getLogger(__name__)

#: How long making the connection to a server may take (a part of the whole timeout).
CONNECT_SECONDS = 3.0
#: Outcomes of one request to one server, as :data:`RequestHook` gets them.
OUTCOMES = ("answered", "not_reached", "outcome_unknown")

#: Called with a server's URL and the outcome of one request to it (the metrics).
RequestHook = Callable[[str, str], object]


class RasaUnavailable(Exception):
    """Rasa did not answer, or answered with an error."""


class RasaNotReached(RasaUnavailable):
    """No Rasa server took the request in: sending it again, here or elsewhere, is safe."""


class RasaOutcomeUnknown(RasaUnavailable):
    """A Rasa server took the request in and then failed: it may have acted on it.

    Sent again, the request must carry the message's name, so that a turn already made is
    answered again rather than made twice.
    """


@dataclass(frozen=True)
class BotReply:
    """One message Rasa wants the buyer to get, or its request to bring in a person."""

    text: str | None
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    custom: Any = None
    handoff: HandoffReason | None = None
    """Set when the message is the actions' request to hand the conversation to people."""


def ranking(servers: Sequence[str], conversation_id: str) -> list[str]:
    """Return ``servers`` in the order a conversation tries them: its home server first.

    Rendezvous hashing: a digest of each server's URL with the conversation id, highest first.
    The same on every gateway and after restarts (no process-salted ``hash()``).
    """

    def weight(server: str) -> bytes:
        return hashlib.sha256(f"{server}\n{conversation_id}".encode()).digest()

    return sorted(servers, key=weight, reverse=True)


def _no_hook(_server: str, _outcome: str) -> None:
    return None


class RasaClient:
    """Talks to the Rasa servers over one shared HTTP session."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        rasa_url: str | Sequence[str],
        *,
        timeout_seconds: float,
        token: str = "",
        on_request: RequestHook = _no_hook,
        down_seconds: float = 5.0,
    ) -> None:
        urls = [rasa_url] if isinstance(rasa_url, str) else list(rasa_url)
        if not urls:
            raise ValueError("at least one Rasa server is needed")
        self._http = http
        self.servers: tuple[str, ...] = tuple(url.rstrip("/") for url in urls)
        # No sock_read timeout: aiohttp then raises ServerTimeoutError only while connecting,
        # which tells "never sent" apart from "sent, no answer" (a plain TimeoutError).
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_seconds, sock_connect=min(CONNECT_SECONDS, timeout_seconds)
        )
        self._token = token
        self._on_request = on_request
        self._down_seconds = down_seconds
        self._down_until: dict[str, float] = {}

    def order(self, conversation_id: str) -> list[str]:
        """Return the servers in the order this conversation's next request tries them.

        Its ranking, with servers that recently did not take a request in moved to the end
        (still tried, in case every server had a moment's trouble).
        """
        now = time.monotonic()
        ranked = ranking(self.servers, conversation_id)
        up = [s for s in ranked if self._down_until.get(s, 0.0) <= now]
        return up + [s for s in ranked if s not in up]

    async def send(
        self,
        sender: str,
        message: str,
        metadata: dict[str, Any],
        *,
        message_id: str | None = None,
    ) -> list[BotReply]:
        """Send one buyer message through the REST channel; return Rasa's replies.

        ``message_id`` names the message in the conversation: sent again under the same name
        (the gateway stopped before it recorded the answer), it is answered with what was said
        the first time, not made a second time (:mod:`bot.rasa_server`).

        Raises:
            RasaNotReached: No server took the message in; it may be sent again.
            RasaOutcomeUnknown: A server took it in and failed; send it again only under the
                same ``message_id``.
        """
        body: dict[str, Any] = {"sender": sender, "message": message, "metadata": metadata}
        if message_id is not None:
            body["message_id"] = message_id
        data = await self._call(sender, "POST", "/webhooks/rest/webhook", json=body, token=False)
        if not isinstance(data, list):
            raise RasaOutcomeUnknown("Rasa answered something other than a list")
        return one_message_per_turn(
            [reply for item in data if (reply := parse_reply(item)) is not None]
        )

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        """Return the conversation's tracker (slots, active loop, events) from the HTTP API.

        Raises:
            RasaUnavailable: No server answered.
        """
        data = await self._call(
            conversation_id, "GET", f"/conversations/{_quote(conversation_id)}/tracker"
        )
        if not isinstance(data, dict):
            raise RasaUnavailable("Rasa answered something other than a tracker")
        return data

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        """Append events (``pause``, ``resume``, ``slot``…) to the conversation's tracker.

        Raises:
            RasaUnavailable: No server took the events in, or one failed with them.
        """
        await self._call(
            conversation_id,
            "POST",
            f"/conversations/{_quote(conversation_id)}/tracker/events",
            params={"include_events": "NONE"},
            json=events,
        )

    async def execute(self, conversation_id: str, action: str) -> list[BotReply]:
        """Run one action in the conversation; return what it said.

        Raises:
            RasaUnavailable: No server took the request in, or one failed with it.
        """
        data = await self._call(
            conversation_id,
            "POST",
            f"/conversations/{_quote(conversation_id)}/execute",
            params={"include_events": "NONE"},
            json={"name": action},
        )
        messages = data.get("messages") if isinstance(data, dict) else None
        return one_message_per_turn(
            [reply for item in messages or () if (reply := parse_reply(item)) is not None]
        )

    async def parse(self, text: str) -> dict[str, Any]:
        """Return what the model understands of ``text`` (intent, ranking, entities).

        Parsing changes nothing, so another server is asked when one fails.

        Raises:
            RasaUnavailable: No server answered.
        """
        data = await self._call(text, "POST", "/model/parse", json={"text": text}, repeatable=True)
        if not isinstance(data, dict):
            raise RasaUnavailable("Rasa answered something other than a parse")
        return data

    async def probe_all(self, *, timeout_seconds: float = 3.0) -> list[dict[str, Any]]:
        """Return a health check (:func:`probe`) of every server's root, in the listed order."""
        return list(
            await asyncio.gather(
                *(probe(self._http, f"{s}/", timeout_seconds=timeout_seconds) for s in self.servers)
            )
        )

    async def _call(
        self,
        conversation_id: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        token: bool = True,
        repeatable: bool = False,
    ) -> Any:
        """Make one request on the conversation's servers, moving on only when that is safe.

        It is safe when the request never reached the server, or when it changes nothing (a
        ``GET``, or a ``repeatable`` request).
        """
        query = dict(params or {})
        if token and self._token:
            query["token"] = self._token
        failures: list[str] = []
        for server in self.order(conversation_id):
            try:
                data = await self._once(server, method, path, query, json)
            except RasaUnavailable as e:
                safe = isinstance(e, RasaNotReached) or method == "GET" or repeatable
                outcome = "not_reached" if isinstance(e, RasaNotReached) else "outcome_unknown"
                self._on_request(server, outcome)
                if not safe:
                    raise
                if isinstance(e, RasaNotReached):
                    self._down_until[server] = time.monotonic() + self._down_seconds
                failures.append(f"{server}: {e}")
                if len(self.servers) > 1:
                    log.warning("Rasa server %s did not take %s %s in: %s", server, method, path, e)
                continue
            self._down_until.pop(server, None)
            self._on_request(server, "answered")
            return data
        raise RasaNotReached("; ".join(failures))

    async def _once(
        self, server: str, method: str, path: str, query: dict[str, str], json: Any
    ) -> Any:
        # A request that changes something is sent on a connection of its own: a kept-alive
        # one that the server closed meanwhile would fail as "maybe acted on" when it was not.
        headers = None if method == "GET" else {"Connection": "close"}
        try:
            async with self._http.request(
                method,
                f"{server}{path}",
                params=query,
                json=json,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                if response.status != 200:
                    raise _status_failure(response.status, path)
                try:
                    return await response.json(content_type=None)
                except ValueError as e:
                    raise RasaOutcomeUnknown(f"Rasa's answer to {path} is not JSON") from e
        except (aiohttp.ClientConnectorError, aiohttp.ServerTimeoutError) as e:
            raise RasaNotReached(f"Rasa not reachable: {e!r}") from e
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise RasaOutcomeUnknown(f"Rasa took the request in but did not answer: {e!r}") from e


def _status_failure(status: int, path: str) -> RasaUnavailable:
    """Say whether a non-200 answer means the request was not acted on.

    503 (a turn that failed before its tracker was saved, :mod:`bot.rasa_channel`; or a proxy
    with no server behind it) and 4xx (refused before anything ran) are safe to send again;
    500, 502 and 504 may come after the work was done.
    """
    if status == 503 or 400 <= status < 500:
        return RasaNotReached(f"Rasa answered HTTP {status} to {path}")
    return RasaOutcomeUnknown(f"Rasa answered HTTP {status} to {path}")


def _quote(conversation_id: str) -> str:
    return urllib.parse.quote(conversation_id, safe="")


def parse_reply(item: Any) -> BotReply | None:
    """Return the reply in one item of Rasa's REST answer, or ``None`` when it holds nothing."""
    if not isinstance(item, dict):
        return None
    text = item.get("text") if isinstance(item.get("text"), str) else None
    buttons = tuple(
        Button(title=str(b["title"]), payload=str(b["payload"]))
        for b in item.get("buttons") or ()
        if isinstance(b, dict) and "title" in b and "payload" in b
    )
    image = item.get("image") if isinstance(item.get("image"), str) else None
    custom = item.get("custom")
    if text is None and not buttons and image is None and custom is None:
        return None
    return BotReply(
        text=text, buttons=buttons, image=image, custom=custom, handoff=handoff_reason(custom)
    )


def one_message_per_turn(replies: list[BotReply]) -> list[BotReply]:
    """Join plain texts to the text that follows them: a refusal and its question are one message.

    Actions say a refusal ("The amount can't be negative.") and the form then asks again; the
    buyer reads one message with the question's buttons. Images, handoff requests and other
    custom payloads stay messages of their own.
    """
    joined: list[BotReply] = []
    for reply in replies:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.text
            and not previous.buttons
            and previous.image is None
            and previous.custom is None
            and reply.text
            and reply.image is None
            and reply.custom is None
        ):
            joined[-1] = BotReply(text=f"{previous.text}\n\n{reply.text}", buttons=reply.buttons)
            continue
        joined.append(reply)
    return joined


async def probe(
    http: aiohttp.ClientSession, url: str, *, timeout_seconds: float = 3.0
) -> dict[str, Any]:
    """Return ``{"ok": bool, "url": url, ...}`` for a GET of ``url`` (a health check)."""
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_seconds)) as response:
            return {"ok": response.status == 200, "url": url, "status": response.status}
    except (aiohttp.ClientError, asyncio.TimeoutError) as e:
        return {"ok": False, "url": url, "error": type(e).__name__}
