"""An order as a shop sends it (the import file, the shop API): checked field by field.

Each row looks like::

    {"order_id": "8041235566701234", "customer_id": "c-1001",
     "customer_email": "ana@example.com", "customer_name": "Ana Silva",
     "status": "delivered", "currency": "USD", "total": "42.50",
     "paid_at": "2026-11-18T10:00:00Z", "ship_by": "2026-11-21T10:00:00Z",
     "shipped_at": "2026-11-20T09:00:00Z", "promised_delivery_by": "2026-12-08T10:00:00Z",
     "delivered_at": "2026-11-23T15:30:00Z",
     "items": [{"sku": "A1", "title": "Lamp", "quantity": 1, "unit_price": "42.50"}]}

Rules (each broken rule is one :class:`RowProblem`; checking goes on to find them all):

* ``order_id`` is a JSON string of 12-19 digits (a JSON number is refused: producers in
  JavaScript silently round integers past 2**53).
* Money (``total``, ``unit_price``) is a JSON string (``"42.50"``) or a whole JSON number
  (``42``), with at most two decimals; never a float. A JSON number with a fraction is accepted
  only when it was parsed exactly (``json.loads(..., parse_float=Decimal)``).
  ``total`` is positive, ``unit_price`` not negative.
* An item's ``quantity`` is a whole JSON number from 1 to :data:`MAX_QUANTITY`.
* Timestamps are ISO-8601 strings with a zone (``Z`` or ``+02:00``); they are stored in UTC.
  ``shipped_at`` and ``delivered_at`` may be null or absent, except that a shipped order needs
  ``shipped_at`` and a delivered one both. ``customer_name`` is optional; unknown fields are
  refused, so that a misspelt field is not silently dropped.

Nothing here reads or writes the database: :mod:`bot.refunds.imports` stores the rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.refunds.enums import OrderStatus
from bot.refunds.errors import ImportRowError
from bot.refunds.reading import is_email, is_order_id

REQUIRED_FIELDS = (
    "order_id",
    "customer_id",
    "customer_email",
    "status",
    "currency",
    "total",
    "paid_at",
    "ship_by",
    "promised_delivery_by",
    "items",
)
OPTIONAL_FIELDS = ("customer_name", "shipped_at", "delivered_at")
ITEM_FIELDS = ("sku", "title", "quantity", "unit_price")

#: The largest amount the ``Money`` column (NUMERIC(12, 2)) holds.
MAX_MONEY = Decimal("9999999999.99")
#: The largest quantity of an item the INTEGER column holds (PostgreSQL's is 32 bits).
MAX_QUANTITY = 2**31 - 1
#: How far in the future an event (payment, shipment, delivery) may lie: the shop's clock and
#: ours differ a little.
CLOCK_SKEW = dt.timedelta(minutes=5)

_CURRENCY = re.compile(r"[A-Za-z]{3}")
_MONEY = re.compile(r"-?[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one row; ``index`` is the row's position in the array, from 0."""

    index: int
    order_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"row {self.index}" + (f" (order {self.order_id})" if self.order_id else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ItemRow:
    """A validated order line."""

    sku: str
    title: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderRow:
    """A validated order, ready to be stored."""

    order_id: str
    customer_id: str
    customer_email: str
    customer_name: str | None
    status: OrderStatus
    currency: str
    total: Decimal
    paid_at: dt.datetime
    ship_by: dt.datetime
    shipped_at: dt.datetime | None
    promised_delivery_by: dt.datetime
    delivered_at: dt.datetime | None
    items: tuple[ItemRow, ...]


def validate_rows(
    rows: object, *, now: dt.datetime
) -> tuple[list[tuple[int, OrderRow]], list[RowProblem]]:
    """Check every row without touching the database.

    Returns:
        The good rows with their index, and the problems of the others.

    Raises:
        ImportRowError: ``rows`` is not a list (the file must hold one JSON array).
    """
    if not isinstance(rows, list):
        raise ImportRowError(f"the import must be one JSON array of orders, got {_json_type(rows)}")
    good: list[tuple[int, OrderRow]] = []
    problems: list[RowProblem] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(rows):
        row, row_problems = validate_row(index, raw, now=now)
        order_id = raw.get("order_id") if isinstance(raw, dict) else None
        if isinstance(order_id, str):
            if order_id in first_index:
                row_problems.append(
                    RowProblem(
                        index,
                        order_id,
                        f"order_id also appears at row {first_index[order_id]};"
                        " give each order once per file",
                    )
                )
                row = None
            else:
                first_index[order_id] = index
        problems.extend(row_problems)
        if row is not None:
            good.append((index, row))
    return good, problems


def validate_row(
    index: int, raw: object, *, now: dt.datetime
) -> tuple[OrderRow | None, list[RowProblem]]:
    """Check one row; return it parsed (None when it has problems) and its problems."""
    if not isinstance(raw, dict):
        return None, [RowProblem(index, None, f"row must be a JSON object, got {_json_type(raw)}")]
    checker = _RowChecker(index, raw)
    row = checker.check(now)
    return (row if not checker.problems else None), checker.problems


# --- validation -----------------------------------------------------------------------------


class _RowChecker:
    """Collects every problem of one row rather than stopping at the first."""

    def __init__(self, index: int, raw: Mapping[str, object]) -> None:
        self.index = index
        self.raw = raw
        order_id = raw.get("order_id")
        self.order_id = order_id if isinstance(order_id, str) and order_id else None
        self.problems: list[RowProblem] = []

    def problem(self, message: str) -> None:
        self.problems.append(RowProblem(self.index, self.order_id, message))

    def check(self, now: dt.datetime) -> OrderRow | None:
        raw = self.raw
        missing = [f for f in REQUIRED_FIELDS if f not in raw]
        if missing:
            self.problem("missing " + ", ".join(missing))
        unknown = sorted(set(raw) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
        if unknown:
            self.problem("unknown field " + ", ".join(unknown))

        order_id = self._order_id()
        customer_id = self._text("customer_id", 64)
        email = self._email()
        name = self._optional_text("customer_name", 200)
        status = self._status()
        currency = self._currency()
        total = self._money("total", raw.get("total"), positive=True) if "total" in raw else None
        paid_at = self._timestamp("paid_at")
        ship_by = self._timestamp("ship_by")
        promised = self._timestamp("promised_delivery_by")
        shipped_at = self._timestamp("shipped_at", optional=True)
        delivered_at = self._timestamp("delivered_at", optional=True)
        items = self._items()

        if status is not None:
            self._check_status_dates(status, shipped_at, delivered_at)
        self._check_order_of(paid_at, "paid_at", ship_by, "ship_by")
        self._check_order_of(paid_at, "paid_at", promised, "promised_delivery_by")
        self._check_order_of(paid_at, "paid_at", shipped_at, "shipped_at")
        self._check_order_of(shipped_at, "shipped_at", delivered_at, "delivered_at")
        for name_, value in (
            ("paid_at", paid_at),
            ("shipped_at", shipped_at),
            ("delivered_at", delivered_at),
        ):
            if value is not None and value > now + CLOCK_SKEW:
                self.problem(f"{name_} {_iso(value)} is in the future")

        if self.problems:
            return None
        # No problems means every required field was present and parsed.
        assert order_id is not None
        assert customer_id is not None
        assert email is not None
        assert status is not None
        assert currency is not None
        assert total is not None
        assert paid_at is not None
        assert ship_by is not None
        assert promised is not None
        assert items is not None
        return OrderRow(
            order_id=order_id,
            customer_id=customer_id,
            customer_email=email,
            customer_name=name,
            status=status,
            currency=currency,
            total=total,
            paid_at=paid_at,
            ship_by=ship_by,
            shipped_at=shipped_at,
            promised_delivery_by=promised,
            delivered_at=delivered_at,
            items=items,
        )

    def _order_id(self) -> str | None:
        if "order_id" not in self.raw:
            return None
        value = self.raw["order_id"]
        if not isinstance(value, str):
            self.problem(
                f"order_id must be a string of 12-19 digits, got a JSON {_json_type(value)}"
                " (quote it: large numbers lose digits)"
            )
            return None
        if not is_order_id(value):
            self.problem(f"order_id must be 12-19 digits, got {value!r}")
            return None
        return value

    def _text(self, name: str, max_len: int) -> str | None:
        if name not in self.raw:
            return None
        value = self.raw[name]
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{name} must be a non-empty string, got {_show(value)}")
            return None
        value = value.strip()
        if len(value) > max_len:
            self.problem(f"{name} is longer than {max_len} characters")
            return None
        return value

    def _optional_text(self, name: str, max_len: int) -> str | None:
        if self.raw.get(name) is None:
            return None
        return self._text(name, max_len)

    def _email(self) -> str | None:
        value = self._text("customer_email", 254)
        if value is not None and not is_email(value):
            self.problem(f"customer_email is not an e-mail address: {value!r}")
            return None
        return value

    def _status(self) -> OrderStatus | None:
        if "status" not in self.raw:
            return None
        value = self.raw["status"]
        try:
            return OrderStatus(value)
        except ValueError:
            known = ", ".join(s.value for s in OrderStatus)
            self.problem(f"unknown status {_show(value)} (expected one of: {known})")
            return None

    def _currency(self) -> str | None:
        if "currency" not in self.raw:
            return None
        value = self.raw["currency"]
        if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
            self.problem(f"currency must be a 3-letter ISO code like USD, got {_show(value)}")
            return None
        return value.upper()

    def _money(self, name: str, value: object, *, positive: bool) -> Decimal | None:
        amount: Decimal | None = None
        if isinstance(value, bool) or isinstance(value, float):
            self.problem(
                f'{name} must be a decimal string like "42.50" or a whole number,'
                f" got the {_json_type(value)} {value!r} (floats are not exact money)"
            )
            return None
        if isinstance(value, int):
            amount = Decimal(value)
        elif isinstance(value, Decimal):
            amount = value
        elif isinstance(value, str) and _MONEY.fullmatch(value.strip()):
            try:
                amount = Decimal(value.strip())
            except InvalidOperation:  # pragma: no cover - the pattern admits only digits
                amount = None
        if amount is None or not amount.is_finite():
            self.problem(f'{name} must be a decimal amount like "42.50", got {_show(value)}')
            return None
        if amount != amount.quantize(Decimal("0.01")):
            self.problem(f"{name} has more than two decimals: {_show(value)}")
            return None
        if amount < 0 or (positive and amount == 0):
            kind = "positive" if positive else "zero or more"
            self.problem(f"{name} must be {kind}, got {_show(value)}")
            return None
        if amount > MAX_MONEY:
            self.problem(f"{name} is larger than {MAX_MONEY}")
            return None
        # Adding zero turns "-0.00" into "0.00".
        return (amount + 0).quantize(Decimal("0.01"))

    def _timestamp(self, name: str, *, optional: bool = False) -> dt.datetime | None:
        if name not in self.raw:
            return None
        value = self.raw[name]
        if value is None:
            if not optional:
                self.problem(f"{name} must be an ISO-8601 timestamp, got null")
            return None
        parsed = parse_timestamp(value)
        if parsed is None:
            self.problem(
                f"{name} must be an ISO-8601 timestamp with a zone"
                f" (like 2026-11-20T09:30:00Z), got {_show(value)}"
            )
        return parsed

    def _items(self) -> tuple[ItemRow, ...] | None:
        if "items" not in self.raw:
            return None
        value = self.raw["items"]
        if not isinstance(value, list) or not value:
            self.problem(f"items must be a non-empty array, got {_show(value)}")
            return None
        items: list[ItemRow] = []
        ok = True
        for n, raw_item in enumerate(value):
            item = self._item(n, raw_item)
            ok = ok and item is not None
            if item is not None:
                items.append(item)
        return tuple(items) if ok else None

    def _item(self, n: int, raw: object) -> ItemRow | None:
        where = f"items[{n}]"
        if not isinstance(raw, dict):
            self.problem(f"{where} must be a JSON object, got {_json_type(raw)}")
            return None
        before = len(self.problems)
        missing = [f for f in ITEM_FIELDS if f not in raw]
        if missing:
            self.problem(f"{where} is missing " + ", ".join(missing))
        unknown = sorted(set(raw) - set(ITEM_FIELDS))
        if unknown:
            self.problem(f"{where} has unknown field " + ", ".join(unknown))
        sku, title = raw.get("sku"), raw.get("title")
        for label, text, max_len in (("sku", sku, 64), ("title", title, 300)):
            if label in raw and (not isinstance(text, str) or not text.strip()):
                self.problem(f"{where}.{label} must be a non-empty string, got {_show(text)}")
            elif isinstance(text, str) and len(text.strip()) > max_len:
                self.problem(f"{where}.{label} is longer than {max_len} characters")
        quantity = raw.get("quantity")
        if "quantity" in raw and (
            isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1
        ):
            self.problem(
                f"{where}.quantity must be a whole number of 1 or more, got {_show(quantity)}"
            )
        elif isinstance(quantity, int) and quantity > MAX_QUANTITY:
            self.problem(f"{where}.quantity is larger than {MAX_QUANTITY}")
        price = (
            self._money(f"{where}.unit_price", raw["unit_price"], positive=False)
            if "unit_price" in raw
            else None
        )
        if len(self.problems) > before:
            return None
        assert isinstance(sku, str)
        assert isinstance(title, str)
        assert isinstance(quantity, int)
        assert price is not None
        return ItemRow(sku=sku.strip(), title=title.strip(), quantity=quantity, unit_price=price)

    def _check_status_dates(
        self,
        status: OrderStatus,
        shipped_at: dt.datetime | None,
        delivered_at: dt.datetime | None,
    ) -> None:
        if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) and shipped_at is None:
            if self.raw.get("shipped_at") is None:
                self.problem(f"status {status.value} needs shipped_at")
        if status is OrderStatus.DELIVERED and delivered_at is None:
            if self.raw.get("delivered_at") is None:
                self.problem("status delivered needs delivered_at")
        if status is OrderStatus.AWAITING_SHIPMENT and self.raw.get("shipped_at") is not None:
            self.problem("status awaiting_shipment but shipped_at is set")
        if status in (OrderStatus.AWAITING_SHIPMENT, OrderStatus.SHIPPED) and (
            self.raw.get("delivered_at") is not None
        ):
            self.problem(f"status {status.value} but delivered_at is set")

    def _check_order_of(
        self,
        earlier: dt.datetime | None,
        earlier_name: str,
        later: dt.datetime | None,
        later_name: str,
    ) -> None:
        if earlier is not None and later is not None and later < earlier:
            self.problem(f"{later_name} {_iso(later)} is before {earlier_name} {_iso(earlier)}")


def parse_timestamp(value: object) -> dt.datetime | None:
    """Return an ISO-8601 timestamp with a zone as an aware UTC datetime, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return parsed.astimezone(dt.timezone.utc)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Sequence):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _show(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return f"a JSON {_json_type(value)}"
    if isinstance(value, Decimal):
        return str(value)
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
