"""Hypothesis strategies for what clients may send, and a way to run examples on the app's loop.

The app and its doubles run on the test's event loop; Hypothesis runs its examples in a worker
thread (``await in_thread(test)``), each example handing its requests to the loop with
:func:`on_loop`. So the fuzz tests use the same fixtures (real app, real databases) as the rest.
"""

from __future__ import annotations

import asyncio
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
