"""What the buyer's question names: an order, an application, or nothing.

A status question or a withdrawal is about what the buyer names in it — an order number, an
RF reference, "my last order", an item of one of their orders ("where is the lamp?") — never
about an order an earlier, unrelated turn left in the ``order_id`` slot. With nothing named,
the answer lists what the buyer has to pick from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from actions.common import latest_entity, latest_text
from bot.languages import DEFAULT
from bot.refunds import reading, store
from bot.refunds.models import Order
from bot.refunds.words import readable

#: Intents that start a question about an order or an application.
QUESTIONS = frozenset({"check_order_status", "check_refund_status", "cancel_refund"})

#: Words of item titles too common to name one order.
_COMMON = frozenset(
    "with from that this your have order item items pack pair size color colour black white "
    "blue green grey gray large small medium mini set for and the new".split()
)


def _user_events_since_question(tracker: Tracker) -> int:
    """Return the index of the buyer's latest question event (or of their latest message)."""
    events = tracker.events
    latest = None
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") != "user":
            continue
        if latest is None:
            latest = index
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent in QUESTIONS:
            return index
    return latest if latest is not None else len(events)


def order_named_since_question(tracker: Tracker) -> str | None:
    """Return the order number named since the buyer asked their question, if any.

    The question's own words count ("where is order 9000…?"), and so do answers the status
    form asked for afterwards (an anonymous buyer's order number, proven by e-mail).
    """
    start = _user_events_since_question(tracker)
    said: str | None = None
    slot: str | None = None
    for event in tracker.events[start:]:
        if event.get("event") == "slot" and event.get("name") == "order_id":
            value = event.get("value")
            slot = reading.find_order_id(str(value)) if value else None
        elif event.get("event") == "user":
            said = reading.find_order_id(str(event.get("text") or "")) or said
    # The buyer's own words first: a form may have put its draft's order back in the slot.
    return said or slot


def reference_named(tracker: Tracker) -> str | None:
    """Return the RF reference the latest message (or the button pressed) names."""
    return reading.find_reference(
        latest_entity(tracker, "application_reference") or ""
    ) or reading.find_reference(latest_text(tracker))


def order_by_words(orders: Sequence[Order], said: str, language: str = DEFAULT) -> Order | None:
    """Return the one order the words point at: "my last order", or an item's name."""
    if not orders:
        return None
    if any(w.last_order.search(said) for w in readable(language)):
        return max(orders, key=lambda order: order.paid_at)
    words = _stems(said)
    if not words:
        return None
    matching = [
        order for order in orders if any(words & _stems(item.title) for item in order.items)
    ]
    return matching[0] if len(matching) == 1 else None


def customer_order_by_words(
    session: Session, customer_id: str, said: str, language: str = DEFAULT
) -> Order | None:
    """Return the one order of the customer's that ``said`` points at (see order_by_words)."""
    orders = store.customer_orders(session, customer_id=customer_id)
    return order_by_words(orders, said, language)


def _latest_message(events: list[dict[str, Any]]) -> int:
    """Return the index of the buyer's latest message in ``events`` (their length if none)."""
    return max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))


def previous_slot(tracker: Tracker, slot: str) -> Any:
    """Return ``slot``'s value as it was before the buyer's latest message."""
    events = tracker.events
    value: Any = None
    for event in events[: _latest_message(events)]:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
        elif event.get("event") == "restart":
            value = None
    return value


def _stems(words: str) -> set[str]:
    """Return the words of four letters or more that can name an item, without a plural s."""
    return {
        w[:-1] if w.endswith("s") else w
        for w in re.findall(r"[a-z]{4,}", words.lower())
        if w not in _COMMON
    }


def last_action_before_message(tracker: Tracker) -> str | None:
    """Return the bot's last action before the buyer's latest message (not listening)."""
    events = tracker.events
    for event in reversed(events[: _latest_message(events)]):
        if event.get("event") == "action" and event.get("name") != "action_listen":
            return str(event.get("name"))
    return None
