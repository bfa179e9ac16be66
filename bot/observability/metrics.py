"""The gateway's Prometheus metrics, on a registry of each app's own.

Names follow Prometheus' conventions: the ``refundbot_`` prefix, the unit last (``_seconds``),
counters ending in ``_total``. Labels take few values (a channel, a direction, a sender kind, a
handoff reason, an outcome, a Rasa server); a conversation, a buyer or an order is never a label.

Counts and durations are measured where they happen (:class:`GatewayMetrics`, called by the
router, the outbound path, the handoff service and the notifier). What sits in a queue is read
at scrape time: the handoff queue, the notifier's and the webhooks' backlogs from the database
(:class:`BacklogCollector`, fed by :mod:`bot.observability.backlogs`) and the database pools
(:class:`PoolCollector`). Each app has its own :class:`~prometheus_client.CollectorRegistry`, so
several apps in one process (the tests) do not share counts.

This module imports nothing of the project: the parts it measures call into it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.process_collector import ProcessCollector

log = logging.getLogger(__name__)

#: A turn takes tens of milliseconds when Rasa is warm, seconds when it is slow or retried.
TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
#: A buyer waits for an agent for seconds to hours.
WAIT_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)

DIRECTIONS = ("in", "out")
SENDERS = ("buyer", "bot", "agent", "system")
#: How a turn ended: the bot answered, it handed the buyer to a person, or routing failed.
TURN_OUTCOMES = ("answered", "handoff", "failed")
#: What became of one request to one Rasa server (see :mod:`bot.gateway.rasa`).
RASA_OUTCOMES = ("answered", "not_reached", "outcome_unknown")
#: States of webhook deliveries that are not done: first try due, being retried, given up.
WEBHOOK_STATES = ("pending", "retrying", "failed")

#: The text format every Prometheus version reads (the names need none of 1.0.0's escaping).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class _Value(Protocol):
    @property
    def value(self) -> str: ...


class Counted(Protocol):
    """What the outbound path tells observers about a message (a transcript message)."""

    @property
    def channel(self) -> _Value:
        """The channel it went through."""

    @property
    def direction(self) -> _Value:
        """``in`` or ``out``."""

    @property
    def sender(self) -> _Value:
        """Who wrote it."""


class GatewayMetrics:
    """The gateway's counters and histograms, and the registry that exports them."""

    def __init__(
        self,
        *,
        channels: Sequence[str],
        handoff_reasons: Sequence[str] = (),
        rasa_servers: Sequence[str] = (),
    ) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.turn_seconds = Histogram(
            "refundbot_turn_seconds",
            "From a buyer's message leaving the queue to the bot's replies being sent "
            "(Rasa's answer included), by channel and outcome.",
            ["channel", "outcome"],
            buckets=TURN_BUCKETS,
            registry=self.registry,
        )
        self.messages = Counter(
            "refundbot_messages",
            "Messages recorded in the transcript: in from buyers, out to them, by sender.",
            ["channel", "direction", "sender"],
            registry=self.registry,
        )
        self.handoff_wait_seconds = Histogram(
            "refundbot_handoff_wait_seconds",
            "How long a buyer handed to people waited until an agent took the conversation.",
            ["reason"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.notifier_failures = Counter(
            "refundbot_notifier_failures",
            "Passes of the status notifier that failed (it retries on its next pass).",
            registry=self.registry,
        )
        self.rasa_requests = Counter(
            "refundbot_rasa_requests",
            "Requests to each Rasa server by outcome: answered, not taken in (moved to the next "
            "server or retried), or failed after it took them in (sent again under the message's "
            "name, a few times).",
            ["server", "outcome"],
            registry=self.registry,
        )
        # Every series exists from the start at zero, so rates and alerts see no gaps.
        for channel in channels:
            for outcome in TURN_OUTCOMES:
                self.turn_seconds.labels(channel, outcome)
            self.messages.labels(channel, "in", "buyer")
            for sender in SENDERS[1:]:
                self.messages.labels(channel, "out", sender)
        for reason in handoff_reasons:
            self.handoff_wait_seconds.labels(reason)
        for server in rasa_servers:
            for outcome in RASA_OUTCOMES:
                self.rasa_requests.labels(server, outcome)

    def turn(self, channel: str, outcome: str, seconds: float) -> None:
        """Count one buyer turn routed to Rasa (the router's hook)."""
        self.turn_seconds.labels(channel, outcome).observe(seconds)

    async def message(self, message: Counted) -> None:
        """Count one message taken in or sent (an observer of the outbound path)."""
        self.messages.labels(
            message.channel.value, message.direction.value, message.sender.value
        ).inc()

    def rasa_request(self, server: str, outcome: str) -> None:
        """Count one request to a Rasa server (the Rasa client's hook)."""
        self.rasa_requests.labels(server, outcome).inc()

    def handoff_claimed(self, reason: str, waited_seconds: float) -> None:
        """Count an agent taking a waiting conversation (the handoff service's hook)."""
        self.handoff_wait_seconds.labels(reason).observe(max(waited_seconds, 0.0))

    def notifier_failed(self) -> None:
        """Count a failed notifier pass (the notifier's hook)."""
        self.notifier_failures.inc()

    def add(self, collector: Any) -> Callable[[], None]:
        """Register a scrape-time collector; return what unregisters it."""
        self.registry.register(collector)
        return lambda: self.registry.unregister(collector)

    def render(self) -> bytes:
        """Return every metric in Prometheus' text format (runs the scrape-time collectors)."""
        return generate_latest(self.registry)


@dataclass(frozen=True)
class Backlogs:
    """What waits in the database at one moment (read at scrape time)."""

    handoffs_waiting: int = 0
    handoffs_with_agent: int = 0
    handoff_oldest_wait_seconds: float = 0.0
    notifier_pending_events: int = 0
    notifier_lag_seconds: float = 0.0
    webhook_deliveries: Mapping[str, int] = field(default_factory=dict)
    webhook_lag_seconds: float = 0.0


def _gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels) if labels else None)


class BacklogCollector:
    """Exports :class:`Backlogs` as gauges, reading them anew at every scrape."""

    def __init__(self, read: Callable[[], Backlogs]) -> None:
        self._read = read

    def describe(self) -> Iterable[Metric]:
        """Return the families without reading the database (on registration)."""
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        """Read the backlogs and return them; when the database fails, say so instead."""
        try:
            backlogs = self._read()
        except Exception:
            log.warning("reading the backlogs for /metrics failed", exc_info=True)
            backlogs = None
        return list(self._families(backlogs, read=True))

    @staticmethod
    def _families(backlogs: Backlogs | None = None, *, read: bool = False) -> Iterator[Metric]:
        readable = _gauge(
            "refundbot_backlogs_readable",
            "1 when the scrape could read the queues from the database, 0 when it failed.",
        )
        queue = _gauge(
            "refundbot_handoff_queue_length",
            "Open handoffs: waiting for an agent, or with one.",
            ["state"],
        )
        oldest = _gauge(
            "refundbot_handoff_oldest_wait_seconds",
            "How long the longest-waiting buyer has waited for an agent (0 when none waits).",
        )
        pending = _gauge(
            "refundbot_notifier_pending_events",
            "Refund events the status notifier has not gone through yet.",
        )
        notifier_lag = _gauge(
            "refundbot_notifier_lag_seconds",
            "Age of the oldest refund event the status notifier has not gone through yet.",
        )
        deliveries = _gauge(
            "refundbot_webhook_deliveries",
            "Webhook deliveries not delivered: first try due, being retried, failed for good.",
            ["state"],
        )
        webhook_lag = _gauge(
            "refundbot_webhook_lag_seconds",
            "Age of the oldest webhook delivery still to be made (0 when none is).",
        )
        if read:
            readable.add_metric([], 0.0 if backlogs is None else 1.0)
        if backlogs is not None:
            queue.add_metric(["waiting"], backlogs.handoffs_waiting)
            queue.add_metric(["with_agent"], backlogs.handoffs_with_agent)
            oldest.add_metric([], backlogs.handoff_oldest_wait_seconds)
            pending.add_metric([], backlogs.notifier_pending_events)
            notifier_lag.add_metric([], backlogs.notifier_lag_seconds)
            for state in WEBHOOK_STATES:
                deliveries.add_metric([state], backlogs.webhook_deliveries.get(state, 0))
            webhook_lag.add_metric([], backlogs.webhook_lag_seconds)
        yield from (readable, queue, oldest, pending, notifier_lag, deliveries, webhook_lag)


class PoolCollector:
    """Exports the use of SQLAlchemy connection pools (``QueuePool``), read at every scrape."""

    def __init__(self, pools: Mapping[str, Any]) -> None:
        #: The pools by role (``write``, ``read``); pools that do not count are left out.
        self._pools = {
            role: pool
            for role, pool in pools.items()
            if callable(getattr(pool, "checkedout", None))
        }

    def describe(self) -> Iterable[Metric]:
        """Return the families (on registration)."""
        return list(self._families(read=False))

    def collect(self) -> Iterable[Metric]:
        """Return the pools' sizes and use now."""
        return list(self._families(read=True))

    def _families(self, *, read: bool) -> Iterator[Metric]:
        size = _gauge("refundbot_db_pool_size", "Connections the pool keeps.", ["pool"])
        used = _gauge(
            "refundbot_db_pool_checked_out_connections",
            "Connections in use by a unit of work.",
            ["pool"],
        )
        overflow = _gauge(
            "refundbot_db_pool_overflow_connections",
            "Connections open beyond the pool's size (negative: room left before it is full).",
            ["pool"],
        )
        if read:
            for role, pool in self._pools.items():
                size.add_metric([role], pool.size())
                used.add_metric([role], pool.checkedout())
                overflow.add_metric([role], pool.overflow())
        yield from (size, used, overflow)
