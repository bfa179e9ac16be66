"""The delivery worker on its own clock: what it sends, retries with growing delays, gives up,
sends once."""

from __future__ import annotations

import asyncio
import datetime as dt

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.api import present, webhooks
from bot.api.delivery import Deliverer
from bot.api.models import WebhookDelivery
from bot.refunds import outbox, store
from bot.refunds.db import get_sessionmaker
from bot.refunds.models import RefundApplication
from tests.api.receiver import Receiver, readme_verified
from tests.api.worker import Clock, deliverer
from tests.factories import NOW, submit_for_review


def subscribe(session_factory: sessionmaker, url: str) -> int:
    with session_factory.begin() as session:
        hook, _ = webhooks.create_webhook(session, url=url, events=["refund.created"], now=NOW)
        return int(hook.id)


def one_refund_to_send(
    db_url: str, url: str, http: aiohttp.ClientSession
) -> tuple[int, Clock, Deliverer]:
    """A webhook at ``url``, one refund filed, and a worker on a clock the test moves."""
    sessions = get_sessionmaker(db_url)
    hook_id = subscribe(sessions, url)
    with sessions.begin() as session:
        submit_for_review(session)
    clock = Clock()
    return hook_id, clock, deliverer(db_url, http, clock)


def the_delivery(session_factory: sessionmaker) -> WebhookDelivery:
    with session_factory.begin() as session:
        [delivery] = session.execute(select(WebhookDelivery)).scalars().all()
        session.expunge(delivery)
        return delivery


async def test_each_event_carries_the_application_as_it_was_when_it_happened(
    db_url: str, session_factory: sessionmaker, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    """Filed, then approved, both before the worker's first pass: each body tells its moment."""
    later = NOW + dt.timedelta(minutes=5)
    with session_factory.begin() as session:
        webhooks.create_webhook(
            session, url=receiver.url, events=["refund.created", "refund.approved"], now=NOW
        )
        application_id = int(submit_for_review(session).id)
    with session_factory.begin() as session:
        application = session.get(RefundApplication, application_id)
        store.approve(session, application=application, actor="merchant", now=later)
        assert application.status == "awaiting_return"  # a return: it went on at once

    worker = deliverer(db_url, http, Clock(), webhook_concurrency=1)  # one at a time: in order
    while await worker.run_once():
        pass

    created, approved = receiver.events()
    assert (created["type"], approved["type"]) == ("refund.created", "refund.approved")
    assert created["data"]["status"] == "pending_review"
    assert created["data"]["allowed_actions"] == ["approve", "reject", "request-info"]
    assert created["data"]["updated_at"] == present.iso(NOW)
    assert approved["data"]["status"] == "approved"
    assert approved["data"]["allowed_actions"] == ["refunded"]
    assert approved["data"]["updated_at"] == present.iso(later)
    assert created["data"]["reference"] == approved["data"]["reference"]


async def test_an_event_recorded_without_its_data_is_sent_as_the_application_is_now(
    db_url: str, session_factory: sessionmaker, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    """Outbox rows written before events carried their data are still sent, read when sent."""
    with session_factory.begin() as session:
        webhooks.create_webhook(session, url=receiver.url, events=["refund.approved"], now=NOW)
        application = submit_for_review(session)
        # An older gateway's row: the application's id only.
        outbox.emit(session, type="refund.approved", now=NOW, application_id=application.id)
        expected = present.application(application)

    assert await deliverer(db_url, http, Clock()).run_once() == 1

    [event] = receiver.events()
    assert event["data"] == expected


async def test_a_down_receiver_is_retried_later_and_later_then_given_up(
    db_url: str, session_factory: sessionmaker, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    receiver.status = 503
    hook_id, clock, worker = one_refund_to_send(db_url, receiver.url, http)

    delays: list[dt.timedelta] = []
    while True:
        assert await worker.run_once() == 1
        assert await worker.run_once() == 0  # not due again yet
        delivery = the_delivery(session_factory)
        if delivery.status != "pending":
            break
        delays.append(delivery.next_attempt_at - clock.now)
        clock.now = delivery.next_attempt_at

    assert delivery.status == "failed"
    assert delivery.next_attempt_at is None
    # Doubling from about 30 s until the one-hour cap, half of each wait random.
    assert dt.timedelta(seconds=15) <= delays[0] <= dt.timedelta(seconds=30)
    assert all(a < b for a, b in zip(delays[:6], delays[1:7], strict=True))
    assert max(delays) <= dt.timedelta(hours=1)
    assert clock.now - NOW <= dt.timedelta(hours=24)
    assert clock.now - NOW >= dt.timedelta(hours=23)
    assert len(receiver.received) == delivery.attempts == len(delays) + 1
    assert len({r.event["id"] for r in receiver.received}) == 1  # the same event each time

    with session_factory.begin() as session:
        [entry] = webhooks.delivery_log(session, webhook_id=hook_id)
    assert len(entry["attempts"]) == delivery.attempts
    assert {a["status_code"] for a in entry["attempts"]} == {503}
    assert entry["attempts"][0]["response_excerpt"] == "answered 503"
    assert entry["attempts"][-1]["next_attempt_at"] is None
    assert entry["next_attempt_at"] is None

    # `refundbot webhooks retry ID` sends it again, now, with a fresh day of retries.
    receiver.status = 204
    with session_factory.begin() as session:
        before = webhooks.retry(
            session, delivery_id=entry["id"], now=clock.now, window=dt.timedelta(hours=24)
        )
    assert before == "failed"
    assert await worker.run_once() == 1
    assert the_delivery(session_factory).status == "delivered"


async def test_an_unreachable_receiver_is_an_attempt_with_an_error(
    db_url: str, session_factory: sessionmaker, http: aiohttp.ClientSession
) -> None:
    hook_id = subscribe(session_factory, "http://127.0.0.1:9/hooks")
    with session_factory.begin() as session:
        submit_for_review(session)
    assert await deliverer(db_url, http, Clock()).run_once() == 1
    with session_factory.begin() as session:
        [entry] = webhooks.delivery_log(session, webhook_id=hook_id)
    [attempt] = entry["attempts"]
    assert attempt["status_code"] is None
    assert attempt["error"]
    assert entry["status"] == "pending"
    assert entry["next_attempt_at"] is not None


async def test_deleting_the_webhook_drops_what_it_still_had_to_receive(
    db_url: str, session_factory: sessionmaker, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    receiver.status = 500
    hook_id, clock, worker = one_refund_to_send(db_url, receiver.url, http)
    assert await worker.run_once() == 1
    with session_factory.begin() as session:
        webhooks.delete_webhook(session, webhook_id=hook_id)
    clock.now += dt.timedelta(days=1)
    assert await worker.run_once() == 0
    assert len(receiver.received) == 1


async def test_two_workers_never_send_one_delivery_twice(
    db_url: str, session_factory: sessionmaker, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    subscribe(session_factory, receiver.url)
    with session_factory.begin() as session:
        for i in range(12):
            submit_for_review(session, customer_id=f"c-{i}", key=f"k{i}")
    clock = Clock()
    first = deliverer(db_url, http, clock, webhook_concurrency=5)
    second = deliverer(db_url, http, clock, webhook_concurrency=5)

    async def claim_all(worker: Deliverer) -> list[int]:
        claimed = []
        for _ in range(3):
            claimed += [c.delivery_id for c in await worker.claim(5)]
        return claimed

    mine, theirs = await asyncio.gather(claim_all(first), claim_all(second))
    assert sorted(mine + theirs) == sorted(set(mine + theirs))
    assert len(mine + theirs) == 12
    assert receiver.received == []

    # Both gateways died holding their claims: once the claims run out, the rows are due again,
    # and two workers sending side by side send each one once.
    clock.now += dt.timedelta(minutes=3)
    while sum(await asyncio.gather(first.run_once(), second.run_once())):
        pass
    ids = [r.event["id"] for r in receiver.received]
    assert len(ids) == 12
    assert len(set(ids)) == 12


def test_the_readme_receiver_checks_what_the_worker_signs() -> None:
    from bot.api.delivery import signature

    verified = readme_verified("whsec_test")
    body = b'{"id": "evt_1", "type": "refund.created", "created_at": "", "data": {}}'
    header = signature("whsec_test", 1_764_460_800, body)
    assert verified(header, body, 1_764_460_800 + 10)
    assert not verified(header, body.replace(b"created", b"refunded"), 1_764_460_800)
    assert not verified(header, body, 1_764_460_800 + 301)  # too old: a replay
    assert not verified(signature("whsec_other", 1_764_460_800, body), body, 1_764_460_800)
    assert not verified("v1=00", body, 1_764_460_800)
