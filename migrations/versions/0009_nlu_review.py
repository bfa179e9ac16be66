"""Conversation review: buyers' messages a person gave an intent to (or ignored).

Rows are keyed by their source event in Rasa's tracker store (sender id and event row id), so
reviewing a message again changes its verdict instead of adding a second one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.refunds.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "nlu_reviews",
        sa.Column("id", ID, primary_key=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("entities", sa.JSON, nullable=True),
        sa.Column("predicted_intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column(
            "agent_id", sa.Integer, sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("reviewed_at", UTCDateTime, nullable=False),
        sa.Column("said_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("sender_id", "event_id", name="uq_nlu_reviews_event"),
    )
    op.create_index("ix_nlu_reviews_agent_id", "nlu_reviews", ["agent_id"])
    op.create_index("ix_nlu_reviews_reviewed_at", "nlu_reviews", ["reviewed_at"])


def downgrade() -> None:
    op.drop_index("ix_nlu_reviews_reviewed_at", "nlu_reviews")
    op.drop_index("ix_nlu_reviews_agent_id", "nlu_reviews")
    op.drop_table("nlu_reviews")
