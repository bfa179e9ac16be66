"""Client of the Rasa server's REST channel and of the action server's health endpoint."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.contract import HandoffReason, handoff_reason
from bot.gateway.transcript import Button

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa did not answer, or answered with an error; the message should be retried."""


@dataclass(frozen=True)
class BotReply:
    """One message Rasa wants the buyer to get, or its request to bring in a person."""

    text: str | None
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    custom: Any = None
    handoff: HandoffReason | None = None
    """Set when the message is the actions' request to hand the conversation to people."""


class RasaClient:
    """Talks to Rasa over one shared HTTP session."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        rasa_url: str,
        *,
        timeout_seconds: float,
        token: str = "",
    ) -> None:
        self._http = http
        self._url = rasa_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._token = token

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> list[BotReply]:
        """Send one buyer message through the REST channel; return Rasa's replies.

        Raises:
            RasaUnavailable: Rasa is down, too slow, or answered with an error.
        """
        body = {"sender": sender, "message": message, "metadata": metadata}
        try:
            async with self._http.post(
                f"{self._url}/webhooks/rest/webhook", json=body, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
            raise RasaUnavailable(f"Rasa unreachable: {e!r}") from e
        if not isinstance(data, list):
            raise RasaUnavailable("Rasa answered something other than a list")
        return one_message_per_turn(
            [reply for item in data if (reply := parse_reply(item)) is not None]
        )

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        """Return the conversation's tracker (slots, active loop, events) from the HTTP API.

        Raises:
            RasaUnavailable: Rasa is down or refused the request.
        """
        data = await self._api("GET", f"/conversations/{_quote(conversation_id)}/tracker")
        if not isinstance(data, dict):
            raise RasaUnavailable("Rasa answered something other than a tracker")
        return data

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        """Append events (``pause``, ``resume``, ``slot``…) to the conversation's tracker.

        Raises:
            RasaUnavailable: Rasa is down or refused the request.
        """
        await self._api(
            "POST",
            f"/conversations/{_quote(conversation_id)}/tracker/events",
            params={"include_events": "NONE"},
            json=events,
        )

    async def execute(self, conversation_id: str, action: str) -> list[BotReply]:
        """Run one action in the conversation; return what it said.

        Raises:
            RasaUnavailable: Rasa is down or refused the request.
        """
        data = await self._api(
            "POST",
            f"/conversations/{_quote(conversation_id)}/execute",
            params={"include_events": "NONE"},
            json={"name": action},
        )
        messages = data.get("messages") if isinstance(data, dict) else None
        return one_message_per_turn(
            [reply for item in messages or () if (reply := parse_reply(item)) is not None]
        )

    async def _api(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> Any:
        query = dict(params or {})
        if self._token:
            query["token"] = self._token
        try:
            async with self._http.request(
                method, f"{self._url}{path}", params=query, json=json, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status} to {path}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
            raise RasaUnavailable(f"Rasa unreachable: {e!r}") from e


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
