"""Submitting the confirmed refund application to the store, once per draft."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    DomainDict,
    customer_of,
    language_of,
    settings,
    state_words,
    unit_of_work,
)
from actions.refund_form import DRAFT_SLOTS
from bot.clock import utcnow
from bot.messages import date, money, text
from bot.refunds import store
from bot.refunds.enums import ReasonCategory, RefundMethod, Review
from bot.refunds.errors import AmountError, OrderNotFound, RefundError
from bot.refunds.models import RefundApplication


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
        language = language_of(tracker)
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
                    reason_category=ReasonCategory(category) if category else None,
                    idempotency_key=f"{tracker.sender_id}:{draft}",
                    conversation_id=tracker.sender_id,
                    now=utcnow(),
                    settings=settings().policy,
                )
                application = submission.application
                reply = _submitted_reply(application, created=submission.created, language=language)
        except RefundError as e:
            why = _refusal_text(e, language=language)
            dispatcher.utter_message(response="utter_refund_failed", why=why)
            return reset
        later = [o for o in tracker.get_slot("next_order_ids") or [] if o != application.order_id]
        if later:
            # Named together with this one ("refunds for 9000… and 9000…"): offered next.
            reply["buttons"] = [
                {
                    "title": text("form.next_order", language=language, order_id=later[0]),
                    "payload": f'/request_refund{{"order_id":"{later[0]}"}}',
                }
            ]
        dispatcher.utter_message(**reply)
        return [*reset, SlotSet("next_order_ids", later or None)]


def _submitted_reply(
    application: RefundApplication, *, created: bool, language: str
) -> dict[str, Any]:
    if not created:
        return {
            "response": "utter_refund_already_submitted",
            "reference": application.reference,
            "status": state_words(application.status, language=language),
        }
    due = application.review_due_at
    params = {
        "reference": application.reference,
        "amount": money(application.amount, application.currency, language=language),
        "review_due": date(due, language=language) if due else "",
    }
    if application.review == Review.AUTOMATIC.value:
        compensation = application.compensation
        params["compensation_note"] = (
            text(
                "form.compensation_note",
                language=language,
                amount=money(compensation, application.currency, language=language),
            )
            if compensation > 0
            else ""
        )
        return {"response": "utter_refund_submitted_automatic", **params}
    if application.method == RefundMethod.RETURN_AND_REFUND.value:
        return {"response": "utter_refund_submitted_return", **params}
    return {"response": "utter_refund_submitted_review", **params}


def _refusal_text(error: RefundError, *, language: str) -> str:
    if isinstance(error, AmountError) and error.code == "exceeds_balance":
        balance = money(
            error.params.get("balance", ""), error.params.get("currency", ""), language=language
        )
        return text("form.refused_balance", language=language, balance=balance)
    if isinstance(error, OrderNotFound):
        return text("form.refused_order", language=language)
    return text("form.refused_other", language=language)
