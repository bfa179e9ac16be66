"""Errors of the shop API as ``application/problem+json`` (RFC 9457), and the edge that makes them.

Every answer under ``/api/v1`` that is not a success goes through :func:`problem`: the views raise
:class:`Problem`, and :func:`problems` turns what aiohttp raises itself (an unknown path, a method
the path does not take) and anything unexpected into the same form. A client's mistake is never a
5xx.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
CONTENT_TYPE = "application/problem+json"
#: Where the types are explained (README, "Shop API"); a relative URI reference, as RFC 9457 allows.
TYPE_BASE = "/api/v1/problems/"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(Exception):
    """An error answer: ``kind`` becomes the ``type`` URI, ``extra`` more members of the body."""

    def __init__(self, status: int, kind: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.extra = extra


def invalid(
    errors: list[dict[str, str]], detail: str = "the request has invalid fields", **extra: Any
) -> Problem:
    """Return a 422 listing each field's problem (``{"field": ..., "detail": ...}``)."""
    return Problem(422, "invalid-request", detail, errors=errors, **extra)


def problem(
    status: int, kind: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    """Return the problem+json response."""
    body = {
        "type": TYPE_BASE + kind,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return web.Response(
        status=status, text=json.dumps(body), content_type=CONTENT_TYPE, headers=headers
    )


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error under ``/api/v1`` as problem+json; leave other paths alone."""
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return await handler(request)
    try:
        return await handler(request)
    except Problem as e:
        headers = {"WWW-Authenticate": 'Bearer realm="api"'} if e.status == 401 else None
        return problem(e.status, e.kind, e.detail, headers=headers, **e.extra)
    except web.HTTPMethodNotAllowed as e:
        allowed = ", ".join(sorted(e.allowed_methods))
        return problem(
            405,
            "method-not-allowed",
            f"{request.method} is not allowed here; use {allowed}",
            headers={"Allow": allowed},
        )
    except web.HTTPException as e:
        if e.status < 400:
            raise
        kind = "not-found" if e.status == 404 else "http-error"
        return problem(e.status, kind, e.reason if e.status != 404 else "no such resource")
    except Exception:
        log.exception("shop API request %s %s failed", request.method, request.path)
        return problem(500, "internal-error", "the request could not be completed")
