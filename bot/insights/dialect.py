"""SQL expressions that SQLite and PostgreSQL spell differently.

Each function returns a column expression for the dialect the session is bound to, so every
figure of the report is still one ``SELECT`` on the database it runs on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Float, Integer, cast, func, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

SQLITE = "sqlite"
CENT = Decimal("0.01")


def dialect_of(session: Session) -> str:
    """Return the name of the database ``session`` talks to (``sqlite``, ``postgresql``)."""
    return str(session.get_bind().dialect.name)


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """Return ``end - start`` in seconds, as a float.

    SQLite keeps UTC datetimes as ISO text (see :class:`bot.refunds.models.UTCDateTime`), which
    ``julianday`` reads; PostgreSQL subtracts timestamps and takes the interval's epoch.
    """
    if dialect == SQLITE:
        days = func.julianday(end) - func.julianday(start)
        return type_coerce(days * 86400.0, Float)
    return type_coerce(func.extract("epoch", end - start), Float)


def hour_of_day(dialect: str, column: Any) -> ColumnElement[Any]:
    """Return the hour (0-23) of a UTC datetime column, in UTC whatever the session's zone."""
    if dialect == SQLITE:
        return cast(func.strftime("%H", column), Integer)
    return cast(func.extract("hour", func.timezone("UTC", column)), Integer)


def money_sum(dialect: str, column: Any) -> ColumnElement[Any]:
    """Return the exact sum of a money column: NUMERIC on PostgreSQL, whole cents on SQLite.

    SQLite keeps money as decimal text (its NUMERIC would be a float); summed as integer cents it
    stays exact up to 90 trillion. The caller turns cents back into a Decimal with
    :func:`to_money`.
    """
    if dialect == SQLITE:
        cents = cast(func.round(cast(column, Float) * 100), Integer)
        return type_coerce(func.coalesce(func.sum(cents), 0), Integer)
    return func.coalesce(func.sum(column), 0)


def to_money(dialect: str, value: Any) -> Decimal:
    """Return what :func:`money_sum` selected as a Decimal in cents."""
    if dialect == SQLITE:
        return (Decimal(int(value)) / 100).quantize(CENT)
    return Decimal(str(value)).quantize(CENT)
