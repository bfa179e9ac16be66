"""Live updates for open console pages: one WebSocket per page, every event to every page.

With several gateways, an agent's page may be connected to any of them: what one gateway
publishes is shared (``share``) and each gateway shows it to the pages it holds (:meth:`show`).
Transcript messages reach every gateway's hub through the outbound path instead (the hub is its
viewer), so :meth:`ConsoleHub.message` shows without sharing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.gateway.transcript import Message

log = logging.getLogger(__name__)


class ConsoleHub:
    """Knows every open console socket and sends them what changed."""

    def __init__(self, share: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> None:
        """Send to the sockets of this gateway; ``share`` tells the other gateways' hubs."""
        self._sockets: set[web.WebSocketResponse] = set()
        self._share = share

    def add(self, ws: web.WebSocketResponse) -> None:
        """Start sending events to ``ws``."""
        self._sockets.add(ws)

    def discard(self, ws: web.WebSocketResponse) -> None:
        """Stop sending events to ``ws``."""
        self._sockets.discard(ws)

    async def publish(self, frame: dict[str, Any]) -> None:
        """Send ``frame`` to every open console page, those held by other gateways included."""
        await self.show(frame)
        if self._share is not None:
            await self._share({"kind": "console", "frame": frame})

    async def show(self, frame: dict[str, Any]) -> None:
        """Send ``frame`` to the console pages open on this gateway."""
        for ws in list(self._sockets):
            if ws.closed:
                self._sockets.discard(ws)
                continue
            try:
                await ws.send_json(frame)
            except ConnectionError:
                self._sockets.discard(ws)

    async def message(self, message: Message) -> None:
        """Tell this gateway's consoles about a transcript message (the outbound path's viewer)."""
        await self.show(
            {
                "type": "message",
                "conversation_id": message.conversation_id,
                "message": message_json(message),
            }
        )

    async def close(self) -> None:
        """Close every socket (the app is stopping)."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutdown")
        self._sockets.clear()


def message_json(message: Message) -> dict[str, Any]:
    """Return a transcript message as the console shows it (buttons with their titles)."""
    data = message.to_json()
    data["channel"] = message.channel.value
    return data
