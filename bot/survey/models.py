"""The survey table: one row per question asked, with the buyer's answer when they gave one.

It shares :data:`bot.refunds.models.Base`; the schema itself is owned by migration ``0008``.
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)

from bot.refunds.models import Base, UTCDateTime

ID = BigInteger().with_variant(Integer, "sqlite")


class SurveyEvent(str, Enum):
    """What the buyer is asked to rate."""

    SUBMITTED = "submitted"
    """They submitted a refund application in the chat."""
    CLOSED = "closed"
    """An agent closed the conversation."""
    PAID_OUT = "paid_out"
    """Their refund was paid."""


class SurveyOutcome(str, Enum):
    """How a survey ended (``None`` while it still waits for the buyer)."""

    RATED = "rated"
    """Rated; the comment was given or declined, or the chance to add one passed."""
    UNANSWERED = "unanswered"
    """The buyer wrote something else, or did not answer in time."""


class SatisfactionSurvey(Base):
    """One satisfaction question to a buyer, with the rating and comment they gave."""

    __tablename__ = "satisfaction_surveys"
    __table_args__ = (
        # Asked once per conversation and event; racing triggers meet here.
        UniqueConstraint("conversation_id", "event", name="uq_satisfaction_surveys_event"),
        CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_satisfaction_surveys_rating"
        ),
    )

    id = Column(ID, primary_key=True)
    conversation_id = Column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Whose 24 hours: the customer's (any of their conversations), else the conversation's.
    customer_id = Column(String(64), nullable=True, index=True)
    event = Column(String(16), nullable=False)
    channel = Column(String(16), nullable=False)
    application_id = Column(
        ForeignKey("refund_applications.id", ondelete="SET NULL"), nullable=True, index=True
    )
    agent_id = Column(ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True)
    asked_at = Column(UTCDateTime, nullable=False, index=True)
    rating = Column(SmallInteger, nullable=True)
    rated_at = Column(UTCDateTime, nullable=True)
    comment = Column(Text, nullable=True)
    commented_at = Column(UTCDateTime, nullable=True)
    # Set when the survey takes no more answers; ``outcome`` says how it ended.
    closed_at = Column(UTCDateTime, nullable=True)
    outcome = Column(String(16), nullable=True)
