"""The refund form's questions that depend on the order: the method, the amount, the read-back."""

from __future__ import annotations

from decimal import Decimal

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    DomainDict,
    language_of,
    latest_entity,
    latest_intent,
    latest_text,
    method_name,
    order_summary,
    settings,
    unit_of_work,
    why_not_text,
)
from actions.draft import current_order, two_or_more_orders
from actions.lines import bullet_list
from actions.mentions import previous_slot
from bot.clock import utcnow
from bot.messages import money, text
from bot.refunds import policy, reading, store
from bot.refunds.enums import RefundMethod, Review
from bot.refunds.errors import AmountError
from bot.refunds.models import Order


def fault_notice(
    order: Order, facts: policy.OrderFacts, fault: policy.Fault | None, *, language: str
) -> str:
    """Return what a merchant-caused problem entitles the buyer to, or "" without one."""
    rate = f"{settings().policy.compensation_rate * 100:.0f}%"
    full = money(facts.balance, facts.currency, language=language)
    if fault is policy.Fault.NOT_SHIPPED_IN_TIME:
        return text(
            "form.fault_not_shipped", language=language, order_id=order.id, full=full, rate=rate
        )
    if fault is policy.Fault.LATE_DELIVERY:
        return text("form.fault_late", language=language, order_id=order.id, full=full, rate=rate)
    return ""


class ActionAskRefundFormOrderId(Action):
    """Asks the refund form's order question, unless the buyer was just asked which order first."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_ask_refund_form_order_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Ask for the order number (the domain's question), or stay silent."""
        if not two_or_more_orders(latest_text(tracker)):
            dispatcher.utter_message(response="utter_ask_order_id")
        return []


class ActionAskRefundMethod(Action):
    """Offers the methods this order allows, and says why the others are not offered."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_ask_refund_method"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Ask for the method with a button per offered one."""
        if tracker.get_slot("pending_order_id"):
            return []  # The buyer is answering "should it be for order … instead?" first.
        config = settings().policy
        language = language_of(tracker)
        with unit_of_work(read_only=True) as session:
            order = current_order(session, tracker)
            if order is None:
                dispatcher.utter_message(text=text("form.ask_method", language=language))
                return []
            facts = store.order_facts(session, order=order)
            now = utcnow()
            options = policy.method_options(facts, now, config)
            lines = []
            fault = policy.merchant_fault(facts, now)
            notice = fault_notice(order, facts, fault, language=language)
            if notice:
                lines.append(notice)
            for option in options:
                if not option.offered:
                    days = config.protection_window_days
                    why = why_not_text(option.why_not, days, language=language)
                    name = method_name(option.method.value, language=language)
                    if already_said(tracker, name, why):
                        continue
                    lines.append(
                        text("form.method_unavailable", language=language, method=name, why=why)
                    )
            # An explanation is given once in a conversation; asking again asks only.
            lines = [line for line in lines if not already_said(tracker, line)]
            noted = _amount_noted(tracker, facts)
            if noted:
                lines.append(text("form.amount_noted", language=language, amount=noted))
            lines.append(text("form.ask_method", language=language))
            buttons = [
                {
                    "title": _method_title(o, facts, language=language),
                    "payload": f'/inform{{"refund_method":"{o.method.value}"}}',
                }
                for o in options
                if o.offered
            ]
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


def _amount_noted(tracker: Tracker, facts: policy.OrderFacts) -> str | None:
    """Return the amount the buyer already named (kept until the method is known), as money."""
    said = tracker.get_slot("refund_amount_text")
    if not said:
        return None
    language = language_of(tracker)
    try:
        request = reading.parse_amount(str(said), language)
        amount = request.resolve(facts.balance, facts.currency).quantize(reading.CENT)
        return money(amount, facts.currency, language=language)
    except AmountError:
        return None


def already_said(tracker: Tracker, *parts: str) -> bool:
    """Return True when one bot message of this conversation already said all of ``parts``."""
    return any(
        event.get("event") == "bot" and all(part in str(event.get("text") or "") for part in parts)
        for event in tracker.events
    )


def _asked_what_to_change(tracker: Tracker) -> bool:
    """Return True when the buyer's "no" to the read-back was just answered with a question."""
    return (
        tracker.get_slot("requested_slot") == "refund_confirmed"
        and previous_slot(tracker, "requested_slot") == "refund_confirmed"
        and latest_intent(tracker) == "deny"
        and not previous_slot(tracker, "pending_order_id")
        and reading.field_named(latest_text(tracker), language_of(tracker)) is None
        and latest_entity(tracker, "change_field") is None
    )


def _method_title(option: policy.MethodOption, facts: policy.OrderFacts, *, language: str) -> str:
    name = method_name(option.method.value, language=language)
    if option.max_amount is not None and option.max_amount < facts.balance:
        return text(
            "form.method_button_limited",
            language=language,
            method=name,
            limit=money(option.max_amount, facts.currency, language=language),
        )
    return text("form.method_button", language=language, method=name)


class ActionAskRefundAmount(Action):
    """Asks how much, with the refundable balance and quick answers."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_ask_refund_amount"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Ask for the amount, showing what can be refunded."""
        if tracker.get_slot("pending_order_id"):
            return []
        method = reading.method_from_text(str(tracker.get_slot("refund_method") or ""))
        language = language_of(tracker)
        with unit_of_work(read_only=True) as session:
            order = current_order(session, tracker)
            if order is None or method is None:
                dispatcher.utter_message(text=text("form.ask_amount_plain", language=language))
                return []
            facts = store.order_facts(session, order=order)
            option = policy.option_for(facts, method, utcnow(), settings().policy)
            fault = policy.merchant_fault(facts, utcnow())
            notice = fault_notice(order, facts, fault, language=language)
        limit = option.max_amount if option.max_amount is not None else facts.balance
        shown = money(limit, facts.currency, language=language)
        if limit < facts.balance:
            name = method_name(method.value, language=language).lower()
            question = text("form.ask_amount_method", language=language, limit=shown, method=name)
        else:
            question = text("form.ask_amount", language=language, limit=shown)
        if notice and not already_said(tracker, notice):
            question = f"{notice}\n{question}"
        buttons = [
            {
                "title": text("form.amount_all", language=language, amount=shown),
                "payload": f'/inform{{"amount":"{limit} {facts.currency}"}}',
            }
        ]
        half = (limit / 2).quantize(reading.CENT)
        if half > 0:
            buttons.append(
                {
                    "title": text(
                        "form.amount_half",
                        language=language,
                        amount=money(half, facts.currency, language=language),
                    ),
                    "payload": f'/inform{{"amount":"{half} {facts.currency}"}}',
                }
            )
        dispatcher.utter_message(text=question, buttons=buttons)
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
        if tracker.get_slot("pending_order_id") or _asked_what_to_change(tracker):
            return []
        config = settings().policy
        language = language_of(tracker)
        method = RefundMethod(tracker.get_slot("refund_method"))
        amount = Decimal(tracker.get_slot("refund_amount"))
        with unit_of_work(read_only=True) as session:
            order = current_order(session, tracker)
            if order is None:
                return [SlotSet("order_id", None)]
            facts = store.order_facts(session, order=order)
            decision = policy.decide(facts, method, amount, utcnow(), config)
            summary = order_summary(order, language=language)
        name = method_name(method.value, language=language)
        lines = [
            text("form.readback_order", language=language, order=summary),
            text("form.readback_method", language=language, method=name),
            text(
                "form.readback_amount",
                language=language,
                amount=money(amount, facts.currency, language=language),
            ),
        ]
        if decision.compensation > 0:
            lines.append(
                text(
                    "form.readback_compensation",
                    language=language,
                    amount=money(decision.compensation, facts.currency, language=language),
                )
            )
        category = tracker.get_slot("refund_reason_category")
        reason = tracker.get_slot("refund_reason")
        if category:
            lines.append(
                text(
                    "form.readback_reason_category",
                    language=language,
                    category=text(f"category.{category}", language=language),
                    reason=reason,
                )
            )
        else:
            lines.append(text("form.readback_reason", language=language, reason=reason))
        review = (
            text("form.review_automatic", language=language)
            if decision.review is Review.AUTOMATIC
            else text("form.review_merchant", language=language, days=config.review_deadline_days)
        )
        listed = bullet_list(lines, language=language)
        dispatcher.utter_message(
            text=text("form.readback", language=language, lines=listed, review=review),
            buttons=[
                {"title": text("form.submit_yes", language=language), "payload": "/affirm"},
                {"title": text("form.submit_change", language=language), "payload": "/deny"},
            ],
        )
        return []
