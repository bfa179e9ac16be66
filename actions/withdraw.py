"""Withdrawing a submitted application: pick it, confirm, withdraw (an audited event)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    DomainDict,
    customer_of,
    language_of,
    latest_text,
    state_words,
    unit_of_work,
)
from actions.lines import bullet_list, describe_application
from actions.mentions import customer_order_by_words, reference_named
from actions.status import named_order
from bot.clock import utcnow
from bot.messages import text
from bot.refunds import policy, store
from bot.refunds.errors import ApplicationNotFound, TransitionNotAllowed


class ActionWithdrawRefund(Action):
    """Finds the application to withdraw and asks the buyer to confirm."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_withdraw_refund"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Ask to confirm the one withdrawable application, or which of several."""
        customer = customer_of(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_need_identity")
            return []
        # Only a reference is ever repeated back, whatever NLU tagged or a button carried.
        reference = reference_named(tracker)
        language = language_of(tracker)
        order_id: str | None = None
        forget: list[EventType] = []
        if not reference:
            order_id, forget = named_order(dispatcher, tracker)
        with unit_of_work() as session:
            if not reference and order_id is None:
                # "the lamp one": an order of theirs named by its item.
                said = latest_text(tracker)
                named = customer_order_by_words(session, customer, said, language)
                order_id = named.id if named is not None else None
            if reference:
                try:
                    found = store.find_application(
                        session, reference=reference, customer_id=customer
                    )
                except ApplicationNotFound:
                    dispatcher.utter_message(
                        response="utter_application_not_found", reference=reference
                    )
                    return [*forget, SlotSet("application_reference", None)]
                candidates = [found]
            else:
                candidates = store.list_applications(
                    session,
                    customer_id=customer,
                    order_id=order_id,
                    statuses=policy.WITHDRAWABLE_STATUSES,
                )
            if not candidates:
                if order_id:
                    dispatcher.utter_message(
                        response="utter_nothing_to_withdraw_for_order", order_id=order_id
                    )
                else:
                    dispatcher.utter_message(response="utter_nothing_to_withdraw")
                return [*forget, SlotSet("application_reference", None)]
            if len(candidates) > 1:
                lines = [describe_application(a, language=language) for a in candidates]
                dispatcher.utter_message(
                    response="utter_which_application",
                    lines=bullet_list(lines, language=language),
                    buttons=[
                        {
                            "title": text(
                                "application.button",
                                language=language,
                                reference=a.reference,
                                order_id=a.order_id,
                            ),
                            "payload": (
                                f'/cancel_refund{{"application_reference":"{a.reference}"}}'
                            ),
                        }
                        for a in candidates
                    ],
                )
                return [*forget, SlotSet("application_reference", None)]
            application = candidates[0]
            if application.status not in {s.value for s in policy.WITHDRAWABLE_STATUSES}:
                dispatcher.utter_message(
                    response="utter_withdraw_not_allowed",
                    reference=application.reference,
                    status=state_words(application.status, language=language),
                )
                return [*forget, SlotSet("application_reference", None)]
            description = describe_application(application, language=language)
        dispatcher.utter_message(response="utter_confirm_withdraw", description=description)
        return [*forget, SlotSet("application_reference", application.reference)]


class ActionWithdrawConfirm(Action):
    """Withdraws the application the buyer just confirmed."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_withdraw_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Withdraw it, or say why it can no longer be withdrawn."""
        customer = customer_of(tracker)
        language = language_of(tracker)
        reference = tracker.get_slot("application_reference")
        if customer is None or not reference:
            dispatcher.utter_message(response="utter_how_can_i_help")
            return []
        with unit_of_work() as session:
            try:
                application = store.find_application(
                    session, reference=reference, customer_id=customer
                )
                store.withdraw(session, application=application, customer_id=customer, now=utcnow())
            except ApplicationNotFound:
                dispatcher.utter_message(
                    response="utter_application_not_found", reference=reference
                )
                return [SlotSet("application_reference", None)]
            except TransitionNotAllowed as e:
                # The status as it is now: a merchant may have moved it on since the buyer asked.
                dispatcher.utter_message(
                    response="utter_withdraw_not_allowed",
                    reference=reference,
                    status=state_words(e.params["current"], language=language),
                )
                return [SlotSet("application_reference", None)]
        dispatcher.utter_message(response="utter_withdrawn", reference=reference)
        return [SlotSet("application_reference", None)]
