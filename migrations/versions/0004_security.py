"""Security: failed console sign-ins and ownership checks, for throttling.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.refunds.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", ID, primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_login_failures_address_at", "login_failures", ["address", "at"])
    op.create_index("ix_login_failures_account_at", "login_failures", ["account", "at"])
    op.create_table(
        "verification_attempts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_id", sa.String(19), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=True),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_verification_attempts_order_at", "verification_attempts", ["order_id", "at"]
    )
    op.create_index(
        "ix_verification_attempts_conversation_at",
        "verification_attempts",
        ["conversation_id", "at"],
    )
    op.create_index(
        "ix_verification_attempts_address_at", "verification_attempts", ["client_address", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_verification_attempts_address_at", "verification_attempts")
    op.drop_index("ix_verification_attempts_conversation_at", "verification_attempts")
    op.drop_index("ix_verification_attempts_order_at", "verification_attempts")
    op.drop_table("verification_attempts")
    op.drop_index("ix_login_failures_account_at", "login_failures")
    op.drop_index("ix_login_failures_address_at", "login_failures")
    op.drop_table("login_failures")
