"""What clients send, checked once at the edge: text, ids, JSON bodies and path parameters.

Every channel and the console API read what arrives through these functions before any work is
done with it, so nothing a client sends can reach the database or Rasa in a form they refuse:
text has no NUL (PostgreSQL refuses it) and no lone surrogates (not encodable as UTF-8), ids fit
the database's integers, JSON is small and shallow, and every read of a body is bounded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.languages import DEFAULT
from bot.messages import text

#: The largest id a row can have: BIGINT on PostgreSQL, INTEGER on SQLite.
MAX_ID = 2**63 - 1
#: How deep JSON may nest: every message of the product is a few levels deep.
MAX_DEPTH = 32
#: The longest key (a conversation id, an application reference) a path may carry.
MAX_KEY_CHARS = 128
#: NUL, and UTF-16 surrogates: valid UTF-8 never decodes to one, but JSON escapes ("\\ud800")
#: and surrogate-escaped bytes in URLs and headers do.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class InvalidInput(ValueError):
    """What a client sent cannot be taken; ``str(e)`` says why, for the client to read.

    ``code`` names the problem for programs (the widget's error frames), ``status`` is the HTTP
    status that fits it.
    """

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def storable(value: str) -> bool:
    """Return whether ``value`` can be stored and sent on as text (no NUL, no lone surrogate)."""
    return _UNSTORABLE.search(value) is None


def check_text(
    value: object, *, max_chars: int, required: bool = True, language: str = DEFAULT
) -> str:
    """Return ``value``, stripped, when it is text a person could have written.

    Raises:
        InvalidInput: It is not a string, is empty (when ``required``), longer than
            ``max_chars``, or holds a NUL or a lone surrogate; told in ``language``.
    """
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput("empty", text("input.empty", language=language))
    if len(value) > max_chars:
        raise InvalidInput("too_long", text("input.too_long", limit=max_chars, language=language))
    if not storable(value):
        raise InvalidInput("bad_characters", text("input.bad_characters", language=language))
    return value.strip()


def check_id(value: object) -> int:
    """Return ``value`` when it is an integer a row could have as its id.

    Raises:
        InvalidInput: It is not an integer (``True`` is not one) or is out of the range.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InvalidInput("bad_id", text("input.bad_id"))
    return value


def parse_id(raw: str) -> int | None:
    """Return the id a path parameter spells in ASCII digits, or ``None`` when there is none."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


#: The handshake headers aiohttp reads before a socket opens: it quotes them in its refusals
#: (which cannot be encoded when they hold what was not UTF-8) and takes the key for ASCII.
_HANDSHAKE_HEADERS = ("Upgrade", "Connection", "Sec-WebSocket-Version", "Sec-WebSocket-Key")


def readable_handshake(request: web.BaseRequest) -> bool:
    """Return whether a WebSocket handshake's headers are ASCII, as every real handshake's are."""
    return all(
        value.isascii() for name in _HANDSHAKE_HEADERS for value in request.headers.getall(name, ())
    )


def readable_key(raw: str) -> bool:
    """Return whether a path parameter could name a record (a conversation, a reference)."""
    return 0 < len(raw) <= MAX_KEY_CHARS and storable(raw)


def loads(data: bytes | str) -> Any:
    """Parse JSON that is at most :data:`MAX_DEPTH` levels deep.

    Raises:
        InvalidInput: It is not UTF-8 JSON, or nests deeper than :data:`MAX_DEPTH`.
    """
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as e:
        # RecursionError: the parser recursed once per level of a very deep document.
        raise InvalidInput("not_json", "send JSON") from e
    if depth(value) > MAX_DEPTH:
        raise InvalidInput("too_deep", f"JSON may nest at most {MAX_DEPTH} levels")
    return value


def depth(value: Any) -> int:
    """Return how deep lists and objects nest in a parsed JSON value (without recursing)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def integers_fit(value: Any) -> bool:
    """Return whether every integer in a parsed JSON value fits a 64-bit signed column."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int) and not -MAX_ID - 1 <= item <= MAX_ID:
            return False
    return True


async def read_body(request: web.BaseRequest, *, max_bytes: int) -> bytes:
    """Return the request's body, reading no more than ``max_bytes`` of it, chunked or not.

    A refused body is read on and dropped (up to four times the limit) before the error, so
    the client reads the answer rather than a connection reset by a close with its body unread.

    Raises:
        InvalidInput: The body is longer (status 413).
    """
    too_big = InvalidInput("too_large", f"the body may be at most {max_bytes} bytes", status=413)
    if request.content_length is not None and request.content_length > max_bytes:
        await _drain(request, limit=4 * max_bytes)
        raise too_big
    body = bytearray()
    while len(body) <= max_bytes:
        chunk = await request.content.read(max_bytes + 1 - len(body))
        if not chunk:
            break
        body.extend(chunk)
    if len(body) > max_bytes:
        await _drain(request, limit=3 * max_bytes)
        raise too_big
    return bytes(body)


async def _drain(request: web.BaseRequest, *, limit: int) -> None:
    left = limit
    while left > 0 and (chunk := await request.content.read(min(64 * 1024, left))):
        left -= len(chunk)


async def read_json(request: web.BaseRequest, *, max_bytes: int) -> Any:
    """Return the request's JSON body, read with :func:`read_body` and parsed with :func:`loads`.

    Raises:
        InvalidInput: The body is too long, not JSON, or nests too deep.
    """
    return loads(await read_body(request, max_bytes=max_bytes))


def content_type(request: web.BaseRequest) -> str | None:
    """Return the request's media type (as ``request.content_type``), ``None`` when unreadable.

    aiohttp raises on a ``Content-Type`` that is not ASCII; such a request is of no type a
    handler takes, so the handler refuses it as it refuses any other wrong type.
    """
    try:
        return request.content_type
    except UnicodeError:
        return None


@web.middleware
async def readable_paths(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer 404 for a path whose parameters no record can have (NUL, broken Unicode, long).

    The route's handlers then only ever see path parameters the database can compare.
    """
    if any(not readable_key(value) for value in request.match_info.values()):
        raise web.HTTPNotFound()
    return await handler(request)
