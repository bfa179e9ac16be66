"""Fresh buyers for scripted and simulated conversations, each with a copy of the demo orders.

A conversation that refunds an order spends its balance; so that conversations never share
one, every conversation gets a buyer of its own, owning copies of the demo orders (same states,
deadlines, amounts) under new order numbers. Scripts name orders by their demo nickname
(``LAMP``, ``EARBUDS`` …); :class:`Account` maps the nickname to the copy's number.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.refunds import demo, store
from bot.refunds.enums import RefundMethod
from bot.refunds.errors import ImportRowError
from bot.refunds.imports import import_orders
from bot.settings import PolicySettings

#: Demo order numbers by the nickname scripts use (see :mod:`bot.refunds.demo`).
DEMO_ORDERS: dict[str, str] = {
    "LAMP": "8041235566701234",
    "PHONE_CASE": "8041235566709876",
    "SPEAKER": "8041235566705555",
    "YOGA_MAT": "8041235566702222",
    "EARBUDS": "8041235566703333",
    "GRINDER": "8041235566704444",
    "T_SHIRTS": "8041235566706666",
    "CABLE": "8041235566707777",
    "STRAP": "8041235566708888",
    "JACKET": "8041235566700001",
}


@dataclasses.dataclass(frozen=True)
class Account:
    """A buyer of the bench's own and their copies of the demo orders."""

    customer_id: str
    email: str
    orders: dict[str, str]
    references: dict[str, str] = dataclasses.field(default_factory=dict)
    """References of the applications the buyer starts with (``SHIRTS_REF``: the T-shirts')."""

    def variables(self) -> dict[str, str]:
        """Return what scripts may write as ``{NAME}``: orders, EMAIL, CUSTOMER, SHIRTS_REF."""
        return {
            **self.orders,
            **self.references,
            "EMAIL": self.email,
            "CUSTOMER": self.customer_id,
        }


def create_accounts(
    session: Session,
    *,
    first: int,
    count: int,
    now: dt.datetime,
    prefix: str = "b",
    settings: PolicySettings | None = None,
) -> list[Account]:
    """Create ``count`` buyers numbered from ``first``, each with every demo order; never commits.

    Order numbers are ``8041`` + the buyer's number (10 digits) + the order's (2 digits), so
    they look like the shop's and never collide with the demo's.

    Raises:
        ImportRowError: an order could not be imported.
    """
    settings = settings or PolicySettings()
    templates = demo.demo_orders(now)
    by_id = {row["order_id"]: row for row in templates}
    names = list(DEMO_ORDERS)
    accounts: list[Account] = []
    rows: list[dict[str, object]] = []
    for number in range(first, first + count):
        customer_id = f"{prefix}-{number}"
        email = f"{prefix}{number}@example.com"
        orders = {name: f"8041{number:010d}{k:02d}" for k, name in enumerate(names)}
        for name, order_id in orders.items():
            row = dict(by_id[DEMO_ORDERS[name]])
            row.update(
                order_id=order_id,
                customer_id=customer_id,
                customer_email=email,
                customer_name=f"Buyer {number}",
            )
            rows.append(row)
        accounts.append(Account(customer_id, email, orders))
    report = import_orders(session, rows=rows, now=now)
    if report.problems:
        raise ImportRowError("; ".join(str(p) for p in report.problems[:5]))
    for account in accounts:
        reference = _refund_part_of_the_shirts(session, account, now=now, settings=settings)
        account.references["SHIRTS_REF"] = reference
    return accounts


def _refund_part_of_the_shirts(
    session: Session, account: Account, *, now: dt.datetime, settings: PolicySettings
) -> str:
    # Like the demo: 10.00 of the 30.00 T-shirt order was refunded the day after delivery.
    threshold = max(settings.no_return_threshold, demo.PARTLY_REFUNDED_AMOUNT)
    submission = store.submit_application(
        session,
        customer_id=account.customer_id,
        order_id=account.orders["T_SHIRTS"],
        method=RefundMethod.NO_RETURN,
        amount=demo.PARTLY_REFUNDED_AMOUNT,
        reason=demo.PARTLY_REFUNDED_REASON,
        reason_category=None,
        idempotency_key=f"bench-seed-{account.customer_id}",
        conversation_id=None,
        now=now - dt.timedelta(days=4),
        settings=dataclasses.replace(settings, no_return_threshold=threshold),
    )
    return str(submission.application.reference)


@dataclasses.dataclass(frozen=True)
class StoredApplication:
    """What the refund store holds about one application, as scripts check it."""

    order: str
    method: str
    status: str
    amount: Decimal
    compensation: Decimal
    reason: str
    reason_category: str | None


def stored_applications(
    session: Session, *, account: Account, exclude_seeded: bool = True
) -> list[StoredApplication]:
    """Return the buyer's applications (oldest first), orders named by nickname."""
    nickname = {order_id: name for name, order_id in account.orders.items()}
    found = store.list_applications(session, customer_id=account.customer_id)
    return [
        StoredApplication(
            order=nickname.get(a.order_id, a.order_id),
            method=a.method,
            status=a.status,
            amount=a.amount,
            compensation=a.compensation,
            reason=a.reason,
            reason_category=a.reason_category,
        )
        for a in reversed(found)
        if not (exclude_seeded and a.idempotency_key.startswith("bench-seed-"))
    ]


def order_numbers(accounts: Iterable[Account]) -> set[str]:
    """Return every order number the accounts own."""
    return {order_id for account in accounts for order_id in account.orders.values()}
