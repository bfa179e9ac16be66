"""The handoff table: stretches of conversations owned by people.

It shares :data:`bot.refunds.models.Base`; the schema itself is owned by migration ``0003``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Text

from bot.refunds.models import Base, UTCDateTime

ID = BigInteger().with_variant(Integer, "sqlite")


class Handoff(Base):
    """One stretch of a conversation owned by people: waiting, then claimed, then ended."""

    __tablename__ = "handoffs"

    id = Column(ID, primary_key=True)
    conversation_id = Column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # A bot.contract.HandoffReason value.
    reason = Column(String(32), nullable=False)
    detail = Column(Text, nullable=True)
    requested_at = Column(UTCDateTime, nullable=False)
    agent_id = Column(ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True)
    claimed_at = Column(UTCDateTime, nullable=True)
    ended_at = Column(UTCDateTime, nullable=True, index=True)
    # "handed_back" (the bot continues) or "closed".
    outcome = Column(String(16), nullable=True)
