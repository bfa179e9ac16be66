"""What a buyer tells about an application already submitted: answers and tracking numbers.

The merchant may ask the buyer something (the notifier delivers the question); the buyer's next
message that is not another request is the answer: it is attached to the application, as an
audited event by the buyer, and acknowledged. A return tracking number in a carrier's format is
kept on the application that waits for the item. Everything else goes on to the usual answer.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    DomainDict,
    customer_of,
    language_of,
    latest_intent,
    latest_text,
    unit_of_work,
)
from actions.lines import bullet_list, describe_application
from actions.mentions import customer_order_by_words, last_action_before_message, reference_named
from bot.clock import utcnow
from bot.languages import DEFAULT
from bot.messages import text
from bot.refunds import reading, store
from bot.refunds.enums import RefundMethod, RefundStatus
from bot.refunds.errors import AmountError, TransitionNotAllowed
from bot.refunds.models import RefundApplication

#: Intents that may answer a merchant's question ("yes", "no", a description, words NLU missed).
ANSWERS = frozenset({"inform", "affirm", "deny", "nlu_fallback", "out_of_scope"})
#: Statuses of an application the merchant can still ask about.
OPEN = (RefundStatus.PENDING_REVIEW, RefundStatus.APPROVED, RefundStatus.AWAITING_RETURN)
#: What the rules answered before a message was read as news about an application.
PLAIN_ANSWERS = {
    "affirm": "utter_how_can_i_help",
    "deny": "utter_nothing_to_stop",
    "inform": "utter_inform_without_context",
}


def _pick(applications: list[RefundApplication], reference: str | None) -> RefundApplication | None:
    if reference:
        return next((a for a in applications if a.reference == reference), None)
    return applications[0] if len(applications) == 1 else None


def tell_about_applications(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Attach a tracking number or an answer the latest message carries; True when it did."""
    customer = customer_of(tracker)
    said = latest_text(tracker)
    if customer is None or not said or said.startswith("/") or tracker.active_loop.get("name"):
        return False
    tracking = reading.find_tracking_number(said)
    reference = reference_named(tracker)
    language = language_of(tracker)
    now = utcnow()
    with unit_of_work() as session:
        applications = store.list_applications(session, customer_id=customer, statuses=OPEN)
        if tracking:
            # The item goes back for a return and refund; early (before the merchant's
            # approval) is still worth keeping.
            awaiting = [a for a in applications if a.method == RefundMethod.RETURN_AND_REFUND.value]
            if not awaiting:
                return False
            application = _pick(awaiting, reference)
            if application is None:
                lines = [describe_application(a, language=language) for a in awaiting]
                listed = bullet_list(lines, language=language)
                dispatcher.utter_message(
                    text=text(
                        "aftercare.which_return", language=language, tracking=tracking, lines=listed
                    )
                )
                return True
            try:
                store.add_buyer_note(
                    session,
                    application=application,
                    customer_id=customer,
                    now=now,
                    note=said,
                    return_tracking=tracking,
                )
            except TransitionNotAllowed:
                return False
            dispatcher.utter_message(
                text=text(
                    "aftercare.tracking_kept",
                    language=language,
                    tracking=tracking,
                    reference=application.reference,
                    line=describe_application(application, language=language),
                )
            )
            return True
        if latest_intent(tracker) not in ANSWERS:
            return False
        asked = [a for a in applications if store.open_question(session, application=a)]
        application = _pick(asked, reference) or (asked[0] if asked else None)
        if application is None:
            return False
        try:
            store.add_buyer_note(
                session, application=application, customer_id=customer, now=now, note=said
            )
        except TransitionNotAllowed:
            return False
        dispatcher.utter_message(
            text=text(
                "aftercare.answer_passed_on", language=language, reference=application.reference
            )
        )
        return True


class ActionUnprompted(Action):
    """Answers a detail, a yes or a no that no question of the bot asked for."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_unprompted"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Attach it to the application it is about, or say what the bot can do with it."""
        if tell_about_applications(dispatcher, tracker):
            return []
        offered = tracker.get_slot("next_order_ids")
        if (
            offered
            and latest_intent(tracker) == "affirm"
            and last_action_before_message(tracker) == "action_submit_refund"
        ):
            # "yes" to the next order offered with the submitted application.
            return [SlotSet("order_id", offered[0]), FollowupAction("refund_form")]
        if latest_intent(tracker) == "inform" and (
            describes_a_refund(latest_text(tracker), language_of(tracker))
            or _returns_an_item(tracker)
        ):
            # "need 20 dollars back on 9000…, keep the item", "I want to return the usb cable":
            # a refund, with all it says.
            return [FollowupAction("refund_form")]
        response = PLAIN_ANSWERS.get(latest_intent(tracker) or "", "utter_how_can_i_help")
        dispatcher.utter_message(response=response)
        return []


def describes_a_refund(said: str, language: str = DEFAULT) -> bool:
    """Return True when a detail names an order and what to do about it (money, a method)."""
    if reading.find_order_id(said) is None:
        return False
    try:
        reading.parse_amount(reading.ORDER_ID.sub(" ", said), language)
    except AmountError:
        return (
            reading.method_from_text(said, language) is not None
            or reading.classify_reason(said, language) is not None
        )
    return True


def _returns_an_item(tracker: Tracker) -> bool:
    """Return True when the buyer names a method and one of their orders by its item."""
    said = latest_text(tracker)
    customer = customer_of(tracker)
    if customer is None or reading.method_from_text(said, language_of(tracker)) is None:
        return False
    if tracker.get_slot("order_id"):
        return True  # "ok I want to return it": the order the conversation is about.
    with unit_of_work(read_only=True) as session:
        return customer_order_by_words(session, customer, said, language_of(tracker)) is not None
