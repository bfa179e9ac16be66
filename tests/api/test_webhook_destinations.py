"""Webhooks go to public addresses only, unless allowed: checked on creation and at each send."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.orm import sessionmaker
from yarl import URL

from bot.api import webhooks
from bot.api.destinations import client_session, inside
from bot.gateway.app import create_app
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.api.helpers import api_key, auth, problem
from tests.api.receiver import Receiver
from tests.api.worker import LOCAL, Clock, deliverer
from tests.factories import NOW, submit_for_review
from tests.gateway.doubles import with_gateway

INSIDE = [
    "https://127.0.0.1/hooks",
    "https://127.8.9.10:8443/hooks",
    "https://10.1.2.3/hooks",
    "https://172.16.0.9/hooks",
    "https://192.168.1.20/hooks",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/hooks",
    "https://0.0.0.0/hooks",
    "https://224.0.0.251/hooks",
    "https://255.255.255.255/hooks",
    "https://[::1]/hooks",
    "https://[::]/hooks",
    "https://[fe80::1]/hooks",
    "https://[fd00::5]/hooks",
    "https://[ff02::1]/hooks",
    "https://[::ffff:127.0.0.1]/hooks",
    "https://[::ffff:10.0.0.1]/hooks",
    "https://[2002:a00:1::1]/hooks",  # 6to4 of 10.0.0.1
    "https://localhost/hooks",
    "https://LOCALHOST:8443/hooks",
    "https://127.1/hooks",  # a loopback address the resolver spells out
]
PUBLIC = [
    "https://93.184.215.14/refundbot",
    "https://[2606:4700:4700::1111]/refundbot",
    "https://[::ffff:93.184.215.14]/refundbot",
]


async def create(client: TestClient, key: str, url: str) -> Any:
    return await client.post(
        "/api/v1/webhooks", json={"url": url, "events": ["refund.created"]}, headers=auth(key)
    )


async def test_webhooks_inside_the_network_are_refused_by_default(
    gateway: TestClient, settings: Settings
) -> None:
    assert settings.gateway.webhook_allow_private is False
    key = api_key(settings)
    for url in INSIDE:
        body = await problem(await create(gateway, key, url), 422)
        [error] = body["errors"]
        assert error["field"] == "url", url
        assert "webhooks only go to public addresses" in error["detail"], url
        assert "REFUNDBOT_WEBHOOK_ALLOW_PRIVATE" in error["detail"]
    [error] = (await problem(await create(gateway, key, "https://localhost/h"), 422))["errors"]
    assert error["detail"].startswith("localhost resolves to a loopback address")
    [error] = (await problem(await create(gateway, key, "https://10.1.2.3/h"), 422))["errors"]
    assert error["detail"].startswith("10.1.2.3 is a private address")

    for url in PUBLIC:  # addresses written out: nothing to look up, no network needed
        response = await create(gateway, key, url)
        assert response.status == 201, await response.text()
    listed = await (await gateway.get("/api/v1/webhooks", headers=auth(key))).json()
    assert [hook["url"] for hook in listed["data"]] == PUBLIC


async def test_a_name_that_resolves_nowhere_is_taken_and_checked_at_each_send(
    gateway: TestClient, settings: Settings
) -> None:
    response = await create(gateway, api_key(settings), "https://shop.example/refundbot")
    assert response.status == 201, await response.text()


async def test_development_may_allow_addresses_inside_the_network(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:
    client = await aiohttp_client(create_app(with_gateway(settings, webhook_allow_private=True)))
    key = api_key(settings)
    for url in ("https://127.0.0.1:8443/hooks", "https://localhost/hooks", "https://10.0.0.7/"):
        response = await create(client, key, url)
        assert response.status == 201, await response.text()
    # The other rules still hold.
    [error] = (await problem(await create(client, key, "https://u:p@10.0.0.7/"), 422))["errors"]
    assert error == {"field": "url", "detail": "credentials do not belong in the URL"}


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("10.255.0.1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a private address"),
        ("100.64.0.1", "not a public address"),
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a private address"),
        ("fec0::1", "a site-local address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:192.168.0.1", "a private address"),
        ("2002:7f00:1::1", "a loopback address"),
        ("64:ff9b::7f00:1", "a reserved address"),
        ("8.8.8.8", None),
        ("::ffff:8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_what_counts_as_inside_the_network(address: str, kind: str | None) -> None:
    assert inside(ipaddress.ip_address(address)) == kind


async def test_a_host_inside_the_network_is_refused_at_send_without_connecting(
    db_url: str, session_factory: sessionmaker, receiver: Receiver
) -> None:
    """Made while allowed (or while its name resolved elsewhere): the worker checks again."""
    port = URL(receiver.url).port
    urls = [receiver.url, f"http://localhost:{port}/hooks"]
    with get_sessionmaker(db_url).begin() as session:
        ids = [
            int(webhooks.create_webhook(session, url=u, events=["refund.created"], now=NOW)[0].id)
            for u in urls
        ]
        submit_for_review(session)

    strict = dataclasses.replace(LOCAL, webhook_allow_private=False)
    async with client_session(strict) as http:
        worker = deliverer(db_url, http, Clock(), webhook_allow_private=False)
        assert await worker.run_once() == 2

    assert receiver.received == []  # never connected to
    for hook_id in ids:
        with session_factory.begin() as session:
            [entry] = webhooks.delivery_log(session, webhook_id=hook_id)
        [attempt] = entry["attempts"]
        assert attempt["status_code"] is None
        assert attempt["error"].startswith("refused: "), attempt["error"]
        assert "loopback address" in attempt["error"]
        assert entry["status"] == "pending"  # tried again later, as any failed attempt
        assert attempt["next_attempt_at"] is not None


async def test_the_same_session_sends_where_allowed(
    db_url: str, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    port = URL(receiver.url).port
    with get_sessionmaker(db_url).begin() as session:
        webhooks.create_webhook(
            session, url=f"http://localhost:{port}/hooks", events=["refund.created"], now=NOW
        )
        submit_for_review(session)
    assert await deliverer(db_url, http, Clock()).run_once() == 1
    assert [e["type"] for e in receiver.events()] == ["refund.created"]
