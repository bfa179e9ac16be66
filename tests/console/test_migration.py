from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from bot.console import models
from bot.refunds.db import get_engine, get_sessionmaker
from bot.refunds.migrate import alembic_config, upgrade
from tests.schema import table_of

CONSOLE_TABLES = {
    "agents",
    "agent_sessions",
    "handoffs",
    "conversation_notes",
    "canned_replies",
}


def test_console_models_match_migration_0003(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        context = MigrationContext.configure(connection)
        diffs = compare_metadata(context, models.Base.metadata)
    assert [d for d in diffs if table_of(d) in CONSOLE_TABLES] == []
    with get_sessionmaker(db_url).begin() as session:
        titles = session.execute(select(models.CannedReply.title)).scalars().all()
    assert "Order number" in titles


def test_0003_downgrades_and_upgrades_again(db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "0002")
    assert not CONSOLE_TABLES & set(inspect(get_engine(db_url)).get_table_names())
    upgrade(db_url)
    assert CONSOLE_TABLES <= set(inspect(get_engine(db_url)).get_table_names())
