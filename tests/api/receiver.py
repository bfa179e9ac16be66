"""A shop's webhook endpoint on a local port: records what it is sent, answers as told."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.settings import PROJECT_ROOT


@dataclass
class Received:
    """One POST as the receiver saw it."""

    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


@dataclass
class Receiver:
    """Answers ``status``; while ``hold`` is set, keeps each request until it is cleared."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    url: str = ""
    in_flight: int = 0
    hold: asyncio.Event | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks", self._hook)
        return app

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [r.event for r in self.received if kind is None or r.event["type"] == kind]

    async def _hook(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        self.in_flight += 1
        try:
            if self.hold is not None:
                await self.hold.wait()
        finally:
            self.in_flight -= 1
        return web.Response(status=self.status, text=f"answered {self.status}")


def verify(secret: str, header: str, body: bytes) -> bool:
    """Check a ``Refundbot-Signature`` the way a receiver does (no time tolerance here)."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def readme_verified(secret: str) -> Callable[[str, bytes, float], bool]:
    """Return ``verified(header, body, now)`` of the README's receiver, holding ``secret``."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    start = readme.index("import hashlib, hmac, json, time")
    code = readme[start : readme.index("HTTPServer((", start)]
    receiver: dict[str, Any] = {}
    exec(code.replace('b"whsec_..."', repr(secret.encode())), receiver)  # noqa: S102
    verified = receiver["verified"]
    assert callable(verified)
    return verified


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Receiver:
    """A receiver on a random local port, at ``receiver.url``."""
    found = Receiver()
    server = await aiohttp_server(found.app(), host="127.0.0.1")
    found.url = str(server.make_url("/hooks"))
    return found
