"""Webhook retention: what was sent goes after a while, so the webhook tables stop growing.

Every event is an outbox row, each subscribed webhook a delivery and each POST an attempt, and
nothing else removes them. A delivery that was delivered or failed is kept for
``webhook_retention_days`` after its retries ended (its ``expires_at``, so at least that long
after its last attempt), which is how far back the delivery log (``GET
/api/v1/webhooks/{id}/deliveries``) reaches; then it goes with its attempts. An event goes once
it was fanned out that long ago and no delivery of it is left. Pending deliveries and events not
fanned out yet are never removed.

:func:`prune` removes one batch in the caller's unit of work: the delivery worker takes one now
and then (:class:`bot.api.delivery.Deliverer`), ``refundbot webhooks prune`` batches until none
is full (:func:`prune_all`). Several workers at once take disjoint batches: the deliveries a
batch removes are locked first, in id order, skipping those another transaction holds (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL), and deleting a webhook locks its deliveries before their
attempts too (:func:`bot.api.webhooks.delete_webhook`), so no two transactions take deliveries
and attempts in opposite orders. On SQLite a unit of work that writes holds the write lock from
its start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session, sessionmaker

from bot.api.models import OutboxEvent, WebhookAttempt, WebhookDelivery

FINISHED = ("delivered", "failed")
#: Rows of each table one batch removes at most (one short transaction).
BATCH = 500


@dataclass(frozen=True)
class Pruned:
    """What a pass removed."""

    deliveries: int = 0
    attempts: int = 0
    events: int = 0
    more: bool = False
    """The last batch was full: there may be more to remove."""

    @property
    def rows(self) -> int:
        """Return how many rows were removed in all."""
        return self.deliveries + self.attempts + self.events

    def __add__(self, later: Pruned) -> Pruned:
        """Return the sum of this pass and a ``later`` one."""
        return Pruned(
            self.deliveries + later.deliveries,
            self.attempts + later.attempts,
            self.events + later.events,
            later.more,
        )


def prune(session: Session, *, before: dt.datetime, limit: int = BATCH) -> Pruned:
    """Remove up to ``limit`` finished deliveries whose retries ended ``before``, and events.

    The events are those fanned out before ``before`` that no delivery needs any more.
    """
    ids = list(
        session.execute(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.expires_at < before, WebhookDelivery.status.in_(FINISHED))
            .order_by(WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    attempts = deliveries = 0
    if ids:
        attempts = _delete(
            session, delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids))
        )
        deliveries = _delete(session, delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    event_ids = list(
        session.execute(
            select(OutboxEvent.id)
            .where(
                OutboxEvent.dispatched_at < before,
                ~exists().where(WebhookDelivery.event_id == OutboxEvent.id),
            )
            .order_by(OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    events = 0
    if event_ids:
        events = _delete(session, delete(OutboxEvent).where(OutboxEvent.id.in_(event_ids)))
    return Pruned(deliveries, attempts, events, more=limit in (len(ids), len(event_ids)))


def prune_all(factory: sessionmaker, *, before: dt.datetime) -> Pruned:
    """Remove everything :func:`prune` would, a batch per unit of work; return the total."""
    total = Pruned()
    while True:
        with factory.begin() as session:
            total += prune(session, before=before)
        if not total.more:
            return total


def _delete(session: Session, statement: Any) -> int:
    """Run a DELETE of rows no session holds; return how many went."""
    return int(session.execute(statement.execution_options(synchronize_session=False)).rowcount)
