"""The web widget's side of the WebSocket protocol, for tests that talk to a gateway as a buyer."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient


async def frame(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 5.0) -> Any:
    """Return the next frame of ``kind``, skipping others."""

    async def read() -> Any:
        while True:
            data = await ws.receive_json()
            if data["type"] == kind:
                return data

    return await asyncio.wait_for(read(), timeout)


async def bot_text(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        data = await frame(ws, "message")
        if data["message"]["direction"] == "out":
            return data["message"]


async def hello(
    gateway: TestClient, token: str | None = None, session: str | None = None
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await gateway.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "token": token, "session": session})
    return ws, await frame(ws, "welcome")
