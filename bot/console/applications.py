"""The console's refund review: applications by status, one application, a reviewer's decision."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.console import keys, queries
from bot.console.conversations import json_body
from bot.console.session import current_agent
from bot.gateway import inputs, transcript
from bot.gateway import keys as gateway_keys
from bot.messages import text
from bot.refunds import review
from bot.refunds.enums import RefundStatus
from bot.refunds.errors import ApplicationNotFound, ReasonError, TransitionNotAllowed


async def applications(request: web.Request) -> web.Response:
    """List applications, newest first, optionally of some statuses (``?status=a,b``)."""
    raw = request.query.get("status", "")
    try:
        statuses = [RefundStatus(s) for s in raw.split(",") if s] or None
    except ValueError as e:
        raise web.HTTPBadRequest(text=f"unknown status in {raw!r}") from e
    found = await transcript.run_in_session(
        request.app[gateway_keys.SESSIONS],
        lambda s: queries.applications(s, statuses=statuses),
    )
    return web.json_response(found)


async def application(request: web.Request) -> web.Response:
    """Return one application with its audit trail."""
    reference = request.match_info["reference"]
    try:
        data = await transcript.run_in_session(
            request.app[gateway_keys.SESSIONS],
            lambda s: queries.application_detail(s, reference=reference),
        )
    except ApplicationNotFound as e:
        raise web.HTTPNotFound(text="no such application") from e
    return web.json_response(data)


async def review_application(request: web.Request) -> web.Response:
    """Approve, reject, ask the buyer, mark the return received, or mark refunded."""
    try:
        action = review.ReviewAction(request.match_info["action"])
    except ValueError as e:
        raise web.HTTPNotFound(text="no such review action") from e
    body = await json_body(request) if request.can_read_body else {}
    note = body.get("note") if isinstance(body.get("note"), str) else None
    if note is not None and not inputs.storable(note):
        raise web.HTTPBadRequest(text=f"note: {text('input.bad_characters')}")
    reference = request.match_info["reference"]
    agent = current_agent(request)
    now = utcnow()

    def act(session: Session) -> dict[str, Any]:
        found = review.get_application(session, reference=reference, for_update=True)
        review.review(
            session, application=found, action=action, actor=agent.actor, now=now, note=note
        )
        return queries.application_json(found)

    try:
        data = await transcript.run_in_session(request.app[gateway_keys.SESSIONS], act)
    except ApplicationNotFound as e:
        raise web.HTTPNotFound(text="no such application") from e
    except TransitionNotAllowed as e:
        raise web.HTTPConflict(text=str(e)) from e
    except ReasonError as e:
        raise web.HTTPBadRequest(text=str(e)) from e
    # A question to the buyer reaches them through the notifier, on every channel they use; the
    # bot attaches their answer to the application and says so (actions/aftercare.py).
    await request.app[keys.HUB].publish({"type": "application", "reference": reference})
    return web.json_response(data)
