"""Questions in the middle of a refund that are about something the buyer was just told."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.conversation import ActionPolicyAnswer
from actions.status import ActionOrderStatus
from tests.actions.conftest import make_tracker
from tests.factories import submitted

pytestmark = pytest.mark.usefixtures("action_database")

REFUSAL = (
    "Return and refund isn't available for order 8041000000002703: "
    "the 15-day protection window after delivery has closed."
)


def refused_then(domain: dict[str, Any], said: str, **slots: Any) -> Any:
    tracker = make_tracker(
        domain,
        text=said,
        intent="ask_refund_policy",
        slots={"order_id": "8041000000002703", **slots},
        requested_slot="refund_method",
    )
    refusal = {
        "event": "bot",
        "text": REFUSAL,
        "metadata": {"utter_action": "utter_method_not_offered"},
    }
    tracker.events.insert(len(tracker.events) - 2, refusal)
    return tracker


async def test_why_not_after_a_refusal_repeats_that_refusal(domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    tracker = refused_then(
        domain, "why can't I return it?", policy_block="utter_method_not_offered"
    )
    await ActionPolicyAnswer().run(dispatcher, tracker, domain)
    assert [m["text"] for m in dispatcher.messages] == [REFUSAL]


async def test_other_policy_questions_after_a_refusal_get_their_own_answer(
    domain: dict[str, Any],
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = refused_then(
        domain, "who pays for return shipping?", policy_block="utter_method_not_offered"
    )
    await ActionPolicyAnswer().run(dispatcher, tracker, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_policy_return_shipping"]
    # Without a refusal to explain, "why" is a policy question like any other.
    plain = CollectingDispatcher()
    await ActionPolicyAnswer().run(plain, refused_then(domain, "why can't I return it?"), domain)
    assert [m.get("text") for m in plain.messages] != [REFUSAL]


async def test_a_status_question_naming_a_reference_is_about_that_refund(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id, reference = submitted(session_factory, "c-1", "k-1")
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        domain,
        text=f"before that, what's the status of {reference}?",
        intent="check_order_status",
        active_loop=None,
    )
    await ActionOrderStatus().run(dispatcher, tracker, domain)
    [answer] = dispatcher.messages
    assert reference in answer["text"]
    assert order_id in answer["text"]


async def test_a_policy_question_naming_an_order_starts_its_refund(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id, _ = submitted(session_factory, "c-1", "k-2")
    said = f"can I get my money back for the usb cable {order_id} without sending it back?"
    tracker = make_tracker(domain, text=said, intent="ask_refund_policy", active_loop=None)
    dispatcher = CollectingDispatcher()
    events = await ActionPolicyAnswer().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []
    assert [(e["event"], e.get("name")) for e in events] == [("followup", "refund_form")]
    # Without an order it is a question about the policy.
    general = make_tracker(
        domain,
        text="can I get my money back without sending it back?",
        intent="ask_refund_policy",
        active_loop=None,
    )
    answered = CollectingDispatcher()
    assert await ActionPolicyAnswer().run(answered, general, domain) == []
    [answer] = answered.messages
    assert answer["response"].startswith("utter_policy_")


async def test_change_the_reason_at_the_read_back_is_a_change_whatever_nlu_read(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    from actions.refund_form import ValidateRefundForm
    from tests.actions.conftest import slot_values

    order_id, _ = submitted(session_factory, "c-1", "k-3")
    draft = {
        "order_id": order_id,
        "refund_method": "return_and_refund",
        "refund_amount": "10.00",
        "refund_reason_category": "quality_problem",
        "refund_reason": "it flickers all the time and the switch is loose",
        "refund_draft_id": "d-1",
    }
    tracker = make_tracker(
        domain,
        text="change the reason",
        intent="bot_challenge",
        slots=draft,
        requested_slot="refund_confirmed",
    )
    events = await ValidateRefundForm().run(CollectingDispatcher(), tracker, domain)
    slots = slot_values(events)
    assert slots["refund_reason"] is None
    assert slots["refund_reason_category"] is None
    assert slots.get("refund_amount", "10.00") == "10.00"  # the amount stays


async def test_a_shop_question_while_asked_for_the_amount_is_not_an_answer(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    from actions.refund_form import ValidateRefundForm

    order_id, _ = submitted(session_factory, "c-1", "k-4")
    tracker = make_tracker(
        domain,
        text="can I pay with Apple Pay next time?",
        intent="inform",
        slots={"order_id": order_id, "refund_method": "return_and_refund"},
        requested_slot="refund_amount",
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateRefundForm().run(dispatcher, tracker, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_out_of_scope"]
    assert {e["name"] for e in events if e["event"] == "slot"} == {"policy_block"}


async def test_can_i_send_it_back_asks_for_the_order_the_chat_is_about(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id, _ = submitted(session_factory, "c-1", "k-5")
    tracker = make_tracker(
        domain,
        text="so can I send it back for a refund?",
        intent="ask_refund_policy",
        slots={"order_id": order_id},
        active_loop=None,
    )
    events = await ActionPolicyAnswer().run(CollectingDispatcher(), tracker, domain)
    assert [(e["event"], e.get("name")) for e in events] == [("followup", "refund_form")]
    # With no order in the conversation it is a policy question.
    general = make_tracker(
        domain,
        text="so can I send it back for a refund?",
        intent="ask_refund_policy",
        active_loop=None,
    )
    answered = CollectingDispatcher()
    assert await ActionPolicyAnswer().run(answered, general, domain) == []
    assert answered.messages


async def test_an_order_question_that_asks_for_a_refund_starts_it(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id, _ = submitted(session_factory, "c-1", "k-4")
    said = f"order {order_id} still hasn't shipped, I want to cancel it"
    tracker = make_tracker(domain, text=said, intent="check_order_status", active_loop=None)
    dispatcher = CollectingDispatcher()
    events = await ActionOrderStatus().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []
    assert [(e["event"], e.get("name")) for e in events] == [("followup", "refund_form")]
    # Telling what happened and asking where it is stays a question about the order.
    for question in (
        f"order {order_id} still hasn't shipped, I want to know why",
        f"order {order_id} still hasn't shipped, when will it come?",
    ):
        asked = make_tracker(domain, text=question, intent="check_order_status", active_loop=None)
        answered = CollectingDispatcher()
        await ActionOrderStatus().run(answered, asked, domain)
        [answer] = answered.messages
        assert order_id in answer["text"]
