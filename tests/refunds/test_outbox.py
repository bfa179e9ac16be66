"""The webhook outbox is written by the change itself: committed with it, rolled back with it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.refunds import presented, review, store
from bot.refunds.enums import OrderStatus, RefundMethod, RefundStatus
from bot.refunds.models import OutboxEvent, RefundApplication
from bot.settings import PolicySettings
from tests.factories import NOW, make_order, submit_for_review


def outbox(session_factory: sessionmaker) -> list[tuple[str, int | None]]:
    with session_factory.begin() as session:
        rows = session.execute(select(OutboxEvent).order_by(OutboxEvent.id)).scalars()
        return [(r.type, r.application_id) for r in rows]


def test_each_refund_event_has_its_outbox_row_without_any_worker(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        application = submit_for_review(session)
        review.review(
            session,
            application=application,
            action=review.ReviewAction.REQUEST_INFO,
            actor="merchant",
            now=NOW,
            note="A photo of the seam, please.",
        )
        store.add_buyer_note(
            session, application=application, customer_id="c-1001", now=NOW, note="Sent."
        )
        store.approve(session, application=application, actor="merchant", now=NOW)
        for status in (RefundStatus.RETURN_RECEIVED, RefundStatus.REFUNDED):
            store.transition(session, application=application, to=status, actor="m", now=NOW)
        application_id = int(application.id)
    # The buyer's own note is no event for the shop.
    assert outbox(session_factory) == [
        ("refund.created", application_id),
        ("refund.info_requested", application_id),
        ("refund.approved", application_id),
        ("refund.awaiting_return", application_id),
        ("refund.return_received", application_id),
        ("refund.refunded", application_id),
    ]


def test_each_outbox_row_holds_the_application_as_it_was_then(
    session_factory: sessionmaker,
) -> None:
    """An automatic approval is three events in one unit of work, each with its own status."""
    with session_factory.begin() as session:
        order = make_order(session, status=OrderStatus.AWAITING_SHIPMENT)
        filed = store.submit_application(
            session,
            customer_id=order.customer_id,
            order_id=order.id,
            method=RefundMethod.IMMEDIATE,
            amount=Decimal("5.00"),
            reason="changed my mind",
            reason_category=None,
            idempotency_key="k-immediate",
            conversation_id=None,
            now=NOW,
            settings=PolicySettings(),
        ).application
    with session_factory.begin() as session:
        rows = session.execute(select(OutboxEvent).order_by(OutboxEvent.id)).scalars().all()
        statuses = [(r.type, json.loads(r.data)["status"]) for r in rows]
        # What the API shows of the application read back is what the last event froze.
        now = presented.application(session.get(RefundApplication, filed.id))
        assert json.loads(rows[-1].data) == now
    assert statuses == [
        ("refund.created", "pending_review"),
        ("refund.approved", "approved"),
        ("refund.refunded", "refunded"),
    ]


def test_a_rolled_back_change_leaves_no_outbox_row(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        application_id = int(submit_for_review(session).id)
    before = outbox(session_factory)

    class Crash(Exception):
        pass

    def reject_then_die() -> None:
        with session_factory.begin() as session:
            found = session.get(RefundApplication, application_id)
            store.transition(
                session, application=found, to=RefundStatus.REJECTED, actor="merchant", now=NOW
            )
            session.flush()
            assert len(session.execute(select(OutboxEvent)).all()) == len(before) + 1
            raise Crash  # the process dies before the commit

    with pytest.raises(Crash):
        reject_then_die()
    assert outbox(session_factory) == before
    with session_factory.begin() as session:
        store.withdraw(
            session,
            application=session.get(RefundApplication, application_id),
            customer_id="c-1001",
            now=NOW,
        )
    assert outbox(session_factory)[-1] == ("refund.withdrawn", application_id)
