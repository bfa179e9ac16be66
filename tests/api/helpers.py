"""Keys, orders and requests for the shop API tests, through the real store and the real app."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from bot.api.credentials import SCOPES, create_key
from bot.clock import utcnow
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings

ALL = list(SCOPES)


def api_key(settings: Settings, *scopes: str, name: str = "shop") -> str:
    """Make a key with ``scopes`` (all of them by default); return its text."""
    with get_sessionmaker(settings.database_url).begin() as session:
        _, secret = create_key(session, name=name, scopes=list(scopes) or ALL, now=utcnow())
    return secret


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


async def problem(response: ClientResponse, status: int) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status``; return its body."""
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def order_body(
    customer_id: str = "c-1001", status: str = "delivered", **changes: Any
) -> dict[str, Any]:
    """An order as a shop sends it: paid 10 days ago, delivered 2 days ago, 42.50 USD."""
    now = utcnow()
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "customer_email": f"{customer_id}@example.com",
        "status": status,
        "currency": "USD",
        "total": "42.50",
        "paid_at": iso(now - dt.timedelta(days=10)),
        "ship_by": iso(now - dt.timedelta(days=7)),
        "shipped_at": iso(now - dt.timedelta(days=8)) if status != "awaiting_shipment" else None,
        "promised_delivery_by": iso(now + dt.timedelta(days=10)),
        "delivered_at": iso(now - dt.timedelta(days=2)) if status == "delivered" else None,
        "items": [{"sku": "A1", "title": "Desk lamp", "quantity": 1, "unit_price": "42.50"}],
    }
    if status == "awaiting_shipment":
        body["ship_by"] = iso(now + dt.timedelta(days=3))
    body.update(changes)
    return body


async def put_order(
    client: TestClient, key: str, order_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.put(f"/api/v1/orders/{order_id}", json=body, headers=auth(key))
    assert response.status in (200, 201), await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def subscribe(
    client: TestClient, key: str, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    """Create a webhook at ``url``; return it with the secret (shown only in this answer)."""
    response = await client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": events or ["refund.created", "refund.approved"]},
        headers=auth(key),
    )
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created
