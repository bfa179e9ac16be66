"""The draft's order: which order a refund is for, and when another order may replace it.

A draft keeps its order while the buyer asks about others; naming another order as the
refund's asks before moving it; an order may be named by its item ("the desk lamp"). What the
draft's order allows, and was already given, is read here too.
"""

from __future__ import annotations

import abc
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import (
    DomainDict,
    IdentityFormValidator,
    SlotDict,
    customer_of,
    is_answering,
    language_of,
    latest_entity,
    latest_intent,
    latest_text,
    order_summary,
    settings,
    unit_of_work,
)
from actions.lines import bullet_list, describe_application
from actions.mentions import customer_order_by_words, previous_slot
from actions.typed import asks_for_a_refund
from bot.clock import utcnow
from bot.messages import text
from bot.refunds import policy, reading, store
from bot.refunds.enums import RefundMethod
from bot.refunds.errors import OrderNotFound
from bot.refunds.models import Order
from bot.refunds.words import readable

#: Questions whose answer is a description: words in it are not other answers.
DESCRIBING = ("refund_reason", "refund_reason_category")

#: Intents that ask about something else while a draft is open: they never change its order.
ASIDES = frozenset(
    {"check_order_status", "check_refund_status", "ask_refund_policy", "cancel_refund"}
)


def current_order(session: Session, tracker: Tracker) -> Order | None:
    """Return the validated order of the conversation, or None."""
    order_id, customer = tracker.get_slot("order_id"), customer_of(tracker)
    if not order_id or not customer:
        return None
    try:
        return store.find_order(session, order_id=order_id, customer_id=customer)
    except OrderNotFound:
        return None


def tell_refunds_so_far(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Say what was already applied for on the draft's order."""
    with unit_of_work(read_only=True) as session:
        order = current_order(session, tracker)
        if order is None:
            return
        applications = store.list_applications(
            session, customer_id=order.customer_id, order_id=order.id
        )
        if not applications:
            dispatcher.utter_message(response="utter_no_applications_for_order", order_id=order.id)
            return
        language = language_of(tracker)
        lines = [describe_application(a, language=language) for a in applications[:5]]
    listed = bullet_list(lines, language=language)
    dispatcher.utter_message(text=text("application.list", language=language, lines=listed))


def offered_methods(tracker: Tracker) -> list[RefundMethod]:
    """Return the methods the draft's order allows now, in the order they are offered."""
    with unit_of_work(read_only=True) as session:
        order = current_order(session, tracker)
        if order is None:
            return []
        facts = store.order_facts(session, order=order)
        options = policy.method_options(facts, utcnow(), settings().policy)
        return [o.method for o in options if o.offered]


def two_or_more_orders(said: str) -> list[str]:
    """Return the distinct order numbers of a message that names several, else []."""
    found = list(dict.fromkeys(m.group(0) for m in reading.ORDER_ID.finditer(said)))
    return found if len(found) > 1 else []


#: Slots an extraction sets that are not questions of the form: rasa-sdk validates (and keeps)
#: only the form's own slots, so these are passed on as they were extracted.
CARRIED = ("next_order_ids",)


class DraftOrderValidator(IdentityFormValidator, abc.ABC):
    """The refund form's order question, with the draft's order kept through asides."""

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Validate the form's slots, and keep the carried ones set by this turn's extraction."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        set_now = tracker.slots_to_validate()
        return [*events, *(SlotSet(slot, set_now[slot]) for slot in CARRIED if slot in set_now)]

    # --- the draft's order ----------------------------------------------------------------

    def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Answer a pending "should it be for order … instead?": yes switches, anything else not."""
        pending = tracker.get_slot("pending_order_id")
        if pending:
            if latest_intent(tracker) == "affirm" or reading.find_order_id(
                latest_text(tracker)
            ) == str(pending):
                return {"order_id": pending}
            # Not a yes: the draft keeps its order (validate_order_id clears the question).
            return {"order_id": tracker.get_slot("order_id")}
        starting = asks_for_a_refund(tracker)
        if (latest_intent(tracker) in ASIDES and not starting) or tracker.get_slot(
            "requested_slot"
        ) in DESCRIBING:
            # A question about another order, or a description that mentions one: the draft
            # keeps its order, and the question goes to its own answer (a digression rule).
            return {}
        customer = customer_of(tracker)
        said = latest_text(tracker)
        language = language_of(tracker)
        named_orders = two_or_more_orders(said)
        if named_orders and tracker.get_slot("requested_slot") in (None, "order_id"):
            # "refunds for 9000… and 9000…": one at a time, the buyer says which first.
            dispatcher.utter_message(
                text=text(
                    "form.which_order_first", language=language, orders=", ".join(named_orders)
                ),
                buttons=[
                    {"title": order, "payload": f'/inform{{"order_id":"{order}"}}'}
                    for order in named_orders
                ],
            )
            # The others are offered once this one is submitted (action_submit_refund).
            return {"next_order_ids": named_orders}
        by_words = is_answering(tracker, "order_id") or (
            starting and tracker.get_slot("requested_slot") is None
        )
        if customer and by_words and not re.search(r"\d", said):
            # "the lamp", "my last order": the buyer's own order these words point at.
            with unit_of_work(read_only=True) as session:
                named = customer_order_by_words(session, customer, said, language)
                if named is not None:
                    return {"order_id": named.id}
            focus = tracker.get_slot("order_id")
            if focus and latest_intent(tracker) == "inform" and starting:
                # "ok I want to return it": the order the conversation is about (an agent's).
                return {"order_id": focus}
        untagged = reading.find_order_id(said)
        if starting and untagged and not latest_entity(tracker, "order_id"):
            # A request NLU read as something else carries its order number untagged.
            return {"order_id": untagged}
        return super().extract_order_id(dispatcher, tracker, domain)

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Keep the draft's order when the buyer only mentions another one.

        Once a draft has an order, another order number in a question ("where is my other
        order …?") is answered by that question's action and the draft keeps its order; in a
        description it is part of the description; anywhere else the buyer is asked whether the
        refund should move to it, and it moves only on a yes.
        """
        draft_order = (
            previous_slot(tracker, "order_id") if tracker.get_slot("refund_draft_id") else None
        )
        new = reading.find_order_id(str(value)) if value else None
        language = language_of(tracker)
        if previous_slot(tracker, "pending_order_id") and new == draft_order:
            return {"order_id": new, "pending_order_id": None}
        switching = bool(draft_order and new and new != draft_order)
        if switching:
            # "No wait, the other order, 9000…" says it plainly; a bare number is asked about.
            confirmed = previous_slot(tracker, "pending_order_id") == new or bool(
                any(w.switch_order.search(latest_text(tracker)) for w in readable(language))
            )
            if not confirmed:
                keep: SlotDict = {"order_id": draft_order}
                asks_to_switch = (
                    latest_intent(tracker) not in ASIDES
                    and tracker.get_slot("requested_slot") not in DESCRIBING
                )
                if asks_to_switch:
                    dispatcher.utter_message(
                        text=text(
                            "form.switch_order", language=language, current=draft_order, new=new
                        ),
                        buttons=[
                            {
                                "title": text("form.switch_yes", language=language, new=new),
                                "payload": "/affirm",
                            },
                            {
                                "title": text(
                                    "form.switch_no", language=language, current=draft_order
                                ),
                                "payload": "/deny",
                            },
                        ],
                    )
                    keep["pending_order_id"] = new
                return keep
        if new is not None and (switching or not re.search(r"\d", latest_text(tracker))):
            # Picked by its item, as "my last order", by a yes, or moved: say which order it is.
            with unit_of_work(read_only=True) as session:
                order = current_order(session, tracker)
                if order is not None:
                    dispatcher.utter_message(
                        text=text(
                            "form.order_by_words",
                            language=language,
                            order=order_summary(order, language=language),
                        )
                    )
        return {
            **super().validate_order_id(value, dispatcher, tracker, domain),
            "pending_order_id": None,
        }
