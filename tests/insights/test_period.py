"""The period the command and the page read from typed days."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.insights.period import BadPeriod, period_of

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 30, 3, 30, tzinfo=UTC)


def midnight(day: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "period"),
    [
        (None, None, (NOW - dt.timedelta(days=7), NOW)),
        ("2026-11-02", None, (midnight(2), midnight(9))),
        (None, "2026-11-09", (midnight(2), midnight(9))),
        ("2026-11-02", "2026-11-03", (midnight(2), midnight(3))),
    ],
    ids=["default", "since-only", "until-only", "one-day"],
)
def test_days_make_a_half_open_utc_period(
    since: str | None, until: str | None, period: tuple[dt.datetime, dt.datetime]
) -> None:
    assert period_of(since, until, now=NOW) == period


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2026-11-2", None, "--since must be a date as YYYY-MM-DD, not '2026-11-2'"),
        (None, "2026-11-09T00:00", "--until must be a date as YYYY-MM-DD"),
        ("2026-11-09", "2026-11-09", "--until must be a later day than --since"),
    ],
)
def test_what_is_not_a_period_is_refused(
    since: str | None, until: str | None, message: str
) -> None:
    with pytest.raises(BadPeriod, match=message):
        period_of(since, until, now=NOW)
