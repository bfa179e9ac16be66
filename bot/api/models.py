"""Tables of the shop API: its keys and the responses kept for idempotent retries.

They share :data:`bot.refunds.models.Base`; the schema itself is owned by migration ``0005``.
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

from bot.refunds.models import Base, UTCDateTime

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
