"""Live updates for open console pages: one WebSocket per page, every event to every page."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.gateway.transcript import Message

log = logging.getLogger(__name__)


class ConsoleHub:
    """Knows every open console socket and sends them what changed."""

    def __init__(self) -> None:
        self._sockets: set[web.WebSocketResponse] = set()

    def add(self, ws: web.WebSocketResponse) -> None:
        """Start sending events to ``ws``."""
        self._sockets.add(ws)

    def discard(self, ws: web.WebSocketResponse) -> None:
        """Stop sending events to ``ws``."""
        self._sockets.discard(ws)

    async def publish(self, frame: dict[str, Any]) -> None:
        """Send ``frame`` to every open console page."""
        for ws in list(self._sockets):
            if ws.closed:
                self._sockets.discard(ws)
                continue
            try:
                await ws.send_json(frame)
            except ConnectionError:
                self._sockets.discard(ws)

    async def message(self, message: Message) -> None:
        """Tell consoles about a transcript message (the router's observer)."""
        await self.publish(
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
