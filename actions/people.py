"""Bringing in a person when the buyer asks for one."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import DomainDict, handoff
from bot.contract import HandoffReason


class ActionRequestHuman(Action):
    """Records that the buyer asked for a person and tells them what happens next."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Acknowledge the request and ask the gateway to move the conversation to the agents.

        Right after the policy refused something (an amount above a limit, a method the order
        does not allow), the person is needed for the policy, and the agents see that.
        """
        dispatcher.utter_message(response="utter_human_requested")
        reason = (
            HandoffReason.POLICY if tracker.get_slot("policy_block") else HandoffReason.BUYER_ASKED
        )
        handoff(dispatcher, reason)
        return []
