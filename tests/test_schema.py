"""The tables the code declares are exactly what the migrations build, on every database."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

import bot.api.models
import bot.console.models
import bot.gateway.models
import bot.handoff.models
import bot.refunds.models
import bot.review.models
import bot.survey.models
from bot.refunds.db import get_engine
from bot.refunds.migrate import alembic_config, upgrade

MODEL_MODULES = (
    bot.api.models,
    bot.console.models,
    bot.gateway.models,
    bot.handoff.models,
    bot.refunds.models,
    bot.review.models,
    bot.survey.models,
)
SECURITY_TABLES = {"login_failures", "verification_attempts"}


def test_every_model_matches_the_migrated_schema(db_url: str) -> None:
    metadata = bot.refunds.models.Base.metadata
    assert all(module.Base.metadata is metadata for module in MODEL_MODULES)
    with get_engine(db_url).connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diffs == []


def test_0004_downgrades_and_upgrades_again(db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "0003")
    assert not SECURITY_TABLES & set(inspect(get_engine(db_url)).get_table_names())
    upgrade(db_url)
    assert SECURITY_TABLES <= set(inspect(get_engine(db_url)).get_table_names())


def test_0005_downgrades_and_upgrades_again(db_url: str) -> None:
    api_tables = {"api_keys", "api_idempotency"}
    command.downgrade(alembic_config(db_url), "0004")
    assert not api_tables & set(inspect(get_engine(db_url)).get_table_names())
    upgrade(db_url)
    assert api_tables <= set(inspect(get_engine(db_url)).get_table_names())


def test_0006_downgrades_and_upgrades_again(db_url: str) -> None:
    webhook_tables = {"webhook_events", "webhooks", "webhook_deliveries", "webhook_attempts"}
    command.downgrade(alembic_config(db_url), "0005")
    assert not webhook_tables & set(inspect(get_engine(db_url)).get_table_names())
    upgrade(db_url)
    assert webhook_tables <= set(inspect(get_engine(db_url)).get_table_names())


def test_0007_downgrades_and_upgrades_again(db_url: str) -> None:
    indexes = {"ix_webhook_deliveries_expires_at", "ix_webhook_deliveries_event_id"}

    def found() -> set[str]:
        return {i["name"] for i in inspect(get_engine(db_url)).get_indexes("webhook_deliveries")}

    command.downgrade(alembic_config(db_url), "0006")
    assert not indexes & found()
    upgrade(db_url)
    assert indexes <= found()


def test_0008_downgrades_and_upgrades_again(db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "0007")
    assert "satisfaction_surveys" not in inspect(get_engine(db_url)).get_table_names()
    upgrade(db_url)
    assert "satisfaction_surveys" in inspect(get_engine(db_url)).get_table_names()


def test_a_rating_outside_one_to_five_is_refused_by_the_database(db_url: str) -> None:
    engine = get_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (id, channel, last_channel, handler, created_at,"
                " updated_at) VALUES ('web-x', 'webchat', 'webchat', 'bot', :at, :at)"
            ),
            {"at": "2026-11-30 06:00:00.000000"},
        )
    insert = text(
        "INSERT INTO satisfaction_surveys (conversation_id, event, channel, asked_at, rating)"
        " VALUES ('web-x', :event, 'webchat', :at, :rating)"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"event": "closed", "at": "2026-11-30 06:00:00", "rating": 5})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"event": "submitted", "at": "2026-11-30 06:00:00", "rating": 6})
    # Once per conversation and event.
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"event": "closed", "at": "2026-11-30 06:00:00", "rating": 4})


def test_0009_downgrades_and_upgrades_again(db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "0008")
    tables = inspect(get_engine(db_url)).get_table_names()
    assert "nlu_reviews" not in tables
    assert "satisfaction_surveys" in tables
    upgrade(db_url)
    assert "nlu_reviews" in inspect(get_engine(db_url)).get_table_names()


def test_0010_downgrades_and_upgrades_again(db_url: str) -> None:
    engine = get_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (id, channel, last_channel, handler, created_at, "
                "updated_at) VALUES ('web-old', 'webchat', 'webchat', 'bot', "
                "'2026-11-30 06:00:00', '2026-11-30 06:00:00')"
            )
        )
    # A conversation from before languages is an English one nothing has chosen yet.
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT language, language_source FROM conversations WHERE id = 'web-old'")
        ).one()
    assert tuple(row) == ("en", "default")
    command.downgrade(alembic_config(db_url), "0009")
    columns = {c["name"] for c in inspect(get_engine(db_url)).get_columns("conversations")}
    assert "language" not in columns
    canned = {c["name"] for c in inspect(get_engine(db_url)).get_columns("canned_replies")}
    assert "language" not in canned
    upgrade(db_url)
    with get_engine(db_url).connect() as connection:
        row = connection.execute(
            text("SELECT language, language_source FROM conversations WHERE id = 'web-old'")
        ).one()
    assert tuple(row) == ("en", "default")
