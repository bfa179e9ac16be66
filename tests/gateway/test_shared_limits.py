"""Rate limits shared by several gateways through Redis, and what a Redis outage does to them."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid

import pytest

from bot.gateway.ratelimit import RateLimits, SharedRateLimits
from bot.settings import GatewaySettings


def _sender() -> str:
    return f"web-{uuid.uuid4().hex}"


async def test_two_gateways_share_one_budget_per_sender(redis_url: str) -> None:
    gateways = [
        SharedRateLimits(redis_url, per_sender=3, per_address=0, seconds=30) for _ in range(2)
    ]
    sender = _sender()
    try:
        verdicts = [await gateways[i % 2].take(sender) for i in range(6)]
        assert [v.allowed for v in verdicts] == [True, True, True, False, False, False]
        # The refusal is told once a window, whichever gateway refuses.
        assert [v.tell for v in verdicts[3:]] == [True, False, False]
        # Another sender has a budget of its own.
        assert (await gateways[1].take(_sender())).allowed
    finally:
        for limits in gateways:
            await limits.close()


async def test_two_gateways_share_one_budget_per_address(redis_url: str) -> None:
    first, second = (
        SharedRateLimits(redis_url, per_sender=10, per_address=2, seconds=30) for _ in range(2)
    )
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    try:
        assert (await first.take(_sender(), address)).allowed
        assert (await second.take(_sender(), address)).allowed
        assert not (await first.take(_sender(), address)).allowed
        assert not (await second.take(_sender(), address)).allowed
        # A refused message takes nothing from its sender's own budget.
        sender = _sender()
        assert not (await first.take(sender, address)).allowed
        assert [(await second.take(sender)).allowed for _ in range(10)] == [True] * 10
    finally:
        await first.close()
        await second.close()


async def test_a_full_bucket_after_the_window_and_nothing_left_behind(redis_url: str) -> None:
    import redis.asyncio as aioredis

    limits = SharedRateLimits(redis_url, per_sender=1, per_address=0, seconds=1)
    sender = _sender()
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert (await limits.take(sender)).allowed
        assert not (await limits.take(sender)).allowed
        ttl = await client.pttl(f"refundbot:ratelimit:s:{sender}")
        assert 0 < ttl <= 1000
        await asyncio.sleep(1.2)
        assert (await limits.take(sender)).allowed
    finally:
        await limits.close()
        await client.close(close_connection_pool=True)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_without_redis_each_gateway_limits_on_its_own_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = SharedRateLimits(
        f"redis://127.0.0.1:{_closed_port()}/0", per_sender=3, per_address=0, seconds=30
    )
    sender = _sender()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.gateway.ratelimit"):
            started = time.monotonic()
            verdicts = [await limits.take(sender) for _ in range(5)]
            took = time.monotonic() - started
        # Not everything goes through: this gateway's own buckets hold the sender.
        assert [v.allowed for v in verdicts] == [True, True, True, False, False]
        assert verdicts[3].tell
        warnings = [r for r in caplog.records if "rate limits are this gateway's own" in r.message]
        assert len(warnings) == 1  # one warning, then quiet: Redis is not asked again at once
        assert took < 10  # one failed connection, not one per message
    finally:
        await limits.close()


def test_limits_are_shared_only_with_a_redis_url() -> None:
    settings = GatewaySettings()
    assert type(RateLimits.of(settings)) is RateLimits
    assert isinstance(RateLimits.of(settings, "redis://127.0.0.1:6379/0"), SharedRateLimits)
