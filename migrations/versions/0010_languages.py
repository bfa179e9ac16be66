"""Languages: each conversation's language and how it was chosen; canned replies per language.

A conversation starts in English (the default) until its channel's hint, its first messages or
the buyer's request say otherwise; ``language_source`` tells which, so a language the buyer's
messages set is not undone by the next short message. A canned reply without a language suits
every conversation.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
        batch.add_column(
            sa.Column("language_source", sa.String(16), nullable=False, server_default="default")
        )
    with op.batch_alter_table("canned_replies") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("canned_replies") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("language_source")
        batch.drop_column("language")
