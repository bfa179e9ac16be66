"""Tables of the agent console: agents, their sessions, private notes, canned replies.

They share :data:`bot.refunds.models.Base`; the schema itself is owned by migration ``0003``.
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Text

from bot.refunds.models import Base, UTCDateTime

ID = BigInteger().with_variant(Integer, "sqlite")


class Role(str, Enum):
    """What an agent may do: merchants also file refunds, admins also manage canned replies."""

    AGENT = "agent"
    MERCHANT = "merchant"
    ADMIN = "admin"

    @property
    def files_refunds(self) -> bool:
        """Return whether this role may start a refund for an order (the seller's back-office)."""
        return self in (Role.MERCHANT, Role.ADMIN)

    @property
    def reads_insights(self) -> bool:
        """Return whether this role may read the Insights page (the shop's figures)."""
        return self in (Role.MERCHANT, Role.ADMIN)


class Agent(Base):
    """A person who signs in to the console."""

    __tablename__ = "agents"

    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(100), nullable=False)
    role = Column(String(16), nullable=False)
    # scrypt$N$r$p$salt$hash (hex); see :mod:`bot.console.auth`.
    password_hash = Column(String(300), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False)


class AgentSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "agent_sessions"

    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
    last_seen_at = Column(UTCDateTime, nullable=False, index=True)


class ConversationNote(Base):
    """A private note of an agent on a conversation; never sent to the buyer."""

    __tablename__ = "conversation_notes"

    id = Column(ID, primary_key=True)
    conversation_id = Column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    agent_id = Column(ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    text = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class CannedReply(Base):
    """A prepared answer agents insert into their reply."""

    __tablename__ = "canned_replies"

    id = Column(Integer, primary_key=True)
    title = Column(String(100), nullable=False, unique=True)
    text = Column(Text, nullable=False)
    # The language it is written in; ``None`` suits every conversation (migration 0010).
    language = Column(String(8), nullable=True)
    created_at = Column(UTCDateTime, nullable=False)


class LoginFailure(Base):
    """A refused console sign-in: from which address, for which name (throttling)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_address_at", "address", "at"),
        Index("ix_login_failures_account_at", "account", "at"),
    )

    id = Column(ID, primary_key=True)
    address = Column(String(64), nullable=False)
    # The name tried (lower-case), whether or not such an agent exists.
    account = Column(String(64), nullable=False)
    at = Column(UTCDateTime, nullable=False)
