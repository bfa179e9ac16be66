"""The widget's socket at the edge: every frame taken or refused clearly; origins, limits, headers.

A frame that once closed the socket (1006) made the real widget resend it on every reconnect.
These run against the real app on SQLite and PostgreSQL (which refuses NUL in text); the upload
form's edges are in test_webchat_upload_edges.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.gateway import keys
from bot.gateway.app import create_app
from bot.settings import Settings
from tests.gateway.doubles import PDF, RasaDouble, wait_until, with_gateway
from tests.gateway.webchat_client import (
    bot_text,
    field,
    file_part,
    frame,
    hello,
    multipart,
    session_of,
)

NORMAL = {"type": "message", "text": "still here", "client_id": "after"}


async def still_answers(ws: aiohttp.ClientWebSocketResponse, rasa: RasaDouble) -> None:
    """The socket is open and the next message gets its answer."""
    await ws.send_json(NORMAL)
    assert (await bot_text(ws))["text"] == "You said: still here"
    assert rasa.messages[-1] == "still here"
    assert not ws.closed


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param(
            '{"type": "message", "text": "broken \\ud800 text", "client_id": "p1"}',
            "bad_characters",
            id="lone-surrogate",
        ),
        pytest.param(
            '{"type": "message", "text": "nul \\u0000 inside", "client_id": "p1"}',
            "bad_characters",
            id="nul",
        ),
        pytest.param(
            '{"type": "button", "message_id": 9223372036854775808, "index": 0, "client_id": "p1"}',
            "bad_button",
            id="id-over-bigint",
        ),
        pytest.param(
            '{"type": "button", "message_id": -1, "index": 0, "client_id": "p1"}',
            "bad_button",
            id="negative-id",
        ),
        pytest.param(
            '{"type": "button", "message_id": 1, "index": true, "client_id": "p1"}',
            "bad_frame",
            id="boolean-index",
        ),
        pytest.param(
            '{"type": "message", "text": 12, "client_id": "p1"}', "empty", id="text-not-a-string"
        ),
        pytest.param('{"type": 7, "client_id": "p1"}', "bad_frame", id="type-not-a-string"),
        pytest.param('{"type": "teleport", "client_id": "p1"}', "bad_frame", id="unknown-type"),
    ],
)
async def test_a_poisoned_frame_is_refused_by_name_and_the_socket_stays(
    gateway: TestClient, rasa: RasaDouble, raw: str, code: str
) -> None:
    ws, _ = await hello(gateway)
    await ws.send_str(raw)
    error = await frame(ws, "error")
    assert error["code"] == code
    assert error["client_id"] == "p1"
    assert error["message"]
    await still_answers(ws, rasa)
    assert rasa.messages == ["still here"]
    await ws.close()


async def test_a_client_id_that_cannot_be_stored_is_echoed_back_and_refused(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws, _ = await hello(gateway)
    for client_id in ("nul\x00id", "surrogate\ud800", "x" * 65):
        await ws.send_str(json.dumps({"type": "message", "text": "hi", "client_id": client_id}))
        error = await frame(ws, "error")
        assert (error["code"], error["client_id"]) == ("bad_frame", client_id)
    await still_answers(ws, rasa)
    await ws.close()


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="deeply-nested"),
        pytest.param('{"type": "message", "text": ' + "[" * 40 + "]" * 40 + "}", id="nested-text"),
        pytest.param('{"type": "message", "text": "x", "n": 1' + "0" * 5000 + "}", id="huge-int"),
    ],
)
async def test_json_too_deep_or_too_big_to_parse_is_refused(
    gateway: TestClient, rasa: RasaDouble, raw: str
) -> None:
    ws, _ = await hello(gateway)
    await ws.send_str(raw)
    assert (await frame(ws, "error"))["code"] in ("bad_frame", "empty")
    await still_answers(ws, rasa)
    await ws.close()


async def test_a_session_or_token_of_any_shape_is_a_new_guest_conversation(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws = await gateway.ws_connect("/webchat/ws")
    for session in ("é.abc", "\ud800.x", "a" * 10_000 + ".x", 42, ["list"]):
        await ws.send_str(json.dumps({"type": "hello", "session": session, "token": session}))
        welcome = await frame(ws, "welcome")
        assert welcome["customer"] is None
    await still_answers(ws, rasa)
    await ws.close()


# ---- origins ----------------------------------------------------------------------------------

SHOP = "https://shop.example"


@pytest.fixture
async def guarded(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> TestClient:
    return await aiohttp_client(
        create_app(with_gateway(settings, allowed_origins=(SHOP, "http://localhost:8000")))
    )


async def test_allowed_origins_open_the_socket_and_others_are_refused(
    guarded: TestClient, rasa: RasaDouble
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await guarded.ws_connect("/webchat/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    for origin in (SHOP, "HTTPS://SHOP.EXAMPLE:443", "http://localhost:8000", None):
        headers = {} if origin is None else {"Origin": origin}
        ws = await guarded.ws_connect("/webchat/ws", headers=headers)
        await ws.send_json({"type": "hello"})
        await frame(ws, "welcome")
        await ws.close()
    # The gateway's own pages (the demo shop) are always its own origin.
    own = str(guarded.make_url("")).rstrip("/")
    ws = await guarded.ws_connect("/webchat/ws", headers={"Origin": own})
    await ws.send_json({"type": "hello"})
    await frame(ws, "welcome")
    await ws.close()


async def test_uploads_answer_only_the_allowed_origins(guarded: TestClient) -> None:
    preflight = await guarded.options(
        "/webchat/upload",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    preflight = await guarded.options(
        "/webchat/upload", headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP
    assert preflight.headers["Vary"] == "Origin"

    session = await session_of(guarded)
    body = multipart([field("session", session.encode()), file_part(PDF)])
    refused = await guarded.post(
        "/webchat/upload",
        data=body,
        headers={
            "Content-Type": "multipart/form-data; boundary=b0undary",
            "Origin": "https://evil.example",
        },
    )
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    taken = await guarded.post(
        "/webchat/upload",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=b0undary", "Origin": SHOP},
    )
    assert taken.status == 200
    assert taken.headers["Access-Control-Allow-Origin"] == SHOP


# ---- rate limits ------------------------------------------------------------------------------


async def limited_gateway(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, **limits: int
) -> TestClient:
    return await aiohttp_client(create_app(with_gateway(settings, **limits)))


async def test_a_widget_conversation_over_its_rate_limit_is_told_and_rasa_is_spared(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, rasa: RasaDouble
) -> None:
    gateway = await limited_gateway(
        aiohttp_client, settings, rate_limit_messages=3, rate_limit_seconds=3600
    )
    ws, welcome = await hello(gateway)
    for i in range(3):
        await ws.send_json({"type": "message", "text": f"m{i}", "client_id": f"c{i}"})
    await ws.send_json({"type": "message", "text": "too fast", "client_id": "c3"})
    error = await frame(ws, "error")
    assert error == {
        "type": "error",
        "code": "rate_limited",
        "message": (
            "You're sending messages faster than I can read them; please wait a few seconds."
        ),
        "client_id": "c3",
    }
    form = aiohttp.FormData()
    form.add_field("session", welcome["session"])
    form.add_field("file", PDF, filename="r.pdf", content_type="application/pdf")
    response = await gateway.post("/webchat/upload", data=form)
    assert response.status == 429
    await wait_until(lambda: len(rasa.messages) == 3, what="the three messages under the limit")
    await gateway.app[keys.ROUTER].idle()
    assert rasa.messages == ["m0", "m1", "m2"]
    await ws.close()


async def test_one_client_address_is_limited_across_its_conversations(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, rasa: RasaDouble
) -> None:
    gateway = await limited_gateway(
        aiohttp_client,
        settings,
        rate_limit_messages=10,
        rate_limit_address_messages=4,
        rate_limit_seconds=3600,
    )
    sockets = [(await hello(gateway))[0] for _ in range(3)]
    for i in range(4):
        await sockets[i % 3].send_json({"type": "message", "text": f"m{i}", "client_id": f"c{i}"})
    # Each socket is read on its own: the four must be taken before the fifth is sent.
    await wait_until(lambda: len(rasa.messages) == 4, what="the four messages under the limit")
    await sockets[1].send_json({"type": "message", "text": "fifth", "client_id": "c5"})
    assert (await frame(sockets[1], "error"))["code"] == "rate_limited"
    for ws in sockets:
        await ws.close()
    assert "fifth" not in rasa.messages


async def test_no_limit_when_the_limits_are_zero(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, rasa: RasaDouble
) -> None:
    gateway = await limited_gateway(
        aiohttp_client, settings, rate_limit_messages=0, rate_limit_address_messages=0
    )
    ws, _ = await hello(gateway)
    for i in range(30):
        await ws.send_json({"type": "message", "text": f"m{i}", "client_id": f"c{i}"})
    for _ in range(30):
        await bot_text(ws)
    assert len(rasa.messages) == 30
    await ws.close()


# ---- headers ----------------------------------------------------------------------------------


async def raw_request(client: TestClient, request: bytes) -> bytes:
    """Send bytes a well-behaved client library would not, and return the status line."""
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(request)
    await writer.drain()
    status = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return status


async def test_a_header_that_is_not_utf8_is_not_a_server_error(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:
    gateway = await aiohttp_client(create_app(with_gateway(settings, health_token="t0ken")))
    request = (
        b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
        b"Connection: close\r\n\r\n"
    )
    status = await raw_request(gateway, request)
    assert status.startswith(b"HTTP/1.1 200"), status


HANDSHAKE = {
    b"Upgrade": b"websocket",
    b"Connection": b"Upgrade",
    b"Sec-WebSocket-Version": b"13",
    b"Sec-WebSocket-Key": b"dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.mark.parametrize("header", list(HANDSHAKE))
@pytest.mark.parametrize("junk", [b"\xff\xfe", "é".encode()], ids=["not-utf8", "not-ascii"])
async def test_a_socket_handshake_with_bytes_no_handshake_has_is_a_400(
    gateway: TestClient, rasa: RasaDouble, header: bytes, junk: bytes
) -> None:
    # aiohttp quotes these headers in its own refusal and decodes the key as ASCII: a 500 before.
    headers = {**HANDSHAKE, header: HANDSHAKE[header] + junk}
    request = b"GET /webchat/ws HTTP/1.1\r\nHost: x\r\n" + b"".join(
        name + b": " + value + b"\r\n" for name, value in headers.items()
    )
    status = await raw_request(gateway, request + b"Connection: close\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400"), status
    ws, _ = await hello(gateway)
    await still_answers(ws, rasa)
    await ws.close()


async def test_a_frame_over_the_limit_closes_only_its_socket_before_it_is_read(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws, _ = await hello(gateway)
    # Just over the limit (256 KB): the socket is closed as too big (1009), nothing is taken.
    await ws.send_str('{"type": "message", "client_id": "big", "text": "' + "x" * 262_144 + '"}')
    closing = await ws.receive(timeout=10)
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1009)
    assert rasa.messages == []
    again, _ = await hello(gateway)
    await still_answers(again, rasa)
    await again.close()
