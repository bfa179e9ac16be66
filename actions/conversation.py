"""Answers outside the forms: the refund policy, leaving a form, asking for a person."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.aftercare import tell_about_applications
from actions.common import DomainDict, handoff, language_of, latest_text
from actions.mentions import last_action_before_message
from actions.people import ActionRequestHuman
from actions.policy_answers import (
    about_refunds,
    answer_policy,
    policy_question,
    policy_topic,
    shop_question,
)
from actions.refund_form import DRAFT_SLOTS
from actions.status import ActionRefundStatus
from actions.typed import asks_about_the_order_in_focus, reads_as_a_request
from bot.contract import HandoffReason
from bot.refunds import reading
from bot.refunds.words import readable


class ActionPolicyAnswer(Action):
    """Answers a question about the refund policy from the policy's own terms."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_policy_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Pick the answer the question is about, or give the overview.

        A question that names an RF reference is about that refund, and one that asks for a
        person gets one, whatever NLU made of the rest.
        """
        said = latest_text(tracker)
        language = language_of(tracker)
        if reading.find_reference(said):
            return await ActionRefundStatus().run(dispatcher, tracker, domain)
        if reading.wants_a_person(said, language):
            return await ActionRequestHuman().run(dispatcher, tracker, domain)
        outside = not tracker.active_loop.get("name")
        names_an_order = reading.find_order_id(said) is not None and reads_as_a_request(
            said, language
        )
        if outside and (names_an_order or asks_about_the_order_in_focus(tracker)):
            # "can I get my money back for the usb cable 9000… without sending it back?"
            return [FollowupAction("refund_form")]
        refusal = None if outside else _refusal_asked_about(tracker, said, language)
        if refusal:
            # "why can't I return it?" right after the form refused a method: that refusal.
            dispatcher.utter_message(text=refusal)
            return []
        if shop_question(said, language) or (outside and not about_refunds(said, language)):
            # A shop question that is not about refunds ("can I pay with Apple Pay?").
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        answer_policy(
            dispatcher, policy_topic(said, language) or "utter_policy_overview", language=language
        )
        return []


def _refusal_asked_about(tracker: Tracker, said: str, language: str) -> str | None:
    """Return the form's latest policy refusal when the buyer asks why, else None."""
    block = tracker.get_slot("policy_block")
    if not block or not any(w.why_not.search(said) for w in readable(language)):
        return None
    for event in reversed(tracker.events):
        if (
            event.get("event") == "bot"
            and (event.get("metadata") or {}).get("utter_action") == block
        ):
            return str(event.get("text") or "") or None
    return None


class ActionStopForm(Action):
    """Leaves the refund draft behind: nothing is submitted, nothing is kept half-filled."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Clear the draft and say so."""
        dispatcher.utter_message(response="utter_form_stopped")
        return [SlotSet(slot, None) for slot in DRAFT_SLOTS]


class ActionDefaultFallback(Action):
    """The last resort after the buyer could not be understood twice: bring in a person."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Apologise and hand the conversation over; the dialogue state stays as it was."""
        dispatcher.utter_message(response="utter_default")
        handoff(dispatcher, HandoffReason.REPEATED_FAILURE)
        return [UserUtteranceReverted()]


#: Intents that mean the bot could not help with what the buyer wrote.
NOT_UNDERSTOOD = frozenset({"nlu_fallback", "out_of_scope"})
#: Messages in a row the bot could not help with before a person is brought in.
NOT_UNDERSTOOD_LIMIT = 3


def _keeps_after_withdraw_question(tracker: Tracker) -> bool:
    """Return True when the buyer's "no"-ish words answer "withdraw this application?"."""
    if not tracker.get_slot("application_reference"):
        return False
    said = latest_text(tracker)
    return last_action_before_message(tracker) == "action_withdraw_refund" and any(
        w.keep.search(said) for w in readable(language_of(tracker))
    )


class ActionNotUnderstood(Action):
    """Answers what the bot cannot help with; repeated, it brings in a person.

    An unclear message asks to rephrase (in words, never an intent's name); a question outside
    orders and refunds says what the bot can do. Two unclear messages in a row, or three in a row
    of either kind ("blorp", "zzkk qwop", "can I pay with Apple Pay?"), bring in a person, the
    way repeated failures to answer a question do.
    """

    def name(self) -> str:
        """Return the action's name."""
        return "action_not_understood"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Say so, or hand over when it keeps happening."""
        if tell_about_applications(dispatcher, tracker):
            return []
        if reading.wants_a_person(latest_text(tracker), language_of(tracker)):
            return await ActionRequestHuman().run(dispatcher, tracker, domain)
        if _keeps_after_withdraw_question(tracker):
            # "hmm no, leave it" to "Withdraw application …?"
            dispatcher.utter_message(response="utter_withdraw_kept")
            return []
        said = latest_text(tracker)
        language = language_of(tracker)
        topic = policy_question(said, language)
        if topic is None and tracker.active_loop.get("name") and "?" in said:
            # Inside a refund, "what's the difference between these two?" is about refunds.
            if about_refunds(said, language) and not shop_question(said, language):
                topic = policy_topic(said, language) or "utter_policy_overview"
        if topic is not None:
            answer_policy(dispatcher, topic, language=language)
            return []
        intents = [
            (event.get("parse_data") or {}).get("intent", {}).get("name")
            for event in tracker.events
            if event.get("event") == "user"
        ]
        unclear_twice = intents[-2:] == ["nlu_fallback", "nlu_fallback"]
        in_a_row = len(intents) - next(
            (i + 1 for i in range(len(intents) - 1, -1, -1) if intents[i] not in NOT_UNDERSTOOD),
            0,
        )
        if unclear_twice or in_a_row >= NOT_UNDERSTOOD_LIMIT:
            dispatcher.utter_message(response="utter_default")
            handoff(dispatcher, HandoffReason.REPEATED_FAILURE)
        elif intents and intents[-1] == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
        else:
            dispatcher.utter_message(response="utter_ask_rephrase")
        return []
