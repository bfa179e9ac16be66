"""Webhook retention: finished deliveries and sent events go after the retention period."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.orm import sessionmaker

from bot.api import retention, webhooks
from bot.api.delivery import dispatch
from bot.api.models import OutboxEvent, WebhookAttempt, WebhookDelivery
from bot.clock import utcnow
from bot.gateway.app import create_app
from bot.refunds import store
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import RefundStatus
from bot.refunds.models import RefundApplication
from bot.settings import Settings
from tests.api.helpers import api_key, auth
from tests.api.receiver import Receiver
from tests.api.worker import Clock, deliverer
from tests.factories import NOW, submit_for_review
from tests.gateway.doubles import wait_until, with_gateway

DAY = dt.timedelta(days=1)
WINDOW = dt.timedelta(hours=24)


def rows(session_factory: sessionmaker) -> tuple[int, ...]:
    """Return how many deliveries, attempts and events there are."""
    with session_factory.begin() as session:
        return tuple(
            session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (WebhookDelivery, WebhookAttempt, OutboxEvent)
        )


def refunds_to_deliver(session_factory: sessionmaker, url: str, count: int) -> int:
    """A webhook at ``url`` for refund.created, and ``count`` refunds filed; return its id."""
    with session_factory.begin() as session:
        hook, _ = webhooks.create_webhook(session, url=url, events=["refund.created"], now=NOW)
        for i in range(count):
            submit_for_review(session, customer_id=f"c-{i}", key=f"k{i}")
        return int(hook.id)


async def test_finished_deliveries_go_a_retention_period_after_their_retries_ended(
    db_url: str, session_factory: sessionmaker, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    hook_id = refunds_to_deliver(session_factory, receiver.url, 2)
    clock = Clock()
    worker = deliverer(db_url, http, clock)
    assert await worker.run_once() == 2  # both delivered at NOW; their retries end NOW + 24 h
    with session_factory.begin() as session:
        first, second = webhooks.delivery_log(session, webhook_id=hook_id)[::-1]
        # The first application is approved: two events no webhook wants, fanned out at NOW.
        application = (
            session.execute(select(RefundApplication).order_by(RefundApplication.id))
            .scalars()
            .first()
        )
        store.approve(session, application=application, actor="merchant", now=NOW)
    assert await worker.run_once() == 0
    # The second is sent again by hand 20 days on: its retries end a day after that.
    clock.now = NOW + 20 * DAY
    with session_factory.begin() as session:
        webhooks.retry(session, delivery_id=second["id"], now=clock.now, window=WINDOW)
    assert await worker.run_once() == 1
    assert rows(session_factory) == (2, 3, 4)

    # A minute before the first delivery's 30 days are up, only the unwanted events go.
    clock.now = NOW + WINDOW + 30 * DAY - dt.timedelta(minutes=1)
    assert await worker.prune() == retention.Pruned(deliveries=0, attempts=0, events=2)
    assert rows(session_factory) == (2, 3, 2)
    # Past them, but before the worker's next pass an hour on: it does not look every time.
    clock.now += dt.timedelta(minutes=30)
    assert await worker.prune() is None
    assert rows(session_factory) == (2, 3, 2)
    clock.now += dt.timedelta(minutes=31)
    assert await worker.prune() == retention.Pruned(deliveries=1, attempts=1, events=1)

    # The delivery log keeps what is within the retention period.
    with session_factory.begin() as session:
        [kept] = webhooks.delivery_log(session, webhook_id=hook_id)
    assert kept["id"] == second["id"] != first["id"]
    assert kept["status"] == "delivered"
    assert len(kept["attempts"]) == 2
    assert rows(session_factory) == (1, 2, 1)

    clock.now = NOW + 20 * DAY + WINDOW + 30 * DAY + dt.timedelta(hours=2)
    assert await worker.prune() == retention.Pruned(deliveries=1, attempts=2, events=1)
    assert rows(session_factory) == (0, 0, 0)


async def test_failed_deliveries_go_and_pending_ones_stay(
    db_url: str, session_factory: sessionmaker, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    receiver.status = 503
    refunds_to_deliver(session_factory, receiver.url, 1)
    clock = Clock()
    worker = deliverer(db_url, http, clock)
    while await worker.run_once() or clock.now < NOW + WINDOW:
        clock.now += dt.timedelta(hours=1)
    with session_factory.begin() as session:
        [failed] = session.execute(select(WebhookDelivery)).scalars().all()
        assert failed.status == "failed"
        # An event fanned out while no worker sends (a gateway down for weeks): pending.
        submit_for_review(session, customer_id="c-late", key="late")
        dispatch(session, now=NOW + 2 * DAY, window=WINDOW)

    before = NOW + 90 * DAY  # everything is long past
    with session_factory.begin() as session:
        pruned = retention.prune(session, before=before)
    assert (pruned.deliveries, pruned.events) == (1, 1)
    assert pruned.attempts == failed.attempts > 10
    with session_factory.begin() as session:
        [pending] = session.execute(select(WebhookDelivery)).scalars().all()
        assert pending.status == "pending"
        assert retention.prune(session, before=before) == retention.Pruned()
    assert rows(session_factory) == (1, 0, 1)


def test_batches_are_bounded_and_say_when_more_is_left(
    db_url: str, session_factory: sessionmaker
) -> None:
    refunds_to_deliver(session_factory, "https://shop.example/hooks", 5)
    with session_factory.begin() as session:
        dispatch(session, now=NOW, window=WINDOW)
        for delivery in session.execute(select(WebhookDelivery)).scalars():
            delivery.status, delivery.next_attempt_at = "failed", None
    before = NOW + 60 * DAY
    batches = []
    while not batches or batches[-1].more:
        with session_factory.begin() as session:
            batches.append(retention.prune(session, before=before, limit=2))
    assert [(b.deliveries, b.events, b.more) for b in batches] == [
        (2, 2, True),
        (2, 2, True),
        (1, 1, False),
    ]
    assert retention.prune_all(session_factory, before=before) == retention.Pruned()


def test_a_backlog_of_events_is_fanned_out_in_one_statement(
    db_url: str, session_factory: sessionmaker
) -> None:
    """Marking a batch row by row held SQLite's write lock, and buyers' turns, for 15 ms."""
    refunds_to_deliver(session_factory, "https://shop.example/hooks", 30)
    with session_factory.begin() as session:
        # Thirty more filed, then rejected: nobody subscribed to rejections, so those go nowhere.
        for i in range(30, 60):
            application = submit_for_review(session, customer_id=f"c-{i}", key=f"k{i}")
            store.transition(
                session,
                application=application,
                to=RefundStatus.REJECTED,
                actor="seller:s-1",
                now=NOW,
            )
    updates: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE WEBHOOK_EVENTS"):
            updates.append(statement)

    with session_factory.begin() as session:
        event.listen(session.get_bind(), "before_cursor_execute", count)
        try:
            assert dispatch(session, now=NOW, window=WINDOW) == 90
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", count)
        assert len(updates) == 1
        left = session.execute(
            select(func.count()).where(OutboxEvent.dispatched_at.is_(None))
        ).scalar_one()
        assert left == 0
        deliveries = session.execute(select(WebhookDelivery)).scalars().all()
        assert len(deliveries) == 60  # one per refund.created: 30 + 30
        assert len({d.event_id for d in deliveries}) == 60


def test_several_workers_prune_at_once_while_a_webhook_is_deleted(
    db_url: str, session_factory: sessionmaker
) -> None:
    """No deadlock and nothing removed twice: each worker takes rows the others do not hold."""
    kept = refunds_to_deliver(session_factory, "https://shop.example/a", 6)
    deleted = refunds_to_deliver(session_factory, "https://shop.example/b", 0)
    with session_factory.begin() as session:
        dispatch(session, now=NOW, window=WINDOW)  # each event to both webhooks
        for delivery in session.execute(select(WebhookDelivery)).scalars():
            delivery.status, delivery.next_attempt_at = "delivered", None
        assert len(webhooks.delivery_log(session, webhook_id=kept)) == 6
        assert len(webhooks.delivery_log(session, webhook_id=deleted)) == 6
    start = threading.Barrier(3)
    totals: list[retention.Pruned] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            total = retention.Pruned()
            while True:
                with session_factory.begin() as session:
                    batch = retention.prune(session, before=NOW + 60 * DAY, limit=2)
                total += batch
                if not batch.deliveries and not batch.events:
                    break
            totals.append(total)
        except BaseException as e:
            errors.append(e)

    def delete_it() -> None:
        try:
            start.wait()
            with session_factory.begin() as session:
                webhooks.delete_webhook(session, webhook_id=deleted)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=f) for f in (worker, worker, delete_it)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(totals) == 2
    # The workers may have finished while the deletion still held its webhook's deliveries,
    # and so left their events: a later pass takes them.
    later = retention.prune_all(session_factory, before=NOW + 60 * DAY)
    assert 6 <= sum(t.deliveries for t in totals) + later.deliveries <= 12
    assert sum(t.events for t in totals) + later.events == 6
    assert rows(session_factory) == (0, 0, 0)


@pytest.mark.postgres
def test_a_worker_skips_what_a_webhook_being_deleted_holds(postgres_url: str) -> None:
    """While one webhook's deletion is under way, pruning the others does not wait for it."""
    factory = get_sessionmaker(postgres_url)
    doomed = refunds_to_deliver(factory, "https://shop.example/a", 2)
    with factory.begin() as session:
        dispatch(session, now=NOW, window=WINDOW)
        other, _ = webhooks.create_webhook(
            session, url="https://shop.example/b", events=["refund.created"], now=NOW
        )
        submit_for_review(session, customer_id="c-other", key="other")
        dispatch(session, now=NOW, window=WINDOW)
        for delivery in session.execute(select(WebhookDelivery)).scalars():
            delivery.status, delivery.next_attempt_at = "delivered", None
    done = threading.Event()
    pruned: list[retention.Pruned] = []

    def prune() -> None:
        with factory.begin() as session:
            pruned.append(retention.prune(session, before=NOW + 60 * DAY))
        done.set()

    with factory.begin() as session:
        webhooks.delete_webhook(session, webhook_id=doomed)  # holds its deliveries until commit
        thread = threading.Thread(target=prune)
        thread.start()
        assert done.wait(timeout=10), "the worker waited for the webhook's deletion"
    thread.join()
    # The other webhook's delivery went (and its event once no delivery was left of it).
    [batch] = pruned
    assert batch.deliveries == 1
    with factory.begin() as session:
        assert webhooks.delivery_log(session, webhook_id=int(other.id)) == []


@pytest.mark.postgres
def test_deleting_a_webhook_takes_its_deliveries_before_their_attempts(postgres_url: str) -> None:
    """In the retention pass's order: a pass holding deliveries goes on to their attempts."""
    factory = get_sessionmaker(postgres_url)
    hook_id = refunds_to_deliver(factory, "https://shop.example/a", 1)
    with factory.begin() as session:
        dispatch(session, now=NOW, window=WINDOW)
        [delivery] = session.execute(select(WebhookDelivery)).scalars().all()
        session.add(WebhookAttempt(delivery_id=delivery.id, at=NOW, duration_ms=5, error="x"))
    failures: list[BaseException] = []

    def delete_it() -> None:
        try:
            with factory.begin() as session:
                webhooks.delete_webhook(session, webhook_id=hook_id)
        except BaseException as e:
            failures.append(e)

    with factory.begin() as pruning:
        # A retention pass has locked the delivery (its first step) ...
        pruning.execute(select(WebhookDelivery.id).with_for_update()).all()
        thread = threading.Thread(target=delete_it)
        thread.start()
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND application_name = current_setting('application_name')"
        )
        deadline = time.monotonic() + 10
        while not _scalar(factory, waiting):  # its own transaction: a fresh look each time
            assert time.monotonic() < deadline, f"the deletion never waited: {failures}"
            time.sleep(0.02)
        # ... and the deletion waits for it before touching the attempts the pass removes next.
        removed = pruning.execute(
            delete(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
        ).rowcount
        assert removed == 1
    thread.join(timeout=10)
    assert failures == []
    assert rows(factory) == (0, 0, 1)


def _scalar(factory: sessionmaker, query: Any) -> Any:
    with factory.begin() as session:
        return session.execute(query).scalar_one()


async def test_the_gateway_prunes_and_the_log_keeps_what_is_within_retention(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    session_factory: sessionmaker,
    receiver: Receiver,
    http: aiohttp.ClientSession,
) -> None:
    hook_id = refunds_to_deliver(session_factory, receiver.url, 1)
    # Delivered 40 days ago (its retries ended 39 days ago) by a worker on that day's clock.
    worker = deliverer(settings.database_url, http, Clock(utcnow() - 40 * DAY))
    assert await worker.run_once() == 1
    with session_factory.begin() as session:
        submit_for_review(session, customer_id="c-recent", key="recent")
    worker = deliverer(settings.database_url, http, Clock(utcnow() - DAY))
    assert await worker.run_once() == 1
    with session_factory.begin() as session:
        [recent, old] = webhooks.delivery_log(session, webhook_id=hook_id)

    changed = with_gateway(settings, webhook_allow_private=True, webhook_poll_seconds=0.05)
    gateway = await aiohttp_client(create_app(changed))
    key = api_key(settings)
    url = f"/api/v1/webhooks/{hook_id}/deliveries"

    async def only_the_recent_one() -> bool:
        log = (await (await gateway.get(url, headers=auth(key))).json())["data"]
        return [entry["id"] for entry in log] == [recent["id"]]

    await wait_until(only_the_recent_one, what="the old delivery pruned by the gateway")
    assert old["id"] != recent["id"]
    assert rows(session_factory) == (1, 1, 1)
