"""One query per figure, each bounded to the period ``[since, until)``.

Cohorts: conversations are those *started* in the period, and their handoffs count when requested
before ``until``; applications are those *submitted* in the period, with the status they had at
``until`` (the last audited event before it), so a report on a past week reads the same later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, distinct, func, not_, select
from sqlalchemy.orm import Session, aliased

from bot.gateway.models import Conversation, Direction, SenderKind, TranscriptMessage
from bot.handoff.models import Handoff
from bot.insights.dialect import (
    SQLITE,
    dialect_of,
    hour_of_day,
    money_sum,
    seconds_between,
    to_money,
)
from bot.insights.figures import (
    ChannelCount,
    Conversations,
    Decisions,
    Durations,
    HandoffReasonCount,
    Period,
    RefundGroup,
    rate,
)
from bot.refunds.enums import RefundStatus
from bot.refunds.models import RefundApplication, RefundEvent


def _started(period: Period) -> Any:
    return and_(Conversation.created_at >= period.since, Conversation.created_at < period.until)


def _submitted(period: Period) -> Any:
    return and_(
        RefundApplication.created_at >= period.since, RefundApplication.created_at < period.until
    )


def conversations(session: Session, *, period: Period) -> Conversations:
    """Count the period's conversations per channel and those no person was asked into."""
    rows = session.execute(
        select(Conversation.channel, func.count())
        .where(_started(period))
        .group_by(Conversation.channel)
        .order_by(Conversation.channel)
    ).all()
    handed = (
        select(Handoff.id)
        .where(Handoff.conversation_id == Conversation.id, Handoff.requested_at < period.until)
        .exists()
    )
    contained = session.execute(
        select(func.count()).select_from(Conversation).where(_started(period), not_(handed))
    ).scalar_one()
    by_channel = tuple(ChannelCount(channel, int(count)) for channel, count in rows)
    return Conversations(
        total=sum(c.conversations for c in by_channel),
        by_channel=by_channel,
        contained=int(contained),
    )


def handoffs(session: Session, *, period: Period, total: int) -> tuple[HandoffReasonCount, ...]:
    """Count handoffs of the period's conversations per reason; ``total`` is their number."""
    rows = session.execute(
        select(Handoff.reason, func.count(), func.count(distinct(Handoff.conversation_id)))
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(_started(period), Handoff.requested_at < period.until)
        .group_by(Handoff.reason)
        .order_by(func.count().desc(), Handoff.reason)
    ).all()
    return tuple(
        HandoffReasonCount(reason, int(count), int(people), rate(int(people), total))
        for reason, count, people in rows
    )


def refund_groups(session: Session, *, period: Period) -> tuple[RefundGroup, ...]:
    """Count and sum the period's applications per method, status at ``until`` and currency."""
    dialect = dialect_of(session)
    earlier = aliased(RefundEvent)
    latest = (
        select(func.max(earlier.id))
        .where(earlier.application_id == RefundApplication.id, earlier.at < period.until)
        .correlate(RefundApplication)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            RefundApplication.method,
            RefundEvent.to_status,
            RefundApplication.currency,
            func.count(),
            money_sum(dialect, RefundApplication.amount),
            money_sum(dialect, RefundApplication.compensation),
        )
        .join(RefundEvent, RefundEvent.id == latest)
        .where(_submitted(period))
        .group_by(RefundApplication.method, RefundEvent.to_status, RefundApplication.currency)
        .order_by(RefundApplication.method, RefundEvent.to_status, RefundApplication.currency)
    ).all()
    return tuple(
        RefundGroup(
            method=method,
            status=status,
            currency=currency,
            applications=int(count),
            amount=to_money(dialect, amount),
            compensation=to_money(dialect, compensation),
        )
        for method, status, currency, count, amount, compensation in rows
    )


def _reached(period: Period, *statuses: RefundStatus) -> Any:
    """Select each of the period's applications with when it first reached one of ``statuses``."""
    return (
        select(RefundEvent.application_id, func.min(RefundEvent.at).label("at"))
        .join(RefundApplication, RefundApplication.id == RefundEvent.application_id)
        .where(
            _submitted(period),
            RefundEvent.to_status.in_([s.value for s in statuses]),
            RefundEvent.at < period.until,
        )
        .group_by(RefundEvent.application_id)
        .subquery()
    )


def decisions(session: Session, *, period: Period) -> Decisions:
    """Count the period's applications approved and rejected before ``until``."""
    approved, rejected = (
        func.count(distinct(case((RefundEvent.to_status == s.value, RefundEvent.application_id))))
        for s in (RefundStatus.APPROVED, RefundStatus.REJECTED)
    )
    row = session.execute(
        select(approved, rejected)
        .join(RefundApplication, RefundApplication.id == RefundEvent.application_id)
        .where(_submitted(period), RefundEvent.at < period.until)
    ).one()
    return Decisions(approved=int(row[0]), rejected=int(row[1]))


def durations(session: Session, *, period: Period, to: tuple[RefundStatus, ...]) -> Durations:
    """Return median and p90 of the time from submission to first reaching a status in ``to``.

    PostgreSQL computes both with ``percentile_cont``. SQLite has no percentile function, so
    there the durations themselves are computed and sorted in SQL and the two percentiles are
    interpolated from them in Python, by the same definition (:func:`percentile_cont`).
    """
    dialect = dialect_of(session)
    reached = _reached(period, *to)
    seconds = seconds_between(dialect, RefundApplication.created_at, reached.c.at)
    joined = select(seconds.label("seconds")).join(
        reached, reached.c.application_id == RefundApplication.id
    )
    if dialect == SQLITE:
        values = [float(v) for v in session.execute(joined.order_by(seconds)).scalars()]
        return Durations(
            count=len(values),
            median_seconds=_seconds(percentile_cont(values, 0.5)),
            p90_seconds=_seconds(percentile_cont(values, 0.9)),
        )
    inner = joined.subquery()
    count, median, p90 = session.execute(
        select(
            func.count(),
            func.percentile_cont(0.5).within_group(inner.c.seconds),
            func.percentile_cont(0.9).within_group(inner.c.seconds),
        )
    ).one()
    return Durations(count=int(count), median_seconds=_seconds(median), p90_seconds=_seconds(p90))


def percentile_cont(ordered: list[float], fraction: float) -> float | None:
    """Return the ``fraction`` percentile of sorted values, as SQL's ``percentile_cont``.

    Linear interpolation between the two nearest ranks; ``None`` for no values.
    """
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _seconds(value: Any) -> float | None:
    """Round to milliseconds: SQLite's ``julianday`` arithmetic is off by microseconds."""
    return None if value is None else round(float(value), 3)


def messages_by_hour(session: Session, *, period: Period) -> tuple[int, ...]:
    """Count buyers' messages of the period per hour of the day, UTC."""
    hour = hour_of_day(dialect_of(session), TranscriptMessage.created_at)
    rows = session.execute(
        select(hour, func.count())
        .where(
            TranscriptMessage.direction == Direction.IN.value,
            TranscriptMessage.sender == SenderKind.BUYER.value,
            TranscriptMessage.created_at >= period.since,
            TranscriptMessage.created_at < period.until,
        )
        .group_by(hour)
    ).all()
    counts = dict.fromkeys(range(24), 0)
    for h, count in rows:
        counts[int(h)] = int(count)
    return tuple(counts[h] for h in range(24))
