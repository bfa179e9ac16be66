"""Order import: the shop's orders, one JSON array, upserted by ``order_id``.

Each row is checked by :mod:`bot.refunds.order_rows` (the format is described there); a row
with problems is reported with its index and the other rows still import. Against the store:

* An order already imported for another customer is refused, as is an update that would lower
  ``total`` below what is already refunded or requested, or change the currency of an order
  that has refund applications.

An existing order gets every field from the row and its items replaced; its customer's e-mail
(and name, when given) is updated too.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.refunds import store
from bot.refunds.errors import ImportRowError
from bot.refunds.models import Customer, Order, OrderItem, RefundApplication
from bot.refunds.order_rows import OrderRow, RowProblem, validate_rows

__all__ = ["ImportReport", "RowProblem", "import_orders", "load_rows"]


@dataclass(frozen=True)
class ImportReport:
    """What an import did: orders created and updated, and the rows it refused."""

    created: int
    updated: int
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Return the number of rows that were not imported."""
        return len({p.index for p in self.problems})


def load_rows(text: str) -> object:
    """Parse an import file's text, reading JSON numbers with fractions exactly (as Decimal).

    Raises:
        ImportRowError: the text is not JSON.
    """
    try:
        rows: object = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as e:
        raise ImportRowError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    return rows


def import_orders(session: Session, *, rows: object, now: dt.datetime) -> ImportReport:
    """Upsert the orders in ``rows`` (decoded JSON) and their customers; never commits.

    Raises:
        ImportRowError: ``rows`` is not a list.
    """
    good, problems = validate_rows(rows, now=now)
    created = updated = 0
    for index, row in good:
        order: Order | None = session.get(Order, row.order_id, with_for_update=True)
        conflict = _conflict(session, order, row) if order is not None else None
        if conflict:
            problems.append(RowProblem(index, row.order_id, conflict))
            continue
        customer = store.ensure_customer(
            session, customer_id=row.customer_id, email=row.customer_email, now=now
        )
        _update_customer(customer, row)
        if order is None:
            order = Order(id=row.order_id)
            session.add(order)
            created += 1
        else:
            updated += 1
        _fill(order, row, now)
        # Flush per row so that a later row of the same customer finds it with session.get.
        session.flush()
    problems.sort(key=lambda p: p.index)
    return ImportReport(created=created, updated=updated, problems=problems)


# --- database checks and writes -------------------------------------------------------------


def _conflict(session: Session, order: Order, row: OrderRow) -> str | None:
    if order.customer_id != row.customer_id:
        return "order_id already belongs to another customer"
    applications = session.execute(
        select(func.count())
        .select_from(RefundApplication)
        .where(RefundApplication.order_id == order.id)
    ).scalar_one()
    if applications and row.currency != order.currency:
        return (
            f"currency cannot change from {order.currency} to {row.currency}:"
            " the order has refund applications"
        )
    committed = store.committed_amount(session, order_id=order.id)
    if row.total < committed:
        return (
            f"total {row.total} is less than the {committed} {order.currency}"
            " already refunded or requested"
        )
    return None


def _update_customer(customer: Customer, row: OrderRow) -> None:
    customer.email = row.customer_email
    if row.customer_name is not None:
        customer.name = row.customer_name


def _fill(order: Order, row: OrderRow, now: dt.datetime) -> None:
    order.customer_id = row.customer_id
    order.customer_email = row.customer_email
    order.status = row.status.value
    order.currency = row.currency
    order.total = row.total
    order.paid_at = row.paid_at
    order.ship_by = row.ship_by
    order.shipped_at = row.shipped_at
    order.promised_delivery_by = row.promised_delivery_by
    order.delivered_at = row.delivered_at
    order.updated_at = now
    # delete-orphan cascade removes the old lines.
    order.items = [
        OrderItem(sku=i.sku, title=i.title, quantity=i.quantity, unit_price=i.unit_price)
        for i in row.items
    ]
