"""`bot.tasks`: a background task ends when told, even if redis-py loses the cancellation."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from bot import tasks


async def test_a_task_that_lost_its_cancellation_is_cancelled_again() -> None:
    ended = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            pass  # what a library that loses a cancellation does
        try:
            await asyncio.sleep(60)
        finally:
            ended.set()

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(tasks.stop(task), 5)
    assert task.cancelled()
    assert ended.is_set()


async def test_what_a_stopped_task_ended_with_is_taken() -> None:
    async def failing() -> None:
        raise RuntimeError("a bug")

    async def done() -> int:
        return 1

    failed, finished = asyncio.create_task(failing()), asyncio.create_task(done())
    await asyncio.sleep(0)
    await tasks.stop(failed, finished)  # no error raised, none left "never retrieved"
    assert isinstance(failed.exception(), RuntimeError)
    assert finished.result() == 1


async def cancel_at_random(
    publish: Callable[[], Awaitable[object]], tries: int, rng: random.Random
) -> tuple[int, float]:
    """Cancel a task publishing in a loop, at a random moment, ``tries`` times; stop it for sure.

    Return how often the first cancellation was lost and the longest :func:`tasks.stop` took.
    """

    async def publish_forever() -> None:
        while True:
            await publish()
            await asyncio.sleep(0.002)  # as the gateway's loops do between calls

    lost, longest = 0, 0.0
    for _ in range(tries):
        task = asyncio.create_task(publish_forever())
        await asyncio.sleep(rng.random() * 0.01)
        task.cancel()
        _, running = await asyncio.wait({task}, timeout=0.2)
        lost += bool(running)
        started = time.monotonic()
        await asyncio.wait_for(tasks.stop(task), 30)
        longest = max(longest, time.monotonic() - started)
        assert task.done()
    return lost, longest


async def test_a_task_publishing_to_redis_is_stopped_although_redis_py_loses_cancellations(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=1)
    try:
        lost, longest = await cancel_at_random(
            lambda: client.publish("refundbot:test:tasks", "x"), 80, random.Random(7)
        )
    finally:
        await client.close(close_connection_pool=True)
    assert lost > 0  # the case stop() is for happens here
    assert longest < 10


async def test_a_shielded_redis_call_never_takes_the_cancellation(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=1)
    try:
        lost, _ = await cancel_at_random(
            lambda: tasks.shielded(client.publish("refundbot:test:tasks", "x")),
            60,
            random.Random(7),
        )
    finally:
        await client.close(close_connection_pool=True)
    assert lost == 0
