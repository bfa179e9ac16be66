"""Engines and session factories, built once per database URL on first use (never at import).

Two kinds of unit of work:

- the default one may write. On SQLite it takes the write lock at ``BEGIN IMMEDIATE``: SQLite has
  no ``SELECT ... FOR UPDATE``, so reading a balance and writing an application must be one
  serialised step, as they are on PostgreSQL with row locks.
- ``read_only=True`` only reads (what the bot shows while a buyer fills the form, the notifier's
  poll). On SQLite it begins deferred, so it never waits for a writer or holds one up (WAL gives
  it a snapshot), and its connection refuses writes (``PRAGMA query_only``). On PostgreSQL both
  kinds are the same.

A database server that restarts drops every connection. Pooled connections are checked before
use (``pool_pre_ping``), so the first unit of work after a restart gets a new one; a unit of work
that was running when the connection went fails, and :func:`connection_lost` tells such a failure
from the others (the gateway then runs it again, :func:`bot.gateway.transcript.run_in_session`).

A long-running process that owns its resources (the gateway) opens a :class:`Database` and
disposes of it when it stops. Short-lived callers (a command, the action server, whose actions
rasa-sdk builds without arguments) use the process-wide :func:`get_sessionmaker`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool


class Database:
    """The engines of one database and their session factories, disposed of together."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        self._read_engine = (
            self._engine if _shares_engine(url) else make_engine(url, read_only=True)
        )
        self.sessions = sessionmaker(bind=self._engine, future=True, expire_on_commit=False)
        #: Units of work that only read (see the module's text).
        self.read_sessions = sessionmaker(
            bind=self._read_engine, future=True, expire_on_commit=False
        )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._read_engine.dispose()
        self._engine.dispose()


def _shares_engine(url: str) -> bool:
    # On PostgreSQL reads need nothing special; an in-memory SQLite database is private to its
    # connection, so no second engine could see it.
    return not url.startswith("sqlite") or _sqlite_path(url) is None


@functools.lru_cache(maxsize=16)
def get_engine(url: str, *, read_only: bool = False) -> Engine:
    """Return the process-wide engine for ``url`` (``read_only``: see the module's text)."""
    if read_only and _shares_engine(url):
        return get_engine(url)
    return make_engine(url, read_only=read_only)


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """Return a new engine for ``url``, set up for the product's units of work."""
    kwargs: dict[str, Any] = {"future": True}
    sqlite = url.startswith("sqlite")
    if not sqlite:
        kwargs["pool_pre_ping"] = True
    else:
        path = _sqlite_path(url)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Keep connections open: SQLAlchemy 1.4 would open a new one, and run the PRAGMAs
            # below, for every transaction on a file (a millisecond each time). A file cannot
            # drop a connection the way a server does, so there is nothing to ping.
            kwargs["poolclass"] = QueuePool
        # The action server and the CLI may use the file at once; wait for locks, do not fail.
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if sqlite:
        event.listen(engine, "connect", _sqlite_on_connect)
        if read_only:
            event.listen(engine, "connect", _sqlite_query_only)
            event.listen(engine, "begin", _sqlite_begin_deferred)
        else:
            event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


@functools.lru_cache(maxsize=16)
def get_sessionmaker(url: str, *, read_only: bool = False) -> sessionmaker:
    """Return the process-wide session factory for ``url``; use ``with factory.begin()``."""
    return sessionmaker(
        bind=get_engine(url, read_only=read_only), future=True, expire_on_commit=False
    )


def new_session(url: str) -> Session:
    """Open a session; callers wrap their work in ``with session.begin():``."""
    session: Session = get_sessionmaker(url)()
    return session


def dispose(url: str) -> None:
    """Close every pooled connection to ``url`` (before its file or schema goes away)."""
    get_engine(url, read_only=True).dispose()
    get_engine(url).dispose()


def connection_lost(error: BaseException) -> bool:
    """Return whether ``error`` says the PostgreSQL server went away or is not taking sessions.

    The connection broke (a restart, a dropped network), could not be made, or the server said
    it is shutting down or starting up (SQLSTATE classes 08 and 57, but a cancelled statement).
    The unit of work was rolled back, unless the break came during its ``COMMIT``, which the
    server may then have made: a unit of work run again must find its own first run (the
    gateway's do: a buyer's message is recorded under its client id, whose unique key finds a
    second copy, and a message is marked answered, with its replies, only while it is pending).
    """
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    if not type(error.orig).__module__.startswith("psycopg2"):
        return False  # SQLite's "database is locked" and the like: not a lost connection
    code = getattr(error.orig, "pgcode", None)
    return code is None or (code[:2] in ("08", "57") and code != "57014")


def _sqlite_path(url: str) -> str | None:
    """Return the file of a SQLite URL, or ``None`` for an in-memory database."""
    path = url.split("///", 1)[1] if "///" in url else ""
    path = path.split("?", 1)[0]
    return path if path and path != ":memory:" else None


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event start transactions (pysqlite's own BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")
