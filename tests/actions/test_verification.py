"""Anonymous buyers prove an order with its e-mail: every check counted, guessing paused.

Each guess runs the order status form's validator as Rasa does: the order number, then (when
asked) the e-mail, on the real database. Failures are counted per conversation, per order and
per client address across the order/e-mail pair, so a wrong e-mail clearing the order slot
starts nothing afresh.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from actions.refund_form import ValidateRefundForm
from actions.status import ValidateOrderStatusForm
from bot import contract
from bot.clock import utcnow
from bot.refunds import verification
from bot.refunds.models import VerificationAttempt
from tests.actions.conftest import make_tracker, slot_values
from tests.factories import make_order

pytestmark = pytest.mark.usefixtures("action_database")

ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "198.51.100.20"
UNKNOWN = "8041235566790001"  # no such order
NOT_FOUND = "utter_order_not_found_anonymous"
OFFER = "utter_offer_human"
HANDOFF = "handoff"
PAUSED_ORDER = "utter_checks_paused_order"
PAUSED_ADDRESS = "utter_checks_paused_address"


@dataclass
class Guess:
    """What one guess told the buyer, and the slots it left."""

    told: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> str | None:
        return self.slots.get("verified_customer_id")


def names(messages: list[dict[str, Any]]) -> list[str]:
    return [
        m.get("response") or m.get("text") or ",".join(sorted(m.get("custom") or {}))
        for m in messages
    ]


async def step(domain: dict[str, Any], validator: Any, guess: Guess, **tracker_args: Any) -> None:
    dispatcher = CollectingDispatcher()
    events = await validator.run(dispatcher, make_tracker(domain, **tracker_args), domain)
    guess.slots = slot_values(events)
    guess.messages += dispatcher.messages
    guess.told += names(dispatcher.messages)


async def guess(
    domain: dict[str, Any],
    order_id: str,
    email: str,
    *,
    sender: str,
    address: str | None = ADDRESS,
    validator: Any = None,
    form: str = "order_status_form",
) -> Guess:
    """Give the order number, then the e-mail if it is asked for, in conversation ``sender``."""
    validator = validator or ValidateOrderStatusForm()
    buyer = {"customer": None, "active_loop": form, "sender": sender, "address": address}
    result = Guess()
    await step(
        domain,
        validator,
        result,
        text=order_id,
        entities={"order_id": order_id},
        candidates={"order_id": order_id},
        requested_slot="order_id",
        **buyer,
    )
    if result.slots.get("order_id"):  # accepted: Rasa's form asks for the e-mail next
        await email_step(domain, order_id, email, result, validator=validator, **buyer)
    return result


async def email_step(
    domain: dict[str, Any],
    order_id: str,
    email: str,
    result: Guess | None = None,
    *,
    validator: Any = None,
    **buyer: Any,
) -> Guess:
    """Answer the e-mail question of a conversation whose order number was accepted."""
    result = result or Guess()
    await step(
        domain,
        validator or ValidateOrderStatusForm(),
        result,
        text=email,
        slots={"order_id": order_id},
        requested_slot="customer_email",
        **buyer,
    )
    return result


def new_order(session_factory: sessionmaker, email: str) -> str:
    with session_factory.begin() as session:
        return str(make_order(session, customer_email=email, now=utcnow()).id)


def attempts(session_factory: sessionmaker) -> list[tuple[str, str, str | None, bool]]:
    with session_factory.begin() as session:
        return [
            (a.order_id, a.conversation_id, a.client_address, a.succeeded)
            for a in session.execute(
                select(VerificationAttempt).order_by(VerificationAttempt.id)
            ).scalars()
        ]


async def test_the_right_email_proves_the_order_and_the_check_is_recorded(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, "zoe@example.com")
    result = await guess(domain, order_id, "zoe@example.com", sender="conv-zoe")
    assert result.told == []
    assert result.verified is not None
    assert attempts(session_factory) == [(order_id, "conv-zoe", ADDRESS, True)]


async def test_fifty_guesses_from_one_address_then_the_right_email_is_refused(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, "ben@example.com")
    told = []
    for conversation in range(10):
        for n in range(5):
            result = await guess(
                domain,
                order_id,
                f"guess{conversation}-{n}@example.com",
                sender=f"conv-{conversation}",
            )
            assert result.verified is None
            told.append(result.told)
    # The first conversation is handed to a person at its third failure, and stays with one.
    assert told[:5] == [
        [NOT_FOUND],
        [NOT_FOUND],
        [NOT_FOUND, OFFER, HANDOFF],
        [OFFER, HANDOFF],
        [OFFER, HANDOFF],
    ]
    # The order's fifth failure, from another conversation, pauses its checks for everyone.
    assert told[5:8] == [[NOT_FOUND], [NOT_FOUND, PAUSED_ORDER], [PAUSED_ORDER]]
    assert all(t == [PAUSED_ORDER] for t in told[8:])
    assert len(attempts(session_factory)) == 5

    # The 51st guess, with the right e-mail, from a new conversation: refused before the e-mail
    # is asked for ...
    result = await guess(domain, order_id, "ben@example.com", sender="conv-51")
    assert (result.told, result.verified) == ([PAUSED_ORDER], None)
    assert result.slots["order_id"] is None  # so the form asks for an order number again
    # ... and refused by the e-mail question of a conversation that got there before the pause.
    result = await email_step(
        domain,
        order_id,
        "ben@example.com",
        customer=None,
        active_loop="order_status_form",
        sender="conv-early",
        address=ADDRESS,
    )
    assert (result.told, result.verified) == ([PAUSED_ORDER], None)
    assert (result.slots["order_id"], result.slots["customer_email"]) == (None, None)
    [message] = result.messages
    assert message["order_id"] == order_id
    assert message["wait"] == "about 60 minutes"
    assert not any(succeeded for *_, succeeded in attempts(session_factory))


async def test_one_order_guessed_from_many_addresses_is_paused_for_every_address(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, "ben@example.com")
    other_order = new_order(session_factory, "ana@example.com")
    for n in range(5):
        result = await guess(
            domain,
            order_id,
            f"guess{n}@example.com",
            sender=f"conv-{n}",
            address=f"192.0.2.{n + 1}",
        )
        assert result.told == ([NOT_FOUND, PAUSED_ORDER] if n == 4 else [NOT_FOUND])

    result = await guess(domain, order_id, "ben@example.com", sender="conv-6", address="192.0.2.99")
    assert (result.told, result.verified) == ([PAUSED_ORDER], None)
    # Telegram brings no address: the order's pause holds there too.
    result = await guess(domain, order_id, "ben@example.com", sender="tg-1", address=None)
    assert (result.told, result.verified) == ([PAUSED_ORDER], None)
    # The addresses themselves are not refused: another order is checked as usual.
    result = await guess(
        domain, other_order, "ana@example.com", sender="conv-other", address="192.0.2.1"
    )
    assert (result.told, result.verified is not None) == ([], True)


async def test_an_address_with_too_many_failures_is_refused_for_every_order(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, "ben@example.com")
    for n in range(10):
        result = await guess(domain, f"80412355667{n:05d}", "ben@example.com", sender=f"conv-{n}")
        assert result.told == ([NOT_FOUND, PAUSED_ADDRESS] if n == 9 else [NOT_FOUND])

    result = await guess(domain, order_id, "ben@example.com", sender="conv-10")
    assert (result.told, result.verified) == ([PAUSED_ADDRESS], None)
    [message] = result.messages
    assert message["wait"] == "about 60 minutes"
    # Another address proves the same order at once.
    result = await guess(
        domain, order_id, "ben@example.com", sender="conv-11", address=OTHER_ADDRESS
    )
    assert (result.told, result.verified is not None) == ([], True)


async def test_a_paused_order_that_does_not_exist_answers_like_one_that_does(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    real = new_order(session_factory, "ben@example.com")
    answers = {}
    for order_id in (real, UNKNOWN):
        told = [
            (
                await guess(
                    domain, order_id, "x@example.com", sender=f"{order_id}-{n}", address=None
                )
            ).told
            for n in range(5)
        ]
        assert told == [[NOT_FOUND]] * 4 + [[NOT_FOUND, PAUSED_ORDER]]
        result = await guess(
            domain, order_id, "ben@example.com", sender=f"{order_id}-last", address=None
        )
        [answers[order_id]] = result.messages
        answers[order_id].pop("order_id")
    assert answers[real] == answers[UNKNOWN]


async def test_wrong_emails_in_one_conversation_bring_in_a_person(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    """The order number given again after each wrong e-mail does not start the count afresh."""
    order_id = new_order(session_factory, "ben@example.com")
    told = []
    for n in range(3):
        result = await guess(domain, order_id, f"guess{n}@example.com", sender="tg", address=None)
        told.append(result.told)
    assert told == [[NOT_FOUND], [NOT_FOUND], [NOT_FOUND, OFFER, HANDOFF]]
    offer, request = result.messages[1:]
    assert offer["field"] == "order number and e-mail"
    assert request["custom"] == contract.handoff_request(contract.HandoffReason.REPEATED_FAILURE)

    # Back with the bot later in the hour: no more checks in this conversation, right e-mail or
    # not; a person is brought in again.
    result = await guess(domain, order_id, "ben@example.com", sender="tg", address=None)
    assert (result.told, result.verified) == ([OFFER, HANDOFF], None)
    result = await email_step(
        domain,
        order_id,
        "ben@example.com",
        customer=None,
        active_loop="order_status_form",
        sender="tg",
    )
    assert (result.told, result.verified) == ([OFFER, HANDOFF], None)


async def test_checks_resume_when_the_failures_leave_the_window(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, "ben@example.com")

    def failed(at: dt.datetime, n: int) -> None:
        with session_factory.begin() as session:
            for i in range(n):
                verification.record(
                    session,
                    order_id=order_id,
                    conversation_id=f"earlier-{at.isoformat()}-{i}",
                    client_address=None,
                    succeeded=False,
                    now=at,
                )

    failed(utcnow() - dt.timedelta(minutes=61), 5)
    result = await guess(domain, order_id, "ben@example.com", sender="conv-later")
    assert (result.told, result.verified is not None) == ([], True)

    failed(utcnow() - dt.timedelta(minutes=30), 5)
    result = await guess(domain, order_id, "ben@example.com", sender="conv-paused")
    assert (result.told, result.verified) == ([PAUSED_ORDER], None)
    assert result.messages[0]["wait"] == "about 30 minutes"


async def test_the_refund_form_checks_the_same_way(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, "ben@example.com")
    for n in range(5):
        await guess(
            domain,
            order_id,
            f"guess{n}@example.com",
            sender=f"status-{n}",
            address=f"192.0.2.{n + 1}",
        )
    result = await guess(
        domain,
        order_id,
        "ben@example.com",
        sender="refund",
        validator=ValidateRefundForm(),
        form="refund_form",
    )
    assert (result.told, result.verified) == ([PAUSED_ORDER], None)
    assert (result.slots["order_id"], result.slots["customer_email"]) == (None, None)
