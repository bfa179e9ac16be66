"""Test data through the real store: ``make_order(session, status="shipped", total=...)``."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utcnow
from bot.refunds import store
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import OrderStatus, ReasonCategory, RefundMethod, RefundStatus
from bot.refunds.models import Customer, Order, OrderItem, RefundApplication
from bot.settings import PolicySettings, Settings

#: A fixed clock for tests that do not care about the date.
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)

_customer_ids = itertools.count(1)
_order_ids = itertools.count(1)


def make_customer(session: Session, **overrides: Any) -> Customer:
    """Create a customer (or return an existing ``id``); ``email``, ``name``, ``now`` optional."""
    n = next(_customer_ids)
    customer_id = overrides.pop("id", None) or overrides.pop("customer_id", None) or f"t-{n:05d}"
    email = overrides.pop("email", f"{customer_id}@example.com")
    now = overrides.pop("now", NOW)
    name = overrides.pop("name", None)
    if overrides:
        raise TypeError(f"unknown customer fields: {sorted(overrides)}")
    existing = session.get(Customer, customer_id)
    customer = store.ensure_customer(session, customer_id=customer_id, email=email, now=now)
    if name is not None or existing is None:
        customer.name = name or f"Test Buyer {n}"
    session.flush()
    return customer


def make_order(session: Session, **overrides: Any) -> Order:
    """Create an order: by default delivered two days before ``NOW``, 50.00 USD, a new buyer.

    Dates follow the status unless given: an ``awaiting_shipment`` or ``cancelled`` order has
    neither ``shipped_at`` nor ``delivered_at``, a ``shipped`` one no ``delivered_at``. Pass
    ``customer`` (a Customer) or ``customer_id`` to reuse a buyer, ``now`` to move the clock,
    ``items`` as a list of ``(sku, title, quantity, unit_price)``.
    """
    now: dt.datetime = overrides.pop("now", NOW)
    status = OrderStatus(overrides.pop("status", OrderStatus.DELIVERED))
    customer: Customer | None = overrides.pop("customer", None)
    if customer is None:
        customer_id = overrides.pop("customer_id", None)
        email = overrides.pop("customer_email", None)
        extra = {"email": email} if email else {}
        customer = (
            make_customer(session, id=customer_id, now=now, **extra)
            if customer_id
            else make_customer(session, now=now, **extra)
        )
    total: Decimal = overrides.pop("total", Decimal("50.00"))
    if not isinstance(total, Decimal):
        raise TypeError("total must be a Decimal")
    shipped = status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
    values: dict[str, Any] = {
        "id": overrides.pop("id", None) or f"{7_000_000_000_000_000 + next(_order_ids):016d}",
        "customer_id": customer.id,
        "customer_email": overrides.pop("customer_email", customer.email),
        "status": status.value,
        "currency": "USD",
        "total": total,
        "paid_at": now - dt.timedelta(days=10),
        "ship_by": now - dt.timedelta(days=7),
        "shipped_at": now - dt.timedelta(days=8) if shipped else None,
        "promised_delivery_by": now + dt.timedelta(days=10),
        "delivered_at": now - dt.timedelta(days=2) if status is OrderStatus.DELIVERED else None,
        "updated_at": now,
    }
    if status is OrderStatus.AWAITING_SHIPMENT:
        values["paid_at"] = now - dt.timedelta(days=1)
        values["ship_by"] = now + dt.timedelta(days=3)
    items = overrides.pop("items", [("SKU-1", "Test item", 1, total)])
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError(f"unknown order fields: {sorted(unknown)}")
    values.update(overrides)
    order = Order(**values)
    order.items = [
        OrderItem(sku=sku, title=title, quantity=quantity, unit_price=price)
        for sku, title, quantity, price in items
    ]
    session.add(order)
    session.flush()
    return order


#: A reason long and specific enough for the policy's check.
DAMAGED_REASON = "The zipper broke on the first day; the seam is torn along the whole side."


def submit_for_review(
    session: Session,
    *,
    customer_id: str = "c-1001",
    total: Decimal = Decimal("80.00"),
    amount: Decimal = Decimal("80.00"),
    method: RefundMethod = RefundMethod.RETURN_AND_REFUND,
    conversation_id: str | None = None,
    key: str = "k1",
) -> RefundApplication:
    """Submit an application that waits for the merchant's review, on a new order of the buyer."""
    customer = make_customer(session, id=customer_id)
    order = make_order(session, customer=customer, total=total)
    submission = store.submit_application(
        session,
        customer_id=customer_id,
        order_id=order.id,
        method=method,
        amount=amount,
        reason=DAMAGED_REASON,
        reason_category=ReasonCategory.DAMAGED,
        idempotency_key=key,
        conversation_id=conversation_id,
        now=NOW,
        settings=PolicySettings(),
    )
    assert submission.application.status == RefundStatus.PENDING_REVIEW.value
    return submission.application


def submit(settings: Settings, conversation_id: str | None, key: str = "k1") -> int:
    """``submit_for_review`` in a unit of work of its own on ``settings``' database; its id."""
    with get_sessionmaker(settings.database_url).begin() as session:
        application = submit_for_review(session, conversation_id=conversation_id, key=key)
        return int(application.id)


def move(settings: Settings, application_id: int, *statuses: RefundStatus) -> str:
    """Take an application through ``statuses`` as the merchant, an hour apart; its reference."""
    with get_sessionmaker(settings.database_url).begin() as session:
        application = session.get(RefundApplication, application_id)
        for i, status in enumerate(statuses):
            at = NOW + dt.timedelta(hours=i + 1)
            if status is RefundStatus.APPROVED:
                store.approve(session, application=application, actor="merchant", now=at)
            else:
                store.transition(
                    session, application=application, to=status, actor="merchant", now=at
                )
        return str(application.reference)


def submitted(session_factory: sessionmaker, customer_id: str, key: str) -> tuple[str, str]:
    """Store a 40.00 order with a return-and-refund application; return (order id, reference)."""
    now = utcnow()
    with session_factory.begin() as session:
        order = make_order(session, customer_id=customer_id, total=Decimal("40.00"), now=now)
        application = store.submit_application(
            session,
            customer_id=customer_id,
            order_id=order.id,
            method=RefundMethod.RETURN_AND_REFUND,
            amount=Decimal("40.00"),
            reason="the zip broke on the first day",
            reason_category=ReasonCategory.QUALITY_PROBLEM,
            idempotency_key=key,
            conversation_id=None,
            now=now,
            settings=PolicySettings(),
        ).application
        return str(order.id), str(application.reference)
