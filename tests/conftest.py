"""Fixtures shared by every test: migrated databases and the service-or-skip rule.

``db_url`` is a freshly migrated database per test: a SQLite file, and the same on PostgreSQL
in a schema of its own when ``REFUNDBOT_TEST_DATABASE_URL`` is set; ``redis_url`` is the Redis
of ``REFUNDBOT_TEST_REDIS_URL``. A test that needs a
service this machine may lack skips with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from bot.refunds.db import dispose, get_sessionmaker
from bot.refunds.migrate import upgrade
from tests.console.agents import close_shared_clients

PG_ENV = "REFUNDBOT_TEST_DATABASE_URL"
REDIS_ENV = "REFUNDBOT_TEST_REDIS_URL"

# sanic (imported by rasa-sdk and Rasa) runs warnings.filterwarnings("once", DeprecationWarning)
# when it is imported, ahead of pytest's filters: every DeprecationWarning of the collection after
# it would be printed instead of failing. Imported first, here, its filter is thrown away.
with warnings.catch_warnings():
    import sanic  # noqa: F401


@pytest.fixture
async def aiohttp_server(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[Callable[..., Awaitable[TestServer]]]:
    """pytest-aiohttp's servers; the clients a test opened on them close before they stop."""
    yield aiohttp_server
    await close_shared_clients()


def require(available: bool, reason: str) -> None:
    """Skip the test when a service is missing; under ``CI=true`` fail instead."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}: this test must run in CI")
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report gains what its fixtures noted (``failure_notes()``): the logs of
    processes it started, which are gone once the run is over."""
    report = yield
    if report.when == "call" and report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            notes = getattr(value, "failure_notes", None)
            if callable(notes) and (said := notes()):
                report.sections.append((f"what {name} noted", said))
    return report


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the PostgreSQL test database, or a skip (a failure under ``CI=true``)."""
    url = os.environ.get(PG_ENV, "")
    require(bool(url), f"PostgreSQL not configured: set {PG_ENV}")
    engine = create_engine(url, future=True, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A migrated PostgreSQL schema of this test's own, dropped afterwards."""
    schema = f"refundbot_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = postgres_admin.url.update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema}
    ).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        dispose(url)
        with postgres_admin.begin() as conn:
            # A worker thread of an app the test has closed may still be finishing a query on
            # this schema; end those sessions so that dropping it cannot deadlock with them.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :schema AND pid <> pg_backend_pid()"
                ),
                {"schema": schema},
            )
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def redis_url() -> str:
    """The test Redis, or a skip (a failure under ``CI=true``).

    Each pytest-xdist worker has a database number of its own (``gw1`` adds 1 to the URL's):
    the gateways' pub/sub channel names it, so two workers' tests never hear each other.
    """
    url = os.environ.get(REDIS_ENV, "")
    require(bool(url), f"Redis not configured: set {REDIS_ENV}")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if worker == "gw0":
        return url
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{number}"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A migrated SQLite file of this test's own."""
    url = f"sqlite:///{tmp_path / 'refunds.db'}"
    upgrade(url)
    yield url
    dispose(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A freshly migrated database on each backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def session_factory(db_url: str) -> sessionmaker:
    """The product's session factory for ``db_url``; use ``with session_factory.begin()``."""
    return get_sessionmaker(db_url)
