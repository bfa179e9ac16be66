"""Gateway: conversations, transcript, Telegram update dedup, notifier cursor.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.refunds.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("last_channel", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("telegram_chat_id", sa.BigInteger, nullable=True),
        sa.Column("handler", sa.String(16), nullable=False, server_default="bot"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_conversations_customer_id", "conversations", ["customer_id"])
    op.create_table(
        "transcript_messages",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(128),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("conversation_id", "client_id"),
    )
    op.create_index(
        "ix_transcript_messages_conversation_id", "transcript_messages", ["conversation_id"]
    )
    op.create_index("ix_transcript_messages_status", "transcript_messages", ["status"])
    op.create_table(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "gateway_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", ID, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gateway_cursors")
    op.drop_table("telegram_updates")
    op.drop_index("ix_transcript_messages_status", "transcript_messages")
    op.drop_table("transcript_messages")
    op.drop_table("conversations")
