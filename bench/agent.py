"""A support agent in the console, for scripted conversations that need a person.

The agent is created in the stack's store and signs in through the console's real form; it
claims a conversation (from the queue, or from the bot), answers, and hands it back to the bot
with what it learned, through the same HTTP API the console page uses.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
from sqlalchemy.orm import sessionmaker

from bot.clock import utcnow
from bot.console import auth
from bot.console.models import Role

AGENT_NAME = "sam"
AGENT_DISPLAY_NAME = "Sam"
_PASSWORD = "bench agent's long passphrase"
_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
_CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


class AgentError(RuntimeError):
    """The console refused what the agent did; the message says what and why."""


class ConsoleAgent:
    """One agent's browser session in the console (its own cookie jar)."""

    def __init__(self, gateway_url: str, sessions: sessionmaker, *, name: str = AGENT_NAME) -> None:
        self._base = gateway_url.rstrip("/")
        self._sessions = sessions
        self.name = name
        self._http: aiohttp.ClientSession | None = None
        self._csrf = ""
        self._lock = asyncio.Lock()

    async def _signed_in(self) -> aiohttp.ClientSession:
        async with self._lock:
            if self._http is not None:
                return self._http
            await asyncio.to_thread(self._create)
            # The console's cookie is for 127.0.0.1: aiohttp keeps cookies of IP hosts only so.
            http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            async with http.get(f"{self._base}/console/login") as page:
                token = _CSRF_FIELD.search(await page.text())
            if token is None:
                await http.close()
                raise AgentError("the console's sign-in page has no form token")
            form = {"csrf": token.group(1), "name": self.name, "password": _PASSWORD}
            async with http.post(
                f"{self._base}/console/login", data=form, allow_redirects=False
            ) as response:
                if response.status != 302:
                    await http.close()
                    raise AgentError(f"the console refused the sign-in: HTTP {response.status}")
            async with http.get(f"{self._base}/console") as home:
                found = _CSRF_META.search(await home.text())
            if found is None:
                await http.close()
                raise AgentError("the console page has no CSRF token")
            self._csrf = found.group(1)
            self._http = http
            return http

    def _create(self) -> None:
        with self._sessions.begin() as session:
            auth.create_agent(
                session,
                name=self.name,
                password=_PASSWORD,
                role=Role.AGENT,
                now=utcnow(),
                display_name=AGENT_DISPLAY_NAME if self.name == AGENT_NAME else self.name.title(),
            )

    async def act(self, action: str, conversation_id: str, *, text: str = "",
                  slots: dict[str, str] | None = None) -> None:  # fmt: skip
        """Do ``action`` (take, say, hand_back, close) on the conversation.

        Raises:
            AgentError: the console refused it.
        """
        path = {"take": "claim", "say": "reply", "hand_back": "handback", "close": "close"}
        if action not in path:
            raise AgentError(f"unknown agent action {action!r}")
        body: dict[str, Any] = {}
        if action == "say":
            body["text"] = text
        if action == "hand_back" and slots:
            body["slots"] = slots
        http = await self._signed_in()
        url = f"{self._base}/console/api/conversations/{conversation_id}/{path[action]}"
        async with http.post(url, json=body, headers={"X-CSRF-Token": self._csrf}) as response:
            if response.status not in (200, 201):
                raise AgentError(
                    f"the console refused {action}: HTTP {response.status}: "
                    f"{(await response.text())[:200]}"
                )

    async def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, str]:
        """POST ``body`` to the console's ``path`` (``/console/api/…``); return status and text.

        The console's answer is returned whatever it is (a refusal included), for callers that
        check refusals themselves.
        """
        http = await self._signed_in()
        async with http.post(
            f"{self._base}{path}", json=body or {}, headers={"X-CSRF-Token": self._csrf}
        ) as response:
            return response.status, await response.text()

    async def close(self) -> None:
        """Sign out of nothing: just close the browser session."""
        if self._http is not None:
            await self._http.close()
            self._http = None
