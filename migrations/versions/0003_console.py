"""Agent console: agents, sessions, handoffs, private notes, canned replies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from bot.refunds.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

CANNED = [
    ("Greeting", "Hi, I'm here to help you with your refund. Let me look at your order."),
    (
        "Order number",
        "Could you send me the order number? It has 12 to 19 digits and is in your order "
        "confirmation.",
    ),
    (
        "Photo of the problem",
        "Could you send a photo of the item showing the problem? You can attach it here.",
    ),
    ("Handing back", "Thanks! I'm handing you back to the assistant to finish your application."),
]


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "agent_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "agent_id", sa.Integer, sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_agent_sessions_agent_id", "agent_sessions", ["agent_id"])
    op.create_index("ix_agent_sessions_last_seen_at", "agent_sessions", ["last_seen_at"])
    op.create_table(
        "handoffs",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(128),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column(
            "agent_id", sa.Integer, sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("claimed_at", UTCDateTime, nullable=True),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
    )
    op.create_index("ix_handoffs_conversation_id", "handoffs", ["conversation_id"])
    op.create_index("ix_handoffs_agent_id", "handoffs", ["agent_id"])
    op.create_index("ix_handoffs_ended_at", "handoffs", ["ended_at"])
    op.create_table(
        "conversation_notes",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(128),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "agent_id", sa.Integer, sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_conversation_notes_conversation_id", "conversation_notes", ["conversation_id"]
    )
    canned = op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("title"),
    )
    now = dt.datetime.now(dt.timezone.utc)
    op.bulk_insert(canned, [{"title": t, "text": x, "created_at": now} for t, x in CANNED])


def downgrade() -> None:
    op.drop_table("canned_replies")
    op.drop_index("ix_conversation_notes_conversation_id", "conversation_notes")
    op.drop_table("conversation_notes")
    op.drop_index("ix_handoffs_ended_at", "handoffs")
    op.drop_index("ix_handoffs_agent_id", "handoffs")
    op.drop_index("ix_handoffs_conversation_id", "handoffs")
    op.drop_table("handoffs")
    op.drop_index("ix_agent_sessions_last_seen_at", "agent_sessions")
    op.drop_index("ix_agent_sessions_agent_id", "agent_sessions")
    op.drop_table("agent_sessions")
    op.drop_table("agents")
