from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.gateway import conversations
from bot.gateway.conversations import ConversationInfo
from bot.gateway.models import Channel, Conversation
from bot.language_choice import Source
from bot.refunds.db import get_sessionmaker


def stored(db_url: str, conversation_id: str) -> tuple[ConversationInfo | None, dt.datetime]:
    """The conversation as a new unit of work reads it, and when it was last used."""
    with get_sessionmaker(db_url).begin() as session:
        used = session.execute(
            select(Conversation.updated_at).where(Conversation.id == conversation_id)
        ).scalar_one()
        return conversations.get_conversation(session, conversation_id), used


def test_a_conversation_is_made_once_then_notes_each_message_without_losing_its_binding(
    db_url: str,
) -> None:
    sessions = get_sessionmaker(db_url)
    with sessions.begin() as session:
        made = conversations.ensure_conversation(
            session,
            conversation_id="tg-7",
            channel=Channel.TELEGRAM,
            customer_id="c-1001",
            telegram_chat_id=7,
            language=("es", Source.HINT),
        )
    first, made_at = stored(db_url, "tg-7")
    assert first == made
    assert made == ConversationInfo(
        id="tg-7",
        channel=Channel.TELEGRAM,
        last_channel=Channel.TELEGRAM,
        customer_id="c-1001",
        telegram_chat_id=7,
        language="es",
        language_source=Source.HINT,
    )

    # A later message by another channel names no customer: the binding stays.
    with sessions.begin() as session:
        noted = conversations.ensure_conversation(
            session,
            conversation_id="tg-7",
            channel=Channel.WEBCHAT,
            language=("ru", Source.HINT),
        )
    after, used_at = stored(db_url, "tg-7")
    assert noted == after
    assert after is not None
    assert (after.last_channel, after.channel, after.customer_id) == (
        Channel.WEBCHAT,
        Channel.TELEGRAM,
        "c-1001",
    )
    # A hint does not replace a language the conversation already has from a hint.
    assert (after.language, after.telegram_chat_id) == ("es", 7)
    assert used_at >= made_at

    # Only a verified link binds it again, and only a new chat id is written.
    with sessions.begin() as session:
        bound = conversations.ensure_conversation(
            session,
            conversation_id="tg-7",
            channel=Channel.TELEGRAM,
            customer_id="c-1002",
            telegram_chat_id=8,
            bind_customer=True,
        )
    assert (bound.customer_id, bound.telegram_chat_id) == ("c-1002", 8)
    assert stored(db_url, "tg-7")[0] == bound


def test_a_hint_sets_the_language_of_a_conversation_that_had_only_the_default(
    db_url: str,
) -> None:
    sessions = get_sessionmaker(db_url)
    with sessions.begin() as session:
        conversations.ensure_conversation(session, conversation_id="web-1", channel=Channel.WEBCHAT)
    with sessions.begin() as session:
        hinted = conversations.ensure_conversation(
            session,
            conversation_id="web-1",
            channel=Channel.WEBCHAT,
            language=("ru", Source.HINT),
        )
    assert (hinted.language, hinted.language_source) == ("ru", Source.HINT)
    assert stored(db_url, "web-1")[0] == hinted
    with sessions.begin() as session:
        conversations.set_language(
            session, conversation_id="web-1", language="es", source=Source.ASKED
        )
        assert conversations.get_conversation(session, "web-1") == ConversationInfo(
            id="web-1",
            channel=Channel.WEBCHAT,
            last_channel=Channel.WEBCHAT,
            customer_id=None,
            telegram_chat_id=None,
            language="es",
            language_source=Source.ASKED,
        )
        assert conversations.get_conversation(session, "web-none") is None
