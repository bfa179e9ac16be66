"""The refund store on a real database (SQLite, and PostgreSQL when configured): submitting,
idempotency, balance and ownership, evidence and money; after submission: test_store_lifecycle."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import sessionmaker

from bot.refunds import store
from bot.refunds.enums import OrderStatus, RefundStatus
from bot.refunds.errors import (
    AmountError,
    MethodNotOffered,
    OrderNotFound,
    ReasonError,
    RefundError,
)
from bot.refunds.models import Evidence, Order, RefundApplication
from tests.factories import NOW, make_customer, make_order
from tests.refunds.applications import DAY, IMMEDIATE, NO_RETURN, S, submit, trail

# --- submitting, per method -------------------------------------------------------------------


def test_immediate_refund_is_refunded_at_once(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, status=OrderStatus.AWAITING_SHIPMENT, total=Decimal("18.90"))
        result = submit(
            session,
            order,
            method=IMMEDIATE,
            amount=Decimal("5.00"),
            reason="changed my mind",
            reason_category=None,
        )
        app = result.application
        buyer = store.customer_actor(order.customer_id)
        assert result.created
        assert (app.status, app.review, app.compensation) == ("refunded", "automatic", Decimal("0"))
        assert app.reference.startswith("RF-")
        assert trail(session, app) == [
            (None, "pending_review", buyer),
            ("pending_review", "approved", "system"),
            ("approved", "refunded", "system"),
        ]
        events = store.events_of(session, application_id=app.id)
        assert [e.note for e in events] == [None, "approved automatically", None]
        assert all(e.at == NOW for e in events)
        assert order.status == "awaiting_shipment"


def test_full_immediate_refund_cancels_the_order(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, status=OrderStatus.AWAITING_SHIPMENT, total=Decimal("18.90"))
        submit(session, order, method=IMMEDIATE, amount=Decimal("18.90"), reason_category=None)
    with session_factory.begin() as session:
        assert session.get(Order, order.id).status == "cancelled"


def test_not_shipped_in_time_adds_compensation(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(
            session,
            status=OrderStatus.AWAITING_SHIPMENT,
            total=Decimal("55.00"),
            ship_by=NOW - 2 * DAY,
        )
        app = submit(session, order, method=IMMEDIATE, amount=Decimal("55.00")).application
        assert (app.status, app.compensation) == ("refunded", Decimal("5.50"))
        notes = [e.note for e in store.events_of(session, application_id=app.id)]
        assert notes[1] == "approved automatically (not shipped in time)"


def test_small_no_return_refund_is_refunded_at_once(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, status=OrderStatus.SHIPPED)
        app = submit(
            session,
            order,
            method=NO_RETURN,
            amount=Decimal("20.00"),
            reason="not needed",
            reason_category=None,
        ).application
        assert (app.status, app.review, app.review_due_at) == ("refunded", "automatic", None)
        assert app.reason_category is None
        assert [t[:2] for t in trail(session, app)] == [
            (None, "pending_review"),
            ("pending_review", "approved"),
            ("approved", "refunded"),
        ]


def test_late_parcel_no_return_above_threshold_is_refunded_at_once(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        order = make_order(
            session,
            status=OrderStatus.SHIPPED,
            total=Decimal("27.80"),
            promised_delivery_by=NOW - 5 * DAY,
        )
        app = submit(
            session, order, method=NO_RETURN, amount=Decimal("27.80"), reason="never arrived"
        ).application
        assert (app.status, app.review, app.compensation) == (
            "refunded",
            "automatic",
            Decimal("2.78"),
        )
        assert app.review_due_at is None


def test_return_and_refund_walks_through_the_return(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, total=Decimal("42.50"))
        app = submit(session, order, amount=Decimal("42.50")).application
        assert (app.status, app.review, app.review_due_at) == (
            "pending_review",
            "merchant",
            NOW + 5 * DAY,
        )
        assert (app.reason_category, app.reason, app.currency) == (
            "quality_problem",
            "the lamp flickers all the time",
            "USD",
        )
        store.approve(session, application=app, actor="agent:mia", now=NOW + DAY)
        assert app.status == "awaiting_return"
        store.transition(
            session, application=app, to=S.RETURN_RECEIVED, actor="agent:mia", now=NOW + 3 * DAY
        )
        store.transition(
            session, application=app, to=S.REFUNDED, actor="agent:mia", now=NOW + 3 * DAY
        )
        buyer = store.customer_actor(order.customer_id)
        assert trail(session, app) == [
            (None, "pending_review", buyer),
            ("pending_review", "approved", "agent:mia"),
            ("approved", "awaiting_return", "system"),
            ("awaiting_return", "return_received", "agent:mia"),
            ("return_received", "refunded", "agent:mia"),
        ]


def test_merchant_fault_is_approved_by_the_system(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, status=OrderStatus.SHIPPED, promised_delivery_by=NOW - DAY)
        app = submit(session, order, method=NO_RETURN, amount=Decimal("50.00")).application
        assert [(t[1], t[2]) for t in trail(session, app)] == [
            ("pending_review", f"customer:{order.customer_id}"),
            ("approved", "system"),
            ("refunded", "system"),
        ]


def test_return_and_refund_needs_a_category_and_a_description(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        order = make_order(session)
        with pytest.raises(ReasonError) as e:
            submit(session, order, reason_category=None)
        assert e.value.code == "category_missing"
        with pytest.raises(ReasonError) as e:
            submit(session, order, reason="bad")
        assert e.value.code == "too_short"
        assert store.list_applications(session, order_id=order.id) == []


def test_method_not_offered_is_refused(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, status=OrderStatus.SHIPPED)
        with pytest.raises(MethodNotOffered):
            submit(session, order, method=IMMEDIATE)


# --- idempotency, balance, ownership ----------------------------------------------------------


def test_resubmitting_with_the_same_key_returns_the_same_application(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        order = make_order(session)
        first = submit(session, order, idempotency_key="tap-1")
    with session_factory.begin() as session:
        # A retried delivery may even carry a changed amount: the first application stands.
        again = submit(session, order, idempotency_key="tap-1", amount=Decimal("11.00"))
        assert not again.created
        assert again.application.id == first.application.id
        assert again.application.amount == Decimal("10.00")
        count = session.execute(select(func.count()).select_from(RefundApplication)).scalar_one()
        assert count == 1


def test_a_key_of_another_customer_is_refused(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        submit(session, make_order(session), idempotency_key="shared")
        with pytest.raises(RefundError):
            submit(session, make_order(session), idempotency_key="shared")


def test_over_balance_is_refused(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, total=Decimal("30.00"))
        submit(session, order, amount=Decimal("25.00"), idempotency_key="a")
        with pytest.raises(AmountError) as e:
            submit(session, order, amount=Decimal("5.01"), idempotency_key="b")
        assert e.value.code == "exceeds_balance"
        assert e.value.params["balance"] == "5.00"
        assert submit(session, order, amount=Decimal("5.00"), idempotency_key="c").created
        with pytest.raises(MethodNotOffered) as nothing:
            submit(session, order, amount=Decimal("0.01"), idempotency_key="d")
        assert nothing.value.params == {"why_not": "nothing_left"}


@pytest.mark.parametrize("release", [S.REJECTED, S.WITHDRAWN])
def test_rejected_and_withdrawn_applications_release_their_amount(
    session_factory: sessionmaker, release: RefundStatus
) -> None:
    with session_factory.begin() as session:
        order = make_order(session, total=Decimal("30.00"))
        app = submit(session, order, amount=Decimal("30.00"), idempotency_key="a").application
        assert store.committed_amount(session, order_id=order.id) == Decimal("30.00")
        store.transition(session, application=app, to=release, actor="agent:mia", now=NOW)
        assert store.committed_amount(session, order_id=order.id) == Decimal("0.00")
        assert store.order_facts(session, order=order).balance == Decimal("30.00")
        assert submit(session, order, amount=Decimal("30.00"), idempotency_key="b").created


def test_refunded_applications_count_against_the_balance(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, status=OrderStatus.SHIPPED, total=Decimal("30.00"))
        submit(session, order, method=NO_RETURN, amount=Decimal("10.00"), reason="stain")
        facts = store.order_facts(session, order=order)
        assert (facts.committed, facts.balance) == (Decimal("10.00"), Decimal("20.00"))


def test_another_customers_order_is_not_found_like_an_unknown_one(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        order = make_order(session)
        intruder = make_customer(session)
        errors = []
        for order_id in (order.id, "9999999999999999"):
            with pytest.raises(OrderNotFound) as e:
                submit(session, order, customer_id=intruder.id, order_id=order_id)
            errors.append(e.value)
            with pytest.raises(OrderNotFound) as found:
                store.find_order(session, order_id=order_id, customer_id=intruder.id)
            errors.append(found.value)
        shapes = {(type(e), e.code, str(e).replace(e.params["order_id"], "ID")) for e in errors}
        assert shapes == {(OrderNotFound, "order_not_found", "order ID not found")}
        assert store.list_applications(session) == []
        assert store.find_order(session, order_id=order.id, customer_id=order.customer_id) is order


def test_verify_order_email(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, customer_email="Ana@Example.com")
        assert store.verify_order_email(session, order_id=order.id, email=" ana@example.COM ") == (
            order
        )
        for order_id, email in (
            (order.id, "ben@example.com"),
            (order.id, ""),
            ("9999999999999999", "ana@example.com"),
        ):
            with pytest.raises(OrderNotFound):
                store.verify_order_email(session, order_id=order_id, email=email)


# --- evidence and money -----------------------------------------------------------------------


def test_submit_links_the_conversations_evidence(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session)
        earlier = submit(session, order, idempotency_key="a", conversation_id="old").application

        def evidence(conversation_id: str, application_id: int | None = None) -> Evidence:
            row = Evidence(
                conversation_id=conversation_id,
                application_id=application_id,
                filename="photo.jpg",
                content_type="image/jpeg",
                size=1234,
                sha256="0" * 64,
                storage_path="evidence/photo.jpg",
                created_at=NOW,
            )
            session.add(row)
            return row

        mine = [evidence("conv-1"), evidence("conv-1")]
        linked_before = evidence("conv-1", earlier.id)
        elsewhere = evidence("conv-2")
        session.flush()
        app = submit(session, order, idempotency_key="b", conversation_id="conv-1").application
    with session_factory.begin() as session:
        rows = {e.id: e.application_id for e in session.execute(select(Evidence)).scalars()}
        assert rows == {
            mine[0].id: app.id,
            mine[1].id: app.id,
            linked_before.id: earlier.id,
            elsewhere.id: None,
        }
        assert session.get(RefundApplication, app.id).conversation_id == "conv-1"


@pytest.mark.parametrize(
    "amount", ["0.01", "0.10", "19.99", "20.00", "1234567.89", "9999999999.99"]
)
def test_money_round_trips_exactly(session_factory: sessionmaker, amount: str) -> None:
    value = Decimal(amount)
    with session_factory.begin() as session:
        order = make_order(session, total=value, status=OrderStatus.AWAITING_SHIPMENT)
        app = submit(
            session,
            order,
            method=IMMEDIATE,
            amount=value,
            reason="not needed",
            reason_category=None,
            idempotency_key="money",
        ).application
    with session_factory() as session:
        stored_order = session.get(Order, order.id)
        stored = session.get(RefundApplication, app.id)
        for got in (stored_order.total, stored_order.items[0].unit_price, stored.amount):
            assert isinstance(got, Decimal)
            assert got == value
            assert str(got) == amount
        assert store.committed_amount(session, order_id=order.id) == value


def test_money_must_be_decimal(session_factory: sessionmaker) -> None:
    with session_factory() as session:
        make_order(session, total=Decimal("1.00")).total = 1.5
        with pytest.raises(StatementError, match="money must be Decimal"):
            session.flush()


def test_timestamps_come_back_aware_in_utc(session_factory: sessionmaker) -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    delivered = dt.datetime(2026, 11, 24, 14, 30, tzinfo=plus_two)
    with session_factory.begin() as session:
        order = make_order(session, delivered_at=delivered)
    with session_factory() as session:
        got = session.get(Order, order.id).delivered_at
        assert got == delivered
        assert got.utcoffset() == dt.timedelta(0)
