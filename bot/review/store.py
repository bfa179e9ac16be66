"""The reviewers' verdicts in our database: one per source event, the latest verdict wins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.console.models import Agent
from bot.review.models import NluReview
from bot.review.tracker import UserMessage

EventKey = tuple[str, int]


@dataclass(frozen=True)
class Verdict:
    """What a reviewer decided about one message; ``intent`` ``None`` means ignored."""

    intent: str | None
    agent: str | None
    at: dt.datetime


def record_verdict(
    session: Session,
    *,
    message: UserMessage,
    intent: str | None,
    agent_id: int | None,
    now: dt.datetime,
) -> None:
    """Store (or replace) the verdict on ``message``: an intent, or ``None`` to ignore it."""
    values = {
        "text": message.text,
        "entities": [dict(e) for e in message.entities],
        "predicted_intent": message.intent,
        "confidence": message.confidence,
        "intent": intent,
        "agent_id": agent_id,
        "reviewed_at": now,
        "said_at": message.at,
    }
    key = {"sender_id": message.sender_id, "event_id": message.event_id}
    row = session.execute(select(NluReview).filter_by(**key)).scalar_one_or_none()
    if row is None:
        try:
            with session.begin_nested():
                session.add(NluReview(**key, **values))
            return
        except IntegrityError:
            # Another reviewer stored this message a moment ago: theirs is replaced by this.
            row = session.execute(select(NluReview).filter_by(**key)).scalar_one()
    for name, value in values.items():
        setattr(row, name, value)


def verdicts(session: Session, keys: Iterable[EventKey]) -> dict[EventKey, Verdict]:
    """Return the stored verdicts on the messages ``keys`` names."""
    wanted = list(dict.fromkeys(keys))
    found: dict[EventKey, Verdict] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            select(NluReview, Agent.display_name)
            .outerjoin(Agent, Agent.id == NluReview.agent_id)
            .where(
                or_(*(and_(NluReview.sender_id == s, NluReview.event_id == e) for s, e in chunk))
            )
        ).all()
        for review, agent in rows:
            found[(review.sender_id, int(review.event_id))] = Verdict(
                review.intent, agent, review.reviewed_at
            )
    return found


def assigned(session: Session, *, since: dt.datetime | None = None) -> list[NluReview]:
    """Return the reviews with an intent (ignored ones left out), oldest verdict first."""
    query = select(NluReview).where(NluReview.intent.is_not(None))
    if since is not None:
        query = query.where(NluReview.reviewed_at >= since)
    return list(session.execute(query.order_by(NluReview.reviewed_at, NluReview.id)).scalars())
