"""Signing in and out of the console, with throttled attempts."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.console import auth, keys, pages
from bot.console.auth import SessionInfo
from bot.console.session import COOKIE, session_of
from bot.gateway import keys as gateway_keys
from bot.gateway import transcript

log = logging.getLogger(__name__)

# Sign-in attempts: after this many failures for one name from one address within the window,
# further attempts are refused until the window has passed.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 900.0


async def login_page(request: web.Request) -> web.Response:
    """Show the sign-in form (with a CSRF token bound to a short-lived cookie)."""
    if await session_of(request) is not None:
        raise web.HTTPFound("/console")
    return pages.login_response(request, error=None)


async def login(request: web.Request) -> web.Response:
    """Check the name and password; start a session and go to the console."""
    form = await request.post()
    expected = request.cookies.get(pages.LOGIN_COOKIE, "")
    if not expected or not auth.csrf_ok(expected, str(form.get("csrf") or "")):
        return pages.login_response(
            request, error="The form expired; please sign in again.", status=403
        )
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    failures = request.app[keys.LOGIN_FAILURES]
    attempt = (request.remote or "", name.strip().lower()[:64])
    recent = [t for t in failures.get(attempt, []) if time.monotonic() - t < FAILURE_WINDOW_SECONDS]
    if len(recent) >= MAX_FAILURES:
        return pages.login_response(
            request, error="Too many failed attempts; try again in 15 minutes.", status=429
        )
    settings = request.app[gateway_keys.SETTINGS].console
    now = utcnow()

    def check(session: Session) -> tuple[str, SessionInfo] | None:
        try:
            agent = auth.authenticate(session, name=name, password=password)
        except auth.BadCredentials:
            return None
        auth.purge_expired(session, now=now)
        return auth.start_session(
            session, agent=agent, now=now, ttl_seconds=settings.session_ttl_seconds
        )

    started = await transcript.run_in_session(request.app[gateway_keys.SESSIONS], check)
    if started is None:
        failures[attempt] = [*recent, time.monotonic()]
        if len(failures) > 10_000:
            # Forget stale entries so guessing many names cannot grow the table without bound.
            cutoff = time.monotonic() - FAILURE_WINDOW_SECONDS
            for key in [k for k, times in failures.items() if times[-1] < cutoff]:
                del failures[key]
        log.info("console sign-in refused for %r", name[:64])
        return pages.login_response(request, error="Wrong name or password.", status=401)
    failures.pop(attempt, None)
    token, _ = started
    response = web.HTTPFound("/console")
    pages.set_cookie(request, response, COOKIE, token, max_age=settings.session_ttl_seconds)
    response.del_cookie(pages.LOGIN_COOKIE, path="/console")
    raise response


async def logout(request: web.Request) -> web.Response:
    """End the session."""
    token = request.cookies.get(COOKIE, "")
    await transcript.run_in_session(
        request.app[gateway_keys.SESSIONS], lambda s: auth.end_session(s, token=token)
    )
    response = web.HTTPFound("/console/login")
    response.del_cookie(COOKIE, path="/console")
    raise response
