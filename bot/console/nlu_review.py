"""The console's NLU review page: what the bot did not understand, for merchants and admins.

``GET /console/api/nlu-review?since=YYYY-MM-DD&until=YYYY-MM-DD`` answers the period's
candidates grouped by similarity (:mod:`bot.review.page`, the last 7 days without dates);
``POST /console/api/nlu-review/verdicts`` with ``{sender_id, event_id, intent}`` stores a
verdict: a domain intent, or ``"ignore"``. The message itself is read again from the tracker
store, never taken from the request. Agents without the role get 403. While the tracker store
cannot be read (Rasa never ran), the page answers ``{"unavailable": reason, "groups": []}``
and a verdict 404.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.console import keys
from bot.console.conversations import json_body
from bot.console.insights import requested_period
from bot.console.session import current_agent
from bot.gateway import inputs, transcript
from bot.gateway import keys as gateway_keys
from bot.review import store
from bot.review.candidates import Thresholds
from bot.review.page import build_page, to_json
from bot.review.project import load_project
from bot.review.tracker import TrackerUnavailable, open_tracker, reading, user_message

IGNORE = "ignore"
MAX_SENDER_CHARS = 255
MAX_EVENT_ID = 2**31 - 1
TRACKER_UNAVAILABLE = "Rasa's tracker store cannot be read (has Rasa run yet?)"


async def tracker_context(app: web.Application) -> AsyncIterator[None]:
    """Open the read-only engine on Rasa's tracker store for the app's life (connects on use)."""
    engine = open_tracker(app[gateway_keys.SETTINGS].tracker_store)
    app[keys.TRACKER] = engine
    try:
        yield
    finally:
        engine.dispose()


def _reviewer(request: web.Request) -> int:
    agent = current_agent(request)
    if not agent.role.reads_insights:
        raise web.HTTPForbidden(text="only a merchant or an admin may review conversations")
    return agent.id


async def review(request: web.Request) -> web.Response:
    """Return the period's messages to review, in groups, with the verdicts so far."""
    _reviewer(request)
    start, end = requested_period(request)
    review_confidence = request.app[gateway_keys.SETTINGS].nlu_review_confidence
    engine = request.app[keys.TRACKER]

    def read(session: Session) -> dict[str, Any]:
        project = load_project()
        thresholds = Thresholds(project.fallback_threshold, review=review_confidence)
        with reading(engine) as tracker:
            page = build_page(tracker, session, since=start, until=end, thresholds=thresholds)
        return to_json(page, intents=project.intents)

    try:
        data = await transcript.run_in_session(request.app[gateway_keys.READ_SESSIONS], read)
    except TrackerUnavailable:
        data = {"unavailable": TRACKER_UNAVAILABLE, "groups": []}
    return web.json_response(data)


async def record(request: web.Request) -> web.Response:
    """Store a reviewer's verdict on one message: an intent of the domain, or ignore it."""
    agent_id = _reviewer(request)
    body = await json_body(request)
    sender_id, event_id, intent = (body.get(k) for k in ("sender_id", "event_id", "intent"))
    project = await asyncio.to_thread(load_project)
    if not (
        isinstance(sender_id, str)
        and 0 < len(sender_id) <= MAX_SENDER_CHARS
        and inputs.storable(sender_id)
        and isinstance(event_id, int)
        and not isinstance(event_id, bool)
        # Rasa's event ids are an INTEGER column: a larger number names no event.
        and 0 < event_id <= MAX_EVENT_ID
        and (intent == IGNORE or intent in project.intents)
    ):
        raise web.HTTPBadRequest(
            text="give a buyer message (sender_id, event_id) and one of the domain's intents, "
            "or ignore"
        )
    engine = request.app[keys.TRACKER]

    def write(session: Session) -> bool:
        with reading(engine) as tracker:
            message = user_message(tracker, sender_id=sender_id, event_id=event_id)
        if message is None:
            return False
        store.record_verdict(
            session,
            message=message,
            intent=None if intent == IGNORE else intent,
            agent_id=agent_id,
            now=utcnow(),
        )
        return True

    try:
        found = await transcript.run_in_session(request.app[gateway_keys.SESSIONS], write)
    except TrackerUnavailable:
        raise web.HTTPNotFound(text=TRACKER_UNAVAILABLE) from None
    if not found:
        raise web.HTTPNotFound(text="no such buyer message in the tracker store")
    return web.json_response({"sender_id": sender_id, "event_id": event_id, "intent": intent})
