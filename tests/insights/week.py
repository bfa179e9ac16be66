"""The known week of the report's tests: what happened, and when."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.contract import HandoffReason
from bot.gateway.models import Channel
from bot.refunds.enums import RefundMethod, RefundStatus
from bot.survey.models import SurveyEvent
from tests.insights.history import History

UTC = dt.timezone.utc
SINCE = dt.datetime(2026, 11, 2, tzinfo=UTC)
UNTIL = dt.datetime(2026, 11, 9, tzinfo=UTC)
SECOND = dt.timedelta(seconds=1)


def day(d: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, d, hour, minute, tzinfo=UTC)


def build_week(history: History) -> None:
    """Six conversations, eight applications and seven survey questions in the week, and some
    just outside it."""
    c = history.conversation
    c("web-before", channel=Channel.WEBCHAT, at=SINCE - SECOND, buyer_messages=[SINCE - SECOND])
    c("web-1", channel=Channel.WEBCHAT, at=SINCE, buyer_messages=[SINCE, day(2, 9, 10)])
    c("web-2", channel=Channel.WEBCHAT, at=day(3, 14), buyer_messages=[day(3, 14, 1)])
    c("web-3", channel=Channel.WEBCHAT, at=day(4, 9), buyer_messages=[day(4, 9, 5), day(4, 9, 6)])
    c("tg-4", channel=Channel.TELEGRAM, at=day(5, 21), buyer_messages=[day(5, 21, 30)])
    c("tg-5", channel=Channel.TELEGRAM, at=day(6, 9), buyer_messages=[UNTIL])
    c("tg-6", channel=Channel.TELEGRAM, at=UNTIL - SECOND, buyer_messages=[UNTIL - SECOND])
    c("web-after", channel=Channel.WEBCHAT, at=UNTIL, buyer_messages=[UNTIL + SECOND])

    h = history.handoff
    # Started before the week: its handoff in the week is not the week's.
    h("web-before", reason=HandoffReason.POLICY, at=day(3))
    # One conversation handed over twice for the same reason.
    h("web-2", reason=HandoffReason.BUYER_ASKED, at=day(3, 14, 5), handed_back_at=day(3, 14, 30))
    h("web-2", reason=HandoffReason.BUYER_ASKED, at=day(3, 16))
    h("web-3", reason=HandoffReason.POLICY, at=day(4, 10))
    h("tg-4", reason=HandoffReason.BUYER_ASKED, at=day(5, 22))
    # Asked for exactly when the week ends: tg-5 was contained within the week.
    h("tg-5", reason=HandoffReason.REPEATED_FAILURE, at=UNTIL)

    a = history.application
    immediate, no_return, ret = (
        RefundMethod.IMMEDIATE,
        RefundMethod.NO_RETURN,
        RefundMethod.RETURN_AND_REFUND,
    )
    s = RefundStatus
    # Automatic: approved and refunded when submitted (decision and payout in 0 s).
    a(method=immediate, amount=Decimal("5.25"), currency="USD", at=SINCE)
    a(method=immediate, amount=Decimal("10.00"), currency="USD", at=day(2, 10))
    a(method=no_return, amount=Decimal("120.00"), currency="EUR", at=day(7, 15), late=True)
    # Approved after 1 h, refunded 2 days after submission.
    a(
        method=ret,
        amount=Decimal("80.00"),
        currency="USD",
        at=day(3, 10),
        steps=[(s.APPROVED, day(3, 11)), (s.RETURN_RECEIVED, day(4, 10)), (s.REFUNDED, day(5, 10))],
    )
    # Rejected after a day.
    a(
        method=ret,
        amount=Decimal("60.00"),
        currency="EUR",
        at=day(3, 12),
        steps=[(s.REJECTED, day(4, 12))],
    )
    a(method=ret, amount=Decimal("40.50"), currency="EUR", at=day(4, 9))
    # Approved exactly when the week ends: still pending within it.
    a(
        method=ret,
        amount=Decimal("30.00"),
        currency="USD",
        at=day(5, 9),
        steps=[(s.APPROVED, UNTIL)],
    )
    # Approved after 30 min, then withdrawn by the buyer.
    a(
        method=ret,
        amount=Decimal("25.00"),
        currency="GBP",
        at=day(6, 8),
        steps=[(s.APPROVED, day(6, 8, 30)), (s.WITHDRAWN, day(6, 9))],
    )
    # Submitted just before and at the end of the week: not the week's.
    a(
        method=ret,
        amount=Decimal("99.00"),
        currency="USD",
        at=SINCE - SECOND,
        steps=[(s.APPROVED, day(2, 1))],
    )
    a(method=immediate, amount=Decimal("7.00"), currency="USD", at=UNTIL)

    q = history.survey
    submitted, closed, paid = SurveyEvent.SUBMITTED, SurveyEvent.CLOSED, SurveyEvent.PAID_OUT
    minute = dt.timedelta(minutes=1)
    # Asked in the week and rated: 5 (web), 2 (web, the agent), 4 (web), 4 (tg), 1 (tg, agent).
    q("web-1", event=submitted, at=day(2, 9, 11), rating=5, rated_at=day(2, 9, 12))
    q("web-2", event=closed, at=day(3, 14, 31), rating=2, rated_at=day(3, 14, 32), by_agent=True)
    q("web-3", event=submitted, at=day(4, 9, 7), rating=4, rated_at=day(4, 9, 7) + minute)
    q("tg-4", event=paid, at=day(5, 22), rating=4, rated_at=day(5, 22, 5))
    q("tg-5", event=closed, at=day(6, 10), rating=1, rated_at=day(6, 10, 1), by_agent=True)
    # Asked in the week, never rated, or rated only when the week had ended.
    q("web-1", event=paid, at=day(7))
    q("tg-6", event=submitted, at=UNTIL - SECOND, rating=3, rated_at=UNTIL)
    # Asked before and after the week.
    q("web-before", event=submitted, at=SINCE - SECOND, rating=3, rated_at=SINCE)
    q("web-after", event=submitted, at=UNTIL, rating=5, rated_at=UNTIL + SECOND)
