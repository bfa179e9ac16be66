"""The period a report covers, from the days a person types (the command, the console page)."""

from __future__ import annotations

import datetime as dt

DEFAULT_DAYS = 7


class BadPeriod(ValueError):
    """The dates given do not make a period."""


def parse_day(value: str, option: str) -> dt.datetime:
    """Return midnight UTC of a ``YYYY-MM-DD`` day.

    Raises:
        BadPeriod: ``value`` is not such a day.
    """
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise BadPeriod(f"{option} must be a date as YYYY-MM-DD, not {value!r}") from None
    # Python 3.11's fromisoformat also takes "20261102"; the documented form is the one taken.
    if len(value) != len("YYYY-MM-DD"):
        raise BadPeriod(f"{option} must be a date as YYYY-MM-DD, not {value!r}")
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)


def period_of(
    since: str | None, until: str | None, *, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """Return the period the options ask for (see the command's description).

    Raises:
        BadPeriod: a date is malformed, or the period does not end after it starts.
    """
    week = dt.timedelta(days=DEFAULT_DAYS)
    start = parse_day(since, "--since") if since else None
    end = parse_day(until, "--until") if until else None
    if start is not None and end is None:
        end = start + week
    elif end is None:
        end = now
    if start is None:
        start = end - week
    if end <= start:
        raise BadPeriod("--until must be a later day than --since")
    return start, end
