"""POST /api/v1/orders/{id}/refunds: the chat's policy, the seller as actor, the buyer told,
and Idempotency-Key on every POST."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.api.models import IdempotentResponse
from bot.clock import utcnow
from bot.gateway.identity import make_token
from bot.refunds import store
from bot.refunds.db import get_sessionmaker
from bot.refunds.models import Order, RefundApplication
from bot.settings import Settings
from tests.api.helpers import api_key, auth, order_body, problem, put_order
from tests.factories import DAMAGED_REASON
from tests.gateway.doubles import SHOP_SECRET
from tests.gateway.webchat_client import bot_text, hello

ORDER_ID = "8041235566701234"
URL = f"/api/v1/orders/{ORDER_ID}/refunds"
RETURN = {
    "method": "return_and_refund",
    "amount": "20.00",
    "reason": DAMAGED_REASON,
    "reason_category": "damaged",
}


def applications(settings: Settings) -> int:
    # A read-only unit: it never waits for a writer (the concurrency test holds the write lock).
    with get_sessionmaker(settings.database_url, read_only=True).begin() as session:
        return int(session.execute(select(func.count(RefundApplication.id))).scalar_one())


async def test_a_seller_refund_is_checked_by_the_policy_and_audited(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings, name="backoffice")
    await put_order(gateway, key, ORDER_ID, order_body(customer_id="c-1001"))

    response = await gateway.post(URL, json=RETURN, headers=auth(key))
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["customer_id"] == "c-1001"
    assert (body["amount"], body["status"], body["review"]) == (
        "20.00",
        "pending_review",
        "merchant",
    )
    assert body["events"][0]["actor"] == "seller:backoffice"
    with get_sessionmaker(settings.database_url).begin() as session:
        application = session.execute(select(RefundApplication)).scalar_one()
        [event] = store.events_of(session, application_id=application.id)
        assert (event.from_status, event.to_status, event.actor) == (
            None,
            "pending_review",
            "seller:backoffice",
        )

    # The same refusals as in the chat, with the reason.
    immediate = await gateway.post(
        URL, json={**RETURN, "method": "immediate_refund"}, headers=auth(key)
    )
    refused = await problem(immediate, 422)
    assert refused["code"] == "already_shipped"
    assert refused["errors"] == [{"field": "method", "detail": "this order has already shipped"}]
    too_much = await problem(
        await gateway.post(URL, json={**RETURN, "amount": "30.00"}, headers=auth(key)), 422
    )
    assert too_much["code"] == "exceeds_balance"
    assert too_much["errors"][0]["field"] == "amount"
    thin = await problem(
        await gateway.post(URL, json={**RETURN, "reason": "bad"}, headers=auth(key)), 422
    )
    assert thin["errors"][0]["field"] == "reason"
    no_category = {k: v for k, v in RETURN.items() if k != "reason_category"}
    missing = await problem(await gateway.post(URL, json=no_category, headers=auth(key)), 422)
    assert missing["errors"][0]["field"] == "reason_category"
    shape = await problem(
        await gateway.post(URL, json={"method": "cash", "amount": 20.5}, headers=auth(key)), 422
    )
    assert [e["field"] for e in shape["errors"]] == ["amount", "method", "reason"]
    await problem(
        await gateway.post(
            "/api/v1/orders/8041235566700000/refunds", json=RETURN, headers=auth(key)
        ),
        404,
    )
    assert applications(settings) == 1


async def test_the_same_idempotency_key_replays_and_never_files_twice(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings)
    await put_order(gateway, key, ORDER_ID, order_body())
    headers = auth(key, **{"Idempotency-Key": "order-8041-refund-1"})

    first = await gateway.post(URL, json=RETURN, headers=headers)
    assert first.status == 201
    replay = await gateway.post(
        URL, data=_respaced(RETURN), headers={**headers, "Content-Type": "application/json"}
    )
    assert replay.status == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await replay.json() == await first.json()
    assert applications(settings) == 1

    other = await gateway.post(URL, json={**RETURN, "amount": "5.00"}, headers=headers)
    assert (await problem(other, 422))["type"].endswith("/idempotency-key-reused")
    assert applications(settings) == 1

    # Keys are per API key: another key's same header is another request.
    second_key = api_key(settings, name="other")
    fresh = await gateway.post(
        URL, json=RETURN, headers=auth(second_key, **{"Idempotency-Key": "order-8041-refund-1"})
    )
    assert fresh.status == 201
    assert applications(settings) == 2

    # A review action replays too, instead of answering 409 the second time.
    reference = (await first.json())["reference"]
    approve = f"/api/v1/refunds/{reference}/approve"
    once = await gateway.post(approve, headers=auth(key, **{"Idempotency-Key": "approve-1"}))
    twice = await gateway.post(approve, headers=auth(key, **{"Idempotency-Key": "approve-1"}))
    assert (once.status, twice.status) == (200, 200)
    assert await once.json() == await twice.json()


def _respaced(body: dict[str, Any]) -> str:
    import json

    return json.dumps(dict(reversed(list(body.items()))), indent=4)


async def test_concurrent_duplicates_run_once(gateway: TestClient, settings: Settings) -> None:
    key = api_key(settings)
    await put_order(gateway, key, ORDER_ID, order_body())
    headers = auth(key, **{"Idempotency-Key": "burst"})

    # Hold the order (PostgreSQL: its row; SQLite: the write lock) so the requests overlap: on
    # PostgreSQL the first claims the key and waits, the others wait on its claim.
    with get_sessionmaker(settings.database_url).begin() as session:
        session.get(Order, ORDER_ID, with_for_update=True)
        burst = asyncio.gather(*(gateway.post(URL, json=RETURN, headers=headers) for _ in range(4)))
        await asyncio.sleep(0.5)
        assert applications(settings) == 0
    responses = await burst

    assert [r.status for r in responses] == [201] * 4
    bodies = [await r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies)
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 3
    assert applications(settings) == 1
    with get_sessionmaker(settings.database_url).begin() as session:
        kept = session.execute(select(IdempotentResponse)).scalar_one()
        assert (kept.key, kept.status) == ("burst", 201)


async def test_the_buyer_is_told_on_their_channel(gateway: TestClient, settings: Settings) -> None:
    key = api_key(settings)
    await put_order(gateway, key, ORDER_ID, order_body(customer_id="c-1001"))
    await put_order(gateway, key, "8041235566709999", order_body(customer_id="c-1001"))
    ws, _ = await hello(gateway, token=make_token(SHOP_SECRET, "c-1001"))
    other, _ = await hello(gateway, token=make_token(SHOP_SECRET, "c-1002"))

    filed = await (await gateway.post(URL, json=RETURN, headers=auth(key))).json()
    told = await bot_text(ws)
    assert told["text"] == (
        f"The shop has opened refund application {filed['reference']} for 20.00 USD for you. "
        "I'll tell you here when it moves on."
    )
    approved = await gateway.post(
        f"/api/v1/refunds/{filed['reference']}/approve", headers=auth(key)
    )
    assert approved.status == 200
    assert (await bot_text(ws))["text"].startswith(
        f"Your refund application {filed['reference']} was approved for return"
    )

    # Approved at once (small, no return): one message, that it is paid.
    small = await gateway.post(
        "/api/v1/orders/8041235566709999/refunds",
        json={"method": "no_return_refund", "amount": "5.00", "reason": "scratched"},
        headers=auth(key),
    )
    paid = await small.json()
    assert paid["status"] == "refunded"
    assert (await bot_text(ws))["text"] == (
        f"Your refund of 5.00 USD for application {paid['reference']} has been paid."
    )
    # Another buyer's chat hears nothing of it.
    with_nothing = await asyncio.wait_for(_next_out_or_none(other), 0.5)
    assert with_nothing is None
    await ws.close()
    await other.close()


async def _next_out_or_none(ws: Any) -> dict[str, Any] | None:
    try:
        return await asyncio.wait_for(bot_text(ws), 0.3)
    except asyncio.TimeoutError:
        return None


async def test_kept_answers_expire_after_a_day(gateway: TestClient, settings: Settings) -> None:
    key = api_key(settings)
    await put_order(gateway, key, ORDER_ID, order_body())
    headers = auth(key, **{"Idempotency-Key": "old"})
    assert (await gateway.post(URL, json=RETURN, headers=headers)).status == 201
    with get_sessionmaker(settings.database_url).begin() as session:
        kept = session.execute(select(IdempotentResponse)).scalar_one()
        kept.created_at = utcnow() - dt.timedelta(hours=25)

    again = await gateway.post(URL, json={**RETURN, "amount": "5.00"}, headers=headers)

    assert again.status == 201  # a new request, not a reused key
    assert applications(settings) == 2
    with get_sessionmaker(settings.database_url).begin() as session:
        [fresh] = session.execute(select(IdempotentResponse)).scalars()
        assert fresh.created_at > utcnow() - dt.timedelta(minutes=5)
