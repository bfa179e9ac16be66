"""Order import (``refundbot orders import``) and the demo data built on it."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.refunds import policy, store
from bot.refunds.demo import PARTLY_REFUNDED_ORDER, demo_orders, seed_demo
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.errors import ImportRowError
from bot.refunds.imports import ImportReport, import_orders, load_rows
from bot.refunds.models import Customer, Order, OrderItem, RefundApplication
from bot.refunds.order_rows import RowProblem, parse_timestamp, validate_rows
from bot.refunds.policy import Fault, merchant_fault
from bot.settings import PolicySettings
from tests.factories import NOW

UTC = dt.timezone.utc


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "order_id": "8041235566701234",
        "customer_id": "c-1001",
        "customer_email": "ana@example.com",
        "customer_name": "Ana Silva",
        "status": "delivered",
        "currency": "USD",
        "total": "42.50",
        "paid_at": "2026-11-17T10:00:00Z",
        "ship_by": "2026-11-20T10:00:00Z",
        "shipped_at": "2026-11-19T09:00:00Z",
        "promised_delivery_by": "2026-12-07T10:00:00Z",
        "delivered_at": "2026-11-23T15:30:00+02:00",
        "items": [{"sku": "A1", "title": "Lamp", "quantity": 1, "unit_price": "42.50"}],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not DROP}


DROP: Any = object()


def problems_of(raw: object) -> list[str]:
    good, problems = validate_rows([raw], now=NOW)
    assert all(p.index == 0 for p in problems)
    assert bool(good) != bool(problems)
    return [p.message for p in problems]


# --- validation (no database) -----------------------------------------------------------------


def test_a_good_row_is_parsed_exactly() -> None:
    [(index, order)], problems = validate_rows([row()], now=NOW)
    assert (index, problems) == (0, [])
    assert order.total == Decimal("42.50")
    assert order.delivered_at == dt.datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    assert order.items[0].unit_price == Decimal("42.50")
    assert order.customer_name == "Ana Silva"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"order_id": "12345"}, "order_id must be 12-19 digits, got '12345'"),
        ({"order_id": "80412355667012345678"}, "order_id must be 12-19 digits"),
        ({"order_id": "8041-2355-6670-1234"}, "order_id must be 12-19 digits"),
        ({"order_id": 8041235566701234}, "order_id must be a string of 12-19 digits"),
        ({"status": "lost"}, "unknown status 'lost' (expected one of: awaiting_shipment,"),
        ({"status": None}, "unknown status null"),
        ({"currency": "US"}, "currency must be a 3-letter ISO code like USD, got 'US'"),
        ({"currency": "US1"}, "currency must be a 3-letter ISO code"),
        ({"total": 42.5}, 'total must be a decimal string like "42.50" or a whole number'),
        ({"total": "42.505"}, "total has more than two decimals: '42.505'"),
        ({"total": "0"}, "total must be positive, got '0'"),
        ({"total": "-1.00"}, "total must be positive, got '-1.00'"),
        ({"total": "$42.50"}, "total must be a decimal amount"),
        ({"total": "1e3"}, "total must be a decimal amount"),
        ({"total": "NaN"}, "total must be a decimal amount"),
        ({"total": True}, "total must be a decimal string"),
        ({"total": "99999999999.00"}, "total is larger than 9999999999.99"),
        ({"paid_at": "2026-11-17T10:00:00"}, "paid_at must be an ISO-8601 timestamp with a zone"),
        ({"paid_at": "2026-11-17"}, "paid_at must be an ISO-8601 timestamp with a zone"),
        ({"paid_at": "17/11/2026 10:00"}, "paid_at must be an ISO-8601 timestamp"),
        ({"paid_at": 1763373600}, "paid_at must be an ISO-8601 timestamp"),
        ({"paid_at": None}, "paid_at must be an ISO-8601 timestamp, got null"),
        ({"ship_by": "2026-11-16T10:00:00Z"}, "ship_by 2026-11-16T10:00:00Z is before paid_at"),
        ({"delivered_at": "2026-11-18T10:00:00Z"}, "delivered_at 2026-11-18T10:00:00Z is before"),
        ({"delivered_at": "2026-12-01T10:00:00Z"}, "delivered_at 2026-12-01T10:00:00Z is in the"),
        ({"shipped_at": None}, "status delivered needs shipped_at"),
        ({"delivered_at": None}, "status delivered needs delivered_at"),
        ({"delivered_at": DROP}, "status delivered needs delivered_at"),
        ({"status": "shipped"}, "status shipped but delivered_at is set"),
        (
            {"status": "awaiting_shipment", "delivered_at": None},
            "status awaiting_shipment but shipped_at is set",
        ),
        ({"customer_email": "ana"}, "customer_email is not an e-mail address: 'ana'"),
        ({"customer_id": ""}, "customer_id must be a non-empty string, got ''"),
        ({"customer_id": "x" * 65}, "customer_id is longer than 64 characters"),
        ({"customer_name": 7}, "customer_name must be a non-empty string, got 7"),
        ({"total": DROP, "items": DROP}, "missing total, items"),
        ({"delivered": True}, "unknown field delivered"),
        ({"items": []}, "items must be a non-empty array, got a JSON array"),
        ({"items": "Lamp"}, "items must be a non-empty array, got 'Lamp'"),
        ({"items": ["Lamp"]}, "items[0] must be a JSON object, got string"),
        ({"items": [{"sku": "A1", "title": "Lamp"}]}, "items[0] is missing quantity, unit_price"),
        (
            {"items": [{"sku": "A1", "title": "", "quantity": 1, "unit_price": "1"}]},
            "items[0].title must be a non-empty string, got ''",
        ),
        (
            {"items": [{"sku": "A1", "title": "L", "quantity": 0, "unit_price": "1"}]},
            "items[0].quantity must be a whole number of 1 or more, got 0",
        ),
        (
            {"items": [{"sku": "A1", "title": "L", "quantity": 1.0, "unit_price": "1"}]},
            "items[0].quantity must be a whole number of 1 or more, got 1.0",
        ),
        (
            {"items": [{"sku": "A1", "title": "L", "quantity": 2**31, "unit_price": "1"}]},
            "items[0].quantity is larger than 2147483647",
        ),
        (
            {"items": [{"sku": "A1", "title": "L", "quantity": 1, "unit_price": 1.5}]},
            "items[0].unit_price must be a decimal string",
        ),
        (
            {"items": [{"sku": "A1", "title": "L", "quantity": 1, "unit_price": "1", "x": 1}]},
            "items[0] has unknown field x",
        ),
    ],
)
def test_bad_rows_are_reported_precisely(overrides: dict[str, Any], message: str) -> None:
    messages = problems_of(row(**overrides))
    assert any(m.startswith(message) for m in messages), messages


def test_every_problem_of_a_row_is_reported() -> None:
    messages = problems_of(row(order_id="1", status="gone", currency="dollars", total="x"))
    assert len(messages) == 4


def test_a_row_that_is_not_an_object() -> None:
    good, problems = validate_rows([row(), ["8041235566701234"], None], now=NOW)
    assert len(good) == 1
    assert problems == [
        RowProblem(1, None, "row must be a JSON object, got array"),
        RowProblem(2, None, "row must be a JSON object, got null"),
    ]


@pytest.mark.parametrize(
    ("total", "expected"),
    [("42.50", "42.50"), ("42.5", "42.50"), ("42", "42.00"), (42, "42.00"), ("0.01", "0.01")],
)
def test_money_as_string_or_whole_number(total: object, expected: str) -> None:
    [(_, order)], _ = validate_rows(
        [row(total=total, items=[{"sku": "A", "title": "A", "quantity": 1, "unit_price": "0"}])],
        now=NOW,
    )
    assert str(order.total) == expected


def test_load_rows_reads_json_fractions_exactly() -> None:
    rows = load_rows('[{"total": 42.50, "n": 3}]')
    assert rows == [{"total": Decimal("42.50"), "n": 3}]
    text = '[{"order_id": "8041235566701234", "total": 0.1, "paid_at": "2026-11-17T10:00:00Z"}]'
    parsed = load_rows(text)
    assert isinstance(parsed, list)
    raw = row(total=parsed[0]["total"])
    assert problems_of(raw) == []
    with pytest.raises(ImportRowError, match="not valid JSON: Expecting value at line 1"):
        load_rows("[1,")


@pytest.mark.parametrize("top", [{"order_id": "1"}, "orders", 3, None])
def test_top_level_must_be_an_array(top: object) -> None:
    with pytest.raises(ImportRowError, match="must be one JSON array of orders, got"):
        validate_rows(top, now=NOW)


def test_the_same_order_twice_in_a_file() -> None:
    good, problems = validate_rows([row(), row(total="40.00")], now=NOW)
    assert [i for i, _ in good] == [0]
    assert problems == [
        RowProblem(
            1, "8041235566701234", "order_id also appears at row 0; give each order once per file"
        )
    ]


def test_problem_reads_well() -> None:
    assert str(RowProblem(3, "8041235566701234", "unknown status 'x'")) == (
        "row 3 (order 8041235566701234): unknown status 'x'"
    )
    assert str(RowProblem(0, None, "row must be a JSON object")) == (
        "row 0: row must be a JSON object"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T09:30:00Z", dt.datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20T09:30:00.250z", dt.datetime(2026, 11, 20, 9, 30, 0, 250000, tzinfo=UTC)),
        ("2026-11-20T11:30:00+02:00", dt.datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20 09:30:00+00:00", dt.datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20T09:30:00", None),
        ("2026-11-20", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_timestamp(text: str, expected: dt.datetime | None) -> None:
    assert parse_timestamp(text) == expected


# --- importing into the database --------------------------------------------------------------


def test_good_rows_import_and_bad_rows_are_reported(session_factory: sessionmaker) -> None:
    rows = [
        row(),
        row(order_id="8041235566709876", status="cancelled", total="1.005"),
        row(
            order_id="8041235566709999",
            customer_id="c-1002",
            customer_email="ben@example.com",
            customer_name=DROP,
            status="awaiting_shipment",
            shipped_at=None,
            delivered_at=None,
            ship_by="2026-11-30T10:00:00Z",
            items=[
                {"sku": "T", "title": "T-shirt", "quantity": 3, "unit_price": "10.00"},
                {"sku": "S", "title": "Socks", "quantity": 1, "unit_price": "12.50"},
            ],
        ),
    ]
    with session_factory.begin() as session:
        report = import_orders(session, rows=rows, now=NOW)
    assert report == ImportReport(
        created=2,
        updated=0,
        problems=[RowProblem(1, "8041235566709876", "total has more than two decimals: '1.005'")],
    )
    assert report.rejected == 1
    with session_factory.begin() as session:
        ana = session.get(Order, "8041235566701234")
        assert (ana.customer_id, ana.status, ana.currency, ana.total) == (
            "c-1001",
            "delivered",
            "USD",
            Decimal("42.50"),
        )
        assert ana.delivered_at == dt.datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
        assert ana.updated_at == NOW
        ben = session.get(Order, "8041235566709999")
        assert (ben.shipped_at, ben.delivered_at) == (None, None)
        assert [(i.sku, i.quantity, i.unit_price) for i in ben.items] == [
            ("T", 3, Decimal("10.00")),
            ("S", 1, Decimal("12.50")),
        ]
        assert session.get(Order, "8041235566709876") is None
        customers = {c.id: (c.email, c.name) for c in session.execute(select(Customer)).scalars()}
        assert customers == {
            "c-1001": ("ana@example.com", "Ana Silva"),
            "c-1002": ("ben@example.com", None),
        }
        # The imported order is the customer's, through the store's own lookups.
        assert store.find_order(session, order_id=ana.id, customer_id="c-1001") is ana
        assert store.verify_order_email(session, order_id=ana.id, email="ANA@example.com") is ana


def test_reimport_updates_the_order_and_replaces_its_items(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        import_orders(session, rows=[row()], now=NOW)
    changed = row(
        customer_email="ana.silva@example.com",
        total="50.00",
        items=[
            {"sku": "B2", "title": "Lamp shade", "quantity": 2, "unit_price": "25.00"},
        ],
    )
    later = NOW + dt.timedelta(hours=1)
    with session_factory.begin() as session:
        report = import_orders(session, rows=[changed], now=later)
    assert report == ImportReport(created=0, updated=1, problems=[])
    with session_factory.begin() as session:
        order = session.get(Order, "8041235566701234")
        assert (order.total, order.customer_email, order.updated_at) == (
            Decimal("50.00"),
            "ana.silva@example.com",
            later,
        )
        assert [(i.sku, i.quantity) for i in order.items] == [("B2", 2)]
        assert session.execute(select(func.count()).select_from(OrderItem)).scalar_one() == 1
        customer = session.get(Customer, "c-1001")
        assert (customer.email, customer.name, customer.created_at) == (
            "ana.silva@example.com",
            "Ana Silva",
            NOW,
        )


def test_an_order_of_another_customer_is_refused(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        import_orders(session, rows=[row()], now=NOW)
    stolen = row(customer_id="c-6666", customer_email="mallory@example.com", total="1.00")
    with session_factory.begin() as session:
        report = import_orders(session, rows=[stolen, row(order_id="8041235566700002")], now=NOW)
    assert report == ImportReport(
        created=1,
        updated=0,
        problems=[
            RowProblem(0, "8041235566701234", "order_id already belongs to another customer")
        ],
    )
    with session_factory.begin() as session:
        order = session.get(Order, "8041235566701234")
        assert (order.customer_id, order.total) == ("c-1001", Decimal("42.50"))
        assert session.get(Customer, "c-6666") is None


def test_an_update_keeps_what_is_already_refunded(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        import_orders(session, rows=[row()], now=NOW)
        store.submit_application(
            session,
            customer_id="c-1001",
            order_id="8041235566701234",
            method=RefundMethod.RETURN_AND_REFUND,
            amount=Decimal("30.00"),
            reason="the lamp flickers all the time",
            reason_category=ReasonCategory.QUALITY_PROBLEM,
            idempotency_key="k",
            conversation_id=None,
            now=NOW,
            settings=PolicySettings(),
        )
    with session_factory.begin() as session:
        report = import_orders(session, rows=[row(total="29.99"), row(currency="EUR")], now=NOW)
    assert [p.message for p in report.problems] == [
        "total 29.99 is less than the 30.00 USD already refunded or requested",
        "order_id also appears at row 0; give each order once per file",
    ]
    with session_factory.begin() as session:
        report = import_orders(session, rows=[row(currency="EUR")], now=NOW)
    assert [p.message for p in report.problems] == [
        "currency cannot change from USD to EUR: the order has refund applications"
    ]
    with session_factory.begin() as session:
        report = import_orders(session, rows=[row(total="30.00", status="delivered")], now=NOW)
    assert (report.updated, report.problems) == (1, [])


def test_top_level_not_an_array_changes_nothing(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        with pytest.raises(ImportRowError):
            import_orders(session, rows=row(), now=NOW)
        assert session.execute(select(func.count()).select_from(Order)).scalar_one() == 0


# --- demo data --------------------------------------------------------------------------------

DEMO = {
    "8041235566701234": ("c-1001", "delivered", "USD", "42.50", "Desk lamp"),
    "8041235566709876": ("c-1001", "awaiting_shipment", "USD", "18.90", "Phone case"),
    "8041235566705555": ("c-1001", "shipped", "USD", "64.00", "Bluetooth speaker"),
    "8041235566702222": ("c-1001", "delivered", "USD", "35.00", "Yoga mat"),
    "8041235566703333": ("c-1001", "shipped", "USD", "27.80", "Wireless earbuds"),
    "8041235566704444": ("c-1002", "awaiting_shipment", "USD", "55.00", "Coffee grinder"),
    "8041235566706666": ("c-1002", "delivered", "USD", "30.00", "T-shirt"),
    "8041235566707777": ("c-1002", "delivered", "USD", "12.00", "USB cable"),
    "8041235566708888": ("c-1003", "cancelled", "EUR", "9.99", "Watch strap"),
    "8041235566700001": ("c-1003", "delivered", "EUR", "120.00", "Winter jacket"),
}


def test_demo_orders_are_valid_and_dated_relative_to_now() -> None:
    rows = demo_orders(NOW)
    good, problems = validate_rows(copy.deepcopy(rows), now=NOW)
    assert problems == []
    got = {
        o.order_id: (o.customer_id, o.status.value, o.currency, str(o.total), o.items[0].title)
        for _, o in good
    }
    assert got == DEMO
    orders = {o.order_id: o for _, o in good}
    days = dt.timedelta(days=1)
    assert orders["8041235566701234"].delivered_at == NOW - 3 * days
    assert orders["8041235566709876"].ship_by == NOW + 3 * days
    assert orders["8041235566705555"].shipped_at == NOW - 2 * days
    assert orders["8041235566705555"].promised_delivery_by == NOW + 10 * days
    assert orders["8041235566702222"].delivered_at == NOW - 40 * days
    assert orders["8041235566703333"].shipped_at == NOW - 25 * days
    assert orders["8041235566703333"].promised_delivery_by == NOW - 5 * days
    assert orders["8041235566704444"].ship_by == NOW - 2 * days
    assert orders["8041235566706666"].delivered_at == NOW - 5 * days
    assert orders["8041235566707777"].delivered_at == NOW - 2 * days
    assert orders["8041235566700001"].delivered_at == NOW - 1 * days
    assert orders["8041235566706666"].items[0].quantity == 3


def demo_methods(session: Any, order_id: str) -> dict[str, str | None]:
    order = session.get(Order, order_id)
    facts = store.order_facts(session, order=order)
    return {
        o.method.value: (None if o.offered else o.why_not)
        for o in policy.method_options(facts, NOW, PolicySettings())
    }


def test_seed_demo_tells_every_story_and_is_idempotent(session_factory: sessionmaker) -> None:
    for _ in range(2):
        with session_factory.begin() as session:
            seed_demo(session, now=NOW, settings=PolicySettings())
    with session_factory.begin() as session:
        names = {c.id: (c.name, c.email) for c in session.execute(select(Customer)).scalars()}
        assert names == {
            "c-1001": ("Ana Silva", "ana@example.com"),
            "c-1002": ("Ben Okafor", "ben@example.com"),
            "c-1003": ("Chen Wei", "chen@example.com"),
        }
        assert session.execute(select(func.count()).select_from(Order)).scalar_one() == 10
        [app] = session.execute(select(RefundApplication)).scalars().all()
        assert (app.order_id, app.customer_id, app.method, app.amount, app.status) == (
            PARTLY_REFUNDED_ORDER,
            "c-1002",
            "no_return_refund",
            Decimal("10.00"),
            "refunded",
        )
        assert app.reason == "one shirt had a stain"
        facts = store.order_facts(session, order=session.get(Order, PARTLY_REFUNDED_ORDER))
        assert facts.balance == Decimal("20.00")

        expect = {
            "8041235566701234": {"no_return_refund": None, "return_and_refund": None},
            "8041235566709876": {"immediate_refund": None},
            "8041235566705555": {"no_return_refund": None},
            "8041235566702222": {"no_return_refund": None},
            "8041235566703333": {"no_return_refund": None},
            "8041235566704444": {"immediate_refund": None},
            "8041235566708888": {},
        }
        for order_id, offered in expect.items():
            methods = demo_methods(session, order_id)
            assert {m: w for m, w in methods.items() if w is None} == offered, order_id
        assert demo_methods(session, "8041235566702222")["return_and_refund"] == "window_closed"
        late = store.order_facts(session, order=session.get(Order, "8041235566703333"))
        unshipped = store.order_facts(session, order=session.get(Order, "8041235566704444"))
        assert merchant_fault(late, NOW) is Fault.LATE_DELIVERY
        assert merchant_fault(unshipped, NOW) is Fault.NOT_SHIPPED_IN_TIME


def test_seed_demo_refunds_the_shirt_even_with_a_low_threshold(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        seed_demo(session, now=NOW, settings=PolicySettings(no_return_threshold=Decimal("5.00")))
        [app] = session.execute(select(RefundApplication)).scalars().all()
        assert app.status == "refunded"
