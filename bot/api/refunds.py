"""``/api/v1/refunds``: list applications, read one with its events, and review it.

A review action is :func:`bot.refunds.review.review`, the console's decision, with the seller
(the API key's name) as the actor; an action the application's status does not allow is 409 with
the actions it does allow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.api import idempotency, present, queries, schemas
from bot.api.credentials import Caller
from bot.api.edge import json_body
from bot.api.problems import Problem, invalid
from bot.clock import utcnow
from bot.gateway import inputs, keys, transcript
from bot.refunds import review
from bot.refunds.enums import RefundStatus
from bot.refunds.errors import ApplicationNotFound, ReasonError, TransitionNotAllowed
from bot.refunds.order_rows import parse_timestamp

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
QUERY = ("status", "order_id", "customer_id", "created_after", "limit", "cursor")


async def list_refunds(request: web.Request, caller: Caller) -> web.Response:
    """Return a page of applications, newest first, and the cursor of the next one."""
    filters, after, limit = _listing(request)

    def read(session: Session) -> dict[str, Any]:
        rows, last = queries.page(session, filters=filters, after=after, limit=limit)
        return {
            "data": [present.application(a) for a in rows],
            "next_cursor": queries.encode_cursor(last) if last else None,
        }

    answer = await transcript.run_in_session(request.app[keys.READ_SESSIONS], read)
    return web.json_response(answer)


def _listing(request: web.Request) -> tuple[queries.Filters, queries.Position | None, int]:
    query = request.query
    errors = [
        {"field": name, "detail": "is not a known parameter"}
        for name in sorted(set(query) - set(QUERY))
    ]
    errors += [
        {"field": name, "detail": "is given more than once"}
        for name in QUERY
        if len(query.getall(name, [])) > 1
    ]
    for name in ("order_id", "customer_id", "cursor"):
        if name in query and not inputs.readable_key(query[name]):
            errors.append({"field": name, "detail": "is not a value this API knows"})
    statuses: list[RefundStatus] | None = None
    if "status" in query:
        known = [s.value for s in RefundStatus]
        given = [s for s in query["status"].split(",") if s]
        unknown = [s for s in given if s not in known]
        if unknown or not given:
            errors.append({"field": "status", "detail": f"statuses are: {', '.join(known)}"})
        statuses = [RefundStatus(s) for s in given if s in known]
    created_after = None
    if "created_after" in query:
        created_after = parse_timestamp(query["created_after"])
        if created_after is None:
            errors.append({"field": "created_after", "detail": "an ISO-8601 time with a zone"})
    limit = DEFAULT_LIMIT
    if "limit" in query:
        raw = query["limit"]
        limit = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 4 else 0
        if not 1 <= limit <= MAX_LIMIT:
            errors.append({"field": "limit", "detail": f"a whole number from 1 to {MAX_LIMIT}"})
    after = None
    if "cursor" in query and inputs.readable_key(query["cursor"]):
        after = queries.decode_cursor(query["cursor"])
        if after is None:
            errors.append({"field": "cursor", "detail": "pass back a next_cursor untouched"})
    if errors:
        raise invalid(sorted(errors, key=lambda e: e["field"]))
    filters = queries.Filters(
        statuses=statuses,
        order_id=query.get("order_id"),
        customer_id=query.get("customer_id"),
        created_after=created_after,
    )
    return filters, after, limit


async def get_refund(request: web.Request, caller: Caller) -> web.Response:
    """Return one application with its audit trail."""
    reference = request.match_info["reference"]

    def read(session: Session) -> dict[str, Any]:
        try:
            found = review.get_application(session, reference=reference)
        except ApplicationNotFound as e:
            raise Problem(404, "not-found", f"no refund application {reference}") from e
        return present.application_detail(session, found)

    return web.json_response(await transcript.run_in_session(request.app[keys.READ_SESSIONS], read))


Handler = Callable[[web.Request, Caller], Awaitable[web.Response]]


def review_handler(action: review.ReviewAction) -> Handler:
    """Return the view that takes ``action`` on the application in the path."""

    async def act(request: web.Request, caller: Caller) -> web.Response:
        reference = request.match_info["reference"]
        body, _ = await json_body(request, optional=True)
        errors = schemas.check(schemas.REVIEW, body)
        if errors:
            raise invalid(errors)
        note = body.get("note")

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            try:
                found = review.get_application(session, reference=reference, for_update=True)
            except ApplicationNotFound as e:
                raise Problem(404, "not-found", f"no refund application {reference}") from e
            try:
                review.review(
                    session,
                    application=found,
                    action=action,
                    actor=caller.actor,
                    now=utcnow(),
                    note=note,
                )
            except TransitionNotAllowed as e:
                allowed = [present.action_name(a) for a in review.available_actions(found)]
                raise Problem(
                    409,
                    "action-not-allowed",
                    f"the application is {found.status}: it allows "
                    + (", ".join(allowed) or "no action"),
                    status_now=found.status,
                    allowed_actions=allowed,
                ) from e
            except ReasonError as e:
                raise invalid([{"field": "note", "detail": str(e)}], str(e), code=e.code) from e
            return 200, present.application_detail(session, found)

        return await idempotency.run(request, caller, body, work)

    act.__doc__ = f"{action.value.replace('_', ' ').capitalize()} the application."
    return act
