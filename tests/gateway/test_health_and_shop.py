from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient

from bot.gateway.app import create_app
from bot.gateway.identity import verify_token
from bot.processes import status_path, write_status
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.factories import make_customer, make_order
from tests.gateway.doubles import SHOP_SECRET, RasaDouble, with_gateway


async def test_health_reports_each_dependency(gateway: TestClient, rasa: RasaDouble) -> None:
    response = await gateway.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "rasa", "action_server"}
    assert body["checks"]["action_server"]["url"] == f"{rasa.url}/health"

    rasa.down = True
    response = await gateway.get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["rasa"]["ok"] is False


@pytest.mark.demo_shop
async def test_demo_shop_lists_orders_and_signs_the_widget_in(
    gateway: TestClient, settings: Settings
) -> None:
    with get_sessionmaker(settings.database_url).begin() as session:
        customer = make_customer(session, id="c-1001", name="Ada Buyer")
        make_order(session, customer=customer, id="3000012345678901", total=Decimal("12.00"))
        make_customer(session, id="c-1002", name="Bo Buyer")
    page = await (await gateway.get("/")).text()
    assert "Ada Buyer" in page
    assert "3000012345678901" in page
    token = re.search(r'data-token="([^"]+)"', page)
    assert token is not None
    assert verify_token(SHOP_SECRET, token.group(1)) == "c-1001"

    other = await (await gateway.get("/?customer=c-1002")).text()
    assert "Signed in as <strong>Bo Buyer</strong>" in other
    guest = await (await gateway.get("/?anonymous=1")).text()
    assert "data-token" not in guest
    assert "guest" in guest
    assert '<script src="/widget.js" async></script>' in guest


async def test_widget_assets_are_served(gateway: TestClient) -> None:
    js = await gateway.get("/widget.js")
    assert js.status == 200
    assert "RefundBot" in await js.text()
    css = await gateway.get("/widget.css")
    assert css.status == 200


async def test_health_shows_the_processes_refundbot_run_keeps_up(
    gateway: TestClient, settings: Settings
) -> None:
    body = await (await gateway.get("/health")).json()
    assert "processes" not in body

    rasa = {
        "state": "restarting",
        "since": "2026-11-12T15:30:00+00:00",
        "pid": None,
        "restarts": 2,
        "last_exit": {
            "returncode": -9,
            "reason": "killed by SIGKILL",
            "at": "2026-11-12T15:30:00+00:00",
        },
        "next_start_at": "2026-11-12T15:30:02+00:00",
    }
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    write_status(
        status_path(settings.var_dir),
        {"supervisor": {"pid": os.getpid()}, "children": {"rasa": rasa}},
    )
    body = await (await gateway.get("/health")).json()
    assert body["processes"]["children"] == {"rasa": rasa}
    assert body["processes"]["supervisor"]["running"] is True

    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    write_status(
        status_path(settings.var_dir),
        {"supervisor": {"pid": gone.pid}, "children": {"rasa": rasa}},
    )
    body = await (await gateway.get("/health")).json()
    assert body["processes"]["supervisor"]["running"] is False


async def test_by_default_no_page_hands_out_identities(gateway: TestClient) -> None:
    for path in ("/", "/?customer=c-1002", "/?anonymous=1"):
        response = await gateway.get(path)
        assert response.status == 404
        assert "data-token" not in await response.text()


@pytest.mark.demo_shop
async def test_the_demo_shop_says_it_is_a_demo(gateway: TestClient) -> None:
    page = await (await gateway.get("/?anonymous=1")).text()
    assert "This is a demo page" in page
    assert "must never be on for a real shop" in page


async def test_health_details_only_for_this_machine_or_the_health_token(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, rasa: RasaDouble
) -> None:
    # The test client connects from 127.0.0.1; as a trusted proxy it speaks for a remote buyer.
    behind_proxy = with_gateway(
        settings, trusted_proxies=("127.0.0.1",), health_token="health-secret-123"
    )
    client = await aiohttp_client(create_app(behind_proxy))
    remote = {"X-Forwarded-For": "203.0.113.9"}
    response = await client.get("/health", headers=remote)
    assert response.status == 200
    assert await response.json() == {"status": "ok"}
    assert rasa.url not in await response.text()

    rasa.down = True
    response = await client.get("/health", headers=remote)
    assert (response.status, await response.json()) == (503, {"status": "degraded"})

    wrong = await client.get("/health", headers={**remote, "Authorization": "Bearer nope"})
    assert "checks" not in await wrong.json()
    right = await client.get(
        "/health", headers={**remote, "Authorization": "Bearer health-secret-123"}
    )
    assert (await right.json())["checks"]["rasa"]["ok"] is False
    local = await client.get("/health")
    assert "checks" in await local.json()
