"""Demo customers and orders, one in every state the policy distinguishes.

Dates are relative to ``now``, so the demo tells the same story whenever it is seeded. The
stories, the README and the tests use these order numbers:

=================  ======  =================================================================
order              buyer   state
=================  ======  =================================================================
8041235566701234   c-1001  delivered 3 days ago, desk lamp 42.50 (return and refund)
8041235566709876   c-1001  awaiting shipment, ship by in 3 days (immediate refund)
8041235566705555   c-1001  shipped 2 days ago, delivery promised in 10 days (no-return)
8041235566702222   c-1001  delivered 40 days ago: protection window closed
8041235566703333   c-1001  shipped 25 days ago, promised 5 days ago: late (compensation)
8041235566704444   c-1002  awaiting shipment, ship by 2 days ago: not shipped in time
8041235566706666   c-1002  delivered 5 days ago, 30.00 of which 10.00 already refunded
8041235566707777   c-1002  delivered 2 days ago, USB cable 12.00
8041235566708888   c-1003  cancelled, 9.99 EUR
8041235566700001   c-1003  delivered 1 day ago, winter jacket 120.00 EUR
=================  ======  =================================================================
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.refunds import store
from bot.refunds.enums import RefundMethod, RefundStatus
from bot.refunds.errors import ImportRowError
from bot.refunds.imports import import_orders
from bot.settings import PolicySettings

CUSTOMERS: dict[str, tuple[str, str]] = {
    "c-1001": ("Ana Silva", "ana@example.com"),
    "c-1002": ("Ben Okafor", "ben@example.com"),
    "c-1003": ("Chen Wei", "chen@example.com"),
}

PARTLY_REFUNDED_ORDER = "8041235566706666"
PARTLY_REFUNDED_KEY = "demo-seed-8041235566706666-stain"
PARTLY_REFUNDED_AMOUNT = Decimal("10.00")
PARTLY_REFUNDED_REASON = "one shirt had a stain"


def demo_orders(now: dt.datetime) -> list[dict[str, object]]:
    """Return the demo orders in the import format, dated relative to ``now``."""
    now = now.astimezone(dt.timezone.utc).replace(microsecond=0)

    def ago(days: float) -> dt.datetime:
        return now - dt.timedelta(days=days)

    def ahead(days: float) -> dt.datetime:
        return now + dt.timedelta(days=days)

    return [
        _order(
            "8041235566701234",
            "c-1001",
            "delivered",
            "USD",
            [("LAMP-DESK-01", "Desk lamp", 1, "42.50")],
            paid_at=ago(9),
            ship_by=ago(6),
            shipped_at=ago(7),
            promised_delivery_by=ahead(11),
            delivered_at=ago(3),
        ),
        _order(
            "8041235566709876",
            "c-1001",
            "awaiting_shipment",
            "USD",
            [("CASE-PH-12", "Phone case", 1, "18.90")],
            paid_at=ago(1),
            ship_by=ahead(3),
            promised_delivery_by=ahead(20),
        ),
        _order(
            "8041235566705555",
            "c-1001",
            "shipped",
            "USD",
            [("SPK-BT-200", "Bluetooth speaker", 1, "64.00")],
            paid_at=ago(4),
            ship_by=ago(1),
            shipped_at=ago(2),
            promised_delivery_by=ahead(10),
        ),
        _order(
            "8041235566702222",
            "c-1001",
            "delivered",
            "USD",
            [("YOGA-MAT-6", "Yoga mat", 1, "35.00")],
            paid_at=ago(50),
            ship_by=ago(47),
            shipped_at=ago(48),
            promised_delivery_by=ago(30),
            delivered_at=ago(40),
        ),
        _order(
            "8041235566703333",
            "c-1001",
            "shipped",
            "USD",
            [("EAR-WL-30", "Wireless earbuds", 1, "27.80")],
            paid_at=ago(27),
            ship_by=ago(24),
            shipped_at=ago(25),
            promised_delivery_by=ago(5),
        ),
        _order(
            "8041235566704444",
            "c-1002",
            "awaiting_shipment",
            "USD",
            [("GRIND-CF-1", "Coffee grinder", 1, "55.00")],
            paid_at=ago(7),
            ship_by=ago(2),
            promised_delivery_by=ahead(14),
        ),
        _order(
            PARTLY_REFUNDED_ORDER,
            "c-1002",
            "delivered",
            "USD",
            [("TEE-CTN-M", "T-shirt", 3, "10.00")],
            paid_at=ago(12),
            ship_by=ago(9),
            shipped_at=ago(10),
            promised_delivery_by=ahead(6),
            delivered_at=ago(5),
        ),
        _order(
            "8041235566707777",
            "c-1002",
            "delivered",
            "USD",
            [("USB-C-1M", "USB cable", 1, "12.00")],
            paid_at=ago(8),
            ship_by=ago(5),
            shipped_at=ago(6),
            promised_delivery_by=ahead(12),
            delivered_at=ago(2),
        ),
        _order(
            "8041235566708888",
            "c-1003",
            "cancelled",
            "EUR",
            [("STRAP-WT-20", "Watch strap", 1, "9.99")],
            paid_at=ago(6),
            ship_by=ago(3),
            promised_delivery_by=ahead(14),
        ),
        _order(
            "8041235566700001",
            "c-1003",
            "delivered",
            "EUR",
            [("JKT-WIN-L", "Winter jacket", 1, "120.00")],
            paid_at=ago(6),
            ship_by=ago(3),
            shipped_at=ago(4),
            promised_delivery_by=ahead(10),
            delivered_at=ago(1),
        ),
    ]


def seed_demo(session: Session, *, now: dt.datetime, settings: PolicySettings) -> None:
    """Import the demo orders and the partly refunded order's application; safe to repeat.

    Re-seeding re-dates the orders relative to ``now`` and leaves the existing application as
    it is (it is submitted with a fixed idempotency key). Never commits.

    Raises:
        ImportRowError: a demo order could not be imported (for instance because its number
            already belongs to another customer in this database).
    """
    report = import_orders(session, rows=demo_orders(now), now=now)
    if report.problems:
        raise ImportRowError(
            "demo orders not imported: " + "; ".join(str(p) for p in report.problems)
        )
    # The shirt was refunded the day after delivery, automatically. Should the no-return
    # threshold now be configured below its amount, the demo still needs that history.
    submitted_at = now - dt.timedelta(days=4)
    threshold = max(settings.no_return_threshold, PARTLY_REFUNDED_AMOUNT)
    submission = store.submit_application(
        session,
        customer_id="c-1002",
        order_id=PARTLY_REFUNDED_ORDER,
        method=RefundMethod.NO_RETURN,
        amount=PARTLY_REFUNDED_AMOUNT,
        reason=PARTLY_REFUNDED_REASON,
        reason_category=None,
        idempotency_key=PARTLY_REFUNDED_KEY,
        conversation_id=None,
        now=submitted_at,
        settings=dataclasses.replace(settings, no_return_threshold=threshold),
    )
    if submission.created:
        assert submission.application.status == RefundStatus.REFUNDED.value


def _order(
    order_id: str,
    customer_id: str,
    status: str,
    currency: str,
    items: list[tuple[str, str, int, str]],
    *,
    paid_at: dt.datetime,
    ship_by: dt.datetime,
    promised_delivery_by: dt.datetime,
    shipped_at: dt.datetime | None = None,
    delivered_at: dt.datetime | None = None,
) -> dict[str, object]:
    name, email = CUSTOMERS[customer_id]
    total = sum((Decimal(price) * quantity for _, _, quantity, price in items), Decimal("0.00"))
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "customer_email": email,
        "customer_name": name,
        "status": status,
        "currency": currency,
        "total": str(total.quantize(Decimal("0.01"))),
        "paid_at": _iso(paid_at),
        "ship_by": _iso(ship_by),
        "shipped_at": _iso(shipped_at) if shipped_at else None,
        "promised_delivery_by": _iso(promised_delivery_by),
        "delivered_at": _iso(delivered_at) if delivered_at else None,
        "items": [
            {"sku": sku, "title": title, "quantity": quantity, "unit_price": price}
            for sku, title, quantity, price in items
        ],
    }


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
