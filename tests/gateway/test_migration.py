from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.gateway import models
from bot.refunds.db import get_engine
from bot.refunds.migrate import alembic_config, upgrade
from tests.schema import table_of

GATEWAY_TABLES = {"conversations", "transcript_messages", "telegram_updates", "gateway_cursors"}


def test_gateway_models_match_migration_0002(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        context = MigrationContext.configure(connection)
        diffs = compare_metadata(context, models.Base.metadata)
    ours = [d for d in diffs if table_of(d) in GATEWAY_TABLES]
    assert ours == []


def test_0002_downgrades_and_upgrades_again(db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "0001")
    assert not GATEWAY_TABLES & set(inspect(get_engine(db_url)).get_table_names())
    upgrade(db_url)
    assert GATEWAY_TABLES <= set(inspect(get_engine(db_url)).get_table_names())
