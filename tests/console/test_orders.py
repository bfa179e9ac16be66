"""The seller's back-office: order search, an order's page, a refund started by a merchant."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.clock import utcnow
from bot.gateway.identity import make_token
from bot.refunds import store
from bot.refunds.enums import OrderStatus, RefundMethod
from bot.refunds.models import RefundApplication
from tests.console.agents import Console, client_of
from tests.factories import DAMAGED_REASON, make_customer, make_order
from tests.gateway.doubles import SHOP_SECRET
from tests.gateway.webchat_client import bot_text, hello

DELIVERED = "8041235566701234"
AWAITING = "8041235566709876"
OTHER = "8041235566704444"


@pytest.fixture
def shop(session_factory: sessionmaker) -> None:
    """Two buyers' orders, dated from the real clock the views read."""
    now = utcnow()
    with session_factory.begin() as session:
        ana = make_customer(session, id="c-1001", email="ana@example.com", now=now)
        ben = make_customer(session, id="c-1002", email="ben@example.com", now=now)
        make_order(session, id=DELIVERED, customer=ana, total=Decimal("42.50"), now=now)
        make_order(
            session,
            id=AWAITING,
            customer=ana,
            status=OrderStatus.AWAITING_SHIPMENT,
            total=Decimal("18.90"),
            now=now - dt.timedelta(hours=1),
        )
        make_order(session, id=OTHER, customer=ben, total=Decimal("55.00"), now=now)


def refund(token: str, **changes: Any) -> dict[str, Any]:
    body = {
        "method": "return_and_refund",
        "amount": "20.00",
        "reason": DAMAGED_REASON,
        "reason_category": "damaged",
        "form_token": token,
    }
    return body | changes


def count(session_factory: sessionmaker) -> int:
    with session_factory.begin() as session:
        return int(session.execute(select(func.count(RefundApplication.id))).scalar_one())


async def found(console: Console, query: str) -> list[str]:
    data = await console.get(f"/console/api/orders?q={query}")
    return [o["order_id"] for o in data["orders"]]


@pytest.mark.usefixtures("shop")
async def test_search_finds_orders_by_each_field_and_nothing_else(
    ben: Console, session_factory: sessionmaker
) -> None:
    assert await found(ben, DELIVERED) == [DELIVERED]
    assert set(await found(ben, "80412355667")) == {DELIVERED, AWAITING, OTHER}
    assert set(await found(ben, "c-1001")) == {DELIVERED, AWAITING}
    assert await found(ben, "BEN%40Example.com") == [OTHER]
    assert await found(ben, "c-100") == []
    assert await found(ben, "%25") == []
    assert await found(ben, "ana") == []
    latest = await ben.get("/console/api/orders")
    assert [o["order_id"] for o in latest["orders"]][0] == AWAITING  # paid last
    assert latest["more"] is False
    assert (await ben.client.get("/console/api/orders?q=" + "x" * 300)).status == 400

    with session_factory.begin() as session:
        buyer = make_customer(session, id="c-many")
        for _ in range(21):
            make_order(session, customer=buyer)
    many = await ben.get("/console/api/orders?q=c-many")
    assert (len(many["orders"]), many["more"]) == (20, True)


@pytest.mark.usefixtures("shop")
async def test_an_order_page_shows_balance_methods_and_applications(
    ben: Console, mia: Console
) -> None:
    page = await mia.get(f"/console/api/orders/{DELIVERED}")
    assert (page["status"], page["customer_email"], page["can_refund"]) == (
        "delivered",
        "ana@example.com",
        True,
    )
    assert page["balance"] == {
        "paid": "42.50",
        "refunded": "0.00",
        "requested": "0.00",
        "refundable": "42.50",
    }
    assert [i["title"] for i in page["items"]] == ["Test item"]
    methods = {m["method"]: m for m in page["methods"]}
    assert methods["immediate_refund"]["explanation"] == "this order has already shipped"
    assert methods["return_and_refund"]["offered"] is True
    assert page["form_token"]

    filed = await mia.ok(f"/console/api/orders/{DELIVERED}/refunds", refund(page["form_token"]))
    read_only = await ben.get(f"/console/api/orders/{DELIVERED}")
    assert (read_only["can_refund"], read_only["form_token"]) == (False, None)
    assert [a["reference"] for a in read_only["applications"]] == [filed["reference"]]
    assert read_only["applications"][0]["conversation_id"] is None
    assert read_only["balance"]["requested"] == "20.00"
    assert (await ben.client.get("/console/api/orders/8041235566700000")).status == 404
    assert (await ben.client.get("/console/api/orders/%00")).status == 404


@pytest.mark.usefixtures("shop")
async def test_a_merchant_starts_a_refund_the_buyer_is_told(
    server: TestServer, mia: Console, session_factory: sessionmaker
) -> None:
    buyer = await client_of(server)
    ws, _ = await hello(buyer, token=make_token(SHOP_SECRET, "c-1001"))
    page = await mia.get(f"/console/api/orders/{DELIVERED}")

    response = await mia.post(
        f"/console/api/orders/{DELIVERED}/refunds", refund(page["form_token"])
    )
    assert response.status == 201
    filed = await response.json()
    assert (filed["status"], filed["amount"], filed["customer_id"]) == (
        "pending_review",
        "20.00",
        "c-1001",
    )
    assert (await bot_text(ws))["text"] == (
        f"The shop has opened refund application {filed['reference']} for 20.00 USD for you. "
        "I'll tell you here when it moves on."
    )
    detail = await mia.get(f"/console/api/applications/{filed['reference']}")
    assert [(e["from"], e["to"], e["actor"]) for e in detail["events"]] == [
        (None, "pending_review", "merchant:mia")
    ]
    await ws.close()
    await buyer.close()


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(
    ("order_id", "changes", "field", "error"),
    [
        (DELIVERED, {"amount": "50.00"}, "amount", "50.00 exceeds the refundable balance 42.50"),
        (DELIVERED, {"method": "immediate_refund"}, "method", "this order has already shipped"),
        (AWAITING, {"method": "no_return_refund"}, "method", "this order has not shipped yet"),
        (DELIVERED, {"reason": "broken"}, "reason", "describe the problem in a few more words"),
        (DELIVERED, {"reason_category": ""}, "reason_category", "needs a reason category"),
        (DELIVERED, {"amount": "ten"}, "amount", "give the amount as a number, like 12.50"),
        (DELIVERED, {"method": "cash"}, "method", "choose a refund method"),
        (DELIVERED, {"form_token": ""}, "form_token", "this form has expired"),
    ],
)
async def test_each_refusal_says_why_beside_its_field(
    mia: Console,
    session_factory: sessionmaker,
    order_id: str,
    changes: dict[str, str],
    field: str,
    error: str,
) -> None:
    page = await mia.get(f"/console/api/orders/{order_id}")
    body = refund(page["form_token"], **changes)
    response = await mia.post(f"/console/api/orders/{order_id}/refunds", body)
    assert response.status == 422
    answer = await response.json()
    assert answer["field"] == field
    assert error in answer["error"]
    assert count(session_factory) == 0


@pytest.mark.usefixtures("shop")
async def test_a_double_submit_files_one_refund(
    mia: Console, session_factory: sessionmaker
) -> None:
    page = await mia.get(f"/console/api/orders/{DELIVERED}")
    url = f"/console/api/orders/{DELIVERED}/refunds"
    burst = await asyncio.gather(*(mia.post(url, refund(page["form_token"])) for _ in range(2)))
    assert sorted(r.status for r in burst) == [200, 201]
    first, second = [await r.json() for r in burst]
    assert first["reference"] == second["reference"]
    again = await mia.post(url, refund(page["form_token"]))
    assert again.status == 200
    assert count(session_factory) == 1

    # The same form on another order is stale, not a second refund.
    stale = await mia.post(f"/console/api/orders/{AWAITING}/refunds", refund(page["form_token"]))
    assert stale.status == 409
    # A fresh page is a new form.
    fresh = await mia.get(f"/console/api/orders/{DELIVERED}")
    await mia.ok(url, refund(fresh["form_token"], amount="5.00"))
    assert count(session_factory) == 2


@pytest.mark.usefixtures("shop")
async def test_agents_without_the_role_and_posts_without_csrf_are_refused(
    ana: Console, ben: Console, mia: Console, session_factory: sessionmaker
) -> None:
    token = (await mia.get(f"/console/api/orders/{DELIVERED}"))["form_token"]
    url = f"/console/api/orders/{DELIVERED}/refunds"
    assert (await ben.post(url, refund(token))).status == 403
    assert (await mia.post(url, refund(token), csrf=False)).status == 403
    signed_out = await client_of(ben.client.server)
    assert (await signed_out.post(url, json=refund(token))).status == 401
    await signed_out.close()
    assert count(session_factory) == 0

    # An admin files as a merchant does.
    admin_token = (await ana.get(f"/console/api/orders/{DELIVERED}"))["form_token"]
    filed = await ana.ok(url, refund(admin_token))
    with session_factory.begin() as session:
        application = store.list_applications(session, order_id=DELIVERED)[0]
        assert application.reference == filed["reference"]
        assert application.method == RefundMethod.RETURN_AND_REFUND.value
        events = store.events_of(session, application_id=application.id)
        assert [e.actor for e in events] == ["merchant:ana"]
