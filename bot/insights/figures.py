"""The report's figures as plain values: what the queries return and every output renders.

Money is :class:`~decimal.Decimal` per currency, never a float; a rate is ``None`` when there is
nothing to divide by, so an empty period says "no data" rather than 0 %.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


def rate(part: int, whole: int) -> float | None:
    """Return ``part / whole`` rounded to four places, or ``None`` when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Period:
    """The half-open interval ``[since, until)`` the report covers, in UTC."""

    since: dt.datetime
    until: dt.datetime


@dataclass(frozen=True)
class ChannelCount:
    """Conversations that started on one channel."""

    channel: str
    conversations: int


@dataclass(frozen=True)
class Conversations:
    """Conversations started in the period and how many never needed a person."""

    total: int
    by_channel: tuple[ChannelCount, ...]
    contained: int
    """Conversations with no handoff requested before the period's end."""

    @property
    def containment_rate(self) -> float | None:
        """Return the share of conversations the bot handled alone."""
        return rate(self.contained, self.total)


@dataclass(frozen=True)
class HandoffReasonCount:
    """Handoffs of the period's conversations for one reason."""

    reason: str
    handoffs: int
    conversations: int
    """Distinct conversations handed over for this reason (one may be handed over twice)."""
    rate: float | None
    """``conversations`` over all conversations of the period."""


@dataclass(frozen=True)
class RefundGroup:
    """Applications of one method, status and currency, with what they amount to."""

    method: str
    status: str
    currency: str
    applications: int
    amount: Decimal
    compensation: Decimal


@dataclass(frozen=True)
class Decisions:
    """Applications of the period decided (approved or rejected) before its end."""

    approved: int
    rejected: int

    @property
    def decided(self) -> int:
        """Return how many were decided either way."""
        return self.approved + self.rejected

    @property
    def approval_rate(self) -> float | None:
        """Return the share of decided applications that were approved."""
        return rate(self.approved, self.decided)


@dataclass(frozen=True)
class Durations:
    """How long something took, over the applications that got that far."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class NluFallback:
    """Typed buyer messages of the period in Rasa's tracker store, and those not understood."""

    messages: int
    fallbacks: int

    @property
    def rate(self) -> float | None:
        """Return the share of typed buyer messages whose intent was ``nlu_fallback``."""
        return rate(self.fallbacks, self.messages)


@dataclass(frozen=True)
class NotRecorded:
    """A figure the store cannot give, and why, instead of a made-up number."""

    note: str


#: The ratings a buyer can give, lowest first.
RATINGS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Ratings:
    """Satisfaction ratings of one group (all, a channel, an agent, an event)."""

    key: str
    rated: int
    average: float | None
    """The mean rating, to two places; ``None`` with no ratings."""
    distribution: tuple[int, ...]
    """How many gave 1, 2, 3, 4 and 5."""


@dataclass(frozen=True)
class Csat:
    """The satisfaction survey: questions asked in the period, ratings given before its end."""

    asked: int
    overall: Ratings
    by_channel: tuple[Ratings, ...]
    by_agent: tuple[Ratings, ...]
    """Ratings of what an agent handled (an agent's closing), per agent's name."""
    by_event: tuple[Ratings, ...]

    @property
    def response_rate(self) -> float | None:
        """Return the share of questions that were answered with a rating."""
        return rate(self.overall.rated, self.asked)


@dataclass(frozen=True)
class Report:
    """Everything the weekly report says about one period."""

    period: Period
    conversations: Conversations
    handoffs: tuple[HandoffReasonCount, ...]
    refunds: tuple[RefundGroup, ...]
    decisions: Decisions
    time_to_decision: Durations
    time_to_payout: Durations
    messages_by_hour: tuple[int, ...]
    """Buyers' messages in the period per hour of the day (UTC), index 0 to 23."""
    nlu_fallback: NluFallback | NotRecorded
    """Not recorded when the tracker store cannot be read."""
    csat: Csat
