"""Tables of the refund store; the schema itself is owned by the Alembic migrations.

Status, method and review columns hold the values of :mod:`bot.refunds.enums`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base: Any = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Store UTC; refuse naive datetimes, whose zone is unknown."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Money(TypeDecorator):
    """Exact decimal money: NUMERIC where the database has it, text on SQLite (no floats)."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        """Use text on SQLite, whose NUMERIC would go through float."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(24))
        return dialect.type_descriptor(Numeric(12, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Accept only Decimal, rounded to cents."""
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be Decimal, got {type(value).__name__}")
        quantized = value.quantize(Decimal("0.01"))
        return str(quantized) if dialect.name == "sqlite" else quantized

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Return a Decimal in cents."""
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.01"))


class Customer(Base):
    """A buyer of the shop."""

    __tablename__ = "customers"

    id = Column(String(64), primary_key=True)
    email = Column(String(254), nullable=False)
    name = Column(String(200), nullable=True)
    created_at = Column(UTCDateTime, nullable=False)

    orders = relationship("Order", back_populates="customer")


class Order(Base):
    """An order as the shop reports it, with the deadlines the policy reads."""

    __tablename__ = "orders"

    id = Column(String(19), primary_key=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    customer_email = Column(String(254), nullable=False)
    status = Column(String(32), nullable=False)
    currency = Column(String(3), nullable=False)
    total = Column(Money, nullable=False)
    paid_at = Column(UTCDateTime, nullable=False)
    ship_by = Column(UTCDateTime, nullable=False)
    shipped_at = Column(UTCDateTime, nullable=True)
    promised_delivery_by = Column(UTCDateTime, nullable=False)
    delivered_at = Column(UTCDateTime, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False)

    customer = relationship("Customer", back_populates="orders")
    items = relationship(
        "OrderItem",
        back_populates="order",
        cascade="all, delete-orphan",
        order_by="OrderItem.id",
    )
    applications = relationship(
        "RefundApplication", back_populates="order", order_by="RefundApplication.id"
    )


class OrderItem(Base):
    """One line of an order."""

    __tablename__ = "order_items"

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    sku = Column(String(64), nullable=False)
    title = Column(String(300), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price = Column(Money, nullable=False)

    order = relationship("Order", back_populates="items")


class RefundApplication(Base):
    """A buyer's request for money back on one order."""

    __tablename__ = "refund_applications"
    __table_args__ = (UniqueConstraint("idempotency_key"), UniqueConstraint("reference"))

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    reference = Column(String(16), nullable=False)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    method = Column(String(32), nullable=False)
    amount = Column(Money, nullable=False)
    compensation = Column(Money, nullable=False)
    currency = Column(String(3), nullable=False)
    reason_category = Column(String(32), nullable=True)
    reason = Column(Text, nullable=False)
    status = Column(String(32), nullable=False)
    review = Column(String(16), nullable=False)
    review_due_at = Column(UTCDateTime, nullable=True)
    return_tracking = Column(String(64), nullable=True)
    conversation_id = Column(String(128), nullable=True, index=True)
    idempotency_key = Column(String(128), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    order = relationship("Order", back_populates="applications")

    def fields(self) -> dict[str, Any]:
        """Return what the application says of itself, JSON-ready (money as decimal strings).

        The console and the shop API show these and add times and actions in their own forms.
        """
        return {
            "reference": self.reference,
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "method": self.method,
            "amount": str(self.amount),
            "compensation": str(self.compensation),
            "currency": self.currency,
            "reason_category": self.reason_category,
            "reason": self.reason,
            "status": self.status,
            "review": self.review,
            "return_tracking": self.return_tracking,
        }

    events = relationship(
        "RefundEvent",
        back_populates="application",
        order_by="RefundEvent.id",
        cascade="all, delete-orphan",
    )


class RefundEvent(Base):
    """One state change of an application: append-only audit trail."""

    __tablename__ = "refund_events"

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    application_id = Column(
        ForeignKey("refund_applications.id", ondelete="CASCADE"), nullable=False, index=True
    )
    from_status = Column(String(32), nullable=True)
    to_status = Column(String(32), nullable=False)
    actor = Column(String(128), nullable=False)
    note = Column(Text, nullable=True)
    at = Column(UTCDateTime, nullable=False)

    application = relationship("RefundApplication", back_populates="events")


class Evidence(Base):
    """A file a buyer sent (photo, PDF): kept for the conversation, linked to an application."""

    __tablename__ = "evidence"

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    application_id = Column(
        ForeignKey("refund_applications.id", ondelete="SET NULL"), nullable=True, index=True
    )
    filename = Column(String(255), nullable=False)
    content_type = Column(String(100), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    storage_path = Column(String(500), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class VerificationAttempt(Base):
    """An anonymous buyer's attempt to prove an order is theirs (order number and e-mail).

    Counted per order, per conversation and per client address, so an e-mail cannot be guessed.
    """

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_attempts_order_at", "order_id", "at"),
        Index("ix_verification_attempts_conversation_at", "conversation_id", "at"),
        Index("ix_verification_attempts_address_at", "client_address", "at"),
    )

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id = Column(String(19), nullable=False)
    conversation_id = Column(String(128), nullable=False)
    client_address = Column(String(64), nullable=True)
    succeeded = Column(Boolean, nullable=False)
    at = Column(UTCDateTime, nullable=False)


class OutboxEvent(Base):
    """An event waiting to be fanned out to the webhooks (``dispatched_at`` once it was)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_dispatched_at", "dispatched_at"),)

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: What receivers see as the event's ``id``; a retried delivery carries the same one.
    event_id = Column(String(40), nullable=False, unique=True)
    type = Column(String(40), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    #: The application a refund event is about.
    application_id = Column(
        ForeignKey("refund_applications.id", ondelete="CASCADE"), nullable=True, index=True
    )
    #: The event's data as JSON, as it was when the event happened (rows written before refund
    #: events carried it have none: their application is read when they are fanned out).
    data = Column(Text, nullable=True)
    dispatched_at = Column(UTCDateTime, nullable=True)
