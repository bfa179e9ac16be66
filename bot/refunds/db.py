"""Engine and session factory, built once per database URL on first use (never at import)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


@functools.lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """Return the process-wide engine for ``url``."""
    kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        # The action server and the CLI may use the file at once; wait for locks, do not fail.
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


@functools.lru_cache(maxsize=8)
def get_sessionmaker(url: str) -> sessionmaker:
    """Return the process-wide session factory for ``url``; use ``with factory.begin()``."""
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)


def new_session(url: str) -> Session:
    """Open a session; callers wrap their work in ``with session.begin():``."""
    session: Session = get_sessionmaker(url)()
    return session


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event start transactions (pysqlite's own BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # SQLite has no SELECT ... FOR UPDATE: take the write lock at BEGIN so that reading a
    # balance and writing an application are one serialised step, as on PostgreSQL.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
