"""The webhook outbox is written by the change itself: committed with it, rolled back with it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.refunds import review, store
from bot.refunds.enums import RefundStatus
from bot.refunds.models import OutboxEvent, RefundApplication
from tests.factories import NOW, submit_for_review


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
