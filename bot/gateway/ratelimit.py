"""How fast a buyer may write: a token bucket per sender and per client address.

A sender (a widget conversation, a Telegram chat) may send ``per_sender`` messages at once and
then one every ``seconds / per_sender`` seconds, so ``per_sender`` messages in any ``seconds``;
a client address likewise ``per_address`` (several buyers may share one address behind a
NAT). A message over a limit is refused before it is recorded or sent to Rasa. A limit of 0
is no limit.

Without Redis the buckets live in this process's memory (:class:`RateLimits`), the least
recently used dropped beyond ``max_keys``. With ``REFUNDBOT_REDIS_URL`` (:class:`SharedRateLimits`)
the same buckets live in Redis, taken and refilled by one Lua script on Redis's clock, so
gateways behind a load balancer share one budget per sender and per address. When Redis cannot
answer, a gateway logs a warning (once per quiet period) and limits with its own in-memory
buckets until Redis answers again: a sender then gets at most the limit on each gateway,
never an unlimited rate, and no message waits longer than the short Redis timeout.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot import tasks
from bot.settings import GatewaySettings

log = logging.getLogger(__name__)

#: Redis calls give up after this long: a hung Redis holds a message no longer.
REDIS_TIMEOUT_SECONDS = 0.5
#: After Redis failed, this long with the local buckets only (one timeout per period at most).
QUIET_SECONDS = 5.0


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
    def of(cls, settings: GatewaySettings, redis_url: str = "") -> RateLimits:
        """Return the limits the settings give: shared through Redis when there is a URL."""
        per_sender, per_address = settings.rate_limit_messages, settings.rate_limit_address_messages
        seconds = float(settings.rate_limit_seconds)
        if redis_url:
            return SharedRateLimits(
                redis_url, per_sender=per_sender, per_address=per_address, seconds=seconds
            )
        return cls(per_sender=per_sender, per_address=per_address, seconds=seconds)

    async def take(self, sender: str, address: str | None = None) -> Verdict:
        """Take one message of ``sender`` (from ``address``) if both limits allow it."""
        return self.check(sender, address)

    async def forget_connections(self) -> None:
        """Drop the connections to a Redis that has gone (none here)."""

    async def close(self) -> None:
        """Let go of what the limits hold outside this process (nothing here)."""

    def _limited(self, sender: str, address: str | None) -> list[tuple[str, int]]:
        """Return the buckets a message of ``sender`` from ``address`` takes from."""
        if self._seconds <= 0:
            return []
        checks = [(f"s:{sender}", self._per_sender)]
        if address:
            checks.append((f"a:{address}", self._per_address))
        return [(key, capacity) for key, capacity in checks if capacity > 0]

    def check(self, sender: str, address: str | None = None) -> Verdict:
        """Take one message of ``sender`` from this process's own buckets if both allow it."""
        now = self._clock()
        self._forget_idle(now)
        buckets = [
            (self._bucket(key, capacity, now), capacity)
            for key, capacity in self._limited(sender, address)
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


#: Takes one token from every bucket in KEYS (but the last) if each has one, refilling them
#: first; else sets the last key (the sender's "told" mark) if it is not set. ARGV: the window in
#: milliseconds, then each bucket's capacity. Returns 0 (allowed), 1 (refused) or 2 (refused,
#: tell the sender). A bucket is a hash of its tokens and when they were counted (ms, Redis's
#: clock); it expires once it would be full again.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local n = #KEYS - 1
local tokens = {}
local allowed = true
for i = 1, n do
  local capacity = tonumber(ARGV[i + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local have = tonumber(state[1])
  if have == nil then
    have = capacity
  else
    have = math.min(capacity, have + math.max(0, now - tonumber(state[2])) * capacity / window)
  end
  tokens[i] = have
  if have < 1 then allowed = false end
end
if allowed then
  for i = 1, n do
    redis.call('HSET', KEYS[i], 'tokens', tostring(tokens[i] - 1), 'at', now)
    redis.call('PEXPIRE', KEYS[i], window)
  end
  return 0
end
if redis.call('SET', KEYS[#KEYS], '1', 'NX', 'PX', window) then return 2 end
return 1
"""


class SharedRateLimits(RateLimits):
    """The same limits, counted in Redis for every gateway; the local buckets when it fails."""

    def __init__(
        self, redis_url: str, *, per_sender: int, per_address: int, seconds: float
    ) -> None:
        super().__init__(per_sender=per_sender, per_address=per_address, seconds=seconds)
        self._redis = aioredis.Redis.from_url(
            redis_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._script = self._redis.register_script(TAKE_SCRIPT)
        self._quiet_until = 0.0

    async def take(self, sender: str, address: str | None = None) -> Verdict:
        """Take one message from the shared buckets; from this gateway's own if Redis fails."""
        buckets = self._limited(sender, address)
        if not buckets:
            return Verdict(allowed=True)
        if time.monotonic() >= self._quiet_until:
            keys = [f"refundbot:ratelimit:{key}" for key, _ in buckets]
            keys.append(f"refundbot:ratelimit:told:{sender}")
            window_ms = max(1, round(self._seconds * 1000))
            try:
                outcome = await tasks.shielded(
                    self._script(keys=keys, args=[window_ms, *(c for _, c in buckets)])
                )
            except (RedisError, OSError) as e:
                self._quiet_until = time.monotonic() + QUIET_SECONDS
                log.warning(
                    "Redis unreachable (%r): rate limits are this gateway's own for %.0f s",
                    e,
                    QUIET_SECONDS,
                )
            else:
                return Verdict(allowed=outcome == 0, tell=outcome == 2)
        return self.check(sender, address)

    async def forget_connections(self) -> None:
        """Close the idle connections to a Redis that has gone (:mod:`bot.gateway.fanout`).

        The next call makes a new connection instead of failing on a dead one, which would
        leave the shared buckets for the quiet period although Redis is back.
        """
        with contextlib.suppress(RedisError, OSError):
            await self._redis.connection_pool.disconnect(inuse_connections=False)

    async def close(self) -> None:
        """Close the connections to Redis."""
        await self._redis.close(close_connection_pool=True)
