"""What a buyer tells about a submitted application: the merchant's answer, a tracking number."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.aftercare import ActionUnprompted
from actions.status import ActionRefundStatus
from bot.clock import utcnow
from bot.gateway.notifier import status_message
from bot.refunds import store
from bot.refunds.enums import RefundStatus
from bot.refunds.models import RefundApplication
from tests.actions.conftest import make_tracker
from tests.factories import submitted

pytestmark = pytest.mark.usefixtures("action_database")


async def say(action: Any, domain: dict[str, Any], text: str, intent: str) -> list[str]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text=text, intent=intent, active_loop=None)
    await action.run(dispatcher, tracker, domain)
    return [m.get("text") or m.get("response") for m in dispatcher.messages]


def application(session_factory: sessionmaker, reference: str) -> RefundApplication:
    with session_factory() as session:
        found = store.find_application(session, reference=reference, customer_id="c-1")
        session.expunge(found)
        return found


async def test_the_answer_to_the_merchants_question_is_attached_and_acknowledged(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    _, reference = submitted(session_factory, "c-1", "k-ask")
    with session_factory.begin() as session:
        found = store.find_application(session, reference=reference, customer_id="c-1")
        store.annotate(
            session, application=found, actor="agent:ann", now=utcnow(), note="Is it unused?"
        )
    [said] = await say(ActionUnprompted(), domain, "yes, never used, still in the box", "affirm")
    assert reference in said
    with session_factory() as session:
        found = store.find_application(session, reference=reference, customer_id="c-1")
        *_, answer = store.events_of(session, application_id=found.id)
        assert (answer.actor, answer.note) == ("customer:c-1", "yes, never used, still in the box")
        assert store.open_question(session, application=found) is None
        # The buyer's own words are not news to send back to them.
        assert status_message(found, answer) is None
    # Answered: a later "yes" is a plain yes again.
    assert await say(ActionUnprompted(), domain, "yes", "affirm") == ["utter_how_can_i_help"]


async def test_a_tracking_number_is_kept_on_the_application_the_item_goes_back_for(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    _, reference = submitted(session_factory, "c-1", "k-track")
    # Sent before the merchant's decision: kept all the same, with where the application is.
    [said] = await say(
        ActionRefundStatus(), domain, "sent it back, tracking lx123456789cn", "check_refund_status"
    )
    assert "LX123456789CN" in said
    assert "waiting for the merchant's review" in said
    assert application(session_factory, reference).return_tracking == "LX123456789CN"
    with session_factory.begin() as session:
        found = store.find_application(session, reference=reference, customer_id="c-1")
        store.approve(session, application=found, actor="agent:ann", now=utcnow())
    assert application(session_factory, reference).status == RefundStatus.AWAITING_RETURN.value
    [said] = await say(ActionUnprompted(), domain, "new tracking number RR123456785CN", "inform")
    assert reference in said
    assert application(session_factory, reference).return_tracking == "RR123456785CN"


async def test_a_plain_detail_with_nothing_to_attach_it_to_asks_what_to_do(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    submitted(session_factory, "c-1", "k-plain")
    assert await say(ActionUnprompted(), domain, "12.50", "inform") == [
        "utter_inform_without_context"
    ]
    assert await say(ActionUnprompted(), domain, "no", "deny") == ["utter_nothing_to_stop"]


async def test_the_other_order_named_with_the_first_is_offered_once_it_is_submitted(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    from decimal import Decimal

    from actions.refund_submit import ActionSubmitRefund
    from tests.actions.conftest import slot_values
    from tests.factories import make_order

    with session_factory.begin() as session:
        cable = str(make_order(session, customer_id="c-1", total=Decimal("12.00"), now=utcnow()).id)
        speaker = str(make_order(session, customer_id="c-1", now=utcnow()).id)
    confirmed = {
        "order_id": cable,
        "refund_method": "no_return_refund",
        "refund_amount": "12.00",
        "refund_reason_category": "quality_problem",
        "refund_reason": "it stopped working after a day",
        "refund_confirmed": True,
        "refund_draft_id": "draft-1",
        "next_order_ids": [cable, speaker],
    }
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="yes", intent="affirm", slots=confirmed, active_loop=None)
    events = await ActionSubmitRefund().run(dispatcher, tracker, domain)
    [submitted_reply] = dispatcher.messages
    assert submitted_reply["buttons"] == [
        {
            "title": f"Now the refund for order {speaker}",
            "payload": f'/request_refund{{"order_id":"{speaker}"}}',
        }
    ]
    assert slot_values(events)["next_order_ids"] == [speaker]

    # A typed "yes" to that offer starts the refund for the other order.
    answer = make_tracker(
        domain,
        text="yes please",
        intent="affirm",
        slots={"next_order_ids": [speaker]},
        active_loop=None,
    )
    answer.events.insert(1, {"event": "action", "name": "action_submit_refund"})
    started = await ActionUnprompted().run(CollectingDispatcher(), answer, domain)
    assert {"event": "slot", "name": "order_id", "value": speaker} in [
        {k: e[k] for k in ("event", "name", "value") if k in e} for e in started
    ]
    assert (started[-1]["event"], started[-1]["name"]) == ("followup", "refund_form")

    # Submitting the last of them offers nothing more.
    last = CollectingDispatcher()
    done = {
        **confirmed,
        "order_id": speaker,
        "refund_amount": "10.00",
        "refund_draft_id": "draft-2",
        "next_order_ids": [speaker],
    }
    events = await ActionSubmitRefund().run(
        last,
        make_tracker(domain, text="yes", intent="affirm", slots=done, active_loop=None),
        domain,
    )
    assert last.messages[0]["response"].startswith("utter_refund_submitted")
    assert not last.messages[0]["buttons"]
    assert slot_values(events)["next_order_ids"] is None
