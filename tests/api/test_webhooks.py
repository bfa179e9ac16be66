"""Webhooks through the real gateway: subscribe over the API, receive signed events, delete."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.api import schemas
from bot.api.delivery import EVENT_ID_HEADER, SIGNATURE_HEADER
from bot.clock import utcnow
from bot.gateway.app import create_app
from bot.gateway.identity import make_token
from bot.refunds import store
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.settings import Settings
from tests.api.helpers import api_key, auth, order_body, problem, put_order, subscribe
from tests.api.receiver import Receiver, verify
from tests.factories import DAMAGED_REASON
from tests.gateway.doubles import (
    SHOP_SECRET,
    RasaDouble,
    scripted_reply,
    wait_until,
    with_gateway,
)
from tests.gateway.webchat_client import bot_text, hello

ORDER = "8041235566701234"
REFUND = {
    "method": "return_and_refund",
    "amount": "30.00",
    "reason": DAMAGED_REASON,
    "reason_category": "damaged",
}


@pytest.fixture
async def gateway(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> TestClient:
    """The real gateway, allowing plain http to the local receiver, its worker looking often."""
    changed = with_gateway(
        settings,
        webhook_allow_http=True,
        webhook_allow_private=True,
        webhook_poll_seconds=0.05,
    )
    return await aiohttp_client(create_app(changed))


async def test_a_refund_is_received_signed_and_an_altered_body_fails(
    gateway: TestClient, settings: Settings, receiver: Receiver
) -> None:
    key = api_key(settings)
    hook = await subscribe(gateway, key, receiver.url)
    assert hook["secret"].startswith("whsec_")
    await put_order(gateway, key, ORDER, order_body())
    filed = await gateway.post(f"/api/v1/orders/{ORDER}/refunds", json=REFUND, headers=auth(key))
    reference = (await filed.json())["reference"]
    await gateway.post(f"/api/v1/refunds/{reference}/approve", headers=auth(key))
    await wait_until(lambda: len(receiver.received) == 2, what="two events")

    # Deliveries run side by side: a receiver orders them by created_at, not by arrival.
    created, approved = sorted(receiver.received, key=lambda d: str(d.event["created_at"]))
    assert [created.event["type"], approved.event["type"]] == ["refund.created", "refund.approved"]
    assert set(created.event) == {"id", "type", "created_at", "data"}
    assert created.event["data"]["reference"] == reference
    # data is the application as it was at the event: approved (it went on to awaiting_return).
    assert created.event["data"]["status"] == "pending_review"
    assert approved.event["data"]["status"] == "approved"
    assert created.headers[EVENT_ID_HEADER] == created.event["id"]
    document = await (await gateway.get("/api/v1/openapi.json")).json()
    documented = document["webhooks"]["event"]["post"]["requestBody"]["content"]
    for delivery in (created, approved):
        assert schemas.check(documented["application/json"]["schema"], delivery.event) == []
        header = delivery.headers[SIGNATURE_HEADER]
        assert verify(hook["secret"], header, delivery.body)
        assert not verify(hook["secret"], header, delivery.body.replace(b"30.00", b"99.00"))
        assert not verify("whsec_another", header, delivery.body)
    # The secret is shown once: reading the webhook never shows it again.
    read = await (await gateway.get(f"/api/v1/webhooks/{hook['id']}", headers=auth(key))).json()
    listed = await (await gateway.get("/api/v1/webhooks", headers=auth(key))).json()
    assert "secret" not in read
    assert listed["data"] == [read]

    entries: list[dict[str, Any]] = []

    async def logged() -> bool:
        url = f"/api/v1/webhooks/{hook['id']}/deliveries"
        entries[:] = (await (await gateway.get(url, headers=auth(key))).json())["data"]
        return all(e["status"] == "delivered" for e in entries)

    await wait_until(logged, what="both deliveries recorded")
    assert [e["event_type"] for e in entries] == ["refund.approved", "refund.created"]
    for entry in entries:
        assert entry["status"] == "delivered"
        [attempt] = entry["attempts"]
        assert attempt["status_code"] == 200
        assert attempt["response_excerpt"] == "answered 200"
        assert attempt["error"] is None
        assert attempt["duration_ms"] >= 0


async def test_urls_and_event_types_are_checked(gateway: TestClient, settings: Settings) -> None:
    key = api_key(settings)

    async def refused(body: dict[str, Any]) -> list[dict[str, str]]:
        response = await gateway.post("/api/v1/webhooks", json=body, headers=auth(key))
        errors: list[dict[str, str]] = (await problem(response, 422))["errors"]
        return errors

    for url in ("ftp://shop.example/x", "/relative/hooks", "https://", "https://u:p@shop.example/"):
        [error] = await refused({"url": url, "events": ["refund.created"]})
        assert error["field"] == "url"
    [error] = await refused({"url": "https://shop.example/h", "events": ["refund.paid"]})
    assert error["field"] == "events.0"
    assert "refund.created" in error["detail"]
    assert "handoff.requested" in error["detail"]
    assert await refused({"url": "https://shop.example/h"}) == [
        {"field": "events", "detail": "is required"}
    ]
    scoped = api_key(settings, "refunds:read", name="reader")
    response = await gateway.get("/api/v1/webhooks", headers=auth(scoped))
    await problem(response, 403)
    await problem(await gateway.get("/api/v1/webhooks/77", headers=auth(key)), 404)
    await problem(await gateway.delete("/api/v1/webhooks/x", headers=auth(key)), 404)


async def test_plain_http_is_refused_unless_allowed(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:
    strict = await aiohttp_client(create_app(settings))
    key = api_key(settings)
    body = {"url": "http://shop.example/hooks", "events": ["refund.created"]}
    response = await strict.post("/api/v1/webhooks", json=body, headers=auth(key))
    [error] = (await problem(response, 422))["errors"]
    assert error["field"] == "url"
    assert "https" in error["detail"]


async def test_a_slow_receiver_does_not_delay_the_api_or_a_chat(
    gateway: TestClient, settings: Settings, receiver: Receiver
) -> None:
    receiver.hold = asyncio.Event()
    key = api_key(settings)
    await subscribe(gateway, key, receiver.url)
    await put_order(gateway, key, ORDER, order_body())
    filed = await gateway.post(f"/api/v1/orders/{ORDER}/refunds", json=REFUND, headers=auth(key))
    assert filed.status == 201
    await wait_until(lambda: receiver.in_flight == 1, what="a delivery held by the receiver")

    started = time.monotonic()
    read = await gateway.get(f"/api/v1/orders/{ORDER}", headers=auth(key))
    assert read.status == 200
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "hello there", "client_id": "m1"})
    answer = await asyncio.wait_for(bot_text(ws), 2.0)
    assert answer["text"] == "You said: hello there"
    assert time.monotonic() - started < 2.0
    assert receiver.in_flight == 1  # still held: the answers did not wait for it
    receiver.hold.set()
    await ws.close()


async def test_a_handoff_is_announced(
    gateway: TestClient, settings: Settings, receiver: Receiver
) -> None:
    key = api_key(settings)
    await subscribe(gateway, key, receiver.url, ["handoff.requested"])
    ws, welcome = await hello(gateway)
    await ws.send_json({"type": "message", "text": "a person please", "client_id": "m1"})
    await wait_until(lambda: bool(receiver.events()), what="handoff.requested")
    [event] = receiver.events()
    assert schemas.check(schemas.WEBHOOK_EVENT, event) == []
    assert event["data"]["reason"] == "buyer_asked"
    assert event["data"]["conversation_id"]
    assert event["data"]["channel"] == "webchat"
    await ws.close()


async def test_delete_stops_deliveries(
    gateway: TestClient, settings: Settings, receiver: Receiver
) -> None:
    key = api_key(settings)
    hook = await subscribe(gateway, key, receiver.url)
    await put_order(gateway, key, ORDER, order_body())
    await gateway.post(f"/api/v1/orders/{ORDER}/refunds", json=REFUND, headers=auth(key))
    await wait_until(lambda: len(receiver.received) == 1, what="refund.created")
    response = await gateway.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth(key))
    assert response.status == 204
    await problem(
        await gateway.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth(key)), 404
    )
    reference = (await (await gateway.get("/api/v1/refunds", headers=auth(key))).json())["data"][0][
        "reference"
    ]
    await gateway.post(f"/api/v1/refunds/{reference}/approve", headers=auth(key))
    await asyncio.sleep(0.5)  # several passes of the worker
    assert len(receiver.received) == 1


async def test_a_shop_with_only_http_follows_a_widget_refund_through(
    gateway: TestClient, settings: Settings, receiver: Receiver, rasa: RasaDouble
) -> None:
    """The issue's "done when": order in, a widget refund, signed events, approval, buyer told."""
    key = api_key(settings)
    hook = await subscribe(gateway, key, receiver.url)
    await put_order(gateway, key, ORDER, order_body("c-1001"))
    sessions = get_sessionmaker(settings.database_url)

    def rasa_and_actions(body: dict[str, Any]) -> list[dict[str, Any]]:
        # Rasa's double; on the buyer's "yes" it files the refund as the action server does.
        if body["message"] != "yes, file it":
            return scripted_reply(body)
        with sessions.begin() as session:
            filed = store.submit_application(
                session,
                customer_id=body["metadata"]["customer_id"],
                order_id=ORDER,
                method=RefundMethod.RETURN_AND_REFUND,
                amount=Decimal("30.00"),
                reason=DAMAGED_REASON,
                reason_category=ReasonCategory.DAMAGED,
                idempotency_key=f"chat:{body['sender']}",
                conversation_id=body["sender"],
                now=utcnow(),
                settings=settings.policy,
            )
            reference = filed.application.reference
        return [{"recipient_id": body["sender"], "text": f"Submitted: {reference}."}]

    rasa.reply = rasa_and_actions
    ws, _ = await hello(gateway, token=make_token(SHOP_SECRET, "c-1001"))
    await ws.send_json({"type": "message", "text": "yes, file it", "client_id": "m1"})
    said = (await bot_text(ws))["text"]
    assert said.startswith("Submitted: "), said
    reference = said.removeprefix("Submitted: ").rstrip(".")
    # The satisfaction survey follows a submission.
    assert "from 1 (poor) to 5 (excellent)" in (await bot_text(ws))["text"]

    await wait_until(lambda: bool(receiver.events("refund.created")), what="refund.created")
    [created] = receiver.received
    assert verify(hook["secret"], created.headers[SIGNATURE_HEADER], created.body)
    assert created.event["data"]["reference"] == reference
    assert created.event["data"]["customer_id"] == "c-1001"

    approve = await gateway.post(f"/api/v1/refunds/{reference}/approve", headers=auth(key))
    assert approve.status == 200
    told = await bot_text(ws)  # the notifier tells the buyer in the widget
    assert reference in told["text"]
    await wait_until(lambda: bool(receiver.events("refund.approved")), what="refund.approved")
    approved = receiver.received[-1]
    assert approved.event["type"] == "refund.approved"
    assert verify(hook["secret"], approved.headers[SIGNATURE_HEADER], approved.body)
    await ws.close()
