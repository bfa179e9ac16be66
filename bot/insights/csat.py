"""The satisfaction survey's figures: average and distribution, overall and per group.

Cohort: the questions *asked* in the period; a rating counts when it was given before
``until``, so a report on a past week reads the same later. Each grouping is one ``SELECT``
(count, mean and the five counts of the distribution) on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.orm import Session

from bot.console.models import Agent
from bot.insights.figures import RATINGS, Csat, Period, Ratings
from bot.survey.models import SatisfactionSurvey as Survey


def _asked(period: Period) -> Any:
    return and_(Survey.asked_at >= period.since, Survey.asked_at < period.until)


def _rated(period: Period) -> Any:
    return and_(_asked(period), Survey.rating.is_not(None), Survey.rated_at < period.until)


def _figures() -> list[Any]:
    return [
        func.count(),
        func.avg(cast(Survey.rating, Float)),
        *(func.coalesce(func.sum(case((Survey.rating == n, 1), else_=0)), 0) for n in RATINGS),
    ]


def _ratings(key: str, row: Any) -> Ratings:
    rated, average, *counts = row
    return Ratings(
        key=key,
        rated=int(rated),
        average=None if average is None else round(float(average), 2),
        distribution=tuple(int(c) for c in counts),
    )


def _grouped(session: Session, period: Period, column: Any, *joins: Any) -> tuple[Ratings, ...]:
    query = select(column, *_figures()).select_from(Survey)
    for target, on in joins:
        query = query.join(target, on)
    rows = session.execute(query.where(_rated(period)).group_by(column).order_by(column)).all()
    return tuple(_ratings(str(row[0]), row[1:]) for row in rows)


def csat(session: Session, *, period: Period) -> Csat:
    """Return the period's satisfaction figures, overall and by channel, agent and event."""
    asked = session.execute(
        select(func.count()).select_from(Survey).where(_asked(period))
    ).scalar_one()
    overall = session.execute(select(*_figures()).where(_rated(period))).one()
    return Csat(
        asked=int(asked),
        overall=_ratings("all", overall),
        by_channel=_grouped(session, period, Survey.channel),
        by_agent=_grouped(session, period, Agent.name, (Agent, Agent.id == Survey.agent_id)),
        by_event=_grouped(session, period, Survey.event),
    )
