"""Hypothesis strategies for what clients may send, and a way to run examples on the app's loop.

The app and its doubles run on the test's event loop; Hypothesis runs its examples in a worker
thread (``await in_thread(test)``), each example handing its requests to the loop with
:func:`on_loop`. So the fuzz tests use the same fixtures (real app, real databases) as the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import urllib.parse
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

T = TypeVar("T")

#: A few hundred examples each: the four fuzz tests take well under a minute per database.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

#: Any character, lone surrogates and NUL included.
ANY_CHAR = st.characters(categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Cs", "Co"))
any_text = st.text(ANY_CHAR, max_size=60)
big_ints = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(
    [0, -1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]
)
scalars = st.none() | st.booleans() | big_ints | st.floats() | any_text
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=16,
)


@st.composite
def nested(draw: st.DrawFn) -> str:
    """JSON nested deeper than any parser's recursion: lists, objects, or both."""
    # At most 160 KB: under the widget socket's frame limit, over any parser's recursion.
    depth = draw(st.integers(min_value=20, max_value=20_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")]))
    return opener * depth + "1" + closer * depth


def dumps(value: Any) -> str:
    """JSON as a client could send it (lone surrogates escaped, NaN allowed)."""
    return json.dumps(value)


def quoted(raw: str) -> str:
    """Percent-encode any text for a URL path, lone surrogates as the bytes they would be."""
    return urllib.parse.quote(raw.encode("utf-8", "surrogatepass"), safe="")


path_texts = any_text.filter(bool).map(quoted) | st.binary(min_size=1, max_size=20).map(
    lambda b: urllib.parse.quote_from_bytes(b, safe="")
)


def sendable(body: T) -> T | io.BytesIO:
    """A body as aiohttp sends it without a warning (it warns about raw bytes over 1 MB).

    Only big bodies are wrapped: aiohttp mis-sends an empty ``BytesIO`` on a kept-alive
    connection.
    """
    if isinstance(body, bytes) and len(body) > 1024 * 1024:
        return io.BytesIO(body)
    return body


#: Header values of any bytes HTTP lets through to the app: visible ASCII, space, tab and every
#: byte over 0x7F (what is not UTF-8 among them). aiohttp's parser answers other control bytes
#: with a 400 of its own before any of the app's code runs.
_FIELD_BYTES = [0x09, *range(0x20, 0x7F), *range(0x80, 0x100)]
header_bytes = st.lists(st.sampled_from(_FIELD_BYTES), max_size=40).map(bytes)
#: The handshake a WebSocket client sends; a fuzzed header replaces its own.
WS_HANDSHAKE = {
    b"Upgrade": b"websocket",
    b"Connection": b"Upgrade",
    b"Sec-WebSocket-Version": b"13",
    b"Sec-WebSocket-Key": b"dGhlIHNhbXBsZSBub25jZQ==",
}


@st.composite
def header_sets(draw: st.DrawFn, names: list[bytes]) -> dict[bytes, bytes]:
    """One to three of ``names`` with values of any bytes, often after a plausible start."""
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    start = st.sampled_from([b"", b"websocket", b"Bearer ", b"https://shop.example", b"13"])
    return {name: draw(start) + draw(header_bytes) for name in chosen}


def raw_request(
    method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes = b""
) -> bytes:
    """A request as bytes, with the given headers (a WebSocket's handshake when it opens one).

    A GET carries no body: after a refused handshake aiohttp would read it as the next request.
    """
    if method == b"GET":
        body = b""
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: x"]
    if path.endswith(b"/ws"):
        lines += [k + b": " + v for k, v in WS_HANDSHAKE.items() if k not in headers]
    lines += [k + b": " + v for k, v in headers.items()]
    lines += [b"Content-Length: %d" % len(body), b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def status_of(host: str, port: int, request: bytes) -> int:
    """Send a raw request; return its answer's status (0 when the connection gave none)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0


def on_loop(loop: asyncio.AbstractEventLoop) -> Callable[[Coroutine[Any, Any, T]], T]:
    """Return a function that runs a coroutine on ``loop`` from another thread."""

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    return run


async def in_thread(test: Callable[[], None]) -> None:
    """Run a Hypothesis test in a worker thread while this loop serves the app."""
    await asyncio.to_thread(test)


@contextmanager
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail when the product (or aiohttp, for a 500) logged an error meanwhile."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.split(".")[0] in ("bot", "aiohttp", "telegram")
    ]
    assert errors == []
