"""A tracker store written by Rasa's own ``SQLTrackerStore``, with events of chosen times.

The week of :mod:`tests.insights.week` (2026-11-02 to 2026-11-09) with what Rasa understood:

=========  ==========================================  ==================  =====================
sender     buyer wrote (typed; payloads not counted)   understood          listed as
=========  ==========================================  ==================  =====================
web-a      hi                                          greet 0.99
web-a      blorp my thingy                             nlu_fallback        fallback
web-a      I want my money back for the lamp           request_refund 0.97 correction
web-a      /affirm (a button)                          affirm 1.0          (not typed)
web-a      whatever man                                out_of_scope 0.62   low confidence
tg-b       where's my stuff 8041235566701234           check_order 0.55    low conf., handoff
tg-b       wher is my stuf                             nlu_fallback        fallback, handoff
tg-b       hello??                                     greet 0.9           correction, handoff
web-f      asdf the lamp                               out_of_scope 1.0    out of scope
web-f      my lamp broke, I want my money back         request_refund 0.99 correction
web-d      my email is ana@example.com, refund
           order 8041235566701234                      nlu_fallback        fallback
web-e      blorp fnarg (a day after the week)          nlu_fallback        (outside the week)
=========  ==========================================  ==================  =====================

tg-b was handed to a person after failures at 10:03 on the 4th. So in the week: 10 typed buyer
messages, 3 of them fallbacks (0.3).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from tests.insights.week import day

ORDER = "8041235566701234"
EMAIL_MESSAGE = f"my email is ana@example.com, refund order {ORDER}"
REPHRASED = "my lamp broke, I want my money back"


def said(
    text: str,
    intent: str,
    confidence: float,
    at: dt.datetime,
    *,
    guesses: Sequence[tuple[str, float]] = (),
    entities: Sequence[dict[str, Any]] = (),
) -> UserUttered:
    """Return a buyer's message as Rasa's processor records it (a fallback ranks first)."""
    top = {"name": intent, "confidence": confidence}
    ranking = [top] + [{"name": n, "confidence": c} for n, c in guesses]
    return UserUttered(
        text,
        top,
        list(entities),
        parse_data={
            "intent": top,
            "entities": list(entities),
            "text": text,
            "intent_ranking": ranking,
        },
        timestamp=at.timestamp(),
        input_channel="rest",
    )


def answered(at: dt.datetime) -> list[Event]:
    """Return the bot's turn after a message: an answer, then listening."""
    later = (at + dt.timedelta(seconds=1)).timestamp()
    return [
        ActionExecuted("utter_default", timestamp=later),
        BotUttered("…", timestamp=later),
        ActionExecuted("action_listen", timestamp=later),
    ]


def order_entity(text: str) -> dict[str, Any]:
    start = text.index(ORDER)
    return {
        "entity": "order_id",
        "start": start,
        "end": start + len(ORDER),
        "value": ORDER,
        "extractor": "DIETClassifier",
    }


def week_conversations() -> dict[str, list[UserUttered]]:
    """Return the table of the module's text, sender by sender."""
    fallback = "nlu_fallback"
    stuff = f"where's my stuff {ORDER}"
    return {
        "web-a": [
            said("hi", "greet", 0.99, day(3, 9)),
            said(
                "blorp my thingy",
                fallback,
                0.5,
                day(3, 9, 1),
                guesses=[("request_refund", 0.31), ("out_of_scope", 0.2)],
            ),
            said("I want my money back for the lamp", "request_refund", 0.97, day(3, 9, 2)),
            said("/affirm", "affirm", 1.0, day(3, 9, 3)),
            said("whatever man", "out_of_scope", 0.62, day(3, 9, 4)),
        ],
        "tg-b": [
            said(stuff, "check_order_status", 0.55, day(4, 10), entities=[order_entity(stuff)]),
            said("wher is my stuf", fallback, 0.5, day(4, 10, 1), guesses=[("greet", 0.4)]),
            said("hello??", "greet", 0.9, day(4, 10, 2)),
        ],
        "web-f": [
            said("asdf the lamp", "out_of_scope", 1.0, day(5, 8)),
            said(REPHRASED, "request_refund", 0.99, day(5, 8, 1)),
        ],
        "web-d": [
            said(
                EMAIL_MESSAGE,
                fallback,
                0.5,
                day(5, 11),
                guesses=[("request_refund", 0.45)],
                entities=[order_entity(EMAIL_MESSAGE)],
            ),
        ],
        "web-e": [said("blorp fnarg", fallback, 0.5, day(9, 12))],
    }


def rasa_store(url: str) -> SQLTrackerStore:
    """Return Rasa's SQL tracker store on ``url``, configured as endpoints.yml would."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SQLTrackerStore(dialect="sqlite", db=parsed.database)
    return SQLTrackerStore(dialect="postgresql", host=url)


async def save_tracker(url: str, conversations: dict[str, list[UserUttered]]) -> None:
    """Save each conversation, with the bot's turns between messages, through Rasa's store."""
    store = rasa_store(url)
    try:
        for sender, messages in conversations.items():
            events: list[Event] = [ActionExecuted("action_session_start")]
            for message in messages:
                assert message.timestamp is not None
                events += [message, *answered(dt.datetime.fromtimestamp(message.timestamp))]
            await store.save(DialogueStateTracker.from_events(sender, events))
    finally:
        store.engine.dispose()


def write_tracker(url: str, conversations: dict[str, list[UserUttered]]) -> None:
    """Run :func:`save_tracker` outside an event loop (from a synchronous test or fixture)."""
    asyncio.run(save_tracker(url, conversations))


def tracker_url_for(db_url: str, tmp_path: Path) -> str:
    """Where Rasa keeps its events beside ``db_url``: the settings' default SQLite file under
    ``tmp_path / "var"``, or the same PostgreSQL schema as the store."""
    if db_url.startswith("sqlite"):
        (tmp_path / "var").mkdir(exist_ok=True)
        return f"sqlite:///{tmp_path / 'var' / 'rasa-tracker.db'}"
    return db_url
