"""Console sessions: the guard on every console route, and who is signed in.

Every route but the sign-in page and the static files needs a session (:func:`guard`): pages
redirect to the sign-in page, the API answers 401. Every state-changing request must carry the
session's CSRF token (``X-CSRF-Token`` header, or a ``csrf`` form field).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.clock import utcnow
from bot.console import auth
from bot.console.auth import AgentInfo, SessionInfo
from bot.gateway import keys as gateway_keys
from bot.gateway import transcript
from bot.gateway.pages import SECURITY_HEADERS

COOKIE = "rb_console"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC = frozenset({"/console/login"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse console routes without a session, and state changes without the CSRF token."""
    path = request.path
    if not path.startswith("/console") or path in PUBLIC or path.startswith("/console/static/"):
        response = await handler(request)
        if path.startswith("/console"):
            response.headers.update(SECURITY_HEADERS)
        return response
    session = await session_of(request)
    if session is None:
        if path.startswith("/console/api/") or path == "/console/ws" or request.method != "GET":
            return web.json_response({"error": "sign in first"}, status=401)
        raise web.HTTPFound("/console/login")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        given = request.headers.get(CSRF_HEADER)
        try:
            form = given is None and request.content_type == "application/x-www-form-urlencoded"
        except UnicodeError:  # a Content-Type header that is not ASCII
            return web.json_response({"error": "the Content-Type could not be read"}, status=400)
        if form:
            try:
                given = str((await request.post()).get("csrf") or "")
            except (ValueError, LookupError):  # undecodable bytes, an unknown charset
                return web.json_response({"error": "the form could not be read"}, status=400)
        if not auth.csrf_ok(session.csrf_token, given):
            return web.json_response({"error": "missing or wrong CSRF token"}, status=403)
    request["console_session"] = session
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


async def session_of(request: web.Request) -> SessionInfo | None:
    """Return the live session of the request's cookie, or ``None``."""
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    now = utcnow()
    return await transcript.run_in_session(
        request.app[gateway_keys.SESSIONS], lambda s: auth.lookup_session(s, token=token, now=now)
    )


def current_session(request: web.Request) -> SessionInfo:
    """Return the session :func:`guard` found for this request."""
    session: SessionInfo = request["console_session"]
    return session


def current_agent(request: web.Request) -> AgentInfo:
    """Return the agent of this request's session."""
    return current_session(request).agent
