"""Orders and refund applications as the shop API shows them (see :mod:`bot.api.schemas`).

Money is a decimal string, times are ISO-8601 in UTC with ``Z``. An application is shown as its
webhook events carry it (:mod:`bot.refunds.presented`, which the store freezes into each event).
What an order allows now comes from :func:`bot.refunds.policy.method_options`, the rule the chat
follows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bot.messages import text
from bot.refunds import policy, store
from bot.refunds.enums import RefundStatus
from bot.refunds.models import Order, RefundApplication, RefundEvent
from bot.refunds.policy import WHY_NOT_CODES
from bot.refunds.presented import action_name, application, iso
from bot.settings import PolicySettings

__all__ = ["action_name", "application", "application_detail", "event", "iso", "order"]


def application_detail(session: Session, found: RefundApplication) -> dict[str, Any]:
    """Return an application with its audit trail, oldest event first."""
    events = store.events_of(session, application_id=found.id)
    return {**application(found), "events": [event(e) for e in events]}


def event(found: RefundEvent) -> dict[str, Any]:
    """Return one audited change."""
    return {
        "from_status": found.from_status,
        "to_status": found.to_status,
        "actor": found.actor,
        "note": found.note,
        "at": iso(found.at),
    }


def order(
    session: Session, found: Order, *, now: dt.datetime, settings: PolicySettings
) -> dict[str, Any]:
    """Return an order with its balance, the methods the policy allows now, its applications."""
    facts = store.order_facts(session, order=found)
    applications: Sequence[RefundApplication] = store.list_applications(session, order_id=found.id)
    refunded = sum(
        (a.amount for a in applications if a.status == RefundStatus.REFUNDED.value),
        Decimal("0.00"),
    )
    return {
        "order_id": found.id,
        "customer_id": found.customer_id,
        "customer_email": found.customer_email,
        "status": found.status,
        "currency": found.currency,
        "total": str(found.total),
        "paid_at": iso(found.paid_at),
        "ship_by": iso(found.ship_by),
        "shipped_at": iso(found.shipped_at),
        "promised_delivery_by": iso(found.promised_delivery_by),
        "delivered_at": iso(found.delivered_at),
        "updated_at": iso(found.updated_at),
        "items": [
            {
                "sku": i.sku,
                "title": i.title,
                "quantity": i.quantity,
                "unit_price": str(i.unit_price),
            }
            for i in found.items
        ],
        "balance": {
            "paid": str(found.total),
            "refunded": str(refunded),
            "requested": str(facts.committed.quantize(Decimal("0.01"))),
            "refundable": str(facts.balance),
        },
        "methods": [_option(o, settings) for o in policy.method_options(facts, now, settings)],
        "applications": [application(a) for a in applications],
    }


def _option(option: policy.MethodOption, settings: PolicySettings) -> dict[str, Any]:
    why = option.why_not
    explanation = None
    if why is not None:
        key = f"why_not.{why}" if why in WHY_NOT_CODES else "why_not.other"
        explanation = text(key, days=settings.protection_window_days)
    return {
        "method": option.method.value,
        "offered": option.offered,
        "max_amount": str(option.max_amount) if option.max_amount is not None else None,
        "why_not": why,
        "explanation": explanation,
    }
