"""The refund form: order, method, amount, reason and confirmation, checked as they come.

The questions and the read-back are in :mod:`actions.refund_questions`; the submission in
:mod:`actions.refund_submit`.
"""

from __future__ import annotations

import uuid
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import (
    EXITS,
    INTERRUPTIONS,
    SUCCEEDED,
    DomainDict,
    SlotDict,
    language_of,
    latest_entity,
    latest_intent,
    latest_text,
    method_name,
    refuse,
    settings,
    unit_of_work,
    why_not_text,
)
from actions.draft import (
    DESCRIBING,
    DraftOrderValidator,
    current_order,
    offered_methods,
    tell_refunds_so_far,
)
from actions.policy_answers import shop_question
from actions.typed import (
    answers,
    asks_for_a_refund,
    choose_offered,
    corrects_amount,
    describes_enough,
    only_asks_to_stop,
)
from bot.clock import utcnow
from bot.messages import money, text
from bot.refunds import policy, reading, store
from bot.refunds.enums import RefundMethod
from bot.refunds.errors import AmountError, ReasonError
from bot.refunds.models import Order
from bot.refunds.words import readable

#: Slots of one refund draft, cleared when it is submitted or abandoned.
DRAFT_SLOTS = (
    "refund_method",
    "refund_amount",
    "refund_amount_text",
    "refund_reason_category",
    "refund_reason",
    "refund_confirmed",
    "refund_draft_id",
    "failed_slot",
    "failed_count",
    "pending_order_id",
)

#: What must be asked again when a field changes at the read-back.
_CHANGE_CLEARS = {
    "order_id": ("order_id", "refund_method", "refund_amount", "refund_amount_text"),
    "refund_method": ("refund_method", "refund_reason_category", "refund_reason"),
    "refund_amount": ("refund_amount", "refund_amount_text"),
    "refund_reason": ("refund_reason_category", "refund_reason"),
}


class ValidateRefundForm(DraftOrderValidator):
    """Extracts and checks every answer of the refund form against the policy."""

    def name(self) -> str:
        """Return the action's name."""
        return "validate_refund_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Validate the answer; a question about the shop is answered as out of scope."""
        said = latest_text(tracker)
        asked = tracker.get_slot("requested_slot")
        if asked and "?" in said and shop_question(said, language_of(tracker)):
            # "can I pay with Apple Pay next time?" while asked how much: not an answer. The
            # slot set keeps Rasa running the form, which asks its question again.
            dispatcher.utter_message(response="utter_out_of_scope")
            return [SlotSet("policy_block", tracker.get_slot("policy_block"))]
        events: list[EventType] = await super().run(dispatcher, tracker, domain)
        return events

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Ask the reason category only for return and refund."""
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        method = reading.method_from_text(str(tracker.get_slot("refund_method") or ""))
        if method not in (None, RefundMethod.RETURN_AND_REFUND):
            slots.remove("refund_reason_category")
        return slots

    # --- extraction -----------------------------------------------------------------------

    def extract_refund_method(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Take the method the buyer names: in a request, as the answer, or from a button.

        The buyer's own words ("send it back", "keep it") are read first: NLU tags stray words
        of long messages as methods ("desk", "the"), so its tags only count when the words
        name no method.
        """
        requested = tracker.get_slot("requested_slot")
        if requested in DESCRIBING or latest_intent(tracker) in EXITS:
            return {}
        if tracker.get_slot("pending_order_id"):
            return {}  # The message answers "should it be for order … instead?".
        said = latest_text(tracker)
        language = language_of(tracker)
        answering = answers(tracker, "refund_method")
        method = None
        if answering or asks_for_a_refund(tracker):
            method = reading.method_from_text(said, language)
        if method is None:
            tagged = [str(v) for v in tracker.get_latest_entity_values("refund_method")]
            readings = (reading.method_from_text(t, language) for t in tagged)
            method = next(filter(None, readings), None)
        if method is not None:
            return {"refund_method": method.value}
        if "?" in said:
            if any(w.already_refunded.search(said) for w in readable(language)):
                # "didn't you already refund part of this order?": answered, then asked again.
                tell_refunds_so_far(dispatcher, tracker)
                return {"refund_method": None}
            return {}  # A question is not an answer; a digression rule takes it.
        picks = answering or (
            requested == "refund_method"
            and "?" not in said
            and not only_asks_to_stop(said, language)
        )
        if picks:
            # "ok then the maximum", "yes", "the first one": whatever NLU read.
            offered = offered_methods(tracker)
            chosen = choose_offered(said, latest_intent(tracker), offered, language)
            if chosen is not None:
                slots: SlotDict = {"refund_method": chosen.value}
                if reading.names_everything(said, language):
                    # "all of it" for the only method offered: that method, all it allows.
                    slots["refund_amount"] = said
                return slots
        if answering and not latest_entity(tracker, "amount") and not reading.find_order_id(said):
            # Not a method: validation says so and asks again. (An amount is kept for later; an
            # order number is the order's question, see validate_order_id.)
            return {"refund_method": said}
        return {}

    def extract_refund_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Take an amount: a money entity, "full refund"/"half", or the answer to "how much?"."""
        said = latest_text(tracker)
        language = language_of(tracker)
        requested = tracker.get_slot("requested_slot")
        if requested in DESCRIBING and corrects_amount(said, language):
            # "sorry, actually make it 10 dollars" while asked for the reason.
            return {"refund_amount": said}
        if latest_intent(tracker) in EXITS:
            return {}
        if requested in DESCRIBING or tracker.get_slot("pending_order_id"):
            return {}
        if answers(tracker, "refund_amount"):
            if reading.find_order_id(said):
                return {}  # About an order, not an amount: see validate_order_id.
            return {"refund_amount": said}
        entity = latest_entity(tracker, "amount")
        if entity:
            if requested == "refund_confirmed" and (
                "?" in said or latest_intent(tracker) in INTERRUPTIONS
            ):
                return {}  # "why do I get 5.50 extra?" asks about the read-back.
            return {"refund_amount": entity}
        phrase = reading.amount_phrase(said, language) or reading.money_in_passing(said, language)
        if phrase and asks_for_a_refund(tracker):
            return {"refund_amount": phrase}
        return {}

    def extract_refund_reason_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Take the category from a button, the answer, or the words of the first request."""
        entity = latest_entity(tracker, "refund_reason_category")
        if entity:
            return {"refund_reason_category": entity}
        if answers(tracker, "refund_reason_category"):
            return {"refund_reason_category": latest_text(tracker)}
        if asks_for_a_refund(tracker) and not tracker.get_slot("refund_reason_category"):
            category = reading.classify_reason(latest_text(tracker), language_of(tracker))
            if category is not None:
                return {"refund_reason_category": category.value}
        return {}

    def extract_refund_reason(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Take the buyer's description as they typed it, whatever NLU thought it was.

        A description ("it is taking far too long") reads like other requests; only leaving
        the form or asking for a person is not an answer here.
        """
        language = language_of(tracker)
        if tracker.get_slot("requested_slot") != "refund_reason":
            if asks_for_a_refund(tracker) and not tracker.get_slot("refund_reason"):
                # The problem told with the request is not asked for again, when it says
                # enough for any method.
                clause = reading.problem_clause(latest_text(tracker), language)
                method = reading.method_from_text(str(tracker.get_slot("refund_method") or ""))
                if clause and describes_enough(clause, method):
                    return {"refund_reason": clause}
            return {}
        said = latest_text(tracker)
        if said.startswith("/") or corrects_amount(said, language):
            return {}
        if reading.wants_a_person(said, language) or (
            latest_intent(tracker) in EXITS and only_asks_to_stop(said, language)
        ):
            return {}
        # "I don't need it any more" reads like "stop" but answers the question.
        return {"refund_reason": said}

    def extract_refund_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Read the answer to the read-back: yes, no, or which field to change."""
        if tracker.get_slot("requested_slot") != "refund_confirmed":
            return {}
        if tracker.get_slot("pending_order_id"):
            return {}
        intent = latest_intent(tracker)
        if intent in EXITS:
            return {}
        field = latest_entity(tracker, "change_field")
        said = latest_text(tracker)
        language = language_of(tracker)
        if field is None and (
            intent in ("deny", "inform", "request_refund") or reading.asks_to_change(said, language)
        ):
            field = reading.field_named(said, language)
        if field in _CHANGE_CLEARS:
            cleared: SlotDict = {
                slot: None for slot in (*_CHANGE_CLEARS[field], "refund_confirmed")
            }
            named = reading.find_order_id(said)
            if field == "order_id" and named:
                # "wrong order, I meant 9000…": the buyer moves the draft themselves.
                cleared.update({"order_id": named, "refund_draft_id": None})
            return cleared
        if intent == "affirm":
            return {"refund_confirmed": True}
        if intent == "deny":
            dispatcher.utter_message(response="utter_what_to_change")
            return {"refund_confirmed": None}
        return {}

    # --- validation -------------------------------------------------------------------------

    def order_accepted(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        session: Session,
        order: Order,
    ) -> SlotDict:
        """Refuse an order nothing can be refunded on; re-check the method and amount."""
        config = settings().policy
        language = language_of(tracker)
        facts = store.order_facts(session, order=order)
        options = policy.method_options(facts, utcnow(), config)
        if not any(o.offered for o in options):
            why = why_not_text(options[0].why_not, config.protection_window_days, language=language)
            return refuse(
                dispatcher,
                tracker,
                "order_id",
                response="utter_order_has_no_options",
                policy=True,
                order_id=order.id,
                why=why,
                field=text("field.order_id", language=language),
                hint=text("hint.other_order", language=language),
            )
        slots: SlotDict = dict(SUCCEEDED)
        if not tracker.get_slot("refund_draft_id"):
            slots["refund_draft_id"] = uuid.uuid4().hex
        method = reading.method_from_text(str(tracker.get_slot("refund_method") or ""))
        if method:
            slots.update(self._check_method(dispatcher, tracker, facts, order, method))
        return slots

    def validate_refund_method(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Accept a method the order allows now; say why another is not offered."""
        if value is None:
            return {"refund_method": None}
        language = language_of(tracker)
        method = reading.method_from_text(str(value), language)
        if method is None and tracker.get_slot("requested_slot") != "refund_method":
            # A word NLU took for a method while the buyer was saying something else.
            return {"refund_method": None}
        if method is None:
            return refuse(
                dispatcher,
                tracker,
                "refund_method",
                message=text("form.choose_method", language=language),
                field=text("field.refund_method", language=language),
                hint=text("hint.method", language=language),
            )
        with unit_of_work(read_only=True) as session:
            order = current_order(session, tracker)
            if order is None:
                return {"refund_method": method.value}
            facts = store.order_facts(session, order=order)
            return self._check_method(dispatcher, tracker, facts, order, method)

    def _check_method(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        facts: policy.OrderFacts,
        order: Order,
        method: RefundMethod,
    ) -> SlotDict:
        config = settings().policy
        option = next(
            o for o in policy.method_options(facts, utcnow(), config) if o.method is method
        )
        language = language_of(tracker)
        if not option.offered:
            why = why_not_text(option.why_not, config.protection_window_days, language=language)
            dispatcher.utter_message(
                response="utter_method_not_offered",
                method=method_name(method.value, language=language),
                order_id=order.id,
                why=why,
            )
            return {"refund_method": None, "policy_block": "utter_method_not_offered"}
        slots: SlotDict = {"refund_method": method.value, **SUCCEEDED}
        pending = None
        if "refund_amount" not in tracker.slots_to_validate():
            # An amount from an earlier turn is checked again against the new method; one given
            # in this message replaces it and is validated on its own right after.
            pending = tracker.get_slot("refund_amount_text") or tracker.get_slot("refund_amount")
        if pending:
            slots.update(self._resolve_amount(dispatcher, tracker, facts, method, str(pending)))
        return slots

    def validate_refund_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Resolve the amount against the order's balance once the order and method are known."""
        if value is None:
            return {"refund_amount": None, "refund_amount_text": None}
        method = reading.method_from_text(str(tracker.get_slot("refund_method") or ""))
        with unit_of_work(read_only=True) as session:
            order = current_order(session, tracker)
            if order is None or method is None:
                # Given before the order or method: keep it and resolve it when they are known.
                return {"refund_amount": None, "refund_amount_text": str(value)}
            facts = store.order_facts(session, order=order)
            return self._resolve_amount(dispatcher, tracker, facts, method, str(value))

    def _resolve_amount(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        facts: policy.OrderFacts,
        method: RefundMethod,
        said: str,
    ) -> SlotDict:
        config = settings().policy
        language = language_of(tracker)
        try:
            request = reading.parse_amount(said, language)
            # "All of it", "half": of what this method allows, which may be less than the balance.
            limit = policy.option_for(facts, method, utcnow(), config).max_amount
            base = facts.balance if limit is None else min(limit, facts.balance)
            amount = request.resolve(
                base if request.fraction is not None else facts.balance, facts.currency
            )
            amount = policy.check_amount(facts, method, amount, utcnow(), config)
        except AmountError as e:
            name = method_name(method.value, language=language)
            params = {"method": name, "currency": facts.currency, **e.params}
            # Sums the refusal names are written the buyer's way ("quedan como máximo 12,00 US$").
            for key in ("balance", "limit"):
                if key in params:
                    params[key] = money(params[key], facts.currency, language=language)
            balance = money(facts.balance, facts.currency, language=language)
            return refuse(
                dispatcher,
                tracker,
                "refund_amount",
                clear=("refund_amount_text",),
                response=f"utter_amount_{e.code}",
                policy=e.code in ("exceeds_balance", "exceeds_method_limit"),
                field=text("field.refund_amount", language=language),
                hint=text("hint.amount", language=language, balance=balance),
                **params,
            )
        return {"refund_amount": str(amount), "refund_amount_text": None, **SUCCEEDED}

    def validate_refund_reason_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Accept one of the five reason categories."""
        if value is None:
            return {"refund_reason_category": None}
        language = language_of(tracker)
        category = reading.classify_reason(str(value), language)
        if category is None:
            return refuse(
                dispatcher,
                tracker,
                "refund_reason_category",
                response="utter_reason_category_unknown",
                field=text("field.refund_reason", language=language),
                hint=text("hint.category", language=language),
            )
        return {"refund_reason_category": category.value, **SUCCEEDED}

    def validate_refund_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Accept a reason detailed enough for the method."""
        if value is None:
            return {"refund_reason": None}
        method = RefundMethod(tracker.get_slot("refund_method") or RefundMethod.NO_RETURN.value)
        try:
            reason = policy.check_reason(method, str(value))
        except ReasonError as e:
            return refuse(
                dispatcher,
                tracker,
                "refund_reason",
                response=f"utter_reason_{e.code}",
                field=text("field.refund_reason", language=language_of(tracker)),
                hint=text("hint.reason", language=language_of(tracker)),
            )
        return {"refund_reason": reason, **SUCCEEDED}

    def validate_refund_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Keep only a clear yes; anything else asks again."""
        return {"refund_confirmed": True if value is True else None}
