"""Hand-back: what an agent filled in is checked like the buyer's answers; closing ends the form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.handback import ActionConversationClosed, ActionHandBack
from bot.clock import utcnow
from tests.actions.conftest import make_tracker, responses, slot_values
from tests.factories import make_order

pytestmark = pytest.mark.usefixtures("action_database")


async def hand_back(
    domain: dict[str, Any], agent: dict[str, str], **tracker_args: Any
) -> tuple[dict[str, Any], list[Any]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        domain,
        text="can I talk to a person",
        intent="human_handoff",
        candidates=agent,
        **tracker_args,
    )
    events = await ActionHandBack().run(dispatcher, tracker, domain)
    return slot_values(events), responses(dispatcher)


async def test_the_agents_order_and_method_are_checked_and_kept(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    with session_factory.begin() as session:
        order_id = make_order(session, customer_id="c-1", now=utcnow(), total=Decimal("15.00")).id
    slots, said = await hand_back(
        domain,
        {"order_id": order_id, "refund_method": "keep the item"},
        requested_slot="order_id",
    )
    assert said == [f"Order {order_id} (Test item)."]
    assert slots["order_id"] == order_id
    assert slots["refund_method"] == "no_return_refund"
    assert slots["refund_draft_id"]


async def test_a_value_the_form_would_refuse_is_refused(
    domain: dict[str, Any], session_factory: sessionmaker
) -> None:
    with session_factory.begin() as session:
        theirs = make_order(session, customer_id="c-2", now=utcnow()).id
    slots, said = await hand_back(domain, {"order_id": theirs}, requested_slot="order_id")
    assert said == ["utter_order_not_found"]
    assert slots["order_id"] is None


async def test_with_no_form_open_the_bot_says_what_it_can_do(domain: dict[str, Any]) -> None:
    slots, said = await hand_back(domain, {}, active_loop=None)
    assert said == ["utter_how_can_i_help"]
    assert slots == {}


async def test_closing_ends_the_form_and_its_draft(domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        domain, slots={"order_id": "7000000000000001", "refund_method": "immediate_refund"}
    )
    events = await ActionConversationClosed().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]
    slots = slot_values(events)
    assert (slots["order_id"], slots["refund_method"], slots["requested_slot"]) == (
        None,
        None,
        None,
    )
