"""Applications in the refund store for its tests: submitted with defaults, and their trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bot.refunds import store
from bot.refunds.enums import ReasonCategory, RefundMethod, RefundStatus
from bot.refunds.models import Order, RefundApplication
from bot.settings import PolicySettings
from tests.factories import NOW

SETTINGS = PolicySettings()
DAY = dt.timedelta(days=1)
IMMEDIATE, NO_RETURN, RETURN = (
    RefundMethod.IMMEDIATE,
    RefundMethod.NO_RETURN,
    RefundMethod.RETURN_AND_REFUND,
)
S = RefundStatus


def submit(session: Session, order: Order, **overrides: Any) -> store.Submission:
    """Submit a 10.00 return-and-refund on ``order`` for its customer, ``overrides`` applied."""
    args: dict[str, Any] = {
        "customer_id": order.customer_id,
        "order_id": order.id,
        "method": RETURN,
        "amount": Decimal("10.00"),
        "reason": "the lamp flickers all the time",
        "reason_category": ReasonCategory.QUALITY_PROBLEM,
        "idempotency_key": f"key-{order.id}-{overrides.get('amount', '10.00')}",
        "conversation_id": None,
        "now": NOW,
        "settings": SETTINGS,
    }
    args.update(overrides)
    return store.submit_application(session, **args)


def trail(session: Session, application: RefundApplication) -> list[tuple[str | None, str, str]]:
    """Return the application's status changes: (from, to, actor), oldest first."""
    return [
        (e.from_status, e.to_status, e.actor)
        for e in store.events_of(session, application_id=application.id)
    ]
