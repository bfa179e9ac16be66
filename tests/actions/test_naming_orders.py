"""A buyer who names an order or an application in words: another order than the draft's, an
item's name, "the last one", two orders in one message, a reference in a status question."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker

from actions.refund_form import ValidateRefundForm
from actions.refund_questions import ActionAskRefundAmount
from actions.status import ActionOrderStatus, ActionRefundStatus
from actions.withdraw import ActionWithdrawRefund
from bot.clock import utcnow
from bot.refunds import store
from bot.refunds.enums import OrderStatus, ReasonCategory, RefundMethod
from bot.settings import PolicySettings
from tests.actions.conftest import draft, new_order, run
from tests.factories import make_order, submitted

pytestmark = pytest.mark.usefixtures("action_database")


async def test_a_question_about_another_order_leaves_the_draft_alone(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    lamp = new_order(session_factory, total=Decimal("42.50"))
    other = new_order(session_factory, status=OrderStatus.SHIPPED)
    slots, said = await run(
        ValidateRefundForm(),
        domain,
        text=f"where is my other order {other}?",
        intent="check_order_status",
        entities={"order_id": other},
        slots=draft(lamp, refund_method="return_and_refund"),
        requested_slot="refund_amount",
    )
    # Nothing taken: the form rejects the message and a digression rule answers it.
    assert said == []
    assert "order_id" not in slots


async def test_another_order_named_in_the_form_moves_the_draft_only_on_yes(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    lamp = new_order(session_factory, total=Decimal("42.50"))
    other = new_order(session_factory, total=Decimal("30.00"))
    slots, said = await run(
        ValidateRefundForm(),
        domain,
        text=f"it's for order {other}",
        entities={"order_id": other},
        slots=draft(lamp, refund_method="return_and_refund"),
        candidates={"order_id": other},
        requested_slot="refund_amount",
    )
    assert len(said) == 1, said
    [question] = said
    assert lamp in question["text"]
    assert other in question["text"]
    assert [b["payload"] for b in question["buttons"]] == ["/affirm", "/deny"]
    assert (slots["order_id"], slots["pending_order_id"]) == (lamp, other)
    # Asking the amount meanwhile would be a second question in the same turn.
    tracker_slots = draft(lamp, refund_method="return_and_refund", pending_order_id=other)
    _, asked = await run(
        ActionAskRefundAmount(), domain, slots=tracker_slots, requested_slot="refund_amount"
    )
    assert asked == []

    slots, said = await run(
        ValidateRefundForm(),
        domain,
        text="yes",
        intent="affirm",
        slots=tracker_slots,
        requested_slot="refund_amount",
    )
    assert [m["text"] for m in said] == [f"Order {other} (Test item)."]
    assert (slots["order_id"], slots["pending_order_id"]) == (other, None)

    slots, said = await run(
        ValidateRefundForm(),
        domain,
        text="no, keep it",
        intent="deny",
        slots=tracker_slots,
        requested_slot="refund_amount",
    )
    assert said == []
    assert slots["pending_order_id"] is None
    assert slots.get("order_id", lamp) == lamp

    # Said plainly, it moves without a question, and the buyer is told where it went.
    slots, said = await run(
        ValidateRefundForm(),
        domain,
        text=f"no wait, the other order, {other}",
        entities={"order_id": other},
        slots=draft(lamp, refund_method="return_and_refund"),
        requested_slot="refund_amount",
    )
    assert [m["text"] for m in said] == [f"Order {other} (Test item)."]
    assert slots["order_id"] == other


async def test_status_questions_answer_what_they_name_never_a_stale_order(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    first_order, first = submitted(session_factory, "c-1", "k-1")
    _, second = submitted(session_factory, "c-1", "k-2")
    stale = {"order_id": "8041235566701299"}
    _, [message] = await run(
        ActionRefundStatus(),
        domain,
        text="show me all my refund applications",
        intent="check_refund_status",
        slots=stale,
        active_loop=None,
    )
    assert first in message["text"]
    assert second in message["text"]
    _, [message] = await run(
        ActionRefundStatus(),
        domain,
        text=f"any news on {second}?",
        intent="check_refund_status",
        slots={"order_id": first_order},
        active_loop=None,
    )
    assert second in message["text"]
    assert first not in message["text"]
    _, [message] = await run(
        ActionWithdrawRefund(),
        domain,
        text="I want to withdraw my refund request",
        intent="cancel_refund",
        slots={"order_id": first_order},
        active_loop=None,
    )
    assert message["response"] == "utter_which_application"
    payloads = " ".join(b["payload"] for b in message["buttons"])
    assert first in payloads
    assert second in payloads


async def test_an_order_is_named_by_its_item_or_as_the_last_one(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    with session_factory.begin() as session:
        now = utcnow()
        lamp = make_order(
            session,
            customer_id="c-1",
            now=now,
            items=[("L1", "Desk lamp with USB port", 1, Decimal("42.50"))],
        ).id
        make_order(
            session,
            customer_id="c-1",
            now=now,
            items=[("Y1", "Yoga mat", 1, Decimal("20.00"))],
        )
    _, [message] = await run(
        ActionOrderStatus(),
        domain,
        text="where is the lamp?",
        intent="check_order_status",
        active_loop=None,
    )
    assert message["text"].startswith(f"Order {lamp} (Desk lamp with USB port)")


async def test_the_order_question_is_answered_with_the_items_name(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    with session_factory.begin() as session:
        lamp = make_order(
            session,
            customer_id="c-1",
            now=utcnow(),
            items=[("L1", "Desk lamp with USB port", 1, Decimal("42.50"))],
        ).id
    slots, said = await run(
        ValidateRefundForm(), domain, text="the desk lamp", requested_slot="order_id"
    )
    # The buyer is told which order the words picked.
    assert [m["text"] for m in said] == [f"Order {lamp} (Desk lamp with USB port)."]
    assert slots["order_id"] == lamp


async def test_the_application_to_withdraw_is_picked_by_its_item(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    _, first = submitted(session_factory, "c-1", "k-w1")
    with session_factory.begin() as session:
        lamp = make_order(
            session,
            customer_id="c-1",
            now=utcnow(),
            items=[("L1", "Desk lamp with USB port", 1, Decimal("42.50"))],
        )
        application = store.submit_application(
            session,
            customer_id="c-1",
            order_id=lamp.id,
            method=RefundMethod.RETURN_AND_REFUND,
            amount=Decimal("10.00"),
            reason="the switch is loose and the lamp flickers",
            reason_category=ReasonCategory.QUALITY_PROBLEM,
            idempotency_key="k-w2",
            conversation_id=None,
            now=utcnow(),
            settings=PolicySettings(),
        ).application
        second = application.reference
    slots, [message] = await run(
        ActionWithdrawRefund(), domain, text="the lamp one", active_loop=None
    )
    assert message["response"] == "utter_confirm_withdraw"
    assert slots["application_reference"] == second
    assert first != second


async def test_two_orders_in_one_message_are_taken_one_at_a_time(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    from actions.refund_questions import ActionAskRefundFormOrderId

    cable = new_order(session_factory, total=Decimal("12.00"))
    speaker = new_order(session_factory, status=OrderStatus.SHIPPED)
    said = f"I want refunds for {cable} and {speaker}"
    slots, [question] = await run(
        ValidateRefundForm(),
        domain,
        text=said,
        intent="request_refund",
        entities={"order_id": cable},
        active_loop=None,
    )
    assert "order_id" not in slots
    # Both are kept, so the other one is offered once the first is submitted.
    assert slots["next_order_ids"] == [cable, speaker]
    assert cable in question["text"]
    assert speaker in question["text"]
    assert [b["payload"] for b in question["buttons"]] == [
        f'/inform{{"order_id":"{cable}"}}',
        f'/inform{{"order_id":"{speaker}"}}',
    ]
    # The form's own order question would be a second question in the same turn.
    _, asked = await run(ActionAskRefundFormOrderId(), domain, text=said, requested_slot="order_id")
    assert asked == []
    _, [asked_plainly] = await run(
        ActionAskRefundFormOrderId(), domain, text="I want a refund", requested_slot="order_id"
    )
    assert asked_plainly["response"] == "utter_ask_order_id"
