"""Tables of the gateway: conversations, the transcript, Telegram dedup and the notifier cursor.

They share :data:`bot.refunds.models.Base`; the schema itself is owned by migration ``0002``.
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Integer, String, Text, UniqueConstraint

from bot.languages import DEFAULT
from bot.refunds.models import Base, UTCDateTime

ID = BigInteger().with_variant(Integer, "sqlite")


class Channel(str, Enum):
    """Where a buyer talks to us."""

    TELEGRAM = "telegram"
    WEBCHAT = "webchat"


class Direction(str, Enum):
    """Which way a transcript message went."""

    IN = "in"
    OUT = "out"


class SenderKind(str, Enum):
    """Who wrote a transcript message."""

    BUYER = "buyer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class MessageStatus(str, Enum):
    """Where an inbound message is in routing; outbound messages are ``done`` when written."""

    PENDING = "pending"
    DONE = "done"


class Conversation(Base):
    """One buyer's conversation; its id is the Rasa sender id (``tg-…``, ``web-…``)."""

    __tablename__ = "conversations"

    id = Column(String(128), primary_key=True)
    channel = Column(String(16), nullable=False)
    last_channel = Column(String(16), nullable=False)
    # Only ever set from a verified token, never from buyer text.
    customer_id = Column(String(64), nullable=True, index=True)
    telegram_chat_id = Column(BigInteger, nullable=True)
    handler = Column(String(16), nullable=False, default="bot")
    # The language the buyer is answered in (bot.languages) and what chose it
    # (bot.language_choice.Source); the schema of both is owned by migration 0010.
    language = Column(String(8), nullable=False, server_default=DEFAULT)
    language_source = Column(String(16), nullable=False, server_default="default")
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)


class TranscriptMessage(Base):
    """One message of a conversation, in either direction, as the channel-neutral form."""

    __tablename__ = "transcript_messages"
    __table_args__ = (UniqueConstraint("conversation_id", "client_id"),)

    id = Column(ID, primary_key=True)
    conversation_id = Column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    direction = Column(String(8), nullable=False)
    sender = Column(String(16), nullable=False)
    channel = Column(String(16), nullable=False)
    text = Column(Text, nullable=True)
    # What is sent to Rasa when it differs from the text shown (a button's payload).
    payload = Column(Text, nullable=True)
    # Buttons, image, custom payload, attachments (evidence ids): channel-neutral JSON.
    data = Column(JSON, nullable=True)
    # The channel's own id of the message (widget's client id, Telegram update id) for dedup.
    client_id = Column(String(64), nullable=True)
    status = Column(String(16), nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False)


class TelegramUpdate(Base):
    """An ``update_id`` already taken in, so a redelivered update is processed once."""

    __tablename__ = "telegram_updates"

    update_id = Column(BigInteger, primary_key=True, autoincrement=False)
    received_at = Column(UTCDateTime, nullable=False)


class GatewayCursor(Base):
    """A named position in an append-only table (the notifier's last refund event id)."""

    __tablename__ = "gateway_cursors"

    name = Column(String(64), primary_key=True)
    position = Column(ID, nullable=False)
