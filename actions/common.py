"""What every action shares: the unit of work, who the buyer is, and reading their messages."""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from sqlalchemy.orm import Session

from bot.refunds.db import get_sessionmaker
from bot.refunds.errors import OrderNotFound
from bot.refunds.models import Order, RefundMethod
from bot.refunds.policy import WHY_NOT_TEXT, OrderFacts
from bot.settings import Settings

DomainDict = dict[str, Any]
SlotDict = dict[str, Any]

ORDER_ID = re.compile(r"(?<!\d)\d{12,19}(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

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
    }
)

METHOD_NAMES = {
    RefundMethod.IMMEDIATE.value: "Immediate refund",
    RefundMethod.NO_RETURN.value: "No-return refund",
    RefundMethod.RETURN_AND_REFUND.value: "Return and refund",
}

STATUS_WORDS = {
    "awaiting_shipment": "waiting to be shipped",
    "shipped": "shipped",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "pending_review": "waiting for the merchant's review",
    "approved": "approved",
    "awaiting_return": "approved, waiting for you to send the item back",
    "return_received": "return received, refund on its way",
    "refunded": "refunded",
    "rejected": "rejected by the merchant",
    "withdrawn": "withdrawn",
}


def settings() -> Settings:
    """Return the settings of this action server process."""
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
    """Return the customer the channel vouched for (``metadata.customer_id``), if any."""
    for event in reversed(tracker.events):
        if event.get("event") in ("user", "session_started"):
            metadata = event.get("metadata") or {}
            customer = metadata.get("customer_id")
            if customer:
                return str(customer)
            if event.get("event") == "user":
                return None
    return None


def customer_of(tracker: Tracker) -> str | None:
    """Return the buyer: vouched for by the channel, or proven by order number and e-mail."""
    return channel_customer(tracker) or tracker.get_slot("verified_customer_id")


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


def why_not_text(why: str | None, facts: OrderFacts, protection_days: int) -> str:
    """Return the buyer-facing reason a method is not offered."""
    template = WHY_NOT_TEXT.get(why or "", "the policy does not allow it for this order")
    return template.format(days=protection_days, limit="", currency=facts.currency)


def money(amount: object, currency: str) -> str:
    """Return an amount as the buyer reads it."""
    return f"{amount} {currency}"


def order_summary(order: Order) -> str:
    """Return a short name for an order: its number and what is in it."""
    titles = ", ".join(item.title for item in order.items[:2])
    more = f" and {len(order.items) - 2} more" if len(order.items) > 2 else ""
    return f"{order.id} ({titles}{more})" if titles else str(order.id)


def handoff(dispatcher: CollectingDispatcher, reason: str) -> None:
    """Ask the gateway to move the conversation to the people's queue (bot.gateway.handoff)."""
    dispatcher.utter_message(json_message={"handoff": {"reason": reason}})


def refuse(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    slot: str,
    *,
    field: str,
    hint: str,
    response: str | None = None,
    text: str | None = None,
    clear: tuple[str, ...] = (),
    policy: bool = False,
    **params: Any,
) -> SlotDict:
    """Say why an answer for ``slot`` is refused and ask again (``slot`` and ``clear`` emptied).

    The second refusal of the same question in a row explains what is needed (``hint``),
    offers a person and tells the gateway to bring one in. ``policy`` marks a refusal the
    refund policy makes (not a misunderstanding): a person asked for next is asked because
    the policy needs one.
    """
    dispatcher.utter_message(response=response, text=text, **params)
    count = int(tracker.get_slot("failed_count") or 0) + 1
    if tracker.get_slot("failed_slot") != slot:
        count = 1
    if count >= 2:
        dispatcher.utter_message(response="utter_offer_human", field=field, hint=hint)
        handoff(dispatcher, "repeated_failure")
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
        """Take the answer to "what is the order number?" even when NLU found no entity."""
        if latest_entity(tracker, "order_id") or not is_answering(tracker, "order_id"):
            return {}
        return {"order_id": latest_text(tracker)}

    def extract_customer_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Take an e-mail address from the latest message."""
        text = latest_text(tracker)
        match = EMAIL.search(text)
        if match:
            return {"customer_email": match.group(0)}
        if is_answering(tracker, "customer_email"):
            return {"customer_email": text}
        return {}

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotDict:
        """Accept an order number of this buyer (or, anonymously, one to prove with an e-mail)."""
        if value is None:
            return {"order_id": None}
        match = ORDER_ID.search(re.sub(r"(?<=\d)[\s-](?=\d)", "", str(value)))
        if match is None:
            return refuse(
                dispatcher,
                tracker,
                "order_id",
                response="utter_order_id_invalid",
                field="order number",
                hint="Order numbers have 12 to 19 digits and are in your order confirmation.",
            )
        order_id = match.group(0)
        customer = customer_of(tracker)
        if customer is None:
            # Anonymous: the e-mail question proves the order is theirs.
            return {"order_id": order_id, "customer_email": None, **SUCCEEDED}
        with unit_of_work(read_only=True) as session:
            from bot.refunds import store

            try:
                order = store.find_order(session, order_id=order_id, customer_id=customer)
            except OrderNotFound:
                return refuse(
                    dispatcher,
                    tracker,
                    "order_id",
                    response="utter_order_not_found",
                    order_id=order_id,
                    field="order number",
                    hint="Please copy it from your order confirmation.",
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
        match = EMAIL.search(str(value))
        if match is None:
            return refuse(
                dispatcher,
                tracker,
                "customer_email",
                response="utter_email_invalid",
                field="e-mail address",
                hint="It's the address your order confirmation was sent to.",
            )
        order_id = tracker.get_slot("order_id")
        if not order_id:
            return {"customer_email": match.group(0)}
        from bot.refunds import store

        with unit_of_work(read_only=True) as session:
            try:
                order = store.verify_order_email(session, order_id=order_id, email=match.group(0))
            except OrderNotFound:
                return refuse(
                    dispatcher,
                    tracker,
                    "customer_email",
                    clear=("order_id",),
                    response="utter_order_not_found_anonymous",
                    order_id=order_id,
                    field="order number and e-mail",
                    hint="Both must match the order confirmation.",
                )
            return {
                "customer_email": match.group(0),
                "verified_customer_id": order.customer_id,
                **self.order_accepted(dispatcher, tracker, session, order),
            }

    def order_accepted(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        session: Session,
        order: Order,
    ) -> SlotDict:
        """Return what else changes when ``order`` becomes the conversation's order."""
        return dict(SUCCEEDED)
