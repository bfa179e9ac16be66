"""An application after it is submitted: withdrawing, status changes read and written once,
the review deadline, finding and listing (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

from bot.refunds import store
from bot.refunds.enums import OrderStatus, RefundStatus
from bot.refunds.errors import ApplicationNotFound, TransitionNotAllowed
from tests.factories import NOW, make_order
from tests.refunds.applications import DAY, NO_RETURN, S, submit, trail


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ([], True),
        ([S.APPROVED], True),
        ([S.APPROVED, S.AWAITING_RETURN], True),
        ([S.APPROVED, S.AWAITING_RETURN, S.RETURN_RECEIVED], False),
        ([S.APPROVED, S.AWAITING_RETURN, S.RETURN_RECEIVED, S.REFUNDED], False),
        ([S.REJECTED], False),
        ([S.WITHDRAWN], False),
    ],
)
def test_withdraw_by_status(
    session_factory: sessionmaker, path: list[RefundStatus], allowed: bool
) -> None:
    with session_factory.begin() as session:
        order = make_order(session)
        app = submit(session, order).application
        for status in path:
            store.transition(session, application=app, to=status, actor="agent:mia", now=NOW)
        if allowed:
            store.withdraw(session, application=app, customer_id=order.customer_id, now=NOW)
            assert app.status == "withdrawn"
            last = store.events_of(session, application_id=app.id)[-1]
            assert (last.to_status, last.actor, last.note) == (
                "withdrawn",
                store.customer_actor(order.customer_id),
                "withdrawn by the buyer",
            )
        else:
            before = app.status
            with pytest.raises(TransitionNotAllowed):
                store.withdraw(session, application=app, customer_id=order.customer_id, now=NOW)
            assert app.status == before


def test_a_status_change_is_one_update_conditional_on_the_status_read(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        app = submit(session, make_order(session)).application
        session.flush()
        engine = session.get_bind()
        statements: list[str] = []

        def collect(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(" ".join(statement.split()))

        event.listen(engine, "before_cursor_execute", collect)
        try:
            store.approve(session, application=app, actor="agent:mia", now=NOW + DAY)
            session.flush()
        finally:
            event.remove(engine, "before_cursor_execute", collect)
        updates = [s for s in statements if s.startswith("UPDATE refund_applications")]
        assert len(updates) == 2, statements
        assert all("refund_applications.status = " in s.split("WHERE", 1)[1] for s in updates)
        assert (app.status, app.updated_at) == ("awaiting_return", NOW + DAY)
        assert app not in session.dirty


def test_a_stale_status_is_refused_with_the_status_now(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session)
        app = submit(session, order).application
        reference, customer_id = app.reference, order.customer_id
    with session_factory.begin() as session:
        store.approve(
            session,
            application=store.find_application(
                session, reference=reference, customer_id=customer_id
            ),
            actor="agent:mia",
            now=NOW,
        )
    # ``app`` still says pending_review, as a unit of work that read it before the approval would.
    with session_factory.begin() as session:
        stale = session.merge(app, load=False)
        assert stale.status == "pending_review"
        with pytest.raises(TransitionNotAllowed) as refused:
            store.withdraw(session, application=stale, customer_id=customer_id, now=NOW + DAY)
        assert refused.value.params == {"current": "awaiting_return", "target": "withdrawn"}
        assert stale.status == "awaiting_return"
        assert [e.to_status for e in store.events_of(session, application_id=stale.id)] == [
            "pending_review",
            "approved",
            "awaiting_return",
        ]


def test_withdrawing_another_customers_application_is_not_found(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        app = submit(session, make_order(session)).application
        with pytest.raises(ApplicationNotFound):
            store.withdraw(session, application=app, customer_id="someone-else", now=NOW)
        with pytest.raises(ApplicationNotFound):
            store.find_application(session, reference=app.reference, customer_id="someone-else")
        assert app.status == "pending_review"


def test_find_application_by_reference(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session)
        app = submit(session, order).application
        found = store.find_application(
            session, reference=f" {app.reference.lower()} ", customer_id=order.customer_id
        )
        assert found is app


def test_approve_overdue_after_the_review_deadline(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, total=Decimal("100.00"))
        late = submit(session, order, amount=Decimal("10.00"), idempotency_key="a").application
        recent = submit(
            session, order, amount=Decimal("20.00"), idempotency_key="b", now=NOW + DAY
        ).application
        withdrawn = submit(session, order, amount=Decimal("5.00"), idempotency_key="c").application
        store.withdraw(session, application=withdrawn, customer_id=order.customer_id, now=NOW)
        due = NOW + 5 * DAY
        assert late.review_due_at == due
        assert store.approve_overdue(session, now=due) == []
        assert store.approve_overdue(session, now=due + dt.timedelta(seconds=1)) == [late]
        assert (late.status, recent.status, withdrawn.status) == (
            "awaiting_return",
            "pending_review",
            "withdrawn",
        )
        assert trail(session, late)[1:] == [
            ("pending_review", "approved", "system"),
            ("approved", "awaiting_return", "system"),
        ]
        note = store.events_of(session, application_id=late.id)[1].note
        assert note == "review deadline passed: approved automatically"
        later = NOW + 10 * DAY
        assert store.approve_overdue(session, now=later, customer_id="someone-else") == []
        assert store.approve_overdue(session, now=later, customer_id=order.customer_id) == [recent]


def test_list_applications_filters(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, total=Decimal("100.00"))
        other = make_order(session, status=OrderStatus.SHIPPED)
        a = submit(session, order, idempotency_key="a", now=NOW - DAY).application
        b = submit(session, order, idempotency_key="b").application
        c = submit(session, other, method=NO_RETURN, idempotency_key="c", reason="meh").application
        # Newest first; ties on created_at go to the later id.
        assert store.list_applications(session) == [c, b, a]
        assert store.list_applications(session, order_id=order.id) == [b, a]
        assert store.list_applications(session, customer_id=other.customer_id) == [c]
        assert store.list_applications(session, statuses=[S.REFUNDED]) == [c]
