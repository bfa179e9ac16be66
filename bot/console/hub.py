"""Live updates for open console pages: one WebSocket per page, every event to every page.

Each socket is kept with its page's session. Before anything is sent, the sessions are checked
(one query for all the pages): a page whose session ended (signed out, its agent deactivated or
given a new password, expired) gets nothing more and is closed with ``4401``, at the first event
after the end whether or not the page still pings.

With several gateways, an agent's page may be connected to any of them: what one gateway
publishes is shared (``share``) and each gateway shows it to the pages it holds (:meth:`show`).
Transcript messages reach every gateway's hub through the outbound path instead (the hub is its
viewer), so :meth:`ConsoleHub.message` shows without sharing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from bot.clock import utcnow
from bot.console import auth
from bot.gateway import transcript
from bot.gateway.transcript import Message

log = logging.getLogger(__name__)

#: The close code of a page whose session ended (the page then shows the sign-in page).
SESSION_ENDED = 4401


class ConsoleHub:
    """Knows every open console socket and its session, and sends them what changed."""

    def __init__(self, share: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> None:
        """Send to the sockets of this gateway; ``share`` tells the other gateways' hubs."""
        self._sockets: dict[web.WebSocketResponse, str] = {}
        self._share = share
        self._sessions: sessionmaker | None = None
        # One event at a time: every page gets the events in the order they happened.
        self._sending = asyncio.Lock()
        self._closing: dict[web.WebSocketResponse, asyncio.Task[bool]] = {}

    def check_sessions_with(self, sessions: sessionmaker) -> None:
        """Check the pages' sessions in the database of ``sessions`` before each event."""
        self._sessions = sessions

    def add(self, ws: web.WebSocketResponse, session_token: str) -> None:
        """Start sending events to ``ws``, a page of the session of ``session_token``."""
        self._sockets[ws] = session_token

    def discard(self, ws: web.WebSocketResponse) -> None:
        """Stop sending events to ``ws``."""
        self._sockets.pop(ws, None)

    async def publish(self, frame: dict[str, Any]) -> None:
        """Send ``frame`` to every open console page, those held by other gateways included."""
        await self.show(frame)
        if self._share is not None:
            await self._share({"kind": "console", "frame": frame})

    async def show(self, frame: dict[str, Any]) -> None:
        """Send ``frame`` to the console pages open on this gateway whose session is live."""
        async with self._sending:
            for ws in await self._live_sockets():
                if ws.closed:  # closed by its page while the sessions were checked
                    self._sockets.pop(ws, None)
                    continue
                try:
                    await ws.send_json(frame)
                except ConnectionError:
                    self._sockets.pop(ws, None)

    async def _live_sockets(self) -> list[web.WebSocketResponse]:
        for ws in [ws for ws in self._sockets if ws.closed]:
            del self._sockets[ws]
        held = dict(self._sockets)
        if not held or self._sessions is None:
            return list(held)
        tokens, now = set(held.values()), utcnow()
        try:
            live = await transcript.run_in_session(
                self._sessions, lambda s: auth.live_tokens(s, tokens=tokens, now=now)
            )
        except SQLAlchemyError as e:
            # Nothing goes to a page whose session could not be checked; pages reload anyway.
            log.warning("console update not sent: the sessions could not be checked (%r)", e)
            return []
        for ws, token in held.items():
            if token not in live:
                self._end(ws)
        return [ws for ws, token in held.items() if token in live]

    def _end(self, ws: web.WebSocketResponse) -> None:
        """Close ``ws`` as a page whose session ended, without waiting here for it to answer."""
        self._sockets.pop(ws, None)
        task = asyncio.create_task(ws.close(code=SESSION_ENDED, message=b"session ended"))
        self._closing[ws] = task
        task.add_done_callback(lambda _: self._closing.pop(ws, None))

    async def closed(self, ws: web.WebSocketResponse) -> None:
        """Wait until the hub has closed ``ws``, when it is closing it.

        The page's handler waits for this before it returns, as aiohttp would otherwise close
        the socket as a normal end (``1000``) when the handler returns.
        """
        task = self._closing.get(ws)
        if task is not None:
            await asyncio.shield(task)

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
        await asyncio.gather(*self._closing.values(), return_exceptions=True)


def message_json(message: Message) -> dict[str, Any]:
    """Return a transcript message as the console shows it (buttons with their titles)."""
    data = message.to_json()
    data["channel"] = message.channel.value
    return data
