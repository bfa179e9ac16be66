"""Satisfaction surveys: the 1–5 ratings and comments buyers give after an event.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.refunds.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "satisfaction_surveys",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(128),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column(
            "application_id",
            ID,
            sa.ForeignKey("refund_applications.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "agent_id", sa.Integer, sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("asked_at", UTCDateTime, nullable=False),
        sa.Column("rating", sa.SmallInteger, nullable=True),
        sa.Column("rated_at", UTCDateTime, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("commented_at", UTCDateTime, nullable=True),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.UniqueConstraint("conversation_id", "event", name="uq_satisfaction_surveys_event"),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_satisfaction_surveys_rating"
        ),
    )
    for column in ("conversation_id", "customer_id", "application_id", "agent_id", "asked_at"):
        op.create_index(f"ix_satisfaction_surveys_{column}", "satisfaction_surveys", [column])


def downgrade() -> None:
    op.drop_table("satisfaction_surveys")
