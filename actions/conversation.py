"""Answers outside the forms: the refund policy, leaving a form, asking for a person."""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.aftercare import tell_about_applications
from actions.common import DomainDict, handoff, latest_text, settings
from actions.refund_form import DRAFT_SLOTS
from bot.contract import HandoffReason

#: Which policy answer a question is about; the first that matches wins.
POLICY_TOPICS: list[tuple[str, re.Pattern[str]]] = [
    (
        "utter_policy_return_shipping",
        re.compile(
            r"ship(ping)? (back|cost|fee)|who pays|postage|"
            r"return (label|shipping|postage)|send (it )?back",
            re.I,
        ),
    ),
    (
        "utter_policy_compensation",
        re.compile(
            r"compensat|late|never (arrived|shipped)|"
            r"didn'?t ship|not shipped|delay",
            re.I,
        ),
    ),
    (
        "utter_policy_deadlines",
        re.compile(
            r"how long|how many days|deadline|time limit|"
            r"when will|how soon|days|window|too late|expire",
            re.I,
        ),
    ),
    ("utter_policy_partial", re.compile(r"partial|part of|some of (the|my) money|only part", re.I)),
    ("utter_policy_no_return", re.compile(r"keep (it|the item)|no[- ]return|without return", re.I)),
    (
        "utter_policy_immediate",
        re.compile(
            r"immediate|instant|before (it )?ship|not shipped yet|"
            r"cancel",
            re.I,
        ),
    ),
]


class ActionPolicyAnswer(Action):
    """Answers a question about the refund policy from the policy's own terms."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_policy_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Pick the answer the question is about, or give the overview."""
        answer_policy(dispatcher, policy_topic(latest_text(tracker)) or "utter_policy_overview")
        return []


_MONEY_BACK = re.compile(r"\b(refund|money|return|paid|pay ?back|reimburs)", re.I)


def policy_topic(said: str) -> str | None:
    """Return the policy answer a question is about, if it names one of the policy's topics."""
    return next((name for name, pattern in POLICY_TOPICS if pattern.search(said)), None)


def policy_question(said: str) -> str | None:
    """Return the policy answer for a question about getting money back, read from its words.

    For messages NLU did not take for a policy question ("how long until I get my money
    back?" asked by a buyer who has no application yet).
    """
    return policy_topic(said) if _MONEY_BACK.search(said) else None


def answer_policy(dispatcher: CollectingDispatcher, response: str) -> None:
    """Say the policy ``response`` with the policy's own terms filled in."""
    config = settings().policy
    dispatcher.utter_message(
        response=response,
        no_return_threshold=str(config.no_return_threshold),
        currency_hint="per order",
        protection_days=str(config.protection_window_days),
        review_days=str(config.review_deadline_days),
        compensation_percent=f"{config.compensation_rate * 100:.0f}",
    )


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
        topic = policy_question(latest_text(tracker))
        if topic is not None:
            answer_policy(dispatcher, topic)
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
