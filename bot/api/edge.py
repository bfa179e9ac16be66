"""What every shop API request goes through first: its key, its scope, its body.

A missing, malformed, unknown or revoked key is 401 (never saying which), a key without the
route's scope 403. Bodies are read bounded and parsed with :mod:`bot.gateway.inputs`; money with
a fraction is read as :class:`~decimal.Decimal`, never as a float.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.api.credentials import Caller, authenticate
from bot.api.problems import Problem
from bot.gateway import inputs, keys, transcript

#: The largest request body: an order with a few hundred lines fits easily.
MAX_BODY_BYTES = 256 * 1024


async def authorize(request: web.Request, scope: str) -> Caller:
    """Return the caller when the request's key is valid and has ``scope``.

    Raises:
        Problem: 401 without a valid key, 403 without the scope.
    """
    header = request.headers.get("Authorization", "")
    kind, _, token = header.partition(" ")
    token = token.strip()
    if kind.lower() != "bearer" or not token or len(token) > 200:
        raise Problem(401, "unauthorized", "send an API key: 'Authorization: Bearer KEY'")
    caller = await transcript.run_in_session(
        request.app[keys.READ_SESSIONS], lambda s: authenticate(s, token=token)
    )
    if caller is None:
        raise Problem(401, "unauthorized", "the API key is not valid (unknown or revoked)")
    if scope not in caller.scopes:
        raise Problem(403, "forbidden", f"this API key lacks the scope {scope}", scope=scope)
    return caller


async def json_body(request: web.Request, *, optional: bool = False) -> tuple[Any, bytes]:
    """Return the request's JSON body, parsed, and its bytes (``{}`` when optional and empty).

    Raises:
        Problem: 413 when it is too large, 415 when it is not JSON, 400 when it does not parse.
    """
    try:
        raw = await inputs.read_body(request, max_bytes=MAX_BODY_BYTES)
    except inputs.InvalidInput as e:
        raise Problem(e.status, "too-large", str(e)) from e
    if not raw.strip() and optional:
        return {}, b""
    if inputs.content_type(request) not in ("application/json", "application/octet-stream"):
        raise Problem(415, "unsupported-media-type", "send the body as application/json")
    try:
        inputs.loads(raw)  # bounded depth, UTF-8
        body = json.loads(raw, parse_float=Decimal)
    except (inputs.InvalidInput, ValueError, RecursionError) as e:
        raise Problem(400, "malformed-json", "the body is not valid JSON") from e
    if not inputs.integers_fit(body) or not _storable(body):
        raise Problem(400, "malformed-json", "the body holds values no field can take")
    return body, raw


def _storable(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(inputs.storable(k) for k in item):
                return False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not inputs.storable(item):
            return False
    return True
