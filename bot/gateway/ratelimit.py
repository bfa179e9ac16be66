"""How fast a buyer may write: a token bucket per sender and per client address.

A sender (a widget conversation, a Telegram chat) may send ``per_sender`` messages at once and
then one every ``seconds / per_sender`` seconds, so ``per_sender`` messages in any ``seconds``;
a client address likewise ``per_address`` (several buyers may share one address behind a
NAT). A message over a limit is refused before it is recorded or sent to Rasa. A limit of 0
is no limit.

The buckets live in this process's memory, the least recently used dropped beyond
``max_keys``: several gateways behind a load balancer each count on their own (shared limits
belong in Redis, with the rest of the cluster's state).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot.settings import GatewaySettings


@dataclass
class _Bucket:
    tokens: float
    at: float
    told_at: float | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether a message may go on, and whether to tell the sender it may not."""

    allowed: bool
    tell: bool = False
    """The first refusal of this sender in ``seconds``: a channel that answers refusals with a
    message (Telegram) says so once per window, not once per message."""


class RateLimits:
    """The gateway's message limits, shared by every channel."""

    def __init__(
        self,
        *,
        per_sender: int,
        per_address: int,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 50_000,
    ) -> None:
        self._per_sender = per_sender
        self._per_address = per_address
        self._seconds = seconds
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @classmethod
    def of(cls, settings: GatewaySettings) -> RateLimits:
        """Return the limits the settings give."""
        return cls(
            per_sender=settings.rate_limit_messages,
            per_address=settings.rate_limit_address_messages,
            seconds=float(settings.rate_limit_seconds),
        )

    def check(self, sender: str, address: str | None = None) -> Verdict:
        """Take one message of ``sender`` (from ``address``) if both limits allow it."""
        now = self._clock()
        self._forget_idle(now)
        checks = [(f"s:{sender}", self._per_sender)]
        if address:
            checks.append((f"a:{address}", self._per_address))
        buckets = [
            (self._bucket(key, capacity, now), capacity)
            for key, capacity in checks
            if capacity > 0 and self._seconds > 0
        ]
        if all(bucket.tokens >= 1 for bucket, _ in buckets):
            for bucket, _ in buckets:
                bucket.tokens -= 1
            return Verdict(allowed=True)
        told = self._bucket(f"s:{sender}", max(self._per_sender, 1), now)
        tell = told.told_at is None or now - told.told_at >= self._seconds
        if tell:
            told.told_at = now
        return Verdict(allowed=False, tell=tell)

    def _bucket(self, key: str, capacity: int, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(capacity), at=now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            refill = (now - bucket.at) * capacity / self._seconds if self._seconds else capacity
            bucket.tokens = min(float(capacity), bucket.tokens + refill)
            bucket.at = now
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Drop buckets nobody used for a window: they are full again, their notice is old."""
        for _ in range(2):
            if not self._buckets:
                return
            key, oldest = next(iter(self._buckets.items()))
            if now - oldest.at < self._seconds:
                return
            del self._buckets[key]
