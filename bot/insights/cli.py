"""``refundbot report``: the period's figures as a text table or JSON.

Wired into :mod:`bot.cli` with ``bot.insights.cli.register(commands)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.insights.period import BadPeriod, period_of
from bot.settings import Settings


def register(subparsers: Any) -> None:
    """Add the ``report`` command to the ``refundbot`` parser's subcommands."""
    report = subparsers.add_parser(
        "report",
        help="what the assistant did over a period (default: the last 7 days)",
        description=(
            "Print conversations, containment, handoffs by reason, refunds by method and "
            "status with amounts per currency, approval rate, time to decision and to payout, "
            "buyers' messages per hour and the NLU fallback rate (from Rasa's tracker store), "
            "for [SINCE, UNTIL) in UTC. Dates are YYYY-MM-DD and mean midnight UTC: UNTIL "
            "itself is not included. Without dates: the 7 days up to now; with one date, 7 "
            "days from or up to it."
        ),
    )
    report.add_argument("--since", help="first day, YYYY-MM-DD (UTC)")
    report.add_argument("--until", help="day after the last, YYYY-MM-DD (UTC, excluded)")
    report.add_argument("--json", action="store_true", help="print JSON (money as decimal strings)")
    report.set_defaults(handler=_report)


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import utcnow
    from bot.insights.render import to_json, to_text
    from bot.insights.report import build_report
    from bot.refunds.db import get_sessionmaker
    from bot.review.tracker import open_tracker

    try:
        since, until = period_of(args.since, args.until, now=utcnow())
    except BadPeriod as e:
        print(f"refundbot: {e}", file=sys.stderr)
        return 2
    tracker = open_tracker(settings.tracker_store)
    try:
        with get_sessionmaker(settings.database_url).begin() as session:
            report = build_report(session, since=since, until=until, tracker=tracker)
    finally:
        tracker.dispose()
    print(json.dumps(to_json(report), indent=2) if args.json else to_text(report))
    return 0
