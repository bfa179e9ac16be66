"""Webhooks out: fan the outbox out to the webhooks, sign each body, send it, retry, log it.

The refund store and the handoff queue write one :class:`~bot.refunds.outbox.OutboxEvent` per
event in the change's own transaction. Fanning out here, rather than one outbox row per webhook
there, keeps the store (which runs in the action server too) free of subscriptions: it writes
one small row whatever the number of webhooks. :func:`dispatch` turns each new event into one
:class:`~bot.api.models.WebhookDelivery` per subscribed webhook and freezes its body, so every
retry sends the same bytes and the same event ``id`` (receivers drop duplicates by it: delivery
is at least once).

:class:`Deliverer` runs in the gateway as a background task: it claims due deliveries, POSTs them
(``Refundbot-Signature: t=UNIX,v1=HMAC-SHA256(secret, f"{t}.{body}")``), at most
``webhook_concurrency`` at once with a short timeout, off every request's path, and records each
attempt; a host inside the network is refused without connecting (:mod:`bot.api.destinations`)
and recorded as such. A 2xx answer delivers it; anything else is retried after growing, jittered
delays until ``webhook_retry_hours`` have passed, then it is failed. A claim is an ``UPDATE``
conditional on the row being due (its ``next_attempt_at`` moves to the end of a lease), selected
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several gateways never send one row at the
same time; a gateway that dies mid-send leaves the row to be sent again when the lease runs out.
Once an hour a pass also removes what the retention period no longer keeps
(:mod:`bot.api.retention`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import tasks
from bot.api import destinations, present, retention
from bot.api.models import OutboxEvent, Webhook, WebhookAttempt, WebhookDelivery
from bot.clock import utcnow
from bot.gateway import transcript
from bot.refunds.models import RefundApplication
from bot.settings import GatewaySettings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Refundbot-Signature"
EVENT_ID_HEADER = "Refundbot-Event-Id"
#: The first retry comes after about this long; each next one after about twice as long.
FIRST_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=1)
#: How long a worker's claim on a delivery lasts (past the send's timeout).
LEASE = dt.timedelta(minutes=2)
EXCERPT_CHARS = 500
BATCH = 100
#: How often a worker removes what the retention period no longer keeps (bot.api.retention).
PRUNE_EVERY = dt.timedelta(hours=1)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``Refundbot-Signature`` header's value for ``body`` sent at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> dt.timedelta:
    """Return the wait after the ``attempts``-th failure: doubling, capped, half of it random."""
    ceiling = min(FIRST_DELAY * (1 << min(max(attempts, 1) - 1, 20)), MAX_DELAY)
    return ceiling / 2 + ceiling / 2 * rng()


def dispatch(session: Session, *, now: dt.datetime, window: dt.timedelta) -> int:
    """Fan new outbox events out to the webhooks subscribed to them; return how many events."""
    events = list(
        session.execute(
            select(OutboxEvent)
            .where(OutboxEvent.dispatched_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not events:
        return 0
    # The rows are this transaction's alone (locked on PostgreSQL, the write lock on SQLite):
    # one statement marks the batch. Row by row, a backlog of 100 events held SQLite's write
    # lock, and every buyer's turn, for 15 ms.
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_([event.id for event in events]))
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    hooks = list(session.execute(select(Webhook)).scalars())
    for event in events:
        subscribed = [h for h in hooks if event.type in h.events.split()]
        if not subscribed:
            continue
        body = json.dumps(
            {
                "id": event.event_id,
                "type": event.type,
                "created_at": present.iso(event.created_at),
                "data": _data(session, event),
            }
        )
        for hook in subscribed:
            session.add(
                WebhookDelivery(
                    webhook_id=hook.id,
                    event_id=event.id,
                    status="pending",
                    body=body,
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                    expires_at=now + window,
                )
            )
    return len(events)


def _data(session: Session, event: OutboxEvent) -> dict[str, Any]:
    if event.data is None and event.application_id is not None:
        # Written before refund events carried the application as it was: all there is is now.
        application: RefundApplication = session.get(RefundApplication, event.application_id)
        return present.application(application)
    data: dict[str, Any] = json.loads(event.data or "{}")
    return data


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds for one send."""

    delivery_id: int
    claim: str
    url: str
    secret: str = field(repr=False)  # never in a log line
    event_id: str
    body: str


def claim_due(
    session: Session, *, now: dt.datetime, limit: int, lease: dt.timedelta = LEASE
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries for this worker until ``now + lease``."""
    due = (
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= now,
    )
    ids = list(
        session.execute(
            select(WebhookDelivery.id)
            .where(*due)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    token = secrets.token_hex(16)
    claimed: list[int] = []
    for delivery_id in ids:
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, *due)
            .values(next_attempt_at=now + lease, claim=token)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(delivery_id)
    if not claimed:
        return []
    rows = session.execute(
        select(WebhookDelivery, Webhook.url, Webhook.secret, OutboxEvent.event_id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id.in_(claimed))
        .order_by(WebhookDelivery.id)
    ).all()
    return [
        Claimed(int(d.id), token, str(url), str(secret), str(event_id), str(d.body))
        for d, url, secret, event_id in rows
    ]


@dataclass(frozen=True)
class Outcome:
    """What one POST came to."""

    at: dt.datetime
    duration_ms: int
    status_code: int | None = None
    excerpt: str | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        """Return True for a 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def record(
    session: Session,
    *,
    claimed: Claimed,
    outcome: Outcome,
    rng: Callable[[], float] = random.random,
) -> str | None:
    """Record an attempt and decide what follows; return the delivery's status (None if gone)."""
    delivery: WebhookDelivery | None = session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id == claimed.delivery_id).with_for_update()
    ).scalar_one_or_none()
    if delivery is None or delivery.claim != claimed.claim:
        return None  # deleted with its webhook, or retried by hand meanwhile
    delivery.attempts += 1
    delivery.claim = None
    next_at: dt.datetime | None = None
    if outcome.delivered:
        delivery.status = "delivered"
        delivery.delivered_at = outcome.at
    else:
        next_at = outcome.at + backoff(int(delivery.attempts), rng)
        if next_at > delivery.expires_at:
            delivery.status = "failed"
            next_at = None
    delivery.next_attempt_at = next_at
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            at=outcome.at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
            next_attempt_at=next_at,
        )
    )
    return str(delivery.status)


def has_work(session: Session, *, now: dt.datetime) -> bool:
    """Return whether an event waits to be fanned out or a delivery is due (a read)."""
    return bool(
        session.execute(
            select(
                or_(
                    exists().where(OutboxEvent.dispatched_at.is_(None)),
                    exists().where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                    ),
                )
            )
        ).scalar()
    )


class Deliverer:
    """Sends the webhooks' due deliveries, a bounded number at once, from the gateway.

    ``http`` is a :func:`bot.api.destinations.client_session`: its resolver, with
    :func:`~bot.api.destinations.check_host` here, refuses hosts inside the network at each send.
    """

    def __init__(
        self,
        *,
        sessions: sessionmaker,
        read_sessions: sessionmaker,
        http: aiohttp.ClientSession,
        settings: GatewaySettings,
        clock: Callable[[], dt.datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._http = http
        self._settings = settings
        self._clock = clock
        self._rng = rng
        self._window = dt.timedelta(hours=settings.webhook_retry_hours)
        self._retention = dt.timedelta(days=settings.webhook_retention_days)
        self._next_prune: dt.datetime | None = None  # the first pass prunes
        self._sending: set[asyncio.Task[None]] = set()

    async def claim(self, limit: int) -> list[Claimed]:
        """Fan out new events, then claim up to ``limit`` due deliveries."""
        now = self._clock()
        if not await transcript.run_in_session(self._read_sessions, lambda s: has_work(s, now=now)):
            return []
        await transcript.run_in_session(
            self._sessions, lambda s: dispatch(s, now=now, window=self._window)
        )
        # The claim outlasts the send, so no other worker takes a row while it is on its way.
        lease = max(LEASE, dt.timedelta(seconds=2 * self._settings.webhook_timeout_seconds))
        return await transcript.run_in_session(
            self._sessions, lambda s: claim_due(s, now=now, limit=limit, lease=lease)
        )

    async def run_once(self) -> int:
        """Send every delivery due now (up to the concurrency) and wait; return how many."""
        claimed = await self.claim(self._settings.webhook_concurrency)
        await asyncio.gather(*(self.send(c) for c in claimed))
        return len(claimed)

    async def prune(self) -> retention.Pruned | None:
        """Remove a batch of what the retention period no longer keeps, if it is time to.

        Return what went, or ``None`` when it is not time yet: once an hour, or at the next
        pass while batches come back full.
        """
        now = self._clock()
        if self._next_prune is not None and now < self._next_prune:
            return None
        before = now - self._retention
        pruned = await transcript.run_in_session(
            self._sessions, lambda s: retention.prune(s, before=before)
        )
        self._next_prune = now if pruned.more else now + PRUNE_EVERY
        return pruned

    async def send(self, claimed: Claimed) -> str | None:
        """POST one delivery, signed, and record the attempt; return the delivery's status."""
        at = self._clock()
        body = claimed.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "refundbot-webhooks/1",
            SIGNATURE_HEADER: signature(claimed.secret, int(at.timestamp()), body),
            EVENT_ID_HEADER: claimed.event_id,
        }
        started = time.monotonic()
        status_code: int | None = None
        excerpt: str | None = None
        error: str | None = None
        try:
            destinations.check_host(claimed.url, allow_private=self._settings.webhook_allow_private)
            async with self._http.post(
                claimed.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._settings.webhook_timeout_seconds),
            ) as response:
                status_code = response.status
                raw = await response.content.read(EXCERPT_CHARS * 4)
                excerpt = raw.decode("utf-8", "replace")[:EXCERPT_CHARS]
        except asyncio.TimeoutError:
            error = f"no answer within {self._settings.webhook_timeout_seconds:g} s"
        except (aiohttp.ClientError, ValueError, OSError) as e:
            error = _failure(e)
        outcome = Outcome(
            at=at,
            duration_ms=int((time.monotonic() - started) * 1000),
            status_code=status_code,
            excerpt=excerpt,
            error=error,
        )
        return await transcript.run_in_session(
            self._sessions, lambda s: record(s, claimed=claimed, outcome=outcome, rng=self._rng)
        )

    async def run(self) -> AsyncIterator[None]:
        """Deliver in the background while the app runs (a ``cleanup_ctx`` body)."""
        task = asyncio.create_task(self._loop(), name="webhook-deliveries")
        try:
            yield
        finally:
            await tasks.stop(task, *self._sending)

    async def _loop(self) -> None:
        while True:
            try:
                free = self._settings.webhook_concurrency - len(self._sending)
                for claimed in await self.claim(free) if free > 0 else []:
                    task = asyncio.create_task(self._send_logged(claimed))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
                await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery pass failed; retrying")
            await asyncio.sleep(self._settings.webhook_poll_seconds)

    async def _send_logged(self, claimed: Claimed) -> None:
        try:
            await self.send(claimed)
        except Exception:
            # The claim runs out and the delivery is sent again; the secret is never logged.
            log.exception("webhook delivery %s failed to record", claimed.delivery_id)


def _failure(error: Exception) -> str:
    """Return an attempt's error: ``refused: …`` when the host was not let through."""
    cause = error.os_error if isinstance(error, aiohttp.ClientConnectorError) else error
    if isinstance(cause, destinations.Refused):
        return f"refused: {cause}"[:300]  # nothing was connected to
    return f"{type(error).__name__}: {error}"[:300]
