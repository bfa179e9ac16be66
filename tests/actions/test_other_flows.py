from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.conversation import ActionPolicyAnswer
from actions.status import ActionOrderStatus, ActionRefundStatus
from actions.withdraw import ActionWithdrawConfirm, ActionWithdrawRefund
from bot.clock import utcnow
from bot.refunds import store
from bot.refunds.enums import OrderStatus
from tests.actions.conftest import make_tracker, responses, slot_values
from tests.factories import make_order, submitted


async def run(action: Any, domain: dict[str, Any], **tracker_args: Any) -> tuple[dict, list]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker(domain, **tracker_args), domain)
    return slot_values(events), dispatcher.messages


async def test_refund_status_lists_only_the_buyers_own(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    mine_order, mine = submitted(session_factory, "c-1", "k-mine")
    _, theirs = submitted(session_factory, "c-2", "k-theirs")
    _, messages = await run(ActionRefundStatus(), domain, active_loop=None)
    [message] = messages
    assert mine in message["text"]
    assert f"for order {mine_order}" in message["text"]
    assert "waiting for the merchant's review" in message["text"]
    assert theirs not in message["text"]

    _, messages = await run(ActionRefundStatus(), domain, active_loop=None, customer=None)
    assert responses_of(messages) == ["utter_need_identity"]


def responses_of(messages: list[dict[str, Any]]) -> list[Any]:
    dispatcher = CollectingDispatcher()
    dispatcher.messages = messages
    return responses(dispatcher)


async def test_order_status_of_a_named_order_and_of_all(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    now = utcnow()
    with session_factory.begin() as session:
        shipped = make_order(session, customer_id="c-1", status=OrderStatus.SHIPPED, now=now)
        waiting = make_order(
            session, customer_id="c-1", status=OrderStatus.AWAITING_SHIPMENT, now=now
        )
        theirs = make_order(session, customer_id="c-2", now=now)
        shipped_id, waiting_id, theirs_id = shipped.id, waiting.id, theirs.id
    _, [message] = await run(
        ActionOrderStatus(), domain, active_loop=None, candidates={"order_id": shipped_id}
    )
    assert message["text"].startswith(f"Order {shipped_id} (Test item): shipped on ")
    _, [message] = await run(ActionOrderStatus(), domain, active_loop=None)
    assert shipped_id in message["text"]
    assert f"{waiting_id} (Test item): waiting to be shipped" in message["text"]
    _, [message] = await run(
        ActionOrderStatus(), domain, active_loop=None, candidates={"order_id": theirs_id}
    )
    assert message["response"] == "utter_order_not_found"


async def test_withdraw_asks_then_withdraws_with_an_audited_event(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    _, reference = submitted(session_factory, "c-1", "k-1")
    slots, [message] = await run(
        ActionWithdrawRefund(), domain, text="cancel my refund", intent="cancel_refund"
    )
    assert message["response"] == "utter_confirm_withdraw"
    assert slots == {"application_reference": reference}

    slots, [message] = await run(
        ActionWithdrawConfirm(),
        domain,
        text="yes",
        intent="affirm",
        slots={"application_reference": reference},
    )
    assert (message["response"], message["reference"]) == ("utter_withdrawn", reference)
    with session_factory.begin() as session:
        application = store.find_application(session, reference=reference, customer_id="c-1")
        assert application.status == "withdrawn"
        last = store.events_of(session, application_id=application.id)[-1]
        assert (last.from_status, last.to_status, last.actor) == (
            "pending_review",
            "withdrawn",
            "customer:c-1",
        )

    _, [message] = await run(ActionWithdrawRefund(), domain, text="cancel it again")
    assert message["response"] == "utter_nothing_to_withdraw"


async def test_withdrawing_someone_elses_application_is_not_found(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    _, theirs = submitted(session_factory, "c-2", "k-2")
    slots, [message] = await run(
        ActionWithdrawRefund(), domain, text=f"withdraw {theirs}", intent="cancel_refund"
    )
    assert message["response"] == "utter_application_not_found"
    assert slots == {"application_reference": None}


async def test_several_applications_are_offered_as_buttons(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    _, first = submitted(session_factory, "c-1", "k-a")
    _, second = submitted(session_factory, "c-1", "k-b")
    _, [message] = await run(ActionWithdrawRefund(), domain, intent="cancel_refund")
    assert message["response"] == "utter_which_application"
    payloads = [b["payload"] for b in message["buttons"]]
    assert payloads == [
        f'/cancel_refund{{"application_reference":"{ref}"}}' for ref in (second, first)
    ]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("who pays for shipping it back?", "utter_policy_return_shipping"),
        ("how many days do I have to return it", "utter_policy_deadlines"),
        ("my parcel is late, do I get compensation", "utter_policy_compensation"),
        ("can I get a partial refund", "utter_policy_partial"),
        ("how do refunds work", "utter_policy_overview"),
    ],
)
async def test_policy_questions_get_the_answer_they_ask_for(
    domain: dict[str, Any], question: str, answer: str
) -> None:
    _, [message] = await run(ActionPolicyAnswer(), domain, text=question, active_loop=None)
    assert message["response"] == answer
    assert message["protection_days"] == "15"
    assert message["no_return_threshold"] == "20.00"


async def test_second_unclear_message_in_a_form_brings_in_a_person(
    domain: dict[str, Any],
) -> None:
    from actions.conversation import ActionNotUnderstood

    first = make_tracker(domain, text="blorp", intent="nlu_fallback")
    dispatcher = CollectingDispatcher()
    await ActionNotUnderstood().run(dispatcher, first, domain)
    assert responses(dispatcher) == ["utter_ask_rephrase"]

    second = make_tracker(domain, text="zzkk", intent="nlu_fallback")
    second.events.insert(2, dict(second.events[2], text="blorp"))
    dispatcher = CollectingDispatcher()
    await ActionNotUnderstood().run(dispatcher, second, domain)
    assert responses(dispatcher) == ["utter_default", "handoff"]
    assert dispatcher.messages[1]["custom"] == {"handoff": {"reason": "repeated_failure"}}


async def test_a_person_asked_for_after_a_policy_limit_is_needed_for_the_policy(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    from actions.conversation import ActionRequestHuman
    from actions.refund_form import ValidateRefundForm

    with session_factory.begin() as session:
        order = make_order(session, customer_id="c-1", status=OrderStatus.SHIPPED, now=utcnow())
        order_id = order.id
    dispatcher = CollectingDispatcher()
    events = await ValidateRefundForm().run(
        dispatcher,
        make_tracker(
            domain,
            text="45 dollars",
            slots={"order_id": order_id, "refund_method": "no_return_refund"},
            requested_slot="refund_amount",
        ),
        domain,
    )
    slots = slot_values(events)
    assert responses(dispatcher) == ["utter_amount_exceeds_method_limit"]
    assert slots["policy_block"] == "utter_amount_exceeds_method_limit"

    dispatcher = CollectingDispatcher()
    await ActionRequestHuman().run(
        dispatcher, make_tracker(domain, intent="human_handoff", slots=slots), domain
    )
    assert dispatcher.messages[-1]["custom"] == {"handoff": {"reason": "policy"}}

    dispatcher = CollectingDispatcher()
    await ActionRequestHuman().run(dispatcher, make_tracker(domain, intent="human_handoff"), domain)
    assert dispatcher.messages[-1]["custom"] == {"handoff": {"reason": "buyer_asked"}}


# --- what the buyer typed as an order number is repeated only when it is one ------------------

INJECTED = "'1'='1"


def echoes(messages: list[dict[str, Any]], said: str) -> bool:
    return any(said in str(value) for m in messages for value in m.values())


async def test_order_status_repeats_only_an_order_number(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    with session_factory.begin() as session:
        order_id = make_order(session, customer_id="c-1", now=utcnow()).id
    # Not an order number: said so, forgotten, and the buyer's orders listed instead.
    slots, messages = await run(
        ActionOrderStatus(),
        domain,
        text=f"where is order {INJECTED}",
        intent="check_order_status",
        entities={"order_id": INJECTED},
        candidates={"order_id": INJECTED},
        active_loop=None,
    )
    assert responses_of(messages)[0] == "utter_order_id_invalid"
    assert f"Your recent orders:\n• Order {order_id}" in messages[1]["text"]
    assert slots == {"order_id": None}
    assert not echoes(messages, INJECTED)
    # An order number written with spaces is read as one, and repeated as digits only.
    spaced = f"{order_id[:4]} {order_id[4:8]} {order_id[8:]}"
    slots, [message] = await run(
        ActionOrderStatus(), domain, active_loop=None, candidates={"order_id": f"#{spaced}"}
    )
    assert message["text"].startswith(f"Order {order_id} (Test item)")
    # Another buyer's order (or none at all) is not found, and named as digits.
    slots, [message] = await run(
        ActionOrderStatus(),
        domain,
        active_loop=None,
        candidates={"order_id": "no. 804123556670999"},
    )
    assert (message["response"], message["order_id"]) == (
        "utter_order_not_found",
        "804123556670999",
    )


async def test_an_order_left_from_earlier_is_not_what_a_new_question_is_about(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    with session_factory.begin() as session:
        order_id = make_order(session, customer_id="c-1", now=utcnow()).id
    for stale in (INJECTED, "8041235566701299"):
        slots, messages = await run(
            ActionOrderStatus(),
            domain,
            text="where are my orders?",
            intent="check_order_status",
            active_loop=None,
            slots={"order_id": stale},
        )
        assert [m["text"].split("\n")[0] for m in messages] == ["Your recent orders:"]
        assert order_id in messages[0]["text"]
        assert stale not in messages[0]["text"]
        assert slots == {}


async def test_refund_status_repeats_only_an_order_number(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id, reference = submitted(session_factory, "c-1", "k-status")
    slots, messages = await run(
        ActionRefundStatus(),
        domain,
        text=f"where is my refund for {INJECTED}",
        intent="check_refund_status",
        entities={"order_id": INJECTED},
        candidates={"order_id": INJECTED},
        active_loop=None,
    )
    assert responses_of(messages)[0] == "utter_order_id_invalid"
    assert reference in messages[1]["text"]
    assert slots == {"order_id": None}
    assert not echoes(messages, INJECTED)

    _, [message] = await run(
        ActionRefundStatus(), domain, active_loop=None, candidates={"order_id": "8041235566799999x"}
    )
    assert (message["response"], message["order_id"]) == (
        "utter_no_applications_for_order",
        "8041235566799999",
    )
    assert order_id != "8041235566799999"


async def test_withdraw_repeats_only_an_order_number_or_a_reference(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    _, reference = submitted(session_factory, "c-1", "k-withdraw")
    # Not an order number: said so, and the buyer's withdrawable application offered.
    slots, messages = await run(
        ActionWithdrawRefund(),
        domain,
        text=f"cancel the refund for order {INJECTED}",
        intent="cancel_refund",
        entities={"order_id": INJECTED},
        candidates={"order_id": INJECTED},
        active_loop=None,
    )
    assert responses_of(messages) == ["utter_order_id_invalid", "utter_confirm_withdraw"]
    assert slots == {"order_id": None, "application_reference": reference}
    assert not echoes(messages, INJECTED)
    # An order number without withdrawable applications is named in the answer.
    _, [message] = await run(
        ActionWithdrawRefund(),
        domain,
        intent="cancel_refund",
        candidates={"order_id": "8041235566799999"},
        active_loop=None,
    )
    assert (message["response"], message["order_id"]) == (
        "utter_nothing_to_withdraw_for_order",
        "8041235566799999",
    )
    # A reference NLU tagged (or a button carried) is repeated only when it is one.
    _, messages = await run(
        ActionWithdrawRefund(),
        domain,
        text="/cancel_refund",
        intent="cancel_refund",
        entities={"application_reference": INJECTED},
        active_loop=None,
    )
    assert responses_of(messages) == ["utter_confirm_withdraw"]
    assert not echoes(messages, INJECTED)
