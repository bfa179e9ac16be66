"""The weekly report: every figure for one period, in one read-only unit of work."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.insights import csat, queries
from bot.insights.figures import NotRecorded, Period, Report
from bot.refunds.enums import RefundStatus

#: The transcript keeps what buyers typed, not what Rasa understood: intents, and so fallbacks,
#: live only in Rasa's tracker store, a database of its own.
NLU_NOT_RECORDED = (
    "not recorded: the transcript keeps no intents (they are in Rasa's tracker store only)"
)


def build_report(session: Session, *, since: dt.datetime, until: dt.datetime) -> Report:
    """Return the report on ``[since, until)`` (aware datetimes) from the store.

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
        nlu_fallback=NotRecorded(NLU_NOT_RECORDED),
        csat=csat.csat(session, period=period),
    )
