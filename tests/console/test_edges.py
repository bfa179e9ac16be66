"""The console API at the edge: bodies and path parameters the database would refuse are 4xx.

On PostgreSQL a NUL in text and an integer past BIGINT are errors of the database; on both
databases a lone surrogate cannot be encoded. Each must be a clear 400 or 404, never a 500.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestServer
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from bot.console import keys as console_keys
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.console.agents import Console, snapshot


async def raw_post(console: Console, path: str, body: bytes) -> int:
    response = await console.client.post(
        path,
        data=body,
        headers={"X-CSRF-Token": console.csrf, "Content-Type": "application/json"},
    )
    return response.status


async def claimed(console: Console, waiting: tuple[str, str]) -> str:
    conversation_id, _ = waiting
    await console.ok(f"/console/api/conversations/{conversation_id}/claim")
    return conversation_id


@pytest.mark.parametrize(
    "said",
    [
        pytest.param("broken \ud800 text", id="lone-surrogate"),
        pytest.param("nul \x00 inside", id="nul"),
        pytest.param("x" * 4001, id="too-long"),
        pytest.param(["a", "list"], id="not-text"),
    ],
)
async def test_replies_and_notes_the_database_refuses_are_400(
    server: TestServer,
    settings: Settings,
    ana: Console,
    waiting: tuple[str, str],
    said: object,
) -> None:
    conversation_id = await claimed(ana, waiting)
    before = snapshot(settings)
    for route in ("reply", "notes"):
        path = f"/console/api/conversations/{conversation_id}/{route}"
        status = await raw_post(ana, path, json.dumps({"text": said}).encode())
        assert status == 400, (route, status)
    assert (
        await raw_post(
            ana, "/console/api/canned", json.dumps({"title": said, "text": "t"}).encode()
        )
        == 400
    )
    assert snapshot(settings) == before
    reply = await ana.ok(f"/console/api/conversations/{conversation_id}/reply", {"text": "fine"})
    assert reply["message"]["text"] == "fine"


async def test_review_notes_and_slots_the_database_refuses_are_400(
    settings: Settings, ana: Console, waiting: tuple[str, str]
) -> None:
    conversation_id = await claimed(ana, waiting)
    _, reference = waiting
    before = snapshot(settings)
    path = f"/console/api/applications/{reference}/reject"
    assert await raw_post(ana, path, json.dumps({"note": "no \x00"}).encode()) == 400
    assert await raw_post(ana, path, json.dumps({"note": "no \ud800"}).encode()) == 400
    handback = f"/console/api/conversations/{conversation_id}/handback"
    body = json.dumps({"slots": {"order_id": "12\x0034"}}).encode()
    assert await raw_post(ana, handback, body) == 400
    assert snapshot(settings) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"[" * 30_000 + b"]" * 30_000, 400, id="deeply-nested"),
        pytest.param(b'{"text": ' + b"[" * 40 + b"]" * 40 + b"}", 400, id="too-deep"),
        pytest.param(b'{"text": "' + b"x" * 70_000 + b'"}', 413, id="too-big"),
        pytest.param(b"\xff not utf-8", 400, id="not-utf8"),
        pytest.param(b'"a string"', 400, id="not-an-object"),
    ],
)
async def test_bodies_that_are_not_small_json_objects_are_4xx(
    ana: Console, waiting: tuple[str, str], body: bytes, status: int
) -> None:
    conversation_id = await claimed(ana, waiting)
    path = f"/console/api/conversations/{conversation_id}/notes"
    assert await raw_post(ana, path, body) == status


async def test_a_chunked_body_is_refused_at_its_limit(
    ana: Console, waiting: tuple[str, str]
) -> None:
    conversation_id = await claimed(ana, waiting)

    async def body() -> AsyncIterator[bytes]:
        # No Content-Length to check first: 4 MB arrive in chunks, the read stops at 64 KB.
        yield b'{"text": "'
        for _ in range(64):
            yield b"x" * 65536
        yield b'"}'

    response = await ana.client.post(
        f"/console/api/conversations/{conversation_id}/notes",
        data=body(),
        headers={"X-CSRF-Token": ana.csrf, "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await ana.client.get("/console/api/me")).status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/console/evidence/99999999999999999999",
        "/console/evidence/9223372036854775808",
        "/console/evidence/%C2%B2",  # a superscript two is a digit to str.isdigit
        "/console/evidence/0",
        "/console/api/conversations/web-%00",
        "/console/api/conversations/%ED%A0%80",
        "/console/api/conversations/" + "x" * 300,
        "/console/api/applications/R-%00",
    ],
)
async def test_path_parameters_no_record_can_have_are_404(ana: Console, path: str) -> None:
    response = await ana.client.get(path)
    assert response.status == 404, (path, response.status, await response.text())


async def test_posts_to_paths_no_record_can_have_are_404(ana: Console) -> None:
    for path in (
        "/console/api/conversations/web-%00/claim",
        "/console/api/conversations/web-%00/notes",
        "/console/api/applications/R-%00/approve",
    ):
        status = await raw_post(ana, path, json.dumps({"text": "hi"}).encode())
        assert status == 404, (path, status)


async def test_the_console_socket_ignores_junk_and_bounds_its_frames(ana: Console) -> None:
    ws = await ana.client.ws_connect("/console/ws")
    for junk in ('{"type": "x\\ud800"}', "[" * 2000 + "]" * 2000, "nul \x00", '{"type":'):
        await ws.send_str(junk)
    await ws.send_bytes(b"\xff\x00")
    await ws.send_str('{"type":"ping"}')
    while (await ws.receive_json(timeout=5))["type"] != "pong":
        pass
    await ws.send_str("x" * 5000)
    closing = await ws.receive(timeout=5)
    assert closing.type is WSMsgType.CLOSE
    assert ws.close_code == WSCloseCode.MESSAGE_TOO_BIG


async def raw_status(server: TestServer, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes a well-behaved client library would not; return the status line."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    length = b"Content-Length: %d\r\n" % len(body)
    writer.write(head + length + b"Connection: close\r\n\r\n" + body)
    await writer.drain()
    status = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return status


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        pytest.param(b"X-CSRF-Token: \xff\xfe\r\n", b"{}", 403, id="csrf-header-not-utf8"),
        pytest.param(
            b"Content-Type: application/x-www-form-urlencoded\r\n",
            b"csrf=\xff\xfe",
            400,
            id="csrf-form-not-utf8",
        ),
        pytest.param(
            b"Content-Type: application/x-www-form-urlencoded; charset=nope\r\n",
            b"csrf=x",
            400,
            id="csrf-form-unknown-charset",
        ),
        pytest.param(
            b"Content-Type: application/x-www-form-urlencoded\r\n",
            b"csrf=%ED%A0%80",
            403,
            id="csrf-form-surrogate",
        ),
    ],
)
async def test_a_csrf_token_of_any_bytes_is_refused_not_a_500(
    server: TestServer, settings: Settings, ana: Console, headers: bytes, body: bytes, status: int
) -> None:
    cookie = "; ".join(f"{c.key}={c.value}" for c in ana.client.session.cookie_jar)
    head = b"POST /console/api/canned HTTP/1.1\r\nHost: x\r\nCookie: " + cookie.encode()
    before = snapshot(settings)
    answer = await raw_status(server, head + b"\r\n" + headers, body)
    assert answer.startswith(b"HTTP/1.1 %d" % status), answer
    assert snapshot(settings) == before
    assert (await ana.client.get("/console/api/me")).status == 200


async def test_a_console_socket_handshake_that_is_not_ascii_is_a_400(
    server: TestServer, ana: Console
) -> None:
    cookie = "; ".join(f"{c.key}={c.value}" for c in ana.client.session.cookie_jar)
    head = (
        b"GET /console/ws HTTP/1.1\r\nHost: x\r\nCookie: " + cookie.encode() + b"\r\n"
        b"Upgrade: websocket\xff\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    assert (await raw_status(server, head)).startswith(b"HTTP/1.1 400")


async def test_an_update_whose_sessions_cannot_be_checked_goes_to_no_page(
    server: TestServer,
    settings: Settings,
    ana: Console,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = await ana.client.ws_connect("/console/ws")
    hub = server.app[console_keys.HUB]
    unreachable = create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}", future=True)
    hub.check_sessions_with(sessionmaker(bind=unreachable, future=True))
    await hub.publish({"type": "application", "reference": "RF-UNSEEN1"})
    assert "the sessions could not be checked" in caplog.text
    hub.check_sessions_with(get_sessionmaker(settings.database_url, read_only=True))
    await hub.publish({"type": "application", "reference": "RF-SEEN0001"})
    # The first update never came: the next frame is the second.
    got = await page.receive_json(timeout=10)
    assert got == {"type": "application", "reference": "RF-SEEN0001"}
    await page.close()
    unreachable.dispose()
