"""Alembic environment: the URL comes from the caller or from ``REFUNDBOT_DATABASE_URL``."""

from __future__ import annotations

from alembic import context

import bot.api.models  # noqa: F401
import bot.console.models  # noqa: F401
import bot.gateway.models  # noqa: F401  (registers the gateway tables on Base.metadata)
import bot.handoff.models  # noqa: F401
import bot.review.models  # noqa: F401
import bot.survey.models  # noqa: F401
from bot.refunds.db import get_engine
from bot.refunds.models import Base
from bot.settings import Settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = get_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
