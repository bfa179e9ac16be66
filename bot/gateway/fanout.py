"""Several gateways, one set of buyers: what one gateway sends, the others show on their sockets.

A buyer's web-chat tabs and the agents' console pages may be connected to any gateway behind the
load balancer. The gateway that records a message delivers it to the sockets it holds itself and
then publishes a small event on one Redis pub/sub channel; every other gateway, subscribed to
that channel, shows it on the sockets it holds. An event carries ids only (the message and its
conversation): the transcript row, committed before the event is published, is the one source of
what the message says, so no second serialisation of a message can drift from the first, and a
stray event (another deployment on the same Redis, a message id of another database) is dropped
when its row is not found under its conversation.

Each gateway skips its own events, so a socket sees a message once. Redis is optional: without
it the gateway is one process and nothing is published. When Redis is down, local delivery goes
on (the sender never waits for the publish longer than a short timeout, and not at all while
Redis is known to be down), a warning is logged, and the subscriber reconnects with back-off;
widget tabs on the other gateways miss those messages live and get them from the transcript in
the history a widget is sent when it next connects.

A Redis that stops closes every client's connections, but a pooled connection is not known to
be dead until a command on it fails: without more, the first publish after Redis is back would
fail and silence this gateway for the quiet period. The subscription is always reading, so it
is the first to see the server go: when it is lost (and at each failed try to make it again),
the gateway closes its idle pooled connections (the publisher's and, through ``on_lost``, the
rate limits'), and the next command makes a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot import tasks

log = logging.getLogger(__name__)

#: What a gateway does with an event another gateway published.
Receive = Callable[[dict[str, Any]], Awaitable[None]]
#: Told that the Redis connections made so far may be dead (the subscription's failed).
Lost = Callable[[], Awaitable[None]]

#: Connecting to Redis gives up after this long (a Redis that is down refuses at once).
CONNECT_SECONDS = 1.0
#: A Redis call gives up after this long, so a hung Redis cannot hold a reply for long. It is
#: longer than a busy machine may hold up an answer that did come: with 1 s, a publish on a
#: loaded test machine timed out and the other gateways' sockets missed 5 s of messages.
TIMEOUT_SECONDS = 3.0
#: After a failed publish, this long without trying (the outage costs one timeout per period).
QUIET_SECONDS = 5.0
#: The subscriber's reconnect delay doubles from the first to the last.
BACKOFF_SECONDS = (0.2, 30.0)


def channel_name(url: str) -> str:
    """Return the pub/sub channel of the deployment using the Redis database of ``url``.

    Pub/sub ignores Redis database numbers; the channel names the number so that deployments
    kept apart by database number stay apart here too.
    """
    pool = aioredis.ConnectionPool.from_url(url)
    return f"refundbot:{pool.connection_kwargs.get('db', 0)}:gateway-events"


class FanOut:
    """Publishes this gateway's events and hands the other gateways' on, while it runs."""

    def __init__(self, url: str, *, on_lost: Lost | None = None) -> None:
        self._url = url
        self._on_lost = on_lost
        self._channel = channel_name(url)
        self.instance = uuid.uuid4().hex
        self._redis: aioredis.Redis | None = None
        self._quiet_until = 0.0
        self.subscribed = asyncio.Event()
        """Set while the subscription is live (tests wait for it before publishing)."""

    async def publish(self, event: dict[str, Any]) -> None:
        """Send ``event`` to the other gateways; log and go on when Redis cannot take it."""
        if self._redis is None or time.monotonic() < self._quiet_until:
            return
        body = json.dumps({**event, "from": self.instance})
        try:
            await tasks.shielded(self._redis.publish(self._channel, body))
        except (RedisError, OSError):
            self._quiet_until = time.monotonic() + QUIET_SECONDS
            log.warning(
                "Redis unreachable: the other gateways' sockets miss this gateway's messages "
                "for %.0f s (widgets get them in their history when they reconnect)",
                QUIET_SECONDS,
                exc_info=True,
            )

    async def run(self, receive: Receive) -> AsyncIterator[None]:
        """Publish and subscribe for the app's lifetime (a ``cleanup_ctx`` generator).

        Events published before it starts or after it stops are dropped.
        """
        self._redis = aioredis.Redis.from_url(
            self._url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=CONNECT_SECONDS
        )
        task = asyncio.create_task(self._subscribe_forever(receive))
        try:
            yield
        finally:
            await tasks.stop(task)
            redis, self._redis = self._redis, None
            await redis.close(close_connection_pool=True)

    async def _subscribe_forever(self, receive: Receive) -> None:
        delay = BACKOFF_SECONDS[0]
        while True:
            try:
                await self._listen(receive)
            except (RedisError, OSError):
                if self.subscribed.is_set():
                    delay = BACKOFF_SECONDS[0]
                # Also when it was not subscribed: a connection made while it waited to try
                # again may be to a Redis that has gone again since.
                await self._forget_connections()
                log.warning("Redis subscription lost, retrying in %.1f s", delay, exc_info=True)
            except Exception:
                # A bug must not end the subscription for the rest of the gateway's life.
                log.exception("gateway event subscription failed, retrying in %.1f s", delay)
            self.subscribed.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_SECONDS[1])

    async def _forget_connections(self) -> None:
        """Close the idle pooled connections: the server that held them has gone.

        Connections in use are left to the command on them, which fails and closes its own.
        """
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.connection_pool.disconnect(inuse_connections=False)
        if self._on_lost is not None:
            try:
                await self._on_lost()
            except Exception:
                # A bug there must not end the subscription (this runs in its loop).
                log.exception("closing the other pooled Redis connections failed")

    async def _listen(self, receive: Receive) -> None:
        # No read timeout on the subscription: it waits for events as long as none come.
        subscriber = aioredis.Redis.from_url(self._url, socket_connect_timeout=TIMEOUT_SECONDS)
        try:
            async with subscriber.pubsub() as pubsub:
                await pubsub.subscribe(self._channel)
                async for raw in pubsub.listen():
                    # Redis confirms the subscription once it is in force, not when sent.
                    if raw.get("type") == "subscribe":
                        self.subscribed.set()
                        self._quiet_until = 0.0  # Redis is back: publish again at once.
                    elif raw.get("type") == "message":
                        await self._dispatch(raw, receive)
        finally:
            await subscriber.close(close_connection_pool=True)

    async def _dispatch(self, raw: dict[str, Any], receive: Receive) -> None:
        try:
            event = json.loads(raw["data"])
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring an unreadable gateway event")
            return
        if not isinstance(event, dict) or event.get("from") == self.instance:
            return
        try:
            await receive(event)
        except Exception:
            log.exception("handling gateway event %s failed", event.get("kind"))
