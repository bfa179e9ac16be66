"""The review page's content: the period's candidates, grouped by similarity, with verdicts.

JSON shape (:func:`to_json`): ``period`` {since, until}; ``thresholds`` {fallback, review};
``intents`` (the domain's, for the select); ``truncated`` (only the newest
:data:`MAX_MESSAGES` buyer messages were read); ``groups`` [{``items`` [{sender_id, event_id,
text, at, intent, confidence, best_guess {name, confidence} | null, kinds, suggestion,
rephrase, verdict {intent | null (ignored), agent, at} | null}]}], largest group first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.contract import HandoffReason
from bot.handoff.models import Handoff
from bot.review import store
from bot.review.candidates import Candidate, Thresholds, find_candidates
from bot.review.grouping import group_similar
from bot.review.store import EventKey, Verdict
from bot.review.tracker import user_messages

#: Buyer messages read from the tracker store for one page, newest first.
MAX_MESSAGES = 20_000


@dataclass(frozen=True)
class ReviewPage:
    """The candidates of a period in groups of similar messages, and the verdicts so far."""

    since: dt.datetime
    until: dt.datetime
    thresholds: Thresholds
    groups: tuple[tuple[Candidate, ...], ...]
    verdicts: dict[EventKey, Verdict]
    truncated: bool


def handoffs_after_failures(
    session: Session, *, since: dt.datetime, until: dt.datetime
) -> dict[str, list[dt.datetime]]:
    """Return when each conversation was handed to people because the bot failed, in the period."""
    rows = session.execute(
        select(Handoff.conversation_id, Handoff.requested_at).where(
            Handoff.reason == HandoffReason.REPEATED_FAILURE.value,
            Handoff.requested_at >= since,
            Handoff.requested_at < until,
        )
    ).all()
    found: dict[str, list[dt.datetime]] = defaultdict(list)
    for conversation_id, at in rows:
        found[conversation_id].append(at)
    return dict(found)


def build_page(
    tracker: Connection,
    session: Session,
    *,
    since: dt.datetime,
    until: dt.datetime,
    thresholds: Thresholds,
    limit: int = MAX_MESSAGES,
) -> ReviewPage:
    """Read the period's messages and handoffs and return the page."""
    messages, truncated = user_messages(tracker, since=since, until=until, limit=limit)
    candidates = find_candidates(
        messages,
        thresholds=thresholds,
        handoffs=handoffs_after_failures(session, since=since, until=until),
    )
    groups = group_similar([c.message.text for c in candidates])
    keys = [(c.message.sender_id, c.message.event_id) for c in candidates]
    return ReviewPage(
        since=since,
        until=until,
        thresholds=thresholds,
        groups=tuple(tuple(candidates[i] for i in g) for g in groups),
        verdicts=store.verdicts(session, keys),
        truncated=truncated,
    )


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _item(c: Candidate, verdict: Verdict | None) -> dict[str, Any]:
    m = c.message
    guess = m.best_guess
    return {
        "sender_id": m.sender_id,
        "event_id": m.event_id,
        "text": m.text,
        "at": _iso(m.at),
        "intent": m.intent,
        "confidence": m.confidence,
        "best_guess": {"name": guess.name, "confidence": guess.confidence} if guess else None,
        "kinds": [k.value for k in c.kinds],
        "suggestion": c.suggestion,
        "rephrase": c.rephrase,
        "verdict": None
        if verdict is None
        else {"intent": verdict.intent, "agent": verdict.agent, "at": _iso(verdict.at)},
    }


def to_json(page: ReviewPage, *, intents: tuple[str, ...]) -> dict[str, Any]:
    """Return the page in the documented JSON shape."""
    return {
        "period": {"since": _iso(page.since), "until": _iso(page.until)},
        "thresholds": {"fallback": page.thresholds.fallback, "review": page.thresholds.review},
        "intents": list(intents),
        "truncated": page.truncated,
        "groups": [
            {
                "items": [
                    _item(c, page.verdicts.get((c.message.sender_id, c.message.event_id)))
                    for c in group
                ]
            }
            for group in page.groups
        ],
    }
