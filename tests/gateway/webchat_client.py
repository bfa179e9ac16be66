"""The web widget's side of the WebSocket protocol and of the upload form, for tests that talk
to a gateway as a buyer (or as a client that bends the rules)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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


def multipart(
    parts: list[tuple[str, bytes]], boundary: str = "b0undary", *, end: bool = True
) -> bytes:
    """Return a form body; each part is its header lines and its content."""
    body = b""
    for headers, content in parts:
        body += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    if end:
        body += f"--{boundary}--\r\n".encode()
    return body


def field(name: str, value: bytes) -> tuple[str, bytes]:
    return f'Content-Disposition: form-data; name="{name}"', value


def file_part(data: bytes, filename: str = "r.pdf") -> tuple[str, bytes]:
    return (
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/pdf",
        data,
    )


async def post_form(
    gateway: TestClient,
    body: bytes | AsyncIterator[bytes],
    content_type: str = "multipart/form-data; boundary=b0undary",
) -> tuple[int, dict[str, Any]]:
    # A form refused before it is read through ends its connection (as HTTP/1.1 asks).
    response = await gateway.post(
        "/webchat/upload",
        data=body,
        headers={"Content-Type": content_type, "Connection": "close"},
    )
    return response.status, await response.json()


async def chunked(*pieces: bytes, repeat: tuple[bytes, int] = (b"", 0)) -> AsyncIterator[bytes]:
    """A body sent chunked (no Content-Length): ``pieces`` with ``repeat`` in the middle."""
    yield pieces[0]
    chunk, times = repeat
    for _ in range(times):
        yield chunk
    for piece in pieces[1:]:
        yield piece


async def session_of(gateway: TestClient) -> str:
    _, welcome = await hello(gateway)
    return str(welcome["session"])
