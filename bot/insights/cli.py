"""``refundbot report``: the period's figures as a text table or JSON.

Wired into :mod:`bot.cli` with ``bot.insights.cli.register(commands)``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from bot.settings import Settings

DEFAULT_DAYS = 7


def register(subparsers: Any) -> None:
    """Add the ``report`` command to the ``refundbot`` parser's subcommands."""
    report = subparsers.add_parser(
        "report",
        help="what the assistant did over a period (default: the last 7 days)",
        description=(
            "Print conversations, containment, handoffs by reason, refunds by method and "
            "status with amounts per currency, approval rate, time to decision and to payout, "
            "and buyers' messages per hour, for [SINCE, UNTIL) in UTC. Dates are YYYY-MM-DD "
            "and mean midnight UTC: UNTIL itself is not included. Without dates: the 7 days up "
            "to now; with one date, 7 days from or up to it."
        ),
    )
    report.add_argument("--since", help="first day, YYYY-MM-DD (UTC)")
    report.add_argument("--until", help="day after the last, YYYY-MM-DD (UTC, excluded)")
    report.add_argument("--json", action="store_true", help="print JSON (money as decimal strings)")
    report.set_defaults(handler=_report)


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
    if start is None and end is None:
        end = now
    if end is None:
        assert start is not None
        end = start + week
    if start is None:
        start = end - week
    if end <= start:
        raise BadPeriod("--until must be a later day than --since")
    return start, end


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import utcnow
    from bot.insights.render import to_json, to_text
    from bot.insights.report import build_report
    from bot.refunds.db import get_sessionmaker

    try:
        since, until = period_of(args.since, args.until, now=utcnow())
    except BadPeriod as e:
        print(f"refundbot: {e}", file=sys.stderr)
        return 2
    with get_sessionmaker(settings.database_url).begin() as session:
        report = build_report(session, since=since, until=until)
    print(json.dumps(to_json(report), indent=2) if args.json else to_text(report))
    return 0
