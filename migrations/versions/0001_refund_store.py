"""Refund store: customers, orders, items, refund applications and their events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.refunds.models import Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(19), primary_key=True),
        sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("customer_email", sa.String(254), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", Money, nullable=False),
        sa.Column("paid_at", UTCDateTime, nullable=False),
        sa.Column("ship_by", UTCDateTime, nullable=False),
        sa.Column("shipped_at", UTCDateTime, nullable=True),
        sa.Column("promised_delivery_by", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.create_table(
        "order_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "order_id",
            sa.String(19),
            sa.ForeignKey("orders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price", Money, nullable=False),
    )
    op.create_index("ix_order_items_order_id", "order_items", ["order_id"])
    op.create_table(
        "refund_applications",
        sa.Column("id", ID, primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False, unique=True),
        sa.Column("order_id", sa.String(19), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("customer_id", sa.String(64), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.Column("compensation", Money, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason_category", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("review", sa.String(16), nullable=False),
        sa.Column("review_due_at", UTCDateTime, nullable=True),
        sa.Column("return_tracking", sa.String(64), nullable=True),
        sa.Column("conversation_id", sa.String(128), nullable=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_refund_applications_order_id", "refund_applications", ["order_id"])
    op.create_index("ix_refund_applications_customer_id", "refund_applications", ["customer_id"])
    op.create_table(
        "refund_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "application_id",
            ID,
            sa.ForeignKey("refund_applications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_refund_events_application_id", "refund_events", ["application_id"])
    op.create_index(
        "ix_refund_applications_conversation_id", "refund_applications", ["conversation_id"]
    )
    op.create_table(
        "evidence",
        sa.Column("id", ID, primary_key=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column(
            "application_id",
            ID,
            sa.ForeignKey("refund_applications.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_path", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_evidence_conversation_id", "evidence", ["conversation_id"])
    op.create_index("ix_evidence_application_id", "evidence", ["application_id"])


def downgrade() -> None:
    op.drop_table("evidence")
    op.drop_table("refund_events")
    op.drop_table("refund_applications")
    op.drop_table("order_items")
    op.drop_table("orders")
    op.drop_table("customers")
