"""Where is my order, where is my refund: forms that identify the order, actions that answer."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.aftercare import tell_about_applications
from actions.common import (
    DomainDict,
    IdentityFormValidator,
    customer_of,
    language_of,
    latest_entity,
    latest_text,
    unit_of_work,
)
from actions.lines import bullet_list, describe_application, describe_order
from actions.mentions import (
    customer_order_by_words,
    order_by_words,
    order_named_since_question,
    reference_named,
)
from actions.people import ActionRequestHuman
from actions.policy_answers import answer_policy, policy_question
from actions.typed import reads_as_a_request
from bot.clock import utcnow
from bot.messages import text
from bot.refunds import reading, store
from bot.refunds.errors import ApplicationNotFound, OrderNotFound


class StatusFormValidator(IdentityFormValidator):
    """A known buyer may ask without an order number; an anonymous one must prove an order."""

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Ask nothing of a known buyer: the answer lists their orders when none is named."""
        if customer_of(tracker):
            return []
        return list(domain_slots)


class ValidateOrderStatusForm(StatusFormValidator):
    """Validates the order status form."""

    def name(self) -> str:
        """Return the action's name."""
        return "validate_order_status_form"


class ValidateWithdrawForm(StatusFormValidator):
    """Validates the withdraw form (who is asking; which application is the action's part)."""

    def name(self) -> str:
        """Return the action's name."""
        return "validate_withdraw_form"


class ValidateRefundStatusForm(StatusFormValidator):
    """Validates the refund status form."""

    def name(self) -> str:
        """Return the action's name."""
        return "validate_refund_status_form"


def named_order(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> tuple[str | None, list[EventType]]:
    """Return the order number the buyer's question names, and the events that forget a bad one.

    Only what was said since the question counts (see :mod:`actions.mentions`), never an order
    an earlier turn left behind. Only an order number is ever repeated back: a tag that is not
    one is forgotten, and said not to be one.
    """
    order_id = order_named_since_question(tracker)
    if order_id is not None:
        return order_id, []
    tagged = latest_entity(tracker, "order_id")
    if tagged is not None and reading.find_order_id(tagged) is None:
        dispatcher.utter_message(response="utter_order_id_invalid")
        return None, [SlotSet("order_id", None)]
    return None, []


class ActionOrderStatus(Action):
    """Tells the buyer where their order is, or lists their recent orders."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Answer with the order named in the conversation, or with the buyer's orders.

        A question that names an RF reference is about that refund, and words that ask for a
        refund start one, whatever NLU made of them.
        """
        said = latest_text(tracker)
        language = language_of(tracker)
        if reading.find_reference(said):
            return await ActionRefundStatus().run(dispatcher, tracker, domain)
        if not tracker.active_loop.get("name") and reads_as_a_request(said, language):
            # "order 8041… still hasn't shipped, I want to cancel it": a request, not a question.
            return [FollowupAction("refund_form")]
        customer = customer_of(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_need_identity")
            return []
        order_id, events = named_order(dispatcher, tracker)
        with unit_of_work(read_only=True) as session:
            if order_id:
                try:
                    order = store.find_order(session, order_id=order_id, customer_id=customer)
                except OrderNotFound:
                    dispatcher.utter_message(response="utter_order_not_found", order_id=order_id)
                    return events
                dispatcher.utter_message(text=describe_order(order, language=language))
                return events
            orders = store.customer_orders(session, customer_id=customer)
            named = order_by_words(orders, said, language)
            if named is not None:
                dispatcher.utter_message(text=describe_order(named, language=language))
                return events
            orders = orders[:5]
            if not orders:
                dispatcher.utter_message(response="utter_no_orders")
                return events
            lines = [describe_order(o, language=language) for o in orders]
        listed = bullet_list(lines, language=language)
        dispatcher.utter_message(text=text("order.list", language=language, lines=listed))
        return events


class ActionRefundStatus(Action):
    """Tells the buyer where their refunds are."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_refund_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """List the buyer's applications (of the named order, if any), newest first."""
        customer = customer_of(tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_need_identity")
            return []
        # "I sent it back, tracking number LX…" is news for an application, not a question.
        if tell_about_applications(dispatcher, tracker):
            return []
        said = latest_text(tracker)
        language = language_of(tracker)
        if reading.wants_a_person(said, language):
            return await ActionRequestHuman().run(dispatcher, tracker, domain)
        if reading.find_order_id(said) and reads_as_a_request(said, language):
            # "refund for the watch strap 9000…": a request for a refund, not about one.
            return [FollowupAction("refund_form")]
        reference = reference_named(tracker)
        order_id, events = (None, []) if reference else named_order(dispatcher, tracker)
        with unit_of_work() as session:
            # A merchant who let the review deadline pass has approved by silence.
            store.approve_overdue(session, now=utcnow(), customer_id=customer)
            if reference:
                try:
                    found = store.find_application(
                        session, reference=reference, customer_id=customer
                    )
                except ApplicationNotFound:
                    dispatcher.utter_message(
                        response="utter_application_not_found", reference=reference
                    )
                    return []
                line = describe_application(found, language=language)
                dispatcher.utter_message(text=text("application.one", language=language, line=line))
                return []
            if order_id is None:
                named = customer_order_by_words(session, customer, said, language)
                order_id = named.id if named is not None else None
            applications = store.list_applications(session, customer_id=customer, order_id=order_id)
            if not applications:
                if order_id:
                    dispatcher.utter_message(
                        response="utter_no_applications_for_order", order_id=order_id
                    )
                elif (topic := policy_question(said, language)) is not None:
                    # "How long until I get my money back?" with nothing applied for yet.
                    answer_policy(dispatcher, topic, language=language)
                else:
                    dispatcher.utter_message(response="utter_no_applications")
                return events
            lines = [describe_application(a, language=language) for a in applications[:5]]
        if len(lines) == 1:
            dispatcher.utter_message(text=text("application.one", language=language, line=lines[0]))
        else:
            listed = bullet_list(lines, language=language)
            dispatcher.utter_message(text=text("application.list", language=language, lines=listed))
        return events
