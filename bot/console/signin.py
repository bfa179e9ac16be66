"""Signing in and out of the console, with throttled attempts (see :mod:`bot.console.throttle`)."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.console import auth, pages, throttle
from bot.console.session import COOKIE, session_of
from bot.gateway import addresses, inputs, transcript
from bot.gateway import keys as gateway_keys

log = logging.getLogger(__name__)

#: The longest value of each field of the sign-in form.
FIELD_LIMITS = {"csrf": 128, "name": auth.MAX_NAME_CHARS, "password": auth.MAX_PASSWORD_CHARS}
UNREADABLE = "The form could not be read; please sign in again."


class BadForm(Exception):
    """The sign-in form cannot be used; the message says why."""


async def login_page(request: web.Request) -> web.Response:
    """Show the sign-in form (with a CSRF token bound to a short-lived cookie)."""
    if await session_of(request) is not None:
        raise web.HTTPFound("/console")
    return pages.login_response(request, error=None)


async def login(request: web.Request) -> web.Response:
    """Check the name and password; start a session and go to the console."""
    try:
        csrf, name, password = await _read_form(request)
    except BadForm as e:
        return pages.login_response(request, error=str(e), status=400)
    expected = request.cookies.get(pages.LOGIN_COOKIE, "")
    if not expected or not auth.csrf_ok(expected, csrf):
        return pages.login_response(
            request, error="The form expired; please sign in again.", status=403
        )
    settings = request.app[gateway_keys.SETTINGS]
    console = settings.console
    address = addresses.client_address(
        request, addresses.networks(settings.gateway.trusted_proxies)
    )
    account = throttle.account_of(name)
    device = request.cookies.get(throttle.device_cookie(account), "")
    sessions = request.app[gateway_keys.SESSIONS]
    now = utcnow()
    verdict = await transcript.run_in_session(
        sessions,
        lambda s: throttle.begin_attempt(
            s, address=address, account=account, device=device, now=now, settings=console
        ),
    )
    if isinstance(verdict, throttle.Refusal):
        log.info("console sign-in for %r from %s held back (%s)", account, address, verdict.limit)
        refused = pages.login_response(request, error=verdict.message, status=429)
        refused.headers["Retry-After"] = str(verdict.retry_after)
        return refused
    attempt = verdict

    def check(session: Session) -> tuple[str, str, str] | None:
        try:
            agent = auth.authenticate(session, name=name, password=password)
        except auth.BadCredentials:
            return None
        throttle.succeeded(session, attempt=attempt, now=now, settings=console)
        auth.purge_expired(session, now=now)
        token, _ = auth.start_session(
            session, agent=agent, now=now, ttl_seconds=console.session_ttl_seconds
        )
        return agent.name, token, throttle.device_token(session, account=agent.name, now=now)

    started = await transcript.run_in_session(sessions, check)
    if started is None:
        log.info("console sign-in refused for %r from %s", account, address)
        return pages.login_response(request, error="Wrong name or password.", status=401)
    agent_name, token, known = started
    response = web.HTTPFound("/console")
    pages.set_cookie(request, response, COOKIE, token, max_age=console.session_ttl_seconds)
    if console.known_device_days:
        pages.set_cookie(
            request,
            response,
            throttle.device_cookie(agent_name),
            known,
            max_age=console.known_device_days * 86400,
            path=throttle.DEVICE_COOKIE_PATH,
        )
    response.del_cookie(pages.LOGIN_COOKIE, path="/console")
    raise response


async def _read_form(request: web.Request) -> tuple[str, str, str]:
    """Return the form's CSRF token, name and password, each a usable string.

    Raises:
        BadForm: the body cannot be decoded, a field is not text, is too long, or holds a NUL
            or a lone surrogate (which neither PostgreSQL nor UTF-8 can store).
    """
    # The sign-in page posts URL-encoded; multipart has no business here.
    if inputs.content_type(request) not in ("application/x-www-form-urlencoded", ""):
        raise BadForm(UNREADABLE)
    try:
        form = await request.post()
    except (ValueError, LookupError) as e:  # undecodable bytes, an unknown charset
        raise BadForm(UNREADABLE) from e
    values = []
    for field, limit in FIELD_LIMITS.items():
        value = form.get(field, "")
        if not isinstance(value, str):
            raise BadForm(UNREADABLE)
        what = "The form" if field == "csrf" else f"The {field}"
        if len(value) > limit:
            raise BadForm(f"{what} is too long (at most {limit} characters).")
        if not auth.typeable(value):
            raise BadForm(f"{what} holds characters that cannot be typed; please type it again.")
        values.append(value)
    csrf, name, password = values
    return csrf, name, password


async def logout(request: web.Request) -> web.Response:
    """End the session."""
    token = request.cookies.get(COOKIE, "")
    await transcript.run_in_session(
        request.app[gateway_keys.SESSIONS], lambda s: auth.end_session(s, token=token)
    )
    response = web.HTTPFound("/console/login")
    response.del_cookie(COOKIE, path="/console")
    raise response
