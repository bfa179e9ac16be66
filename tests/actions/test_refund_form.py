from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.refund_form import ValidateRefundForm
from actions.refund_questions import ActionAskRefundConfirmed, ActionAskRefundMethod
from actions.refund_submit import ActionSubmitRefund
from bot.clock import utcnow
from bot.refunds import store
from bot.refunds.enums import OrderStatus
from tests.actions.conftest import SENDER, make_tracker, responses, slot_values
from tests.factories import make_order

pytestmark = pytest.mark.usefixtures("action_database")


def new_order(session_factory: sessionmaker, **overrides: Any) -> str:
    with session_factory.begin() as session:
        overrides.setdefault("customer_id", "c-1")
        order = make_order(session, now=utcnow(), **overrides)
        return str(order.id)


async def validate(domain: dict[str, Any], **tracker_args: Any) -> tuple[dict[str, Any], list]:
    dispatcher = CollectingDispatcher()
    events = await ValidateRefundForm().run(
        dispatcher, make_tracker(domain, **tracker_args), domain
    )
    return slot_values(events), responses(dispatcher)


async def test_everything_given_up_front_is_not_asked_again(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, status=OrderStatus.SHIPPED, total=Decimal("30.00"))
    slots, said = await validate(
        domain,
        text=f"refund $12.50 for {order_id}, I'll keep it",
        intent="request_refund",
        entities={"order_id": order_id, "amount": "$12.50", "refund_method": "no_return_refund"},
        candidates={"order_id": order_id},
    )
    assert said == []
    assert slots["order_id"] == order_id
    assert slots["refund_method"] == "no_return_refund"
    assert slots["refund_amount"] == "12.50"
    assert slots["requested_slot"] == "refund_reason"


async def test_an_amount_before_the_method_waits_for_it(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("42.50"))
    slots, said = await validate(
        domain,
        text=f"I want a full refund for {order_id}",
        intent="request_refund",
        entities={"order_id": order_id},
        candidates={"order_id": order_id},
    )
    assert said == []
    assert (slots["refund_amount"], slots["refund_amount_text"]) == (None, "full refund")
    assert slots["requested_slot"] == "refund_method"

    slots, said = await validate(
        domain,
        text="/inform",
        entities={"refund_method": "return_and_refund"},
        slots={"order_id": order_id, "refund_amount_text": "full refund"},
        requested_slot="refund_method",
    )
    assert said == []
    assert (slots["refund_method"], slots["refund_amount"]) == ("return_and_refund", "42.50")
    assert slots["requested_slot"] == "refund_reason_category"


async def test_another_customers_order_is_not_found_like_an_unknown_one(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    theirs = new_order(session_factory, customer_id="c-other")
    slots, said = await validate(
        domain,
        text=theirs,
        entities={"order_id": theirs},
        candidates={"order_id": theirs},
        requested_slot="order_id",
    )
    assert said == ["utter_order_not_found"]
    assert slots["order_id"] is None
    slots, said = await validate(
        domain,
        text="8041000000000000",
        entities={"order_id": "8041000000000000"},
        candidates={"order_id": "8041000000000000"},
        requested_slot="order_id",
    )
    assert said == ["utter_order_not_found"]


@pytest.mark.parametrize(
    ("answer", "response"),
    [
        ("500", "utter_amount_exceeds_balance"),
        ("0", "utter_amount_zero"),
        ("-5", "utter_amount_negative"),
        ("lots", "utter_amount_not_a_number"),
        ("12 EUR", "utter_amount_currency_mismatch"),
        ("19.999", "utter_amount_too_many_decimals"),
    ],
)
async def test_bad_amounts_are_refused_with_the_reason(
    domain: dict[str, Any], session_factory: sessionmaker, answer: str, response: str
) -> None:
    order_id = new_order(session_factory, total=Decimal("42.50"))
    slots, said = await validate(
        domain,
        text=answer,
        slots={"order_id": order_id, "refund_method": "return_and_refund"},
        requested_slot="refund_amount",
    )
    assert said == [response]
    assert slots["refund_amount"] is None
    assert slots["requested_slot"] == "refund_amount"


async def test_amount_words_resolve_against_the_balance(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("42.50"))
    for answer, expected in [("half", "21.25"), ("all of it", "42.50"), ("12,50 usd", "12.50")]:
        slots, said = await validate(
            domain,
            text=answer,
            slots={"order_id": order_id, "refund_method": "return_and_refund"},
            requested_slot="refund_amount",
        )
        assert (slots["refund_amount"], said) == (expected, [])


async def test_a_second_failure_offers_a_person(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("42.50"))
    first, said = await validate(
        domain,
        text="a million",
        slots={"order_id": order_id, "refund_method": "return_and_refund"},
        requested_slot="refund_amount",
    )
    assert said == ["utter_amount_not_a_number"]
    assert first["failed_count"] == 1
    second, said = await validate(
        domain,
        text="whatever",
        slots={
            "order_id": order_id,
            "refund_method": "return_and_refund",
            "failed_slot": first["failed_slot"],
            "failed_count": first["failed_count"],
        },
        requested_slot="refund_amount",
    )
    assert said == ["utter_amount_not_a_number", "utter_offer_human", "handoff"]
    assert second["failed_count"] == 2


async def test_a_method_the_order_does_not_allow_is_explained(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, status=OrderStatus.AWAITING_SHIPMENT)
    slots, said = await validate(
        domain,
        text="/inform",
        entities={"refund_method": "return_and_refund"},
        slots={"order_id": order_id},
        requested_slot="refund_method",
    )
    assert said == ["utter_method_not_offered"]
    assert slots["refund_method"] is None

    dispatcher = CollectingDispatcher()
    await ActionAskRefundMethod().run(
        dispatcher, make_tracker(domain, slots={"order_id": order_id}), domain
    )
    [message] = dispatcher.messages
    assert "Return and refund isn't available: this order has not shipped yet." in message["text"]
    assert [b["payload"] for b in message["buttons"]] == [
        '/inform{"refund_method":"immediate_refund"}'
    ]


async def test_anonymous_buyer_proves_the_order_with_its_email(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, customer_id="c-9", customer_email="zoe@example.com")
    slots, said = await validate(
        domain,
        text=order_id,
        entities={"order_id": order_id},
        candidates={"order_id": order_id},
        requested_slot="order_id",
        customer=None,
    )
    # The full list of questions still stands, so Rasa's form asks the next one: the e-mail.
    assert (slots["order_id"], slots["customer_email"], said) == (order_id, None, [])
    slots, said = await validate(
        domain,
        text="someone@example.com",
        slots={"order_id": order_id},
        requested_slot="customer_email",
        customer=None,
    )
    assert said == ["utter_order_not_found_anonymous"]
    assert (slots["order_id"], slots["customer_email"]) == (None, None)
    slots, said = await validate(
        domain,
        text="it's Zoe@Example.com",
        slots={"order_id": order_id},
        requested_slot="customer_email",
        customer=None,
    )
    assert said == []
    assert slots["verified_customer_id"] == "c-9"
    assert slots["requested_slot"] == "refund_method"


async def test_read_back_then_change_the_amount(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, status=OrderStatus.SHIPPED, total=Decimal("30.00"))
    draft = {
        "order_id": order_id,
        "refund_method": "no_return_refund",
        "refund_amount": "15.00",
        "refund_reason": "it arrived late and scratched",
        "refund_draft_id": "d1",
    }
    dispatcher = CollectingDispatcher()
    await ActionAskRefundConfirmed().run(dispatcher, make_tracker(domain, slots=draft), domain)
    [message] = dispatcher.messages
    assert f"• Order: {order_id} (Test item)" in message["text"]
    assert "• Amount: 15.00 USD" in message["text"]
    assert "approved automatically" in message["text"]

    slots, said = await validate(
        domain, text="no", intent="deny", slots=draft, requested_slot="refund_confirmed"
    )
    assert said == ["utter_what_to_change"]
    assert slots["refund_confirmed"] is None

    slots, said = await validate(
        domain,
        text="make it $10",
        entities={"amount": "$10"},
        slots=draft,
        requested_slot="refund_confirmed",
    )
    assert (slots["refund_amount"], said) == ("10.00", [])
    assert slots["requested_slot"] == "refund_confirmed"

    slots, said = await validate(
        domain,
        text="/inform",
        entities={"change_field": "refund_reason"},
        slots=draft,
        requested_slot="refund_confirmed",
    )
    assert slots["refund_reason"] is None
    assert slots["requested_slot"] == "refund_reason"


async def test_submit_stores_one_application_however_often_it_runs(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("42.50"))
    draft = {
        "order_id": order_id,
        "refund_method": "return_and_refund",
        "refund_amount": "42.50",
        "refund_reason_category": "damaged",
        "refund_reason": "the lamp's base arrived cracked and it wobbles",
        "refund_confirmed": True,
        "refund_draft_id": "draft-1",
    }
    tracker = make_tracker(domain, text="yes", intent="affirm", slots=draft, active_loop=None)
    first, again = CollectingDispatcher(), CollectingDispatcher()
    events = await ActionSubmitRefund().run(first, tracker, domain)
    await ActionSubmitRefund().run(again, tracker, domain)

    assert responses(first) == ["utter_refund_submitted_return"]
    assert responses(again) == ["utter_refund_already_submitted"]
    assert all(v is None for v in slot_values(events).values())
    with session_factory.begin() as session:
        [application] = store.list_applications(session, order_id=order_id)
        assert first.messages[0]["reference"] == application.reference
        assert (application.method, application.amount, application.status) == (
            "return_and_refund",
            Decimal("42.50"),
            "pending_review",
        )
        assert (application.reason_category, application.conversation_id) == ("damaged", SENDER)
        [event] = store.events_of(session, application_id=application.id)
        assert (event.from_status, event.to_status, event.actor) == (
            None,
            "pending_review",
            "customer:c-1",
        )


async def test_merchant_fault_is_refunded_at_once_with_compensation(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    now = utcnow()
    with session_factory.begin() as session:
        order = make_order(
            session,
            customer_id="c-1",
            status=OrderStatus.AWAITING_SHIPMENT,
            total=Decimal("55.00"),
            now=now,
            ship_by=now.replace(year=now.year - 1),
        )
        order_id = order.id
    dispatcher = CollectingDispatcher()
    await ActionAskRefundMethod().run(
        dispatcher, make_tracker(domain, slots={"order_id": order_id}), domain
    )
    assert "wasn't shipped by the promised date" in dispatcher.messages[0]["text"]
    draft = {
        "order_id": order_id,
        "refund_method": "immediate_refund",
        "refund_amount": "55.00",
        "refund_reason": "never shipped",
        "refund_confirmed": True,
        "refund_draft_id": "d2",
    }
    dispatcher = CollectingDispatcher()
    await ActionSubmitRefund().run(
        dispatcher, make_tracker(domain, slots=draft, active_loop=None), domain
    )
    [message] = dispatcher.messages
    assert message["response"] == "utter_refund_submitted_automatic"
    assert message["compensation_note"] == ", plus 5.50 USD compensation"
    with session_factory.begin() as session:
        [application] = store.list_applications(session, order_id=order_id)
        assert (application.status, application.compensation) == ("refunded", Decimal("5.50"))
        assert store.find_order(session, order_id=order_id, customer_id="c-1").status == (
            "cancelled"
        )


async def test_an_amount_given_when_the_method_is_asked_is_kept(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, status=OrderStatus.SHIPPED, total=Decimal("64.00"))
    slots, said = await validate(
        domain,
        text="15 dollars",
        entities={"amount": "15 dollars"},
        slots={"order_id": order_id},
        requested_slot="refund_method",
    )
    assert said == []
    assert (slots["refund_amount"], slots["refund_amount_text"]) == (None, "15 dollars")
    assert slots["requested_slot"] == "refund_method"

    slots, said = await validate(
        domain,
        text="I'll keep it",
        slots={"order_id": order_id, "refund_amount_text": "15 dollars"},
        requested_slot="refund_method",
    )
    assert said == []
    assert (slots["refund_method"], slots["refund_amount"]) == ("no_return_refund", "15.00")
    assert slots["requested_slot"] == "refund_reason"


async def test_an_unreadable_amount_is_not_echoed_back(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("42.50"))
    dispatcher = CollectingDispatcher()
    await ValidateRefundForm().run(
        dispatcher,
        make_tracker(
            domain,
            text="lots of money",
            slots={"order_id": order_id, "refund_method": "return_and_refund"},
            requested_slot="refund_amount",
        ),
        domain,
    )
    [message] = dispatcher.messages
    assert message["response"] == "utter_amount_not_a_number"
    assert message["text"] is None


async def test_a_description_does_not_change_the_method_or_leave_the_form(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    order_id = new_order(session_factory, total=Decimal("42.50"))
    draft = {
        "order_id": order_id,
        "refund_method": "return_and_refund",
        "refund_amount": "42.50",
        "refund_reason_category": "damaged",
    }
    tracker = make_tracker(
        domain,
        text="it is taking far too long and the box came back ripped, cancel nothing",
        intent="check_order_status",
        entities={"refund_method": "cancel"},
        slots=draft,
        requested_slot="refund_reason",
    )
    dispatcher = CollectingDispatcher()
    slots = slot_values(await ValidateRefundForm().run(dispatcher, tracker, domain))
    assert dispatcher.messages == []
    assert "refund_method" not in slots  # unchanged
    assert slots["refund_reason"].startswith("it is taking far too long")
    assert slots["requested_slot"] == "refund_confirmed"
