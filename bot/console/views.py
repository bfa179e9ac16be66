"""The agent console's pages and JSON API under ``/console``.

Every route but the sign-in page and the static files needs a session (:func:`guard`): pages
redirect to the sign-in page, the API answers 401. Every state-changing request must carry the
session's CSRF token (``X-CSRF-Token`` header, or a ``csrf`` form field), and the WebSocket only
accepts pages of the gateway's own origin.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.console import auth
from bot.console.auth import AgentInfo, SessionInfo
from bot.console.hub import message_json
from bot.console.models import Agent, CannedReply, ConversationNote, HandoffReason, Role
from bot.gateway import handoff, keys, transcript
from bot.gateway.handoff import AGENT_SLOTS
from bot.gateway.models import Conversation
from bot.gateway.rasa import RasaUnavailable
from bot.refunds import review, store
from bot.refunds.errors import ApplicationNotFound, ReasonError, TransitionNotAllowed
from bot.refunds.models import Customer, Evidence, RefundApplication, RefundStatus

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
COOKIE = "rb_console"
LOGIN_COOKIE = "rb_console_login"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC = frozenset({"/console/login"})
MAX_TEXT = 4000
# Sign-in attempts: after this many failures for one name from one address within the window,
# further attempts are refused until the window has passed.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 900.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application) -> None:
    """Add the console's routes and its session guard to the gateway app."""
    app.middlewares.append(guard)
    r = app.router
    r.add_get("/console", index)
    r.add_get("/console/", index)
    r.add_get("/console/login", login_page)
    r.add_post("/console/login", login)
    r.add_post("/console/logout", logout)
    r.add_get("/console/static/{name}", static)
    r.add_get("/console/ws", websocket)
    r.add_get("/console/api/me", me)
    r.add_get("/console/api/conversations", conversations)
    r.add_get("/console/api/conversations/{id}", conversation)
    r.add_post("/console/api/conversations/{id}/claim", claim)
    r.add_post("/console/api/conversations/{id}/reply", reply)
    r.add_post("/console/api/conversations/{id}/notes", add_note)
    r.add_post("/console/api/conversations/{id}/handback", hand_back)
    r.add_post("/console/api/conversations/{id}/close", close)
    r.add_get("/console/api/canned", canned)
    r.add_post("/console/api/canned", add_canned)
    r.add_get("/console/evidence/{id}", evidence_file)
    r.add_get("/console/api/applications", applications)
    r.add_get("/console/api/applications/{reference}", application)
    r.add_post("/console/api/applications/{reference}/{action}", review_application)


# --- sessions ---------------------------------------------------------------------------------


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse console routes without a session, and state changes without the CSRF token."""
    path = request.path
    if not path.startswith("/console") or path in PUBLIC or path.startswith("/console/static/"):
        response = await handler(request)
        if path.startswith("/console"):
            response.headers.update(SECURITY_HEADERS)
        return response
    session = await _session_of(request)
    if session is None:
        if path.startswith("/console/api/") or path == "/console/ws" or request.method != "GET":
            return web.json_response({"error": "sign in first"}, status=401)
        raise web.HTTPFound("/console/login")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type == "application/x-www-form-urlencoded":
            given = str((await request.post()).get("csrf") or "")
        if not auth.csrf_ok(session.csrf_token, given):
            return web.json_response({"error": "missing or wrong CSRF token"}, status=403)
    request["console_session"] = session
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


async def _session_of(request: web.Request) -> SessionInfo | None:
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    now = transcript.utcnow()
    return await transcript.run_in_session(
        request.app[keys.SESSIONS], lambda s: auth.lookup_session(s, token=token, now=now)
    )


def _session(request: web.Request) -> SessionInfo:
    session: SessionInfo = request["console_session"]
    return session


def _agent(request: web.Request) -> AgentInfo:
    return _session(request).agent


async def login_page(request: web.Request) -> web.Response:
    """Show the sign-in form (with a CSRF token bound to a short-lived cookie)."""
    if await _session_of(request) is not None:
        raise web.HTTPFound("/console")
    return _login_response(request, error=None)


def _login_response(request: web.Request, *, error: str | None, status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(24)
    e = html.escape
    message = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — agent console</title>
<link rel="stylesheet" href="/console/static/console.css">
</head><body class="login">
<main class="login-box">
<h1>Agent console</h1>
{message}
<form method="post" action="/console/login">
<input type="hidden" name="csrf" value="{e(token)}">
<label for="name">Name</label>
<input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main></body></html>"""
    response = web.Response(text=page, content_type="text/html", status=status)
    _set_cookie(request, response, LOGIN_COOKIE, token, max_age=1800)
    return response


async def login(request: web.Request) -> web.Response:
    """Check the name and password; start a session and go to the console."""
    form = await request.post()
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not auth.csrf_ok(expected, str(form.get("csrf") or "")):
        return _login_response(request, error="The form expired; please sign in again.", status=403)
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    failures = request.app[keys.LOGIN_FAILURES]
    attempt = (request.remote or "", name.strip().lower()[:64])
    recent = [t for t in failures.get(attempt, []) if time.monotonic() - t < FAILURE_WINDOW_SECONDS]
    if len(recent) >= MAX_FAILURES:
        return _login_response(
            request, error="Too many failed attempts; try again in 15 minutes.", status=429
        )
    settings = request.app[keys.SETTINGS].console
    now = transcript.utcnow()

    def check(session: Session) -> tuple[str, SessionInfo] | None:
        try:
            agent = auth.authenticate(session, name=name, password=password)
        except auth.BadCredentials:
            return None
        auth.purge_expired(session, now=now)
        return auth.start_session(
            session, agent=agent, now=now, ttl_seconds=settings.session_ttl_seconds
        )

    started = await transcript.run_in_session(request.app[keys.SESSIONS], check)
    if started is None:
        failures[attempt] = [*recent, time.monotonic()]
        if len(failures) > 10_000:
            # Forget stale entries so guessing many names cannot grow the table without bound.
            cutoff = time.monotonic() - FAILURE_WINDOW_SECONDS
            for key in [k for k, times in failures.items() if times[-1] < cutoff]:
                del failures[key]
        log.info("console sign-in refused for %r", name[:64])
        return _login_response(request, error="Wrong name or password.", status=401)
    failures.pop(attempt, None)
    token, _ = started
    response = web.HTTPFound("/console")
    _set_cookie(request, response, COOKIE, token, max_age=settings.session_ttl_seconds)
    response.del_cookie(LOGIN_COOKIE, path="/console")
    raise response


async def logout(request: web.Request) -> web.Response:
    """End the session."""
    token = request.cookies.get(COOKIE, "")
    await transcript.run_in_session(
        request.app[keys.SESSIONS], lambda s: auth.end_session(s, token=token)
    )
    response = web.HTTPFound("/console/login")
    response.del_cookie(COOKIE, path="/console")
    raise response


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="Strict",
        secure=request.app[keys.SETTINGS].console.secure_cookies,
    )


# --- pages ------------------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    """Serve the console's single page; its script reads everything else from the API."""
    session = _session(request)
    e = html.escape
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{e(session.csrf_token)}">
<title>Agent console</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script>
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<h1>Agent console</h1>
<nav aria-label="Sections">
<button type="button" class="tab" data-view="inbox" aria-pressed="true">Conversations</button>
<button type="button" class="tab" data-view="refunds" aria-pressed="false">Refunds</button>
</nav>
<p class="who">{e(session.agent.display_name)}
<span class="role">({e(session.agent.role.value)})</span></p>
<form method="post" action="/console/logout">
<input type="hidden" name="csrf" value="{e(session.csrf_token)}">
<button type="submit" class="link">Sign out</button>
</form>
</header>
<main id="main" tabindex="-1">
<p id="live-status" class="status" role="status" aria-live="polite"></p>
<div id="inbox" class="view inbox"></div>
<div id="refunds" class="view refunds" hidden></div>
</main>
</body></html>"""
    return web.Response(text=page, content_type="text/html")


async def static(request: web.Request) -> web.FileResponse:
    """Serve the console's script and style sheet."""
    name = request.match_info["name"]
    if name not in ("console.js", "console.css"):
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})


# --- live updates -----------------------------------------------------------------------------


async def websocket(request: web.Request) -> web.StreamResponse:
    """Stream queue changes and transcript messages to one console page."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        return web.json_response({"error": "cross-origin socket refused"}, status=403)
    hub = request.app[keys.CONSOLE_HUB]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    hub.add(ws)
    try:
        async for frame in ws:
            if frame.type is WSMsgType.TEXT and frame.data == '{"type":"ping"}':
                # A page that is open keeps its agent "online" for the expected-wait notice.
                alive = await _session_of(request)
                if alive is None:
                    await ws.close(code=4401, message=b"session ended")
                    break
                await ws.send_json({"type": "pong"})
    finally:
        hub.discard(ws)
    return ws


# --- conversations ----------------------------------------------------------------------------


async def me(request: web.Request) -> web.Response:
    """Return the signed-in agent."""
    return web.json_response(_agent(request).to_json())


async def conversations(request: web.Request) -> web.Response:
    """Return the queue (waiting and claimed conversations) and recent bot conversations."""
    now = transcript.utcnow()
    within = request.app[keys.SETTINGS].console.agent_online_seconds

    def load(session: Session) -> dict[str, Any]:
        queue = [
            _summary(session, h.conversation_id, now) | {"handoff": h.to_json(now)}
            for h in handoff.open_handoffs(session)
        ]
        queued = {item["id"] for item in queue}
        recent_rows = session.execute(
            select(Conversation.id)
            .where(Conversation.handler == handoff.BOT)
            .order_by(Conversation.updated_at.desc())
            .limit(20)
        ).scalars()
        recent = [_summary(session, cid, now) for cid in recent_rows if cid not in queued]
        online = auth.online_agents(session, now=now, within_seconds=within)
        return {"queue": queue, "recent": recent, "agents_online": online}

    return web.json_response(await transcript.run_in_session(request.app[keys.SESSIONS], load))


def _summary(session: Session, conversation_id: str, now: dt.datetime) -> dict[str, Any]:
    row = session.get(Conversation, conversation_id)
    customer = None if row.customer_id is None else session.get(Customer, row.customer_id)
    last = transcript.history(session, conversation_id=conversation_id, limit=1)
    return {
        "id": row.id,
        "channel": row.last_channel,
        "handler": row.handler,
        "customer": None
        if row.customer_id is None
        else {
            "id": row.customer_id,
            "name": None if customer is None else customer.name,
        },
        "updated_at": row.updated_at.isoformat(),
        "last_message": (last[0].text or "")[:140] if last else None,
    }


async def conversation(request: web.Request) -> web.Response:
    """Return one conversation: transcript, notes, handoff and the context package."""
    conversation_id = request.match_info["id"]
    now = transcript.utcnow()

    def load(session: Session) -> dict[str, Any] | None:
        row = session.get(Conversation, conversation_id)
        if row is None:
            return None
        current = handoff.open_handoff(session, conversation_id=conversation_id)
        notes = session.execute(
            select(ConversationNote)
            .where(ConversationNote.conversation_id == conversation_id)
            .order_by(ConversationNote.id)
        ).scalars()
        return {
            **_summary(session, conversation_id, now),
            "handoff": None if current is None else current.to_json(now),
            "messages": [
                message_json(m)
                for m in transcript.history(session, conversation_id=conversation_id)
            ],
            "notes": [_note_json(session, n) for n in notes],
            "customer_context": _customer_context(session, row.customer_id),
        }

    data = await transcript.run_in_session(request.app[keys.SESSIONS], load)
    if data is None:
        raise web.HTTPNotFound(text="no such conversation")
    data["bot"] = await _bot_context(request, conversation_id)
    return web.json_response(data)


def _customer_context(session: Session, customer_id: str | None) -> dict[str, Any] | None:
    if customer_id is None:
        return None
    customer = session.get(Customer, customer_id)
    orders = store.customer_orders(session, customer_id=customer_id)
    applications = store.list_applications(session, customer_id=customer_id)
    return {
        "id": customer_id,
        "name": None if customer is None else customer.name,
        "email": None if customer is None else customer.email,
        "orders": [
            {
                "id": o.id,
                "status": o.status,
                "total": str(o.total),
                "currency": o.currency,
                "items": [item.title for item in o.items],
            }
            for o in orders[:10]
        ],
        "applications": [_application_json(a) for a in applications[:10]],
    }


async def _bot_context(request: web.Request, conversation_id: str) -> dict[str, Any]:
    """Return what Rasa knows: the form, its slots and the last intents (best effort)."""
    try:
        tracker = await request.app[keys.RASA].tracker(conversation_id)
    except RasaUnavailable:
        return {"available": False}
    slots = tracker.get("slots") or {}
    intents = [
        {
            "text": event.get("text"),
            "intent": ((event.get("parse_data") or {}).get("intent") or {}).get("name"),
            "confidence": ((event.get("parse_data") or {}).get("intent") or {}).get("confidence"),
        }
        for event in tracker.get("events") or ()
        if isinstance(event, dict) and event.get("event") == "user"
    ][-5:]
    wanted = sorted(AGENT_SLOTS | {"refund_reason_category", "requested_slot"})
    return {
        "available": True,
        "active_form": (tracker.get("active_loop") or {}).get("name"),
        "paused": bool(tracker.get("paused")),
        "slots": {name: slots.get(name) for name in wanted},
        "intents": list(reversed(intents)),
    }


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as e:
        raise web.HTTPBadRequest(text="send a JSON object") from e
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="send a JSON object")
    return body


def _text_of(body: dict[str, Any], key: str = "text") -> str:
    text = body.get(key)
    if not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest(text=f"{key} is required")
    if len(text) > MAX_TEXT:
        raise web.HTTPBadRequest(text=f"{key} is at most {MAX_TEXT} characters")
    return text.strip()


def _conflict(e: Exception) -> web.HTTPException:
    if isinstance(e, handoff.NotFound):
        return web.HTTPNotFound(text="no such conversation")
    if isinstance(e, handoff.ClaimedByOther):
        return web.HTTPConflict(
            text=f"{e.agent_name} has this conversation; take it over explicitly to answer"
        )
    return web.HTTPConflict(text="claim this conversation first")


async def claim(request: web.Request) -> web.Response:
    """Claim a waiting conversation, take one from the bot, or (explicitly) from a colleague."""
    body = await _json_body(request) if request.can_read_body else {}
    take_over = body.get("take_over") is True
    try:
        info = await request.app[keys.HANDOFFS].claim(
            request.match_info["id"], _agent(request), take_over=take_over
        )
    except (handoff.NotFound, handoff.ClaimedByOther) as e:
        raise _conflict(e) from e
    return web.json_response({"handoff": info.to_json(transcript.utcnow())})


async def reply(request: web.Request) -> web.Response:
    """Send the agent's reply to the buyer's channel."""
    text = _text_of(await _json_body(request))
    try:
        message = await request.app[keys.HANDOFFS].reply(
            request.match_info["id"], _agent(request), text
        )
    except (handoff.NotFound, handoff.NotYours) as e:
        raise _conflict(e) from e
    return web.json_response({"message": message_json(message)})


async def add_note(request: web.Request) -> web.Response:
    """Keep a private note on the conversation (never sent to the buyer)."""
    text = _text_of(await _json_body(request))
    conversation_id = request.match_info["id"]
    agent = _agent(request)

    def save(session: Session) -> dict[str, Any] | None:
        if session.get(Conversation, conversation_id) is None:
            return None
        note = ConversationNote(
            conversation_id=conversation_id,
            agent_id=agent.id,
            text=text,
            created_at=transcript.utcnow(),
        )
        session.add(note)
        session.flush()
        return _note_json(session, note)

    note = await transcript.run_in_session(request.app[keys.SESSIONS], save)
    if note is None:
        raise web.HTTPNotFound(text="no such conversation")
    await request.app[keys.CONSOLE_HUB].publish(
        {"type": "note", "conversation_id": conversation_id, "note": note}
    )
    return web.json_response({"note": note})


def _note_json(session: Session, note: ConversationNote) -> dict[str, Any]:
    agent = None if note.agent_id is None else session.get(Agent, note.agent_id)
    return {
        "id": note.id,
        "text": note.text,
        "agent": None if agent is None else agent.display_name,
        "created_at": note.created_at.isoformat(),
    }


async def hand_back(request: web.Request) -> web.Response:
    """Return the conversation to the bot, with the slots the agent learned."""
    body = await _json_body(request) if request.can_read_body else {}
    raw = body.get("slots") or {}
    if not isinstance(raw, dict):
        raise web.HTTPBadRequest(text="slots must be an object")
    slots = {
        str(k): str(v).strip()[:500]
        for k, v in raw.items()
        if k in AGENT_SLOTS and isinstance(v, str | int | float) and str(v).strip()
    }
    try:
        said = await request.app[keys.HANDOFFS].hand_back(
            request.match_info["id"], _agent(request), slots=slots
        )
    except (handoff.NotFound, handoff.NotYours) as e:
        raise _conflict(e) from e
    return web.json_response({"bot_said": [m.text for m in said]})


async def close(request: web.Request) -> web.Response:
    """End the conversation with people; the bot answers whatever the buyer writes next."""
    try:
        await request.app[keys.HANDOFFS].hand_back(
            request.match_info["id"], _agent(request), close=True
        )
    except (handoff.NotFound, handoff.NotYours) as e:
        raise _conflict(e) from e
    return web.json_response({"ok": True})


# --- canned replies ---------------------------------------------------------------------------


async def canned(request: web.Request) -> web.Response:
    """Return the canned replies."""

    def load(session: Session) -> list[dict[str, Any]]:
        rows = session.execute(select(CannedReply).order_by(CannedReply.title)).scalars()
        return [{"id": c.id, "title": c.title, "text": c.text} for c in rows]

    return web.json_response(await transcript.run_in_session(request.app[keys.SESSIONS], load))


async def add_canned(request: web.Request) -> web.Response:
    """Add a canned reply (admins only)."""
    if _agent(request).role is not Role.ADMIN:
        raise web.HTTPForbidden(text="only admins manage canned replies")
    body = await _json_body(request)
    title, text = _text_of(body, "title")[:100], _text_of(body)

    def save(session: Session) -> dict[str, Any]:
        row = CannedReply(title=title, text=text, created_at=transcript.utcnow())
        session.add(row)
        session.flush()
        return {"id": row.id, "title": row.title, "text": row.text}

    try:
        saved = await transcript.run_in_session(request.app[keys.SESSIONS], save)
    except IntegrityError as e:
        raise web.HTTPConflict(text="a canned reply with that title exists") from e
    return web.json_response(saved, status=201)


# --- refund review ----------------------------------------------------------------------------


def _application_json(a: RefundApplication) -> dict[str, Any]:
    return {
        "reference": a.reference,
        "order_id": a.order_id,
        "customer_id": a.customer_id,
        "method": a.method,
        "amount": str(a.amount),
        "compensation": str(a.compensation),
        "currency": a.currency,
        "reason_category": a.reason_category,
        "reason": a.reason,
        "status": a.status,
        "review": a.review,
        "review_due_at": None if a.review_due_at is None else a.review_due_at.isoformat(),
        "return_tracking": a.return_tracking,
        "conversation_id": a.conversation_id,
        "created_at": a.created_at.isoformat(),
        "actions": [action.value for action in review.available_actions(a)],
    }


async def applications(request: web.Request) -> web.Response:
    """List applications, newest first, optionally of some statuses (``?status=a,b``)."""
    raw = request.query.get("status", "")
    try:
        statuses = [RefundStatus(s) for s in raw.split(",") if s] or None
    except ValueError as e:
        raise web.HTTPBadRequest(text=f"unknown status in {raw!r}") from e

    def load(session: Session) -> list[dict[str, Any]]:
        found = store.list_applications(session, statuses=statuses)
        return [_application_json(a) for a in found[:200]]

    return web.json_response(await transcript.run_in_session(request.app[keys.SESSIONS], load))


async def evidence_file(request: web.Request) -> web.FileResponse:
    """Serve a buyer's evidence file to an agent: images inline, PDFs as downloads."""
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise web.HTTPNotFound()

    evidence_dir = request.app[keys.SETTINGS].var_dir / "evidence"

    def load(session: Session) -> tuple[Path, str, str] | None:
        row = session.get(Evidence, int(raw))
        if row is None:
            return None
        # Only files under var/evidence, whatever the row says.
        path = Path(row.storage_path).resolve()
        if not path.is_relative_to(evidence_dir.resolve()) or not path.is_file():
            return None
        return path, row.content_type, row.filename

    found = await transcript.run_in_session(request.app[keys.SESSIONS], load)
    if found is None:
        raise web.HTTPNotFound()
    path = found[0]
    disposition = "inline" if found[1].startswith("image/") else "attachment"
    safe_name = urllib.parse.quote(found[2])
    return web.FileResponse(
        path,
        headers={
            "Content-Type": found[1],
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{safe_name}",
            "Cache-Control": "private, no-store",
        },
    )


async def application(request: web.Request) -> web.Response:
    """Return one application with its audit trail."""
    reference = request.match_info["reference"]

    def load(session: Session) -> dict[str, Any]:
        found = review.get_application(session, reference=reference)
        events = store.events_of(session, application_id=found.id)
        files = session.execute(
            select(Evidence).where(Evidence.application_id == found.id).order_by(Evidence.id)
        ).scalars()
        return _application_json(found) | {
            "evidence": [
                {"id": f.id, "filename": f.filename, "content_type": f.content_type} for f in files
            ],
            "events": [
                {
                    "from": e.from_status,
                    "to": e.to_status,
                    "actor": e.actor,
                    "note": e.note,
                    "at": e.at.isoformat(),
                }
                for e in events
            ],
        }

    try:
        data = await transcript.run_in_session(request.app[keys.SESSIONS], load)
    except ApplicationNotFound as e:
        raise web.HTTPNotFound(text="no such application") from e
    return web.json_response(data)


async def review_application(request: web.Request) -> web.Response:
    """Approve, reject, ask the buyer, mark the return received, or mark refunded."""
    try:
        action = review.ReviewAction(request.match_info["action"])
    except ValueError as e:
        raise web.HTTPNotFound(text="no such review action") from e
    body = await _json_body(request) if request.can_read_body else {}
    note = body.get("note") if isinstance(body.get("note"), str) else None
    reference = request.match_info["reference"]
    agent = _agent(request)
    now = transcript.utcnow()

    def act(session: Session) -> tuple[dict[str, Any], str | None]:
        found = review.get_application(session, reference=reference, for_update=True)
        review.review(
            session, application=found, action=action, actor=agent.actor, now=now, note=note
        )
        target = transcript.last_used_conversation(
            session, conversation_id=found.conversation_id, customer_id=found.customer_id
        )
        return _application_json(found), None if target is None else target.id

    try:
        data, conversation_id = await transcript.run_in_session(request.app[keys.SESSIONS], act)
    except ApplicationNotFound as e:
        raise web.HTTPNotFound(text="no such application") from e
    except TransitionNotAllowed as e:
        raise web.HTTPConflict(text=str(e)) from e
    except ReasonError as e:
        raise web.HTTPBadRequest(text=str(e)) from e
    if action is review.ReviewAction.REQUEST_INFO and conversation_id is not None:
        # The buyer's answer should reach a person, not the bot.
        await request.app[keys.HANDOFFS].request(
            conversation_id, HandoffReason.MERCHANT_QUESTION, detail=note, notify=False
        )
    await request.app[keys.CONSOLE_HUB].publish({"type": "application", "reference": reference})
    return web.json_response(data)
