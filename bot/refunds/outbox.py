"""The webhook outbox: one row per event the shop may subscribe to, written with the change itself.

:func:`bot.refunds.store` writes a row beside each audited refund event and the handoff queue one
when a conversation goes to people, in the caller's unit of work: the event and its outbox row are
committed together or not at all, whichever process made the change (the action server too). The
row holds the event's data as it is at that moment (a refund event: the application as
:mod:`bot.refunds.presented` shows it), so an event sent later still tells what happened then. Who
is subscribed is not known here: the gateway's delivery worker (:mod:`bot.api.delivery`) fans each
row out to the webhooks that want it and sends them. Nothing here speaks HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy.orm import Session

from bot.refunds.enums import RefundStatus
from bot.refunds.models import OutboxEvent

REFUND_CREATED = "refund.created"
INFO_REQUESTED = "refund.info_requested"
HANDOFF_REQUESTED = "handoff.requested"
#: A status change and the event it is, for the statuses a shop hears about.
_ON_STATUS = {
    status.value: f"refund.{status.value}"
    for status in (
        RefundStatus.APPROVED,
        RefundStatus.REJECTED,
        RefundStatus.AWAITING_RETURN,
        RefundStatus.RETURN_RECEIVED,
        RefundStatus.REFUNDED,
        RefundStatus.WITHDRAWN,
    )
}
#: Every event type a webhook may subscribe to.
EVENT_TYPES: tuple[str, ...] = (
    REFUND_CREATED,
    *_ON_STATUS.values(),
    INFO_REQUESTED,
    HANDOFF_REQUESTED,
)


def refund_event_type(
    from_status: str | None, to_status: str, *, by_buyer: bool, note: str | None
) -> str | None:
    """Return the event type of an audited refund event, or ``None`` when it is none."""
    if from_status is None:
        return REFUND_CREATED
    if from_status == to_status:
        # An event that keeps the status is the merchant's question, or the buyer's answer.
        return INFO_REQUESTED if note and not by_buyer else None
    return _ON_STATUS.get(to_status)


def emit(
    session: Session,
    *,
    type: str,
    now: dt.datetime,
    application_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> OutboxEvent:
    """Add the outbox row of an event to the caller's unit of work."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r}")
    row = OutboxEvent(
        event_id=f"evt_{uuid.uuid4().hex}",
        type=type,
        created_at=now,
        application_id=application_id,
        data=None if data is None else json.dumps(data),
    )
    session.add(row)
    return row
