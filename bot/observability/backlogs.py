"""The queues as ``/metrics`` shows them, read from the database at scrape time.

Reading them when Prometheus asks, rather than counting as they change, keeps the numbers right
with several gateways on one database and across restarts, and leaves the handoff service, the
notifier and the webhook worker untouched. Each scrape runs a few indexed aggregate queries in
one read-only unit of work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.api.models import WebhookDelivery
from bot.clock import utcnow
from bot.gateway.models import GatewayCursor
from bot.gateway.notifier import CURSOR
from bot.handoff.models import Handoff
from bot.observability.metrics import Backlogs
from bot.refunds.models import RefundEvent


def read_backlogs(session: Session, *, now: dt.datetime) -> Backlogs:
    """Return the handoff queue, the notifier's backlog and the webhooks' as of ``now``."""
    waiting, oldest_request = session.execute(
        select(func.count(Handoff.id), func.min(Handoff.requested_at)).where(
            Handoff.ended_at.is_(None), Handoff.agent_id.is_(None)
        )
    ).one()
    with_agent = session.execute(
        select(func.count(Handoff.id)).where(
            Handoff.ended_at.is_(None), Handoff.agent_id.is_not(None)
        )
    ).scalar_one()
    position = session.execute(
        select(GatewayCursor.position).where(GatewayCursor.name == CURSOR)
    ).scalar_one_or_none()
    # Before the notifier's first start there is no cursor, and it will not tell old news.
    events, oldest_event = (
        (0, None)
        if position is None
        else session.execute(
            select(func.count(RefundEvent.id), func.min(RefundEvent.at)).where(
                RefundEvent.id > position
            )
        ).one()
    )
    deliveries: dict[str, int] = {}
    for status, retried, count in session.execute(
        select(WebhookDelivery.status, WebhookDelivery.attempts > 0, func.count(WebhookDelivery.id))
        .where(WebhookDelivery.status.in_(("pending", "failed")))
        .group_by(WebhookDelivery.status, WebhookDelivery.attempts > 0)
    ):
        state = "failed" if status == "failed" else "retrying" if retried else "pending"
        deliveries[state] = deliveries.get(state, 0) + int(count)
    oldest_delivery = session.execute(
        select(func.min(WebhookDelivery.created_at)).where(WebhookDelivery.status == "pending")
    ).scalar_one()
    return Backlogs(
        handoffs_waiting=int(waiting),
        handoffs_with_agent=int(with_agent),
        handoff_oldest_wait_seconds=_age(now, oldest_request),
        notifier_pending_events=int(events),
        notifier_lag_seconds=_age(now, oldest_event),
        webhook_deliveries=deliveries,
        webhook_lag_seconds=_age(now, oldest_delivery),
    )


def reader(read_sessions: sessionmaker) -> Callable[[], Backlogs]:
    """Return what reads the backlogs in a read-only unit of work of its own (scrapes call it)."""

    def read() -> Backlogs:
        with read_sessions.begin() as session:
            return read_backlogs(session, now=utcnow())

    return read


def _age(now: dt.datetime, since: dt.datetime | None) -> float:
    return 0.0 if since is None else max((now - since).total_seconds(), 0.0)
