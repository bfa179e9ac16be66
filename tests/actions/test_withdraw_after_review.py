"""A buyer confirms a withdrawal the merchant has overtaken: told the status now, nothing stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from actions.withdraw import ActionWithdrawConfirm, ActionWithdrawRefund
from bot.refunds import review, store
from tests.actions.conftest import make_tracker, slot_values
from tests.factories import NOW, submit_for_review

BUYER = "c-1"
TRAIL_BEFORE = [
    (None, "pending_review", "customer:c-1"),
    ("pending_review", "approved", "agent:mia"),
    ("approved", "awaiting_return", "system"),
]
TRAIL_AFTER = [*TRAIL_BEFORE, ("awaiting_return", "return_received", "agent:ana")]


def awaiting_return(factory: sessionmaker) -> str:
    with factory.begin() as session:
        application = submit_for_review(session, customer_id=BUYER)
        store.approve(session, application=application, actor="agent:mia", now=NOW)
        return str(application.reference)


def trail(factory: sessionmaker, reference: str) -> list[tuple[str | None, str, str]]:
    with factory.begin() as session:
        application = review.get_application(session, reference=reference)
        return [
            (e.from_status, e.to_status, e.actor)
            for e in store.events_of(session, application_id=application.id)
        ]


async def confirm(domain: dict[str, Any], reference: str) -> tuple[dict[str, Any], list[Any]]:
    """The buyer presses "Yes, withdraw it"."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        domain,
        text="Yes, withdraw it",
        intent="affirm",
        slots={"application_reference": reference},
        customer=BUYER,
        active_loop=None,
    )
    events = await ActionWithdrawConfirm().run(dispatcher, tracker, domain)
    return slot_values(events), dispatcher.messages


def return_received(
    factory: sessionmaker, reference: str, before_commit: Callable[[], None] = lambda: None
) -> None:
    """The agent marks the return received, as the console does (the row locked first)."""
    with factory.begin() as session:
        application = review.get_application(session, reference=reference, for_update=True)
        review.review(
            session,
            application=application,
            action=review.ReviewAction.RETURN_RECEIVED,
            actor="agent:ana",
            now=NOW,
        )
        session.flush()
        before_commit()


async def test_a_withdrawal_confirmed_after_the_return_was_received_is_refused(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    reference = awaiting_return(session_factory)
    dispatcher = CollectingDispatcher()
    asked = make_tracker(
        domain, text=f"withdraw {reference}", intent="cancel_refund", customer=BUYER
    )
    await ActionWithdrawRefund().run(dispatcher, asked, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_confirm_withdraw"]

    return_received(session_factory, reference)
    slots, [message] = await confirm(domain, reference)

    assert (message["response"], message["reference"], message["status"]) == (
        "utter_withdraw_not_allowed",
        reference,
        "return received, refund on its way",
    )
    assert slots == {"application_reference": None}
    assert trail(session_factory, reference) == TRAIL_AFTER


async def test_a_withdrawal_racing_the_return_received_is_refused(
    domain: dict[str, Any], session_factory: sessionmaker, db_url: str
) -> None:
    """The agent's change commits while the buyer's withdrawal is being written.

    On PostgreSQL the buyer read ``awaiting_return`` and waits for the agent's row lock; the
    agent commits once that wait is seen. On SQLite the buyer's unit of work waits for the
    agent's to end before it reads anything.
    """
    reference = awaiting_return(session_factory)
    moved = threading.Event()
    failures: list[BaseException] = []

    def buyer_is_waiting_for_the_row() -> bool:
        with session_factory.begin() as session:
            waiting = session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND application_name = current_setting('application_name')"
                )
            ).scalar_one()
            return bool(waiting)

    def until_the_buyer_writes() -> None:
        moved.set()
        if db_url.startswith("sqlite"):
            time.sleep(0.3)
            return
        deadline = time.monotonic() + 10
        while not buyer_is_waiting_for_the_row():
            assert time.monotonic() < deadline, "the buyer never waited for the row"
            time.sleep(0.01)

    def agent() -> None:
        try:
            return_received(session_factory, reference, until_the_buyer_writes)
        except BaseException as e:
            failures.append(e)

    thread = threading.Thread(target=agent, daemon=True)
    thread.start()
    assert moved.wait(10)
    slots, [message] = await confirm(domain, reference)
    thread.join(10)

    assert failures == []
    assert (message["response"], message.get("status")) == (
        "utter_withdraw_not_allowed",
        "return received, refund on its way",
    )
    assert slots == {"application_reference": None}
    assert trail(session_factory, reference) == TRAIL_AFTER
