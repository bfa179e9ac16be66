"""PUT and GET /api/v1/orders: the import file's checks, idempotent upserts, the policy's view."""

from __future__ import annotations

from decimal import Decimal

from aiohttp.test_utils import TestClient

from bot.refunds.db import get_sessionmaker
from bot.refunds.models import Order
from bot.settings import Settings
from tests.api.helpers import api_key, auth, order_body, problem, put_order
from tests.factories import DAMAGED_REASON

ORDER_ID = "8041235566701234"
URL = f"/api/v1/orders/{ORDER_ID}"


async def test_put_creates_then_updates_the_same_order(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings)
    body = order_body(status="shipped")
    first = await gateway.put(URL, json=body, headers=auth(key))
    assert first.status == 201
    created = await first.json()
    again = await gateway.put(URL, json=body, headers=auth(key))
    assert again.status == 200
    # Nothing changed but the time of the last update: a retry is harmless.
    assert {**(await again.json()), "updated_at": None} == {**created, "updated_at": None}

    assert created["order_id"] == ORDER_ID
    assert created["status"] == "shipped"
    assert created["total"] == "42.50"
    assert created["paid_at"].endswith("Z")
    assert created["delivered_at"] is None
    methods = {m["method"]: m for m in created["methods"]}
    assert methods["immediate_refund"] == {
        "method": "immediate_refund",
        "offered": False,
        "max_amount": None,
        "why_not": "already_shipped",
        "explanation": "this order has already shipped",
    }
    assert methods["return_and_refund"]["why_not"] == "not_delivered"

    # The shop reports progress by changing the status.
    delivered = await put_order(
        gateway, key, ORDER_ID, {**body, **order_body(status="delivered"), "total": "42.50"}
    )
    assert delivered["status"] == "delivered"
    methods = {m["method"]: m for m in delivered["methods"]}
    assert methods["return_and_refund"]["offered"] is True
    assert methods["return_and_refund"]["max_amount"] == "42.50"
    with get_sessionmaker(settings.database_url).begin() as session:
        order = session.get(Order, ORDER_ID)
        assert order.status == "delivered"
        assert order.total == Decimal("42.50")
        assert [i.title for i in order.items] == ["Desk lamp"]


async def test_get_shows_balance_methods_and_applications(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings)
    await put_order(gateway, key, ORDER_ID, order_body(total="42.50"))
    filed = await gateway.post(
        f"{URL}/refunds",
        json={
            "method": "return_and_refund",
            "amount": "12.50",
            "reason": DAMAGED_REASON,
            "reason_category": "damaged",
        },
        headers=auth(key),
    )
    assert filed.status == 201, await filed.text()

    response = await gateway.get(URL, headers=auth(key))
    assert response.status == 200
    order = await response.json()
    assert order["balance"] == {
        "paid": "42.50",
        "refunded": "0.00",
        "requested": "12.50",
        "refundable": "30.00",
    }
    [application] = order["applications"]
    assert application["amount"] == "12.50"
    assert application["status"] == "pending_review"
    assert application["allowed_actions"] == ["approve", "reject", "request-info"]
    await problem(await gateway.get("/api/v1/orders/8041235566700000", headers=auth(key)), 404)


async def test_bad_fields_are_422_one_entry_per_field(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings)
    body = order_body(status="delivered", total=42.555, currency="dollars", colour="red")
    del body["paid_at"]
    body["delivered_at"] = None
    body["items"][0]["sku"] = ""
    response = await gateway.put(URL, json=body, headers=auth(key))
    problem_body = await problem(response, 422)
    fields = {e["field"] for e in problem_body["errors"]}
    assert {"paid_at", "colour", "total", "currency", "delivered_at", "items.0.sku"} <= fields
    total = next(e for e in problem_body["errors"] if e["field"] == "total")
    assert "more than two decimals" in total["detail"]

    mismatch = await gateway.put(
        URL, json=order_body(order_id="8041235566709999"), headers=auth(key)
    )
    assert (await problem(mismatch, 422))["errors"][0]["field"] == "order_id"
    bad_path = await gateway.put("/api/v1/orders/123", json=order_body(), headers=auth(key))
    assert (await problem(bad_path, 422))["errors"][0]["field"] == "order_id"
    not_object = await gateway.put(URL, json=[order_body()], headers=auth(key))
    await problem(not_object, 422)
    with get_sessionmaker(settings.database_url).begin() as session:
        assert session.get(Order, ORDER_ID) is None


async def test_a_quantity_past_what_the_database_holds_is_422_not_500(
    gateway: TestClient, settings: Settings
) -> None:
    # PostgreSQL's INTEGER column refused 2**31 on insert: the answer was a 500.
    key = api_key(settings)
    item = {"sku": "A1", "title": "Desk lamp", "quantity": 2**31, "unit_price": "0.01"}
    response = await gateway.put(URL, json=order_body(items=[item]), headers=auth(key))
    [error] = (await problem(response, 422))["errors"]
    assert error == {
        "field": "items.0.quantity",
        "detail": "items[0].quantity is larger than 2147483647",
    }
    largest = {**item, "quantity": 2**31 - 1}
    stored = await put_order(gateway, key, ORDER_ID, order_body(items=[largest]))
    assert stored["items"][0]["quantity"] == 2**31 - 1


async def test_an_order_of_another_customer_is_not_taken_over(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings)
    await put_order(gateway, key, ORDER_ID, order_body(customer_id="c-1001"))
    response = await gateway.put(URL, json=order_body(customer_id="c-2002"), headers=auth(key))
    body = await problem(response, 409)
    assert "another customer" in body["detail"]
    assert "c-1001" not in body["detail"]
    with get_sessionmaker(settings.database_url).begin() as session:
        assert session.get(Order, ORDER_ID).customer_id == "c-1001"
