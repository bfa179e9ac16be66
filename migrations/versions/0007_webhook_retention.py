"""Webhook retention: find finished deliveries by when their retries ended, and an event's.

The retention pass (bot/api/retention.py) removes finished deliveries whose retries ended long
ago and then the events no delivery needs: both questions, and PostgreSQL's cascade from an
event to its deliveries, would read the whole table without these indexes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_webhook_deliveries_expires_at", "webhook_deliveries", ["expires_at"])
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_event_id", "webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_expires_at", "webhook_deliveries")
