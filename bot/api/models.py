"""Tables of the shop API: its keys, the responses kept for idempotent retries, its webhooks.

They share :data:`bot.refunds.models.Base`; the schema itself is owned by migrations ``0005``
(keys, idempotency), ``0006`` (webhooks, their deliveries and each attempt) and ``0007`` (what
the retention pass looks deliveries up by).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from bot.refunds.models import Base, OutboxEvent, UTCDateTime

__all__ = [
    "ApiKey",
    "IdempotentResponse",
    "OutboxEvent",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
]

ID = BigInteger().with_variant(Integer, "sqlite")


class ApiKey(Base):
    """A shop system's key: a public prefix to find it by, and only a hash of its secret."""

    __tablename__ = "api_keys"

    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, unique=True)
    prefix = Column(String(16), nullable=False, unique=True)
    secret_hash = Column(String(64), nullable=False)
    scopes = Column(String(200), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    revoked_at = Column(UTCDateTime, nullable=True)


class IdempotentResponse(Base):
    """The first response to a POST sent with an ``Idempotency-Key``, per API key."""

    __tablename__ = "api_idempotency"
    __table_args__ = (
        UniqueConstraint("api_key_id", "key"),
        Index("ix_api_idempotency_api_key_id_created_at", "api_key_id", "created_at"),
    )

    id = Column(ID, primary_key=True)
    api_key_id = Column(ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False)
    key = Column(String(255), nullable=False)
    request_hash = Column(String(64), nullable=False)
    status = Column(Integer, nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class Webhook(Base):
    """A shop's endpoint and the event types it wants; the secret signs what it is sent."""

    __tablename__ = "webhooks"

    id = Column(Integer, primary_key=True)
    url = Column(String(2000), nullable=False)
    #: Space-separated event types (bot.refunds.outbox.EVENT_TYPES).
    events = Column(String(500), nullable=False)
    #: Kept as it is: each body's HMAC needs it. Shown once, never logged.
    secret = Column(String(100), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class WebhookDelivery(Base):
    """One event to one webhook: its body, as signed and sent each time, and where it stands."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id = Column(ID, primary_key=True)
    webhook_id = Column(ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False, index=True)
    event_id = Column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: pending, delivered or failed.
    status = Column(String(16), nullable=False)
    body = Column(Text, nullable=False)
    attempts = Column(Integer, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    #: When it is due; while a worker sends it, when its claim runs out.
    next_attempt_at = Column(UTCDateTime, nullable=True)
    #: Retries stop after this (24 hours after the first attempt, or after a manual retry);
    #: a finished delivery is kept for the retention period after it (bot.api.retention).
    expires_at = Column(UTCDateTime, nullable=False, index=True)
    delivered_at = Column(UTCDateTime, nullable=True)
    #: The worker's claim while it sends (a random token), so its answer is recorded once.
    claim = Column(String(32), nullable=True)


class WebhookAttempt(Base):
    """One POST of a delivery and what came of it."""

    __tablename__ = "webhook_attempts"

    id = Column(ID, primary_key=True)
    delivery_id = Column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at = Column(UTCDateTime, nullable=False)
    duration_ms = Column(Integer, nullable=False)
    status_code = Column(Integer, nullable=True)
    #: The start of the receiver's answer (bounded).
    response_excerpt = Column(Text, nullable=True)
    error = Column(String(300), nullable=True)
    next_attempt_at = Column(UTCDateTime, nullable=True)
