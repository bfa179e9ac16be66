"""The transcript: the messages of every conversation, both ways, in one channel-neutral form.

Functions take a ``session`` (keyword-only arguments) and never commit; callers own the unit of
work.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utcnow
from bot.gateway.models import (
    Channel,
    Direction,
    MessageStatus,
    SenderKind,
    TranscriptMessage,
)
from bot.refunds.db import connection_lost

T = TypeVar("T")

log = logging.getLogger(__name__)

#: How long a unit of work is tried again while the database is unreachable (a request's).
RECONNECT_SECONDS = 15.0
#: The same for a buyer's message on its way to Rasa and back (the router's, in the background).
ROUTE_RECONNECT_SECONDS = 60.0
#: The first and the longest wait between two tries.
RECONNECT_DELAYS = (0.1, 2.0)


@dataclass(frozen=True)
class Button:
    """A quick reply: the title shown and the payload sent to Rasa when pressed."""

    title: str
    payload: str


@dataclass(frozen=True)
class Inbound:
    """A buyer's message as every channel hands it to the router."""

    conversation_id: str
    channel: Channel
    text: str
    # Sent to Rasa instead of ``text`` (a button's payload); ``text`` is what the buyer saw.
    payload: str | None = None
    client_id: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    client_address: str | None = None
    """Where the message came from (an IP address), when the channel knows."""
    language_hint: str | None = None
    """The language the channel suggests (a Telegram user's ``language_code``), if any."""

    @classmethod
    def typed(
        cls,
        *,
        conversation_id: str,
        channel: Channel,
        text: str,
        client_id: str | None,
        client_address: str | None = None,
        language_hint: str | None = None,
    ) -> Inbound:
        """Return what the buyer typed, as Rasa must read it.

        Typed text never reaches Rasa as ``/intent{...}``: only the buttons the bot sent carry
        payloads, so a leading ``/`` is dropped from what Rasa reads (the transcript keeps it).
        """
        said = text.strip()
        return cls(
            conversation_id=conversation_id,
            channel=channel,
            text=said,
            payload=said.lstrip("/") if said.startswith("/") else None,
            client_id=client_id,
            client_address=client_address,
            language_hint=language_hint,
        )


@dataclass(frozen=True)
class Message:
    """A transcript message as channels render it."""

    id: int
    conversation_id: str
    direction: Direction
    sender: SenderKind
    channel: Channel
    text: str | None
    created_at: dt.datetime
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    custom: Any = None
    client_id: str | None = None
    payload: str | None = None
    client_address: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the form the web widget reads."""
        return {
            "id": self.id,
            "direction": self.direction.value,
            "sender": self.sender.value,
            "text": self.text,
            "buttons": [{"title": b.title, "index": i} for i, b in enumerate(self.buttons)],
            "image": self.image,
            "attachments": list(self.attachments),
            "client_id": self.client_id,
            "created_at": self.created_at.isoformat(),
            "author": self.author,
        }

    @property
    def author(self) -> str | None:
        """Return the name of the agent who wrote the message, when one did."""
        if self.sender is SenderKind.AGENT and isinstance(self.custom, dict):
            name = self.custom.get("agent")
            return name if isinstance(name, str) else None
        return None


async def run_in_session(
    factory: sessionmaker,
    work: Callable[[Session], T],
    *,
    reconnect_seconds: float = RECONNECT_SECONDS,
) -> T:
    """Run ``work(session)`` in one unit of work on a worker thread, off the event loop.

    When the connection to the database is lost (:func:`bot.refunds.db.connection_lost`: the
    server restarted), the unit of work runs again, with back-off, for up to
    ``reconnect_seconds``: a buyer's message that arrives during a restart of PostgreSQL is
    recorded a moment later instead of refused, and an answer Rasa gave is recorded instead of
    lost. ``work`` must be safe to run again (see :func:`connection_lost`).
    """

    def unit() -> T:
        with factory.begin() as session:
            return work(session)

    delay = RECONNECT_DELAYS[0]
    deadline = time.monotonic() + reconnect_seconds
    while True:
        try:
            return await asyncio.to_thread(unit)
        except DBAPIError as e:
            if not connection_lost(e) or time.monotonic() + delay > deadline:
                raise
            log.warning("database connection lost (%s); trying again in %.1f s", e.orig, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_DELAYS[1])


def buyer_texts(session: Session, *, conversation_id: str) -> int:
    """Return how many messages the buyer has typed in the conversation (not button presses)."""
    count = session.execute(
        select(func.count())
        .select_from(TranscriptMessage)
        .where(
            TranscriptMessage.conversation_id == conversation_id,
            TranscriptMessage.direction == Direction.IN.value,
            TranscriptMessage.payload.is_(None),
        )
    ).scalar_one()
    return int(count)


def record_inbound(
    session: Session, *, inbound: Inbound, status: MessageStatus = MessageStatus.PENDING
) -> Message:
    """Write a buyer's message.

    Raises:
        IntegrityError: the conversation already has a message with this ``client_id`` (a
            resend); the caller's unit of work rolls back and reports a duplicate.
    """
    # The unique constraint on (conversation, client id) finds resends, racing ones included.
    return _insert(
        session,
        conversation_id=inbound.conversation_id,
        direction=Direction.IN.value,
        sender=SenderKind.BUYER.value,
        channel=inbound.channel.value,
        text=inbound.text,
        payload=inbound.payload,
        data=_inbound_data(inbound),
        client_id=inbound.client_id,
        status=status.value,
        created_at=utcnow(),
    )


def _inbound_data(inbound: Inbound) -> dict[str, Any] | None:
    data: dict[str, Any] = {}
    if inbound.attachments:
        data["attachments"] = list(inbound.attachments)
    if inbound.client_address:
        data["client_address"] = inbound.client_address
    return data or None


def record_outbound(
    session: Session,
    *,
    conversation_id: str,
    channel: Channel,
    sender: SenderKind,
    text: str | None,
    buttons: Sequence[Button] = (),
    image: str | None = None,
    custom: Any = None,
) -> Message:
    """Write a message to the buyer (bot reply, agent, or the gateway's own notice)."""
    data: dict[str, Any] = {}
    if buttons:
        data["buttons"] = [{"title": b.title, "payload": b.payload} for b in buttons]
    if image:
        data["image"] = image
    if custom is not None:
        data["custom"] = custom
    return _insert(
        session,
        conversation_id=conversation_id,
        direction=Direction.OUT.value,
        sender=sender.value,
        channel=channel.value,
        text=text,
        payload=None,
        data=data or None,
        client_id=None,
        status=MessageStatus.DONE.value,
        created_at=utcnow(),
    )


# Every message is written by one statement, and a turn marks its message answered with another,
# each built once: SQLAlchemy finds its compiled form without keying it again, and no ORM object
# is made, flushed and read back for a row.
_INSERT = insert(TranscriptMessage)
_MARK_DONE = (
    update(TranscriptMessage)
    .where(
        TranscriptMessage.id == bindparam("message_id"),
        TranscriptMessage.status == MessageStatus.PENDING.value,
    )
    .values(status=MessageStatus.DONE.value)
    .execution_options(synchronize_session=False)
)


def _insert(session: Session, **values: Any) -> Message:
    """Write one transcript row of ``values``; return its plain form."""
    result = session.execute(_INSERT, values)
    return _plain({**values, "id": int(result.inserted_primary_key[0])})


def mark_done(session: Session, *, message_id: int) -> bool:
    """Note that an inbound message has been routed; return whether it was still pending.

    ``False`` means an earlier unit of work marked it (one whose ``COMMIT`` went through as the
    connection broke, run again): what that one recorded with it must not be recorded twice.
    """
    result = session.execute(_MARK_DONE, {"message_id": message_id})
    return bool(result.rowcount)


def get_message(session: Session, *, message_id: int) -> Message | None:
    """Return one transcript message."""
    row = session.get(TranscriptMessage, message_id)
    return None if row is None else message_of(row)


def pending_message(session: Session, *, message_id: int) -> Message | None:
    """Return a buyer's message still waiting for its answer (``pending``), else ``None``."""
    row = session.execute(
        select(TranscriptMessage).where(
            TranscriptMessage.id == message_id,
            TranscriptMessage.status == MessageStatus.PENDING.value,
        )
    ).scalar_one_or_none()
    return None if row is None else message_of(row)


def history(session: Session, *, conversation_id: str, limit: int = 200) -> list[Message]:
    """Return the last ``limit`` messages of a conversation, oldest first."""
    rows = (
        session.execute(
            select(TranscriptMessage)
            .where(TranscriptMessage.conversation_id == conversation_id)
            .order_by(TranscriptMessage.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    return [message_of(row) for row in reversed(rows)]


def pending_inbound(session: Session) -> list[Message]:
    """Return inbound messages not routed yet (left over from a stop), oldest first."""
    rows = (
        session.execute(
            select(TranscriptMessage)
            .where(
                TranscriptMessage.direction == Direction.IN.value,
                TranscriptMessage.status == MessageStatus.PENDING.value,
            )
            .order_by(TranscriptMessage.id)
        )
        .scalars()
        .all()
    )
    return [message_of(row) for row in rows]


def button_of(message: Message, index: int) -> Button | None:
    """Return button ``index`` of a bot message, or ``None`` when there is no such button."""
    if message.direction is not Direction.OUT or not 0 <= index < len(message.buttons):
        return None
    return message.buttons[index]


_FIELDS = tuple(
    "id conversation_id direction sender channel text payload data client_id created_at".split()
)


def message_of(row: TranscriptMessage) -> Message:
    """Return the plain form of a transcript row."""
    return _plain({name: getattr(row, name) for name in _FIELDS})


def _plain(values: Mapping[str, Any]) -> Message:
    """Return the plain form of a transcript row's ``values`` (:data:`_FIELDS`)."""
    data: dict[str, Any] = values["data"] or {}
    return Message(
        id=values["id"],
        conversation_id=values["conversation_id"],
        direction=Direction(values["direction"]),
        sender=SenderKind(values["sender"]),
        channel=Channel(values["channel"]),
        text=values["text"],
        created_at=values["created_at"],
        buttons=tuple(Button(b["title"], b["payload"]) for b in data.get("buttons", ())),
        image=data.get("image"),
        attachments=tuple(data.get("attachments", ())),
        custom=data.get("custom"),
        client_id=values["client_id"],
        payload=values["payload"],
        client_address=data.get("client_address"),
    )
