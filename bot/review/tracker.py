"""Reading Rasa's SQL tracker store, read-only, through an engine of our own.

Rasa (``rasa.core.tracker_store.SQLTrackerStore``) writes one row per event to its ``events``
table: ``id``, ``sender_id`` (the gateway's conversation id), ``type_name`` (``user`` for a
buyer's message), ``timestamp`` (seconds since the epoch, a float), ``intent_name`` and ``data``
(the event as JSON: ``text`` and ``parse_data`` with the intent, its confidence, the ranking and
the entities). The table is Rasa's: it is described here, never created or changed.

The engine cannot write: SQLite opens the file with ``mode=ro``, PostgreSQL sessions are
``default_transaction_read_only``. A tracker store that does not exist yet (Rasa never started)
is :class:`TrackerUnavailable`, not an error page.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    exc,
    select,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

#: Rasa's intent for a message its FallbackClassifier did not understand.
NLU_FALLBACK = "nlu_fallback"
#: Texts that are not typed: button payloads ("/affirm") and intents the HTTP API triggered.
NOT_TYPED = ("/", "EXTERNAL: ")

CONNECT_TIMEOUT_SECONDS = 5

EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


class TrackerUnavailable(Exception):
    """The tracker store cannot be read (no file or no table yet, or the server is down)."""


def open_tracker(url: str) -> Engine:
    """Return a read-only engine on the tracker store at ``url`` (it connects on first use)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if not path or path == ":memory:":
            raise ValueError("the tracker store must be a SQLite file or a server database")
        uri = f"sqlite:///file:{quote(str(Path(path).resolve()))}?mode=ro&uri=true"
        return create_engine(uri, future=True, poolclass=NullPool)
    options = parsed.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    read_only = f"{options} -c default_transaction_read_only=on".strip()
    return create_engine(
        parsed.update_query_dict({"options": read_only}),
        future=True,
        pool_pre_ping=True,
        # A page or a report waits seconds at most for a tracker store that is away.
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """Open a connection for reads; a store that cannot be read is :class:`TrackerUnavailable`."""
    try:
        with engine.connect() as connection:
            yield connection
    except (exc.OperationalError, exc.ProgrammingError) as e:
        raise TrackerUnavailable(str(e.orig) if e.orig else str(e)) from e


@dataclass(frozen=True)
class Ranked:
    """One intent of a parse, with its confidence."""

    name: str
    confidence: float


@dataclass(frozen=True)
class UserMessage:
    """A buyer's typed message and what Rasa understood of it."""

    event_id: int
    sender_id: str
    at: dt.datetime
    text: str
    intent: str | None
    confidence: float | None
    ranking: tuple[Ranked, ...]
    """The intent ranking; after a fallback, ``nlu_fallback`` first and then DIET's guesses."""
    entities: tuple[dict[str, Any], ...]

    @property
    def best_guess(self) -> Ranked | None:
        """Return the most likely real intent: the first of the ranking that is not a fallback."""
        return next((r for r in self.ranking if r.name != NLU_FALLBACK), None)


def epoch(moment: dt.datetime) -> float:
    """Return an aware datetime as the tracker store's timestamps are: seconds since the epoch."""
    return moment.timestamp()


def user_messages(
    connection: Connection, *, since: dt.datetime, until: dt.datetime, limit: int
) -> tuple[list[UserMessage], bool]:
    """Return the newest ``limit`` typed buyer messages of ``[since, until)``, by sender, in order.

    The second value says whether there were more than ``limit`` (the oldest were left out).
    """
    rows = connection.execute(
        select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.timestamp, EVENTS.c.data)
        .where(
            EVENTS.c.type_name == "user",
            EVENTS.c.timestamp >= epoch(since),
            EVENTS.c.timestamp < epoch(until),
        )
        .order_by(EVENTS.c.id.desc())
        .limit(limit + 1)
    ).all()
    messages = [m for m in (_message(*row) for row in rows[:limit]) if m is not None]
    messages.sort(key=lambda m: (m.sender_id, m.event_id))
    return messages, len(rows) > limit


def _message(event_id: int, sender_id: str, timestamp: float, data: str) -> UserMessage | None:
    try:
        event = json.loads(data or "{}")
    except ValueError:
        return None
    text = event.get("text")
    if not isinstance(text, str) or not text.strip() or text.startswith(NOT_TYPED):
        return None
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    ranking = tuple(
        Ranked(str(r["name"]), float(r.get("confidence") or 0.0))
        for r in parse.get("intent_ranking") or ()
        if isinstance(r, dict) and r.get("name")
    )
    confidence = intent.get("confidence")
    return UserMessage(
        event_id=int(event_id),
        sender_id=sender_id,
        at=dt.datetime.fromtimestamp(timestamp or 0.0, dt.timezone.utc),
        text=text,
        intent=intent.get("name"),
        confidence=None if confidence is None else float(confidence),
        ranking=ranking,
        entities=tuple(e for e in parse.get("entities") or () if isinstance(e, dict)),
    )


def user_message(connection: Connection, *, sender_id: str, event_id: int) -> UserMessage | None:
    """Return one typed buyer message by its source event, or ``None`` when there is none."""
    row = connection.execute(
        select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.timestamp, EVENTS.c.data).where(
            EVENTS.c.id == event_id, EVENTS.c.sender_id == sender_id, EVENTS.c.type_name == "user"
        )
    ).first()
    return None if row is None else _message(*row)
