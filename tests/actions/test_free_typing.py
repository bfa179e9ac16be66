"""A buyer who types instead of pressing buttons: asides, typed answers, amounts, repeats.

Orders and applications named in words: test_naming_orders.py.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.aftercare import ActionUnprompted
from actions.conversation import ActionNotUnderstood
from actions.refund_form import ValidateRefundForm
from actions.refund_questions import (
    ActionAskRefundConfirmed,
    ActionAskRefundMethod,
)
from actions.status import ActionRefundStatus
from bot.refunds import reading
from bot.refunds.enums import OrderStatus
from tests.actions.conftest import draft, make_tracker, new_order, responses, run

pytestmark = pytest.mark.usefixtures("action_database")


@pytest.mark.parametrize("answer", ["all of it", "yes", "ok", "that one please"])
async def test_the_only_method_offered_is_picked_by_a_typed_answer(
    domain: dict[str, Any], session_factory: sessionmaker, answer: str
) -> None:
    order_id = new_order(
        session_factory, status=OrderStatus.AWAITING_SHIPMENT, total=Decimal("20.00")
    )
    slots, said = await run(
        ValidateRefundForm(),
        domain,
        text=answer,
        intent="affirm" if answer in ("yes", "ok") else "inform",
        slots=draft(order_id),
        requested_slot="refund_method",
    )
    assert said == []
    assert slots["refund_method"] == "immediate_refund"
    if answer == "all of it":
        assert slots["refund_amount"] == "20.00"


async def test_methods_are_picked_by_position(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("15.00"))
    _, [question] = await run(
        ActionAskRefundMethod(), domain, slots=draft(order_id), requested_slot="refund_method"
    )
    offered = [
        json.loads(b["payload"][len("/inform") :])["refund_method"] for b in question["buttons"]
    ]
    assert len(offered) == 2
    for answer, expected in (("the second one", offered[1]), ("the first", offered[0])):
        slots, _ = await run(
            ValidateRefundForm(),
            domain,
            text=answer,
            slots=draft(order_id),
            requested_slot="refund_method",
        )
        assert slots["refund_method"] == expected


async def test_the_problem_told_with_the_request_is_not_asked_again(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("42.50"))
    slots, _ = await run(
        ValidateRefundForm(),
        domain,
        text=f"I want to return order {order_id}, the lamp arrived broken and flickers",
        intent="request_refund",
        entities={"order_id": order_id},
        candidates={"order_id": order_id},
        active_loop="refund_form",
    )
    assert slots["refund_reason"] == "the lamp arrived broken and flickers"
    assert slots["refund_reason_category"] == "damaged"
    assert slots["refund_method"] == "return_and_refund"


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("twelve fifty", Decimal("12.50")),
        ("twenty dollars", Decimal("20")),
        ("ten dollars and five cents", Decimal("10.05")),
    ],
)
def test_amounts_in_words_are_read(said: str, expected: Decimal) -> None:
    assert reading.parse_amount(said).value == expected
    assert reading.number_from_words("that one") is None


@pytest.mark.parametrize("said", ["the rest", "whatever is left", "all of it"])
def test_the_rest_is_everything_left(said: str) -> None:
    assert reading.parse_amount(said).fraction == Decimal("1")


async def test_no_at_the_read_back_asks_what_to_change_once(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory)
    filled = draft(
        order_id,
        refund_method="no_return_refund",
        refund_amount="10.00",
        refund_reason="it is too small",
        requested_slot="refund_confirmed",
    )
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        domain, text="no", intent="deny", slots=filled, requested_slot="refund_confirmed"
    )
    await ValidateRefundForm().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_what_to_change"]
    # "no" to the read-back is answered by the question alone.
    _, read_back = await run(
        ActionAskRefundConfirmed(),
        domain,
        text="no",
        intent="deny",
        slots=filled,
        requested_slot="refund_confirmed",
    )
    assert read_back == []


async def test_an_explanation_is_not_repeated_when_the_question_is(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, status=OrderStatus.SHIPPED)
    tracker = make_tracker(domain, slots=draft(order_id), requested_slot="refund_method")
    dispatcher = CollectingDispatcher()
    await ActionAskRefundMethod().run(dispatcher, tracker, domain)
    [first] = dispatcher.messages
    assert "isn't available" in first["text"]
    tracker.events.append({"event": "bot", "text": first["text"]})
    dispatcher = CollectingDispatcher()
    await ActionAskRefundMethod().run(dispatcher, tracker, domain)
    [again] = dispatcher.messages
    assert "isn't available" not in again["text"]
    assert again["buttons"] == first["buttons"]


async def test_repeated_messages_the_bot_cannot_help_with_bring_in_a_person(
    domain: dict[str, Any],
) -> None:
    tracker = make_tracker(domain, text="can I pay with Apple Pay?", intent="out_of_scope")
    dispatcher = CollectingDispatcher()
    await ActionNotUnderstood().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_out_of_scope"]
    user = tracker.events[-1]
    for said, intent in (("zzkk qwop", "out_of_scope"), ("blorp fnarg", "nlu_fallback")):
        tracker.events.append(
            dict(user, text=said, parse_data={"intent": {"name": intent}, "text": said})
        )
    dispatcher = CollectingDispatcher()
    await ActionNotUnderstood().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_default", "handoff"]


async def test_a_detail_naming_an_order_and_money_starts_the_refund_with_it(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, status=OrderStatus.SHIPPED, total=Decimal("30.00"))
    dispatcher = CollectingDispatcher()
    said = f"need 20 dollars back on {order_id}, keep the item"
    tracker = make_tracker(domain, text=said, active_loop=None)
    assert await ActionUnprompted().run(dispatcher, tracker, domain) == [
        {"event": "followup", "timestamp": None, "name": "refund_form"}
    ]
    slots, asked = await run(
        ValidateRefundForm(),
        domain,
        text=said,
        entities={"order_id": order_id},
        candidates={"order_id": order_id},
    )
    assert asked == []
    assert slots["refund_method"] == "no_return_refund"
    assert slots["refund_amount"] == "20.00"


async def test_how_long_with_nothing_applied_for_is_a_policy_question(
    domain: dict[str, Any],
) -> None:
    _, [message] = await run(
        ActionRefundStatus(),
        domain,
        text="how long until I get my money back?",
        intent="check_refund_status",
        active_loop=None,
    )
    assert message["response"] == "utter_policy_deadlines"


async def test_a_no_to_another_question_still_gets_the_read_back(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory)
    filled = draft(
        order_id,
        refund_method="no_return_refund",
        refund_amount="10.00",
        refund_reason="it does not charge my phone",
        requested_slot="refund_reason",
    )
    _, [read_back] = await run(
        ActionAskRefundConfirmed(),
        domain,
        text="it does not charge my phone",
        intent="deny",
        slots=filled,
        requested_slot="refund_confirmed",
    )
    assert "Shall I submit it?" in read_back["text"]


async def test_a_shop_question_that_is_not_about_refunds_is_out_of_scope(
    domain: dict[str, Any],
) -> None:
    from actions.conversation import ActionPolicyAnswer

    for question, loop, answer in (
        ("can I pay with Apple Pay?", None, "utter_out_of_scope"),
        ("what if my package never arrives?", None, "utter_policy_overview"),
        # Inside a refund, a policy question is about refunds whatever its words.
        ("what's the difference between these two?", "refund_form", "utter_policy_overview"),
        ("can I pay with Apple Pay next time?", "refund_form", "utter_out_of_scope"),
    ):
        _, [message] = await run(
            ActionPolicyAnswer(),
            domain,
            text=question,
            intent="ask_refund_policy",
            active_loop=loop,
        )
        assert message["response"] == answer


async def test_an_amount_given_before_the_method_is_acknowledged(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(
        session_factory, status=OrderStatus.AWAITING_SHIPMENT, total=Decimal("18.90")
    )
    _, [question] = await run(
        ActionAskRefundMethod(),
        domain,
        slots=draft(order_id, refund_amount_text="$15"),
        requested_slot="refund_method",
    )
    assert "I've noted the amount you asked for: 15.00 USD." in question["text"]


async def test_words_beat_a_misread_intent(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    from actions.conversation import ActionNotUnderstood

    strap = new_order(session_factory, status=OrderStatus.CANCELLED)
    # A request read as a status question starts the refund with its order.
    tracker = make_tracker(
        domain,
        text=f"refund for the watch strap {strap}",
        intent="check_refund_status",
        active_loop=None,
    )
    events = await ActionRefundStatus().run(CollectingDispatcher(), tracker, domain)
    assert events == [{"event": "followup", "timestamp": None, "name": "refund_form"}]
    # The form it starts takes the order from the words, untagged as they were.
    _, said = await run(
        ValidateRefundForm(),
        domain,
        text=f"refund for the watch strap {strap}",
        intent="check_refund_status",
        active_loop=None,
    )
    assert (said[0]["response"], said[0]["order_id"]) == ("utter_order_has_no_options", strap)
    _, messages = await run(
        ActionRefundStatus(),
        domain,
        text="I have a question for a human about the refund",
        intent="check_refund_status",
        active_loop=None,
    )
    assert responses_of(messages) == ["utter_human_requested", "handoff"]
    _, [message] = await run(
        ActionNotUnderstood(),
        domain,
        text="what's the difference between these two?",
        intent="out_of_scope",
    )
    assert message["response"] == "utter_policy_overview"


def responses_of(messages: list[dict[str, Any]]) -> list[Any]:
    dispatcher = CollectingDispatcher()
    dispatcher.messages = messages
    return responses(dispatcher)
