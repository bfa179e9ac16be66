"""Action tests: real rasa-sdk dispatchers and trackers against a real, migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.common import settings
from bot.clock import utcnow
from bot.settings import PROJECT_ROOT
from tests.factories import make_order

SENDER = "conv-test"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The domain as Rasa sends it to the action server."""
    loaded: dict[str, Any] = yaml.safe_load(Path(PROJECT_ROOT / "domain.yml").read_text())
    return loaded


@pytest.fixture(autouse=True)
def action_database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the action server's settings at the test database."""
    monkeypatch.setenv("REFUNDBOT_DATABASE_URL", db_url)
    # The action server reads its settings once per process; each test has its own database.
    settings.cache_clear()
    yield db_url
    settings.cache_clear()


def make_tracker(
    domain: dict[str, Any],
    *,
    text: str = "",
    intent: str = "inform",
    entities: dict[str, str] | None = None,
    slots: dict[str, Any] | None = None,
    candidates: dict[str, Any] | None = None,
    requested_slot: str | None = None,
    customer: str | None = "c-1",
    active_loop: str | None = "refund_form",
    sender: str = SENDER,
    address: str | None = None,
    language: str | None = None,
) -> Tracker:
    """Build the tracker Rasa would send after a user message.

    ``candidates`` are the slot values Rasa extracted from this message (the trailing SlotSet
    events that a form validates); ``slots`` are what the conversation already holds;
    ``address`` is the client address the gateway saw (web chat; Telegram has none);
    ``language`` the conversation's language the gateway put in the message's metadata.
    """
    metadata = {"customer_id": customer} if customer else {}
    if address:
        metadata["client_address"] = address
    if language:
        metadata["language"] = language
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
        "metadata": metadata,
    }
    all_slots = {name: None for name in domain["slots"]}
    all_slots.update(slots or {})
    all_slots.update(candidates or {})
    all_slots["requested_slot"] = requested_slot
    events: list[dict[str, Any]] = [
        {"event": "session_started", "metadata": metadata},
        *({"event": "slot", "name": k, "value": v} for k, v in (slots or {}).items()),
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": parse, "metadata": metadata},
    ]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (candidates or {}).items()]
    return Tracker(
        sender,
        all_slots,
        parse,
        events,
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the slots the events set, last value winning."""
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def responses(dispatcher: Any) -> list[str | None]:
    """Return the response names (or texts, or custom payload keys) collected, in order."""
    return [
        m.get("response") or m.get("text") or ",".join(sorted(m.get("custom") or {}))
        for m in dispatcher.messages
    ]


async def run(action: Any, domain: dict[str, Any], **tracker_args: Any) -> tuple[dict, list]:
    """Run ``action`` on a tracker of ``tracker_args``; return the slots set and the messages."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker(domain, **tracker_args), domain)
    return slot_values(events), dispatcher.messages


def new_order(session_factory: sessionmaker, **overrides: Any) -> str:
    """Store an order of customer c-1 (unless ``overrides`` say otherwise); return its id."""
    with session_factory.begin() as session:
        overrides.setdefault("customer_id", "c-1")
        return str(make_order(session, now=utcnow(), **overrides).id)


def draft(order_id: str, **more: Any) -> dict[str, Any]:
    """Return the slots of a refund draft on ``order_id``, with ``more``."""
    return {"order_id": order_id, "refund_draft_id": "d-1", **more}
