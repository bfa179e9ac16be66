"""The survey rows: who may be asked, the open survey of a conversation, answers.

Functions take a ``session`` (keyword-only arguments) and never commit; callers own the unit of
work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.gateway.models import Conversation
from bot.refunds.models import RefundApplication
from bot.survey.models import SatisfactionSurvey, SurveyEvent, SurveyOutcome

#: The conversation's handler while the bot has it (:mod:`bot.handoff.queue` sets the others).
BOT = "bot"


@dataclass(frozen=True)
class SurveyInfo:
    """A survey as the service and the console read it."""

    id: int
    conversation_id: str
    event: SurveyEvent
    asked_at: dt.datetime
    rating: int | None
    rated_at: dt.datetime | None
    comment: str | None
    closed: bool

    @property
    def awaiting_comment(self) -> bool:
        """Return whether the survey has its rating and still takes a comment."""
        return self.rating is not None and not self.closed


def info(row: SatisfactionSurvey) -> SurveyInfo:
    """Return the plain form of a survey row."""
    return SurveyInfo(
        id=row.id,
        conversation_id=row.conversation_id,
        event=SurveyEvent(row.event),
        asked_at=row.asked_at,
        rating=row.rating,
        rated_at=row.rated_at,
        comment=row.comment,
        closed=row.closed_at is not None,
    )


def may_ask(
    session: Session,
    *,
    conversation_id: str,
    event: SurveyEvent,
    now: dt.datetime,
    quiet: dt.timedelta,
) -> Conversation | None:
    """Return the conversation when its buyer may be asked about ``event`` now, else ``None``.

    Not when a person has the conversation, not twice for one event in one conversation, and
    not when the buyer (the customer, in any of their conversations, else this conversation)
    was asked anything within ``quiet``.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.handler != BOT:
        return None
    same_buyer = SatisfactionSurvey.conversation_id == conversation_id
    if conversation.customer_id:
        same_buyer = or_(same_buyer, SatisfactionSurvey.customer_id == conversation.customer_id)
    asked = session.execute(
        select(SatisfactionSurvey.id)
        .where(
            or_(
                same_buyer & (SatisfactionSurvey.asked_at > now - quiet),
                (SatisfactionSurvey.conversation_id == conversation_id)
                & (SatisfactionSurvey.event == event.value),
            )
        )
        .limit(1)
    ).first()
    return None if asked is not None else conversation


def create(
    session: Session,
    *,
    conversation: Conversation,
    event: SurveyEvent,
    application_id: int | None,
    agent_id: int | None,
    now: dt.datetime,
) -> SurveyInfo:
    """Write a survey just asked.

    Raises:
        IntegrityError: this conversation was asked about ``event`` already (a race).
    """
    if application_id is None:
        application_id = latest_application(session, conversation_id=conversation.id)
    row = SatisfactionSurvey(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        event=event.value,
        channel=conversation.last_channel,
        application_id=application_id,
        agent_id=agent_id,
        asked_at=now,
    )
    session.add(row)
    session.flush()
    return info(row)


# A buyer's turn asks these two: built once, each is compiled once and found in SQLAlchemy's
# cache by the statement itself, not rebuilt and keyed again on every turn.
_LATEST_APPLICATION = (
    select(func.max(RefundApplication.id))
    .where(
        RefundApplication.conversation_id == bindparam("conversation_id"),
        RefundApplication.id > bindparam("after"),
    )
    .scalar_subquery()
)
_LATEST = select(_LATEST_APPLICATION)
_OPEN_OR_LATEST = select(
    exists().where(
        SatisfactionSurvey.conversation_id == bindparam("conversation_id"),
        SatisfactionSurvey.closed_at.is_(None),
    ),
    _LATEST_APPLICATION,
)


def latest_application(session: Session, *, conversation_id: str, after: int = 0) -> int | None:
    """Return the id of the newest application filed in the conversation (past id ``after``)."""
    found = session.execute(
        _LATEST, {"conversation_id": conversation_id, "after": after}
    ).scalar_one_or_none()
    return None if found is None else int(found)


def mark_unless_open(session: Session, *, conversation_id: str) -> int | None:
    """Return the newest application of the conversation (0 for none), or ``None`` while open.

    ``None`` while a survey of the conversation takes answers: :func:`open_survey` and
    :func:`latest_application` in one statement.
    """
    is_open, latest = session.execute(
        _OPEN_OR_LATEST, {"conversation_id": conversation_id, "after": 0}
    ).one()
    return None if is_open else int(latest or 0)


def open_survey(session: Session, *, conversation_id: str) -> SatisfactionSurvey | None:
    """Return the conversation's survey that still takes answers, if any."""
    found: SatisfactionSurvey | None = session.execute(
        select(SatisfactionSurvey)
        .where(
            SatisfactionSurvey.conversation_id == conversation_id,
            SatisfactionSurvey.closed_at.is_(None),
        )
        .order_by(SatisfactionSurvey.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return found


def get(session: Session, *, survey_id: int, conversation_id: str) -> SatisfactionSurvey | None:
    """Return survey ``survey_id`` when it belongs to the conversation (a button's survey)."""
    row = session.get(SatisfactionSurvey, survey_id)
    return row if row is not None and row.conversation_id == conversation_id else None


def rate(session: Session, *, survey: SatisfactionSurvey, rating: int, now: dt.datetime) -> None:
    """Record the buyer's rating; the survey then takes a comment."""
    survey.rating = rating
    survey.rated_at = now
    survey.closed_at = None
    survey.outcome = None


def comment(session: Session, *, survey: SatisfactionSurvey, said: str, now: dt.datetime) -> None:
    """Record the buyer's comment and close the survey."""
    survey.comment = said
    survey.commented_at = now
    close(session, survey=survey, now=now)


def close(session: Session, *, survey: SatisfactionSurvey, now: dt.datetime) -> None:
    """Take no more answers: rated (with or without a comment) or unanswered."""
    survey.closed_at = now
    rated = survey.rating is not None
    survey.outcome = (SurveyOutcome.RATED if rated else SurveyOutcome.UNANSWERED).value


def of_conversation(session: Session, *, conversation_id: str) -> list[SurveyInfo]:
    """Return the conversation's surveys, oldest first (the console's view)."""
    rows = session.execute(
        select(SatisfactionSurvey)
        .where(SatisfactionSurvey.conversation_id == conversation_id)
        .order_by(SatisfactionSurvey.id)
    ).scalars()
    return [info(row) for row in rows]
