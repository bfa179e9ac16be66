"""Property-based fuzzing of every console API route for a signed-in agent (real app, doubles).

Random JSON bodies (and bytes that are not JSON) and random path parameters, with the session's
CSRF token; and headers of any bytes (CSRF tokens, content types, forms, socket handshakes)
with the session's cookie: no answer is a 5xx, nothing is logged as an error, and afterwards
``/health`` is 200 and the console and a buyer's chat still work. On SQLite and PostgreSQL
(which refuses NUL). The sign-in form and sign-out are left out: the first has tests of its
own, the second would end the session the fuzz runs in.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import example, given
from hypothesis import strategies as st

from tests.console.agents import Console, client_of, console_routes
from tests.fuzzing import (
    FUZZ,
    WS_HANDSHAKE,
    any_text,
    big_ints,
    dumps,
    header_bytes,
    in_thread,
    json_values,
    nested,
    no_errors_logged,
    on_loop,
    path_texts,
    raw_request,
    sendable,
    status_of,
)
from tests.gateway.doubles import RasaDouble
from tests.gateway.webchat_client import bot_text, hello

LEFT_OUT = {"/console/login", "/console/logout", "/console/ws"}
ACTIONS = ["approve", "reject", "request_info", "mark_return_received", "mark_refunded"]

bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "text": st.text(max_size=300) | any_text | json_values,
            "note": any_text | json_values,
            "title": any_text | json_values,
            "take_over": json_values,
            "slots": st.dictionaries(
                st.sampled_from(["order_id", "refund_amount", "customer_email"]) | any_text,
                any_text | big_ints | json_values,
                max_size=3,
            )
            | json_values,
        },
    ).map(dumps)
    | json_values.map(dumps)
    | nested()
    | st.text(max_size=100)
).map(lambda s: s.encode("utf-8", "surrogatepass")) | st.binary(max_size=100)


@st.composite
def requests(
    draw: st.DrawFn, routes: list[tuple[str, str]], known: tuple[str, str]
) -> tuple[str, str, bytes]:
    """A console route with its parameters (known ones or any text) and a body."""
    method, path = draw(st.sampled_from(routes))
    conversation_id, reference = known
    values = {
        "{id}": draw(st.sampled_from([conversation_id, "1", "99999999999999999999"]) | path_texts),
        "{reference}": draw(st.just(reference) | path_texts),
        "{action}": draw(st.sampled_from(ACTIONS) | path_texts),
        "{name}": draw(st.sampled_from(["console.js", "console.css"]) | path_texts),
    }
    for name, value in values.items():
        path = path.replace(name, value)
    if draw(st.booleans()):
        path += "?status=" + draw(path_texts | st.sampled_from(["pending_review", "approved,x"]))
    return method, path, draw(bodies)


async def ask(console: Console, method: str, path: str, body: bytes) -> int:
    response = await console.client.request(
        method,
        path,
        data=sendable(body) if method == "POST" else None,
        headers={"X-CSRF-Token": console.csrf, "Content-Type": "application/json"},
        allow_redirects=False,
    )
    await response.read()
    return response.status


async def test_no_console_request_is_a_server_error(
    server: TestServer,
    ana: Console,
    waiting: tuple[str, str],
    rasa: RasaDouble,
    caplog: pytest.LogCaptureFixture,
) -> None:
    routes = [(m, p) for m, p in console_routes(server) if p not in LEFT_OUT]
    assert len(routes) >= 17
    run = on_loop(asyncio.get_running_loop())
    statuses: Counter[int] = Counter()

    # Whatever else is drawn, a good request, a bad body and an unknown id are always among them.
    @FUZZ
    @example(request=("GET", "/console/api/me", b""))
    @example(request=("POST", "/console/api/canned", b"not json"))
    @example(request=("GET", "/console/api/conversations/99999999999999999999", b""))
    @given(request=requests(routes, waiting))
    def one_request(request: tuple[str, str, bytes]) -> None:
        status = run(ask(ana, *request))
        statuses[status] += 1
        assert status < 500, request

    with no_errors_logged(caplog):
        await in_thread(one_request)
        assert (await ana.client.get("/health")).status == 200
        assert (await ana.client.get("/console/api/me")).status == 200
        buyer = await client_of(server)
        ws, _ = await hello(buyer)
        await ws.send_json({"type": "message", "text": "after the fuzz", "client_id": "final"})
        assert (await bot_text(ws))["text"] == "You said: after the fuzz"
        await ws.close()
        await buyer.close()
    # The fuzz reached the handlers, not only the checks in front of them.
    assert {200, 400, 404} <= set(statuses), statuses


CONTENT_TYPES = [
    b"application/json",
    b"application/x-www-form-urlencoded",
    b"application/x-www-form-urlencoded; charset=",
    b"multipart/form-data; boundary=",
    b"text/plain; charset=",
]
form_bodies = (
    st.tuples(st.just(b"csrf="), st.binary(max_size=40)).map(b"".join)
    | any_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.just(b'{"text": "hi"}')
)


@st.composite
def raw_console_requests(
    draw: st.DrawFn, routes: list[tuple[str, str]], known: tuple[str, str], cookie: bytes
) -> bytes:
    """A console route with the agent's cookie and headers of any bytes, as a raw request."""
    method, path = draw(st.sampled_from([*routes, ("GET", "/console/ws")]))
    conversation_id, reference = known
    path = (
        path.replace("{id}", conversation_id)
        .replace("{reference}", reference)
        .replace("{action}", draw(st.sampled_from(ACTIONS)))
        .replace("{name}", "console.js")
    )
    headers = {b"Cookie": cookie}
    if draw(st.booleans()):
        headers[b"X-CSRF-Token"] = draw(header_bytes)
    if draw(st.booleans()):
        headers[b"Content-Type"] = draw(st.sampled_from(CONTENT_TYPES)) + draw(header_bytes)
    if draw(st.booleans()):
        headers[b"Origin"] = draw(header_bytes)
    if path == "/console/ws" and draw(st.booleans()):
        name = draw(st.sampled_from(list(WS_HANDSHAKE)))
        headers[name] = WS_HANDSHAKE[name] + draw(header_bytes)
    body = draw(form_bodies) if method == "POST" else b""
    return raw_request(method.encode(), path.encode(), headers, body)


async def test_no_console_header_is_a_server_error(
    server: TestServer,
    ana: Console,
    waiting: tuple[str, str],
    rasa: RasaDouble,
    caplog: pytest.LogCaptureFixture,
) -> None:
    routes = [(m, p) for m, p in console_routes(server) if p not in LEFT_OUT]
    cookie = "; ".join(f"{c.key}={c.value}" for c in ana.client.session.cookie_jar).encode()
    run = on_loop(asyncio.get_running_loop())
    statuses: Counter[int] = Counter()
    assert server.port is not None
    port = server.port

    def with_cookie(method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes) -> bytes:
        return raw_request(method, path, {b"Cookie": cookie, **headers}, body)

    form = {b"Content-Type": b"application/x-www-form-urlencoded"}

    # Whatever else is drawn, these four (each a 500 once) are always among them.
    @FUZZ
    @example(
        request=with_cookie(
            b"POST", b"/console/api/canned", {b"Content-Type": b"application/json\x80"}, b"csrf="
        )
    )
    @example(request=with_cookie(b"POST", b"/console/api/canned", form, b"csrf=\xff\xfe"))
    @example(request=with_cookie(b"POST", b"/console/api/canned", {b"X-CSRF-Token": b"\xff"}, b""))
    @example(request=with_cookie(b"GET", b"/console/ws", {b"Upgrade": b"websocket\xff"}, b""))
    @given(request=raw_console_requests(routes, waiting, cookie))
    def one_request(request: bytes) -> None:
        status = run(status_of("127.0.0.1", port, request))
        statuses[status] += 1
        assert 100 <= status < 500, request

    with no_errors_logged(caplog):
        await in_thread(one_request)
        assert (await ana.client.get("/health")).status == 200
        assert (await ana.client.get("/console/api/me")).status == 200
    assert {200, 400, 403} <= set(statuses), statuses
