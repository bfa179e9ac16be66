"""What every action shares: the unit of work, who the buyer is, their language, reading them."""

from __future__ import annotations

import abc
import datetime as dt
import functools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from sqlalchemy.orm import Session

from bot import contract
from bot.clock import utcnow
from bot.contract import HandoffReason
from bot.languages import answered_in
from bot.messages import text
from bot.refunds import reading, store, verification
from bot.refunds.db import get_sessionmaker
from bot.refunds.errors import OrderNotFound
from bot.refunds.models import Order
from bot.refunds.policy import WHY_NOT_CODES
from bot.settings import Settings

DomainDict = dict[str, Any]
SlotDict = dict[str, Any]

#: Intents that leave the form or ask for a person: never an answer to a question.
EXITS = frozenset({"stop", "cancel_refund", "human_handoff"})

#: Intents that leave or pause a form rather than answer its question.
INTERRUPTIONS = frozenset(
    {
        "stop",
        "cancel_refund",
        "human_handoff",
        "check_order_status",
        "check_refund_status",
        "ask_refund_policy",
        "bot_challenge",
        "greet",
        "goodbye",
        "thank",
        "out_of_scope",
    }
)


@functools.cache
def settings() -> Settings:
    """Return the settings of this action server process, read from the environment once."""
    return Settings.from_env()


@contextmanager
def unit_of_work(*, read_only: bool = False) -> Iterator[Session]:
    """Yield a session inside one transaction, committed when the block ends without error.

    ``read_only`` for actions that only look (the form's checks and questions): they then never
    wait for, or hold up, a buyer's application being written (see :mod:`bot.refunds.db`).
    """
    factory = get_sessionmaker(settings().database_url, read_only=read_only)
    with factory.begin() as session:
        yield session


def channel_customer(tracker: Tracker) -> str | None:
    """Return the customer the channel vouched for (its ``customer_id`` metadata), if any."""
    for event in reversed(tracker.events):
        if event.get("event") in ("user", "session_started"):
            metadata = event.get("metadata") or {}
            customer = metadata.get(contract.CUSTOMER_ID)
            if customer:
                return str(customer)
            if event.get("event") == "user":
                return None
    return None


def client_address(tracker: Tracker) -> str | None:
    """Return the address the buyer's latest message came from, when the channel knows it."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            address = (event.get("metadata") or {}).get(contract.CLIENT_ADDRESS)
            return str(address) if address else None
    return None


def customer_of(tracker: Tracker) -> str | None:
    """Return the buyer: vouched for by the channel, or proven by order number and e-mail."""
    return channel_customer(tracker) or tracker.get_slot("verified_customer_id")


def language_of(tracker: Tracker) -> str:
    """Return the conversation's language: the one the gateway put in the latest message.

    A message without one, or with one this version does not speak, is the default's.
    """
    metadata = tracker.latest_message.get("metadata") or {}
    return answered_in(metadata.get(contract.LANGUAGE) if isinstance(metadata, dict) else None)


def latest_intent(tracker: Tracker) -> str | None:
    """Return the intent of the buyer's latest message."""
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    return str(name) if name else None


def latest_text(tracker: Tracker) -> str:
    """Return the text of the buyer's latest message."""
    return str(tracker.latest_message.get("text") or "").strip()


def is_answering(tracker: Tracker, slot: str) -> bool:
    """Return True when the buyer's latest message answers the question for ``slot``."""
    return (
        tracker.get_slot("requested_slot") == slot
        and latest_intent(tracker) not in INTERRUPTIONS
        and not latest_text(tracker).startswith("/")
    )


def latest_entity(tracker: Tracker, entity: str) -> str | None:
    """Return the first value of ``entity`` in the latest message."""
    value = next(tracker.get_latest_entity_values(entity), None)
    return None if value is None else str(value)


def method_name(method: str, *, language: str) -> str:
    """Return a refund method's name as buyers read it ("No-return refund")."""
    return text(f"method.{method}", language=language)


def state_words(status: str, *, language: str) -> str:
    """Return an order's or application's status in words ("waiting to be shipped")."""
    return text(f"state.{status}", language=language)


def why_not_text(why: str | None, protection_days: int, *, language: str) -> str:
    """Return the buyer-facing reason a method is not offered."""
    key = f"why_not.{why}" if why in WHY_NOT_CODES else "why_not.other"
    return text(key, language=language, days=protection_days)


def order_summary(order: Order, *, language: str) -> str:
    """Return a short name for an order: its number and what is in it."""
    titles = ", ".join(item.title for item in order.items[:2])
    if not titles:
        return str(order.id)
    if len(order.items) > 2:
        return text(
            "order.name_more",
            language=language,
            order_id=order.id,
            items=titles,
            more=len(order.items) - 2,
        )
    return text("order.name", language=language, order_id=order.id, items=titles)


def handoff(dispatcher: CollectingDispatcher, reason: HandoffReason) -> None:
    """Ask the gateway to move the conversation to the people's queue (:mod:`bot.handoff`)."""
    dispatcher.utter_message(json_message=contract.handoff_request(reason))


#: What a buyer is told when ownership checks of an order, or from their address, are paused.
PAUSED_RESPONSES = {
    verification.Scope.ORDER: "utter_checks_paused_order",
    verification.Scope.ADDRESS: "utter_checks_paused_address",
}


def checks_paused(
    dispatcher: CollectingDispatcher,
    paused: verification.Pause,
    order_id: str,
    now: dt.datetime,
    *,
    language: str,
) -> SlotDict:
    """Say that ownership checks are paused, offer a person, and ask for the order again.

    A conversation at its limit is handed to a person; an order or an address at its limit is
    told plainly for how long, with a person offered (not brought in: a guesser's conversations
    should not fill the people's queue).
    """
    if paused.scope is verification.Scope.CONVERSATION:
        dispatcher.utter_message(
            response="utter_offer_human",
            field=text("field.order_and_email", language=language),
            hint=text("hint.order_and_email", language=language),
        )
        handoff(dispatcher, HandoffReason.REPEATED_FAILURE)
    else:
        minutes = math.ceil((paused.until - now).total_seconds() / 60)
        wait = (
            text("wait.minutes.one", language=language)
            if minutes <= 1
            else text("wait.minutes.many", language=language, minutes=minutes)
        )
        dispatcher.utter_message(
            response=PAUSED_RESPONSES[paused.scope], order_id=order_id, wait=wait
        )
    return {"order_id": None, "customer_email": None, "policy_block": None}


def refuse(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    slot: str,
    *,
    field: str,
    hint: str,
    response: str | None = None,
    message: str | None = None,
    clear: tuple[str, ...] = (),
    policy: bool = False,
    **params: Any,
) -> SlotDict:
    """Say why an answer for ``slot`` is refused and ask again (``slot`` and ``clear`` emptied).

    The refusal is the domain's ``response`` (with ``params``) or a catalogue ``message``. The
    second refusal of the same question in a row explains what is needed (``hint``), offers a
    person and tells the gateway to bring one in. ``policy`` marks a refusal the refund policy
    makes (not a misunderstanding): a person asked for next is asked because the policy needs
    one.
    """
    dispatcher.utter_message(response=response, text=message, **params)
    count = int(tracker.get_slot("failed_count") or 0) + 1
    if tracker.get_slot("failed_slot") != slot:
        count = 1
    if count >= 2:
        dispatcher.utter_message(response="utter_offer_human", field=field, hint=hint)
        handoff(dispatcher, HandoffReason.REPEATED_FAILURE)
    return {
        slot: None,
        **{other: None for other in clear},
        "failed_slot": slot,
        "failed_count": float(count),
        "policy_block": response if policy else None,
    }


SUCCEEDED: SlotDict = {"failed_slot": None, "failed_count": None, "policy_block": None}


class IdentityFormValidator(FormValidationAction, abc.ABC):
    """Shared slots of every form: the order, and the e-mail an anonymous buyer proves it with."""

    @abc.abstractmethod
    def name(self) -> str:
        """Return the action's name."""

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Drop the e-mail question when the buyer is already known."""
        slots = list(domain_slots)
        if customer_of(tracker) and "customer_email" in slots:
            slots.remove("customer_email")
        return slots

    def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Take the order number the buyer names, or the answer to "what is the order number?".

        The slot has no mapping of its own: a number in a message that is about something else
        is not the form's order (see the refund form's extraction).
        """
        tagged = latest_entity(tracker, "order_id")
        if tagged:
            return {"order_id": tagged}
        if not is_answering(tracker, "order_id"):
            return {}
        return {"order_id": latest_text(tracker)}

    def extract_customer_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Take an e-mail address from the latest message."""
        said = latest_text(tracker)
        email = reading.find_email(said)
        if email:
            return {"customer_email": email}
        if is_answering(tracker, "customer_email"):
            return {"customer_email": said}
        return {}

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Accept an order number of this buyer (or, anonymously, one to prove with an e-mail)."""
        if value is None:
            return {"order_id": None}
        order_id = reading.find_order_id(str(value))
        language = language_of(tracker)
        if order_id is None:
            return refuse(
                dispatcher,
                tracker,
                "order_id",
                response="utter_order_id_invalid",
                field=text("field.order_id", language=language),
                hint=text("hint.order_id_format", language=language),
            )
        customer = customer_of(tracker)
        if customer is None:
            # Anonymous: the e-mail question proves the order is theirs, unless checks of it, of
            # this conversation or from this address are paused: then it is not even asked.
            now = utcnow()
            with unit_of_work(read_only=True) as session:
                paused = verification.pause(
                    session,
                    order_id=order_id,
                    conversation_id=tracker.sender_id,
                    client_address=client_address(tracker),
                    now=now,
                    settings=settings().verification,
                )
            if paused is not None:
                return checks_paused(dispatcher, paused, order_id, now, language=language)
            return {"order_id": order_id, "customer_email": None, **SUCCEEDED}
        with unit_of_work(read_only=True) as session:
            try:
                order = store.find_order(session, order_id=order_id, customer_id=customer)
            except OrderNotFound:
                return refuse(
                    dispatcher,
                    tracker,
                    "order_id",
                    response="utter_order_not_found",
                    order_id=order_id,
                    field=text("field.order_id", language=language),
                    hint=text("hint.order_id_copy", language=language),
                )
            return {
                "order_id": order_id,
                **self.order_accepted(dispatcher, tracker, session, order),
            }

    def validate_customer_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Prove an anonymous buyer owns the order: the e-mail must be the one on it."""
        if value is None:
            return {"customer_email": None}
        email = reading.find_email(str(value))
        language = language_of(tracker)
        if email is None:
            return refuse(
                dispatcher,
                tracker,
                "customer_email",
                response="utter_email_invalid",
                field=text("field.customer_email", language=language),
                hint=text("hint.email", language=language),
            )
        order_id = reading.find_order_id(str(tracker.get_slot("order_id") or ""))
        if not order_id:
            return {"customer_email": email, "order_id": None}
        now = utcnow()
        # A writing unit of work: the attempt is recorded, and checks of one order or from one
        # address are made one at a time (see bot.refunds.verification).
        with unit_of_work() as session:
            verdict = verification.verify(
                session,
                order_id=order_id,
                email=email,
                conversation_id=tracker.sender_id,
                client_address=client_address(tracker),
                now=now,
                settings=settings().verification,
            )
            if verdict.order is not None:
                return {
                    "customer_email": email,
                    "verified_customer_id": verdict.order.customer_id,
                    **self.order_accepted(dispatcher, tracker, session, verdict.order),
                }
        if verdict.compared:
            # Not "wrong e-mail": an unknown order gets the same answer.
            dispatcher.utter_message(response="utter_order_not_found_anonymous", order_id=order_id)
        if verdict.pause is not None:
            return checks_paused(dispatcher, verdict.pause, order_id, now, language=language)
        return {"order_id": None, "customer_email": None, "policy_block": None}

    def order_accepted(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        session: Session,
        order: Order,
    ) -> SlotDict:
        """Return what else changes when ``order`` becomes the conversation's order."""
        return dict(SUCCEEDED)
