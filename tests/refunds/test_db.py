"""Units of work: read-only ones see what is committed, never write, and never wait for a writer."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.refunds.db import get_engine, get_sessionmaker
from bot.refunds.models import Order
from tests.factories import make_order


def test_a_read_only_unit_sees_what_was_committed(db_url: str) -> None:
    with get_sessionmaker(db_url).begin() as session:
        order_id = make_order(session, total=Decimal("12.50")).id
    with get_sessionmaker(db_url, read_only=True).begin() as session:
        order = session.get(Order, order_id)
        assert order is not None
        assert order.total == Decimal("12.50")


def test_on_sqlite_a_read_only_unit_refuses_to_write(sqlite_url: str) -> None:
    with pytest.raises(OperationalError, match="readonly"):
        with get_sessionmaker(sqlite_url, read_only=True).begin() as session:
            make_order(session)
    with get_sessionmaker(sqlite_url).begin() as session:
        assert session.execute(select(func.count()).select_from(Order)).scalar_one() == 0


def test_on_sqlite_a_reader_does_not_wait_for_a_writer(sqlite_url: str) -> None:
    with get_sessionmaker(sqlite_url).begin() as session:
        make_order(session)
    writer = get_sessionmaker(sqlite_url)()
    with writer.begin():
        # The writer holds SQLite's write lock (BEGIN IMMEDIATE) and has an uncommitted order.
        make_order(writer)
        started = time.monotonic()
        with get_sessionmaker(sqlite_url, read_only=True).begin() as reader:
            seen = reader.execute(select(func.count()).select_from(Order)).scalar_one()
        waited = time.monotonic() - started
    writer.close()
    assert seen == 1  # the committed order only
    assert waited < 5.0  # a writer-style unit would have waited for the lock (up to 30 s)


def test_on_sqlite_connections_are_kept_between_units_of_work(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    for _ in range(3):
        with get_sessionmaker(sqlite_url).begin() as session:
            session.execute(select(func.count()).select_from(Order)).scalar_one()
    assert engine.pool.checkedin() == 1
