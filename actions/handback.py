"""When a person from support hands the conversation back, or closes it.

The agent may fill what the refund form asks (the order, the method, the amount, the reason).
Those values go through the form's own validators, as if the buyer had typed them: an order
is checked to be the buyer's and refundable, a method against what the order allows, an amount
against the balance. Then the bot says what comes next: the form's next question (asked by the
gateway running the form), or, with no form open, what it can do. Closing a conversation ends
any open form, silently: nothing of the old draft comes back on the buyer's next message.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import DomainDict
from actions.refund_form import DRAFT_SLOTS, ValidateRefundForm
from bot import contract

#: The form's fields in the order it asks them: an order is checked before its method.
FIELDS = ("order_id", "refund_method", "refund_amount", "refund_reason")


def agent_values(tracker: Tracker) -> dict[str, str]:
    """Return the slots the hand-back set: the slot events at the end of the tracker."""
    values: dict[str, str] = {}
    for event in reversed(tracker.events):
        if event.get("event") != "slot":
            break
        name = str(event.get("name"))
        if name in contract.AGENT_SLOTS and event.get("value") and name not in values:
            values[name] = str(event["value"])
    return values


class ActionHandBack(Action):
    """Checks what the agent filled in and says what comes next."""

    def name(self) -> str:
        """Return the action's name."""
        return contract.HAND_BACK_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Validate the agent's values with the form's validators; greet when no form is open."""
        values = agent_values(tracker)
        form = ValidateRefundForm()
        events: list[EventType] = []
        if "order_id" in values and values["order_id"] != _before(tracker, "order_id"):
            # The agent moved the refund to another order: no question to the buyer about it.
            tracker.slots["refund_draft_id"] = None
            events.append(SlotSet("refund_draft_id", None))
        for field in FIELDS:
            if field not in values:
                continue
            validate = getattr(form, f"validate_{field}")
            checked = validate(values[field], dispatcher, tracker, domain)
            tracker.slots.update(checked)
            events += [SlotSet(name, value) for name, value in checked.items()]
        if not tracker.active_loop.get("name"):
            dispatcher.utter_message(response="utter_how_can_i_help")
        return events


def _before(tracker: Tracker, slot: str) -> object:
    """Return ``slot`` as it was before the hand-back's slot events."""
    value: object = None
    trailing = True
    for event in reversed(tracker.events):
        if trailing and event.get("event") == "slot":
            continue
        trailing = False
        if event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return value


class ActionConversationClosed(Action):
    """Ends whatever form was open when an agent closed the conversation."""

    def name(self) -> str:
        """Return the action's name."""
        return contract.CLOSED_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Deactivate the form and forget its draft; say nothing (the agent said goodbye)."""
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            *(SlotSet(slot, None) for slot in DRAFT_SLOTS),
            SlotSet("order_id", None),
        ]
