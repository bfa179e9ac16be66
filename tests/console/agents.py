"""Agents for the console tests: created in the store, each with a client signed in by the form."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.console import auth
from bot.console.models import AgentSession, CannedReply, ConversationNote, Role
from bot.gateway.models import Conversation, TranscriptMessage
from bot.handoff.models import Handoff
from bot.refunds.db import get_sessionmaker
from bot.refunds.models import RefundEvent
from bot.settings import Settings
from tests.factories import NOW
from tests.gateway.webchat_client import bot_text, hello

PASSWORD = "correct horse battery staple"


def add_agent(settings: Settings, name: str, role: Role = Role.AGENT) -> auth.AgentInfo:
    with get_sessionmaker(settings.database_url).begin() as session:
        return auth.create_agent(session, name=name, password=PASSWORD, role=role, now=NOW)


#: Clients started and not yet closed; ``close_shared_clients`` closes them after each test.
_OPEN: set[SharedClient] = set()


class SharedClient(TestClient):
    """A client of a server other clients use too: closing it leaves the server running."""

    async def start_server(self) -> None:
        await super().start_server()
        _OPEN.add(self)

    async def close(self) -> None:
        _OPEN.discard(self)
        for ws in list(self._websockets):
            await ws.close()
        await self._session.close()


async def client_of(server: TestServer) -> SharedClient:
    client = SharedClient(server)
    await client.start_server()
    return client


async def close_shared_clients() -> None:
    """Close the sessions a test left open (it failed before its own ``close()``).

    Left to the garbage collector, an open session warns "unclosed client session" during a
    later test, in the same process, and that test fails for it. Closing the session drops its
    connections without the WebSocket closing handshake, which a reader task the test left
    waiting would hold up.
    """
    for client in list(_OPEN):
        _OPEN.discard(client)
        await client.session.close()


async def ask_for_a_person(server: TestServer) -> str:
    """A widget buyer asks for a person and reads the expected wait; returns the conversation.

    The wait is told while an agent is signed in: sign one in first.
    """
    buyer = await client_of(server)
    ws, welcome = await hello(buyer)
    conversation_id: str = welcome["session"].rpartition(".")[0]
    await ws.send_json({"type": "message", "text": "a person please", "client_id": "m1"})
    while "Expected wait" not in (await bot_text(ws))["text"]:
        pass
    await ws.close()
    await buyer.close()
    return conversation_id


class Console:
    """One agent's browser: its own cookie jar, signed in through the real form."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    async def sign_in(self, name: str, password: str = PASSWORD) -> int:
        page = await self.client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert token is not None
        response = await self.client.post(
            "/console/login",
            data={"csrf": token.group(1), "name": name, "password": password},
            allow_redirects=False,
        )
        if response.status == 302:
            home = await self.client.get("/console")
            found = re.search(r'name="csrf-token" content="([^"]+)"', await home.text())
            assert found is not None
            self.csrf = found.group(1)
        return response.status

    async def get(self, path: str) -> Any:
        response = await self.client.get(path)
        assert response.status == 200, (path, response.status, await response.text())
        return await response.json()

    async def post(self, path: str, body: Any = None, *, csrf: bool = True) -> Any:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return await self.client.post(path, json=body if body is not None else {}, headers=headers)

    async def ok(self, path: str, body: Any = None) -> Any:
        response = await self.post(path, body)
        assert response.status in (200, 201), (path, response.status, await response.text())
        return await response.json()


#: The tables a refused request must leave as they were.
TABLES = [AgentSession, CannedReply, ConversationNote, Handoff, RefundEvent, TranscriptMessage]


def snapshot(settings: Settings) -> dict[str, Any]:
    with get_sessionmaker(settings.database_url).begin() as session:
        counts = {
            t.__tablename__: session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in TABLES
        }
        counts["handlers"] = sorted(session.execute(select(Conversation.handler)).scalars())
        return counts


def console_routes(server: TestServer) -> list[tuple[str, str]]:
    routes = []
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/console") and route.method != "HEAD":
            routes.append((route.method, path))
    return routes
