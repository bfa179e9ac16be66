"""The report's figures on a history whose answers are known, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from bot.insights.figures import (
    ChannelCount,
    Conversations,
    Csat,
    Decisions,
    Durations,
    HandoffReasonCount,
    NotRecorded,
    Period,
    Ratings,
    RefundGroup,
)
from bot.insights.queries import percentile_cont
from bot.insights.render import to_text
from bot.insights.report import NLU_NOT_RECORDED, build_report
from bot.refunds.db import get_sessionmaker
from tests.insights.history import History
from tests.insights.week import SINCE, UNTIL, build_week, day


def test_every_figure_of_a_known_week(week: sessionmaker) -> None:
    with week.begin() as session:
        report = build_report(session, since=SINCE, until=UNTIL)

    assert report.period == Period(SINCE, UNTIL)
    assert report.conversations == Conversations(
        total=6,
        by_channel=(ChannelCount("telegram", 3), ChannelCount("webchat", 3)),
        contained=3,
    )
    assert report.conversations.containment_rate == 0.5
    assert report.handoffs == (
        HandoffReasonCount("buyer_asked", handoffs=3, conversations=2, rate=0.3333),
        HandoffReasonCount("policy", handoffs=1, conversations=1, rate=0.1667),
    )
    usd, eur, gbp = "USD", "EUR", "GBP"
    zero = Decimal("0.00")
    assert report.refunds == (
        RefundGroup("immediate_refund", "refunded", usd, 2, Decimal("15.25"), zero),
        RefundGroup("no_return_refund", "refunded", eur, 1, Decimal("120.00"), Decimal("12.00")),
        RefundGroup("return_and_refund", "pending_review", eur, 1, Decimal("40.50"), zero),
        RefundGroup("return_and_refund", "pending_review", usd, 1, Decimal("30.00"), zero),
        RefundGroup("return_and_refund", "refunded", usd, 1, Decimal("80.00"), zero),
        RefundGroup("return_and_refund", "rejected", eur, 1, Decimal("60.00"), zero),
        RefundGroup("return_and_refund", "withdrawn", gbp, 1, Decimal("25.00"), zero),
    )
    assert all(isinstance(g.amount, Decimal) for g in report.refunds)
    assert report.decisions == Decisions(approved=5, rejected=1)
    assert report.decisions.approval_rate == 0.8333
    # Decisions after 0, 0, 0, 1800, 3600 and 86400 s; payouts after 0, 0, 0 and 172800 s.
    assert report.time_to_decision == Durations(count=6, median_seconds=900.0, p90_seconds=45000.0)
    assert report.time_to_payout == Durations(count=4, median_seconds=0.0, p90_seconds=120960.0)
    hours = [0] * 24
    hours[0], hours[9], hours[14], hours[21], hours[23] = 1, 3, 1, 1, 1
    assert report.messages_by_hour == tuple(hours)
    assert report.nlu_fallback == NotRecorded(NLU_NOT_RECORDED)
    assert report.csat == WEEK_CSAT
    assert report.csat.response_rate == 0.7143


#: Seven questions asked in the week; five rated before its end: 5, 2, 4, 4 and 1.
WEEK_CSAT = Csat(
    asked=7,
    overall=Ratings("all", rated=5, average=3.2, distribution=(1, 1, 0, 2, 1)),
    by_channel=(
        Ratings("telegram", rated=2, average=2.5, distribution=(1, 0, 0, 1, 0)),
        Ratings("webchat", rated=3, average=3.67, distribution=(0, 1, 0, 1, 1)),
    ),
    by_agent=(Ratings("history.agent", rated=2, average=1.5, distribution=(1, 1, 0, 0, 0)),),
    by_event=(
        Ratings("closed", rated=2, average=1.5, distribution=(1, 1, 0, 0, 0)),
        Ratings("paid_out", rated=1, average=4.0, distribution=(0, 0, 0, 1, 0)),
        Ratings("submitted", rated=2, average=4.5, distribution=(0, 0, 0, 1, 1)),
    ),
)
NO_RATINGS = Ratings("all", rated=0, average=None, distribution=(0, 0, 0, 0, 0))


@pytest.mark.postgres
def test_hours_and_bounds_are_utc_whatever_the_sessions_time_zone(postgres_url: str) -> None:
    factory = get_sessionmaker(postgres_url)
    with factory.begin() as session:
        build_week(History(session))
    with factory.begin() as session:
        session.execute(text("SET TIME ZONE 'Pacific/Chatham'"))  # UTC+13:45 in November
        report = build_report(session, since=SINCE, until=UNTIL)

    hours = [0] * 24
    hours[0], hours[9], hours[14], hours[21], hours[23] = 1, 3, 1, 1, 1
    assert report.messages_by_hour == tuple(hours)
    assert report.conversations.total == 6
    assert report.time_to_payout == Durations(count=4, median_seconds=0.0, p90_seconds=120960.0)
    assert report.csat == WEEK_CSAT


def test_the_week_before_holds_only_what_started_before_it(week: sessionmaker) -> None:
    with week.begin() as session:
        report = build_report(session, since=SINCE - dt.timedelta(days=7), until=SINCE)

    assert report.conversations == Conversations(
        total=1, by_channel=(ChannelCount("webchat", 1),), contained=1
    )
    # Its handoff came after the period: not counted in it.
    assert report.handoffs == ()
    assert report.refunds == (
        RefundGroup(
            "return_and_refund", "pending_review", "USD", 1, Decimal("99.00"), Decimal("0.00")
        ),
    )
    assert report.decisions == Decisions(approved=0, rejected=0)
    assert report.time_to_decision == Durations(count=0, median_seconds=None, p90_seconds=None)
    assert sum(report.messages_by_hour) == 1
    # Asked in it, but rated only once it had ended.
    assert report.csat == Csat(asked=1, overall=NO_RATINGS, by_channel=(), by_agent=(), by_event=())
    assert report.csat.response_rate == 0.0


def test_an_empty_period_has_counts_of_zero_and_no_rates(week: sessionmaker) -> None:
    with week.begin() as session:
        report = build_report(session, since=day(20), until=day(27))

    assert report.conversations == Conversations(total=0, by_channel=(), contained=0)
    assert report.conversations.containment_rate is None
    assert report.handoffs == ()
    assert report.refunds == ()
    assert report.decisions.approval_rate is None
    assert report.time_to_decision == Durations(count=0, median_seconds=None, p90_seconds=None)
    assert report.time_to_payout == Durations(count=0, median_seconds=None, p90_seconds=None)
    assert report.messages_by_hour == (0,) * 24
    assert report.csat == Csat(asked=0, overall=NO_RATINGS, by_channel=(), by_agent=(), by_event=())
    assert report.csat.response_rate is None


def test_the_text_of_the_week_has_its_tables(week: sessionmaker) -> None:
    with week.begin() as session:
        text = to_text(build_report(session, since=SINCE, until=UNTIL))

    cells = [line.split() for line in text.splitlines()]
    assert ["reason", "handoffs", "conversations", "rate"] in cells
    assert ["policy", "1", "1", "16.7", "%"] in cells
    assert ["return_and_refund", "pending_review", "EUR", "1", "40.50", "0.00"] in cells
    assert "Buyer messages: 7; busiest hours UTC: 09:00 (3), 00:00 (1), 14:00 (1)" in text
    assert "CSAT: average 3.20 of 5 ratings (7 asked, response rate 71.4 %)" in text
    assert ["by", "group", "ratings", "average", "1*", "2*", "3*", "4*", "5*"] in cells
    assert ["all", "all", "5", "3.20", "1", "1", "0", "2", "1"] in cells
    assert ["channel", "webchat", "3", "3.67", "0", "1", "0", "1", "1"] in cells
    assert ["agent", "history.agent", "2", "1.50", "1", "1", "0", "0", "0"] in cells
    assert ["event", "paid_out", "1", "4.00", "0", "0", "0", "1", "0"] in cells


def test_the_text_of_an_empty_period_says_none_and_no_rates(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        report = build_report(session, since=SINCE, until=UNTIL)

    assert to_text(report).splitlines() == [
        "Report for 2026-11-02T00:00:00Z to 2026-11-09T00:00:00Z (until excluded)",
        "",
        "Conversations: 0",
        "Contained (no person asked in): 0  rate -",
        "",
        "Handoffs by reason:",
        "  none",
        "",
        "Refund applications (status at the period's end):",
        "  none",
        "",
        "Decided: 0 (approved 0, rejected 0)  approval rate -",
        "Submission to decision: median -  p90 -  (0 applications)",
        "Submission to payout: median -  p90 -  (0 applications)",
        "",
        "Buyer messages: 0",
        f"NLU fallback rate: {NLU_NOT_RECORDED}",
        "",
        "CSAT: average - of 0 ratings (0 asked, response rate -)",
    ]


@pytest.mark.parametrize(
    ("since", "until"),
    [(SINCE, SINCE), (UNTIL, SINCE), (SINCE.replace(tzinfo=None), UNTIL)],
    ids=["empty", "backwards", "naive"],
)
def test_a_period_that_is_not_one_is_refused(
    session_factory: sessionmaker, since: dt.datetime, until: dt.datetime
) -> None:
    with session_factory.begin() as session, pytest.raises(ValueError, match="period"):
        build_report(session, since=since, until=until)


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        ([], None, None),
        ([7.0], 7.0, 7.0),
        ([0.0, 10.0], 5.0, 9.0),
        ([1.0, 2.0, 3.0, 4.0, 100.0], 3.0, 61.6),
    ],
)
def test_percentiles_interpolate_as_percentile_cont(
    values: list[float], median: float | None, p90: float | None
) -> None:
    assert percentile_cont(values, 0.5) == median
    result = percentile_cont(values, 0.9)
    assert result == p90 if p90 is None else result == pytest.approx(p90)
