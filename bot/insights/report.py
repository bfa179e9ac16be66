"""The weekly report: every figure for one period, in one read-only unit of work."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.insights import csat, queries
from bot.insights.figures import NluFallback, NotRecorded, Period, Report
from bot.insights.nlu import nlu_fallback
from bot.refunds.enums import RefundStatus
from bot.review.tracker import TrackerUnavailable, reading

#: Intents, and so fallbacks, live only in Rasa's tracker store, a database of its own.
NLU_NOT_RECORDED = "not recorded: Rasa's tracker store cannot be read"


def build_report(
    session: Session,
    *,
    since: dt.datetime,
    until: dt.datetime,
    tracker: Engine | None = None,
) -> Report:
    """Return the report on ``[since, until)`` (aware datetimes) from the store.

    The NLU fallback rate comes from Rasa's tracker store through ``tracker`` (a read-only
    engine, :func:`bot.review.tracker.open_tracker`); without one, or when it cannot be read,
    the figure says it is not recorded.

    Raises:
        ValueError: a naive datetime, or ``until`` not after ``since``.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("the period's bounds must be timezone-aware")
    if until <= since:
        raise ValueError("the period must end after it starts")
    period = Period(since=since, until=until)
    conversations = queries.conversations(session, period=period)
    return Report(
        period=period,
        conversations=conversations,
        handoffs=queries.handoffs(session, period=period, total=conversations.total),
        refunds=queries.refund_groups(session, period=period),
        decisions=queries.decisions(session, period=period),
        time_to_decision=queries.durations(
            session, period=period, to=(RefundStatus.APPROVED, RefundStatus.REJECTED)
        ),
        time_to_payout=queries.durations(session, period=period, to=(RefundStatus.REFUNDED,)),
        messages_by_hour=queries.messages_by_hour(session, period=period),
        nlu_fallback=_nlu_fallback(tracker, period),
        csat=csat.csat(session, period=period),
    )


def _nlu_fallback(tracker: Engine | None, period: Period) -> NluFallback | NotRecorded:
    if tracker is None:
        return NotRecorded(NLU_NOT_RECORDED)
    try:
        with reading(tracker) as connection:
            return nlu_fallback(connection, period=period)
    except TrackerUnavailable:
        return NotRecorded(NLU_NOT_RECORDED)
