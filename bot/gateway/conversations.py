"""Conversations: who their buyer is, where they last wrote, who answers them, in which language.

Functions take a ``session`` (keyword-only arguments) and never commit; callers own the unit of
work. Every buyer's message looks its conversation up and notes the channel it came by: both are
statements built once and run with bound values, reading and writing the row's columns without
an ORM object (loading one cost more than the rest of the message's unit of work). Nothing here
leaves a :class:`~bot.gateway.models.Conversation` in the session's identity map to go stale.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.gateway.models import Channel, Conversation
from bot.language_choice import Source
from bot.languages import DEFAULT


@dataclass(frozen=True)
class ConversationInfo:
    """What a channel needs to reach the buyer of a conversation."""

    id: str
    channel: Channel
    last_channel: Channel
    customer_id: str | None
    telegram_chat_id: int | None
    handler: str = "bot"
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    language: str = DEFAULT
    """The language the buyer is answered in (:mod:`bot.language_choice`)."""
    language_source: Source = Source.DEFAULT


_COLUMNS = (
    Conversation.id,
    Conversation.channel,
    Conversation.last_channel,
    Conversation.customer_id,
    Conversation.telegram_chat_id,
    Conversation.handler,
    Conversation.language,
    Conversation.language_source,
)
_GET = select(*_COLUMNS).where(Conversation.id == bindparam("conversation_id"))
_CREATE = insert(Conversation)
# Only the columns every message changes, with bound names other than the columns' (SQLAlchemy
# keeps those for itself). The rare others are written only when they change, so a binding or a
# language another unit of work writes at the same time is not overwritten with what this read.
_TOUCH = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .values(last_channel=bindparam("to_last_channel"), updated_at=bindparam("to_updated_at"))
    .execution_options(synchronize_session=False)
)


def ensure_conversation(
    session: Session,
    *,
    conversation_id: str,
    channel: Channel,
    customer_id: str | None = None,
    telegram_chat_id: int | None = None,
    bind_customer: bool = False,
    language: tuple[str, Source] = (DEFAULT, Source.DEFAULT),
) -> ConversationInfo:
    """Return the conversation, creating it; note ``channel`` as the one the buyer last used.

    ``customer_id`` is written only when the conversation is new or ``bind_customer`` is set: it
    must come from a verified token. ``language`` is a new conversation's language and what
    chose it (:func:`bot.language_choice.starting`).
    """
    now = utcnow()
    row = session.execute(_GET, {"conversation_id": conversation_id}).first()
    if row is None:
        created = ConversationInfo(
            id=conversation_id,
            channel=channel,
            last_channel=channel,
            customer_id=customer_id,
            telegram_chat_id=telegram_chat_id,
            language=language[0],
            language_source=language[1],
        )
        session.execute(
            _CREATE,
            {
                "id": conversation_id,
                "channel": channel.value,
                "last_channel": channel.value,
                "customer_id": customer_id,
                "telegram_chat_id": telegram_chat_id,
                "handler": created.handler,
                "language": created.language,
                "language_source": created.language_source.value,
                "created_at": now,
                "updated_at": now,
            },
        )
        return created
    found = _info(row)
    wanted: dict[str, Any] = {}
    if bind_customer:
        wanted["customer_id"] = customer_id
    if telegram_chat_id is not None:
        wanted["telegram_chat_id"] = telegram_chat_id
    if found.language_source is Source.DEFAULT and language[1] is Source.HINT:
        wanted["language"], wanted["language_source"] = language
    changed = {name: value for name, value in wanted.items() if value != getattr(found, name)}
    session.execute(
        _TOUCH,
        {
            "conversation_id": conversation_id,
            "to_last_channel": channel.value,
            "to_updated_at": now,
        },
    )
    if changed:
        session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values({n: v.value if isinstance(v, Source) else v for n, v in changed.items()})
            .execution_options(synchronize_session=False)
        )
    return dataclasses.replace(found, last_channel=channel, **changed)


def get_conversation(session: Session, conversation_id: str) -> ConversationInfo | None:
    """Return the conversation or ``None``."""
    row = session.execute(_GET, {"conversation_id": conversation_id}).first()
    return None if row is None else _info(row)


def latest_conversation_of(
    session: Session, *, customer_id: str, channel: Channel
) -> ConversationInfo | None:
    """Return the customer's most recently used conversation on ``channel``."""
    row = session.execute(
        select(*_COLUMNS)
        .where(Conversation.customer_id == customer_id, Conversation.channel == channel.value)
        .order_by(Conversation.updated_at.desc())
        .limit(1)
    ).first()
    return None if row is None else _info(row)


def conversations_to_tell(
    session: Session,
    *,
    conversation_id: str | None,
    customer_id: str,
    active_since: dt.datetime,
) -> list[ConversationInfo]:
    """Return where a customer's news goes: on each channel, their latest conversation.

    ``conversation_id`` is the conversation the news is about (where the application was made).
    When no customer is signed in there (an anonymous buyer who proved who they are another
    way), the news goes there alone. Otherwise it goes to the customer's conversations active
    since ``active_since``, the latest on each channel, or, when none is that recent, to the one
    used last, to wait in its history. Only conversations bound to ``customer_id`` are told: a
    chat since signed in as someone else never hears this customer's news.
    """
    own = get_conversation(session, conversation_id) if conversation_id else None
    if own is not None and own.customer_id is None:
        return [own]
    theirs = select(*_COLUMNS).where(Conversation.customer_id == customer_id)
    rows: Sequence[Any] = session.execute(
        theirs.where(Conversation.updated_at >= active_since).order_by(
            Conversation.updated_at.desc(), Conversation.id
        )
    ).all()
    if not rows:
        rows = session.execute(theirs.order_by(Conversation.updated_at.desc()).limit(1)).all()
    latest_on: dict[Channel, ConversationInfo] = {}
    for row in rows:
        info = _info(row)
        latest_on.setdefault(info.last_channel, info)
    return list(latest_on.values())


def set_language(session: Session, *, conversation_id: str, language: str, source: Source) -> None:
    """Answer the conversation in ``language`` from now on; ``source`` is what chose it."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(language=language, language_source=source.value)
        .execution_options(synchronize_session=False)
    )


def _info(row: Any) -> ConversationInfo:
    """Return the plain form of a row of :data:`_COLUMNS`."""
    return ConversationInfo(
        id=row.id,
        channel=Channel(row.channel),
        last_channel=Channel(row.last_channel),
        customer_id=row.customer_id,
        telegram_chat_id=row.telegram_chat_id,
        handler=row.handler,
        language=row.language,
        language_source=Source(row.language_source),
    )
