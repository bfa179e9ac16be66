"""The refund form: order, method, amount, reason, read-back and confirmation, then submit."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import (
    EXITS,
    METHOD_NAMES,
    STATUS_WORDS,
    SUCCEEDED,
    DomainDict,
    IdentityFormValidator,
    SlotDict,
    customer_of,
    is_answering,
    latest_entity,
    latest_intent,
    latest_text,
    money,
    order_summary,
    refuse,
    settings,
    unit_of_work,
    why_not_text,
)
from bot.refunds import policy, store
from bot.refunds.errors import AmountError, OrderNotFound, ReasonError, RefundError
from bot.refunds.models import Order, RefundMethod, Review

#: Questions whose answer is a description: words in it are not other answers.
DESCRIBING = ("refund_reason", "refund_reason_category")

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
)

# Keeping the item is the more specific statement: "refund without returning it" mentions a
# return too, so the no-return words are read first.
_NO_RETURN_WORDS = re.compile(
    r"\b(no[ -]?return|without (a |any )?return|without (returning|sending|shipping|giving)|"
    r"keep (it|them|the|my)\b|"
    r"(don'?t|do not|won'?t|will not) (want to |need to |have to )?(return|send)|"
    r"no need to (return|send))",
    re.I,
)
_METHOD_WORDS: list[tuple[RefundMethod, re.Pattern[str]]] = [
    (
        RefundMethod.RETURN_AND_REFUND,
        re.compile(
            r"\b(return|retrun|retun|send (it |them )?back|ship (it |them )?back|exchange)", re.I
        ),
    ),
    (
        RefundMethod.IMMEDIATE,
        re.compile(r"\b(im+[ei]di?a?te(ly)?|instant(ly)?|right away|cancel)", re.I),
    ),
]
_AMOUNT_PHRASE = re.compile(
    r"\b(full refund|full amount|all (of )?(my|the) money|everything back|whole amount|"
    r"refund (it )?all|half)\b",
    re.I,
)
_CHANGE_WORDS = {
    "order_id": re.compile(r"\border\b", re.I),
    "refund_method": re.compile(r"\bmethod|\btype\b", re.I),
    "refund_amount": re.compile(r"\bamount|\bsum\b|how much|\bmoney\b", re.I),
    "refund_reason": re.compile(r"\breason|\bdescription|\bproblem", re.I),
}
#: What must be asked again when a field changes at the read-back.
_CHANGE_CLEARS = {
    "order_id": ("order_id", "refund_method", "refund_amount", "refund_amount_text"),
    "refund_method": ("refund_method", "refund_reason_category", "refund_reason"),
    "refund_amount": ("refund_amount", "refund_amount_text"),
    "refund_reason": ("refund_reason_category", "refund_reason"),
}


def method_from_text(text: str) -> RefundMethod | None:
    """Return the refund method a buyer's words name, if exactly one."""
    for method in RefundMethod:
        if text.strip() == method.value:
            return method
    if _NO_RETURN_WORDS.search(text):
        return RefundMethod.NO_RETURN
    found = [method for method, pattern in _METHOD_WORDS if pattern.search(text)]
    return found[0] if len(found) == 1 else None


def current_order(session: Session, tracker: Tracker) -> Order | None:
    """Return the validated order of the conversation, or None."""
    order_id, customer = tracker.get_slot("order_id"), customer_of(tracker)
    if not order_id or not customer:
        return None
    try:
        return store.find_order(session, order_id=order_id, customer_id=customer)
    except OrderNotFound:
        return None


class ValidateRefundForm(IdentityFormValidator):
    """Extracts and checks every answer of the refund form against the policy."""

    def name(self) -> str:
        """Return the action's name."""
        return "validate_refund_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Ask the reason category only for return and refund."""
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        method = method_from_text(str(tracker.get_slot("refund_method") or ""))
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
        text = latest_text(tracker)
        answering = is_answering(tracker, "refund_method")
        method = None
        if answering or latest_intent(tracker) == "request_refund":
            method = method_from_text(text)
        if method is None:
            tagged = [str(v) for v in tracker.get_latest_entity_values("refund_method")]
            method = next(filter(None, map(method_from_text, tagged)), None)
        if method is not None:
            return {"refund_method": method.value}
        if answering and not latest_entity(tracker, "amount"):
            # Not a method: validation says so and asks again. (An amount is kept for later.)
            return {"refund_method": text}
        return {}

    def extract_refund_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Take an amount: a money entity, "full refund"/"half", or the answer to "how much?"."""
        if latest_intent(tracker) in EXITS:
            return {}
        if tracker.get_slot("requested_slot") in DESCRIBING:
            return {}
        entity = latest_entity(tracker, "amount")
        if entity:
            return {"refund_amount": entity}
        if is_answering(tracker, "refund_amount"):
            return {"refund_amount": latest_text(tracker)}
        phrase = _AMOUNT_PHRASE.search(latest_text(tracker))
        if phrase and latest_intent(tracker) == "request_refund":
            return {"refund_amount": phrase.group(0)}
        return {}

    def extract_refund_reason_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Take the category from a button, the answer, or the words of the first request."""
        entity = latest_entity(tracker, "refund_reason_category")
        if entity:
            return {"refund_reason_category": entity}
        if is_answering(tracker, "refund_reason_category"):
            return {"refund_reason_category": latest_text(tracker)}
        if latest_intent(tracker) == "request_refund" and not tracker.get_slot(
            "refund_reason_category"
        ):
            category = policy.classify_reason(latest_text(tracker))
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
        if tracker.get_slot("requested_slot") != "refund_reason":
            return {}
        if latest_intent(tracker) in EXITS or latest_text(tracker).startswith("/"):
            return {}
        return {"refund_reason": latest_text(tracker)}

    def extract_refund_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Read the answer to the read-back: yes, no, or which field to change."""
        if tracker.get_slot("requested_slot") != "refund_confirmed":
            return {}
        intent = latest_intent(tracker)
        if intent in EXITS:
            return {}
        field = latest_entity(tracker, "change_field")
        text = latest_text(tracker)
        if field is None and intent in ("deny", "inform", "request_refund"):
            field = next((f for f, p in _CHANGE_WORDS.items() if p.search(text)), None)
        if field in _CHANGE_CLEARS:
            return {slot: None for slot in (*_CHANGE_CLEARS[field], "refund_confirmed")}
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
        facts = store.order_facts(session, order=order)
        options = policy.method_options(facts, store.utcnow(), config)
        if not any(o.offered for o in options):
            why = why_not_text(options[0].why_not, facts, config.protection_window_days)
            return refuse(
                dispatcher,
                tracker,
                "order_id",
                response="utter_order_has_no_options",
                policy=True,
                order_id=order.id,
                why=why,
                field="order number",
                hint="Is there another order you'd like a refund for?",
            )
        slots: SlotDict = dict(SUCCEEDED)
        if not tracker.get_slot("refund_draft_id"):
            slots["refund_draft_id"] = uuid.uuid4().hex
        method = method_from_text(str(tracker.get_slot("refund_method") or ""))
        if method:
            slots.update(self._check_method(dispatcher, tracker, facts, order, method))
        return slots

    def validate_refund_method(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Accept a method the order allows now; say why another is not offered."""
        if value is None:
            return {"refund_method": None}
        method = method_from_text(str(value))
        if method is None and tracker.get_slot("requested_slot") != "refund_method":
            # A word NLU took for a method while the buyer was saying something else.
            return {"refund_method": None}
        if method is None:
            return refuse(
                dispatcher,
                tracker,
                "refund_method",
                text="Please choose one of the refund methods offered (the buttons above).",
                field="refund method",
                hint="Pick immediate refund, no-return refund or return and refund.",
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
            o for o in policy.method_options(facts, store.utcnow(), config) if o.method is method
        )
        if not option.offered:
            why = why_not_text(option.why_not, facts, config.protection_window_days)
            dispatcher.utter_message(
                response="utter_method_not_offered",
                method=METHOD_NAMES[method.value],
                order_id=order.id,
                why=why,
            )
            return {"refund_method": None, "policy_block": "utter_method_not_offered"}
        slots: SlotDict = {"refund_method": method.value, **SUCCEEDED}
        pending = tracker.get_slot("refund_amount_text")
        if not pending and "refund_amount" not in tracker.slots_to_validate():
            # An amount from an earlier turn is checked again against the new method; one given
            # in this message is validated on its own right after.
            pending = tracker.get_slot("refund_amount")
        if pending:
            slots.update(self._resolve_amount(dispatcher, tracker, facts, method, str(pending)))
        return slots

    def validate_refund_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Resolve the amount against the order's balance once the order and method are known."""
        if value is None:
            return {"refund_amount": None, "refund_amount_text": None}
        method = method_from_text(str(tracker.get_slot("refund_method") or ""))
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
        text: str,
    ) -> SlotDict:
        config = settings().policy
        try:
            request = policy.parse_amount(text)
            amount = request.resolve(facts.balance, facts.currency)
            amount = policy.check_amount(facts, method, amount, store.utcnow(), config)
        except AmountError as e:
            params = {"method": METHOD_NAMES[method.value], "currency": facts.currency, **e.params}
            return refuse(
                dispatcher,
                tracker,
                "refund_amount",
                clear=("refund_amount_text",),
                response=f"utter_amount_{e.code}",
                policy=e.code in ("exceeds_balance", "exceeds_method_limit"),
                field="amount",
                hint=f"Up to {money(facts.balance, facts.currency)} can be refunded on this order.",
                **params,
            )
        return {"refund_amount": str(amount), "refund_amount_text": None, **SUCCEEDED}

    def validate_refund_reason_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Accept one of the five reason categories."""
        if value is None:
            return {"refund_reason_category": None}
        category = policy.classify_reason(str(value))
        if category is None:
            return refuse(
                dispatcher,
                tracker,
                "refund_reason_category",
                response="utter_reason_category_unknown",
                field="reason",
                hint="Pick one: quality problem, not as described, wrong item, damaged, other.",
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
                field="reason",
                hint="One sentence about what is wrong is enough.",
            )
        return {"refund_reason": reason, **SUCCEEDED}

    def validate_refund_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Keep only a clear yes; anything else asks again."""
        return {"refund_confirmed": True if value is True else None}


def fault_notice(order: Order, facts: policy.OrderFacts, fault: policy.Fault | None) -> str:
    """Return what a merchant-caused problem entitles the buyer to, or "" without one."""
    rate = f"{settings().policy.compensation_rate * 100:.0f}%"
    full = money(facts.balance, facts.currency)
    if fault is policy.Fault.NOT_SHIPPED_IN_TIME:
        return (
            f"Order {order.id} wasn't shipped by the promised date, so you can get the full "
            f"{full} back at once, plus {rate} compensation."
        )
    if fault is policy.Fault.LATE_DELIVERY:
        return (
            f"Order {order.id} is late past its promised delivery date, so you can get the full "
            f"{full} back without returning anything, plus {rate} compensation."
        )
    return ""


class ActionAskRefundMethod(Action):
    """Offers the methods this order allows, and says why the others are not offered."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_ask_refund_method"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Ask for the method with a button per offered one."""
        config = settings().policy
        with unit_of_work(read_only=True) as session:
            order = current_order(session, tracker)
            if order is None:
                dispatcher.utter_message(text="How would you like to be refunded?")
                return []
            facts = store.order_facts(session, order=order)
            now = store.utcnow()
            options = policy.method_options(facts, now, config)
            fault = policy.merchant_fault(facts, now)
            lines = []
            notice = fault_notice(order, facts, fault)
            if notice:
                lines.append(notice)
            for option in options:
                if not option.offered:
                    why = why_not_text(option.why_not, facts, config.protection_window_days)
                    lines.append(f"{METHOD_NAMES[option.method.value]} isn't available: {why}.")
            offered = [o for o in options if o.offered]
            lines.append("How would you like to be refunded?")
            buttons = [
                {
                    "title": _method_title(o, facts),
                    "payload": f'/inform{{"refund_method":"{o.method.value}"}}',
                }
                for o in offered
            ]
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


def _method_title(option: policy.MethodOption, facts: policy.OrderFacts) -> str:
    name = METHOD_NAMES[option.method.value]
    if option.max_amount is not None and option.max_amount < facts.balance:
        return f"{name} (up to {money(option.max_amount, facts.currency)})"
    return name


class ActionAskRefundAmount(Action):
    """Asks how much, with the refundable balance and quick answers."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_ask_refund_amount"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Ask for the amount, showing what can be refunded."""
        method = method_from_text(str(tracker.get_slot("refund_method") or ""))
        with unit_of_work(read_only=True) as session:
            order = current_order(session, tracker)
            if order is None or method is None:
                dispatcher.utter_message(text="How much would you like refunded?")
                return []
            facts = store.order_facts(session, order=order)
            option = policy.option_for(
                facts, RefundMethod(method), store.utcnow(), settings().policy
            )
            notice = fault_notice(order, facts, policy.merchant_fault(facts, store.utcnow()))
        limit = option.max_amount if option.max_amount is not None else facts.balance
        text = f"How much would you like back? Up to {money(limit, facts.currency)} can be refunded"
        if limit < facts.balance:
            text += f" with a {METHOD_NAMES[method].lower()}"
        if notice:
            text = f"{notice}\n{text}"
        buttons = [
            {
                "title": f"All of it ({money(limit, facts.currency)})",
                "payload": f'/inform{{"amount":"{limit} {facts.currency}"}}',
            }
        ]
        half = (limit / 2).quantize(policy.CENT)
        if half > 0:
            buttons.append(
                {
                    "title": f"Half ({money(half, facts.currency)})",
                    "payload": f'/inform{{"amount":"{half} {facts.currency}"}}',
                }
            )
        dispatcher.utter_message(text=text + ".", buttons=buttons)
        return []


class ActionAskRefundConfirmed(Action):
    """Reads the application back and asks to submit it."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_ask_refund_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Show order, method, amount and reason, with buttons to submit or change."""
        config = settings().policy
        method = RefundMethod(tracker.get_slot("refund_method"))
        amount = Decimal(tracker.get_slot("refund_amount"))
        with unit_of_work(read_only=True) as session:
            order = current_order(session, tracker)
            if order is None:
                return [SlotSet("order_id", None)]
            facts = store.order_facts(session, order=order)
            decision = policy.decide(facts, method, amount, store.utcnow(), config)
            summary = order_summary(order)
        lines = [
            "Please check your refund application:",
            f"• Order: {summary}",
            f"• Method: {METHOD_NAMES[method.value]}",
            f"• Amount: {money(amount, facts.currency)}",
        ]
        if decision.compensation > 0:
            lines.append(
                f"• Compensation: {money(decision.compensation, facts.currency)} "
                "(the merchant missed a deadline)"
            )
        category = tracker.get_slot("refund_reason_category")
        reason = tracker.get_slot("refund_reason")
        if category:
            lines.append(f"• Reason: {category.replace('_', ' ')}: {reason}")
        else:
            lines.append(f"• Reason: {reason}")
        review = (
            "It will be approved automatically."
            if decision.review is Review.AUTOMATIC
            else f"The merchant reviews it within {config.review_deadline_days} days."
        )
        lines += [review, "Shall I submit it?"]
        dispatcher.utter_message(
            text="\n".join(lines),
            buttons=[
                {"title": "Yes, submit", "payload": "/affirm"},
                {"title": "Change something", "payload": "/deny"},
            ],
        )
        return []


class ActionSubmitRefund(Action):
    """Submits the confirmed application to the refund store, once per draft."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_submit_refund"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Store the application and tell the buyer its number and what happens next."""
        reset = [SlotSet(slot, None) for slot in DRAFT_SLOTS]
        customer = customer_of(tracker)
        if tracker.get_slot("refund_confirmed") is not True or customer is None:
            return reset
        draft = tracker.get_slot("refund_draft_id") or uuid.uuid4().hex
        category = tracker.get_slot("refund_reason_category")
        try:
            with unit_of_work() as session:
                submission = store.submit_application(
                    session,
                    customer_id=customer,
                    order_id=tracker.get_slot("order_id"),
                    method=RefundMethod(tracker.get_slot("refund_method")),
                    amount=Decimal(tracker.get_slot("refund_amount")),
                    reason=tracker.get_slot("refund_reason") or "",
                    reason_category=policy.ReasonCategory(category) if category else None,
                    idempotency_key=f"{tracker.sender_id}:{draft}",
                    conversation_id=tracker.sender_id,
                    now=store.utcnow(),
                    settings=settings().policy,
                )
                application = submission.application
                reply = _submitted_reply(application, created=submission.created)
        except RefundError as e:
            dispatcher.utter_message(response="utter_refund_failed", why=_refusal_text(e))
            return reset
        dispatcher.utter_message(**reply)
        return reset


def _submitted_reply(application: Any, *, created: bool) -> dict[str, Any]:
    if not created:
        return {
            "response": "utter_refund_already_submitted",
            "reference": application.reference,
            "status": STATUS_WORDS.get(application.status, application.status),
        }
    due = application.review_due_at
    params = {
        "reference": application.reference,
        "amount": str(application.amount),
        "currency": application.currency,
        "review_due": due.strftime("%d %B %Y") if due else "",
    }
    if application.review == Review.AUTOMATIC.value:
        compensation = application.compensation
        params["compensation_note"] = (
            f", plus {money(compensation, application.currency)} compensation"
            if compensation > 0
            else ""
        )
        return {"response": "utter_refund_submitted_automatic", **params}
    if application.method == RefundMethod.RETURN_AND_REFUND.value:
        return {"response": "utter_refund_submitted_return", **params}
    return {"response": "utter_refund_submitted_review", **params}


def _refusal_text(error: RefundError) -> str:
    if isinstance(error, AmountError) and error.code == "exceeds_balance":
        return (
            f"the order's refundable balance is now {error.params.get('balance')} "
            f"{error.params.get('currency')}"
        )
    if isinstance(error, OrderNotFound):
        return "the order was not found"
    return "the order no longer allows this refund"
