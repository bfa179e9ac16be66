"""The reviewed messages: one row per buyer message a person gave an intent to, or ignored.

It shares :data:`bot.refunds.models.Base`; the schema itself is owned by migration ``0009``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from bot.refunds.models import Base, UTCDateTime

ID = BigInteger().with_variant(Integer, "sqlite")


class NluReview(Base):
    """A reviewer's verdict on one user event of Rasa's tracker store."""

    __tablename__ = "nlu_reviews"
    __table_args__ = (UniqueConstraint("sender_id", "event_id", name="uq_nlu_reviews_event"),)

    id = Column(ID, primary_key=True)
    # The source event: Rasa's sender id (the gateway's conversation id) and the event's row id
    # in the tracker store's ``events`` table.
    sender_id = Column(String(255), nullable=False)
    event_id = Column(BigInteger, nullable=False)
    # What the buyer wrote, as the tracker store has it, and the entities Rasa found in it
    # (``[{entity, start, end, value}]``): the export annotates them.
    text = Column(Text, nullable=False)
    entities = Column(JSON, nullable=True)
    # What Rasa understood (``nlu_fallback`` included) with its confidence, when it was read.
    predicted_intent = Column(String(64), nullable=True)
    confidence = Column(Float, nullable=True)
    # The domain intent the reviewer assigned; NULL when they chose to ignore the message.
    intent = Column(String(64), nullable=True)
    agent_id = Column(ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True)
    reviewed_at = Column(UTCDateTime, nullable=False, index=True)
    said_at = Column(UTCDateTime, nullable=False)
