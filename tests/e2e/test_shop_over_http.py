"""The shop API's "done when": a shop with only HTTP follows a widget refund through, for real.

Real processes all the way: the action server on this test's database (SQLite, and PostgreSQL
where it is configured), Rasa with the trained model, the gateway on a port. The shop pushes an
order with ``PUT /api/v1/orders/{id}`` and subscribes a webhook; its buyer, signed in to the
widget with the shop's token, types a refund request for that order and answers the form in
words (the corpus's ``typed_return_it_all_of_it_damaged_yes``, played by its WebSocket buyer);
the shop receives ``refund.created``, approves over the API, the buyer's socket is told, and
``refund.approved`` arrives. Each delivery is checked as the README's receiver checks it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bench.accounts import Account
from bench.client import WidgetBuyer
from bench.scripted import load_scripts, play
from bot.api.delivery import EVENT_ID_HEADER, SIGNATURE_HEADER
from bot.api.models import WebhookAttempt
from bot.gateway.app import create_app
from bot.gateway.identity import make_token
from bot.messages import text as message_text
from bot.refunds import store
from bot.refunds.db import get_sessionmaker
from bot.settings import PROJECT_ROOT, GatewaySettings, Settings
from tests.api.helpers import api_key, auth, order_body, put_order, subscribe
from tests.api.receiver import Received, Receiver, readme_verified, receiver
from tests.conftest import db_url
from tests.e2e.realstack import Stack
from tests.gateway.doubles import wait_until

# The shared db_url (SQLite, and PostgreSQL when configured), not the folder's SQLite one.
__all__ = ["db_url", "receiver"]

pytestmark = pytest.mark.rasa

SCRIPT = "typed_return_it_all_of_it_damaged_yes"
ORDER = "5100440081927364"  # the shop's own: no demo order has this number
CUSTOMER = "c-7001"
REFERENCE = re.compile(r"\bRF-[A-Z0-9]{8}\b")
#: From the buyer's "yes" or the shop's approval to the event or the notice, on a busy machine;
#: the worker and the notifier look every 0.1 s here.
DEADLINE_SECONDS = 15.0


def shop_settings(stack: Stack, tmp_path: Path) -> Settings:
    """The gateway on the stack's database, Rasa and actions; its background work looks often."""
    return Settings(
        var_dir=tmp_path / "var",
        database_url=stack.database_url,
        rasa_url=stack.rasa_url,
        rasa_token=stack.rasa_token,
        action_server_url=stack.action_server_url,
        gateway=GatewaySettings(
            shop_secret=stack.shop_secret,
            notify_interval_seconds=0.1,
            webhook_poll_seconds=0.1,
            # The receiver listens on http://127.0.0.1; a shop's real one would be https, on a
            # public address.
            webhook_allow_http=True,
            webhook_allow_private=True,
        ),
    )


async def shown_by_api(shop: TestClient, key: str, reference: str) -> dict[str, Any]:
    """Return the application as ``GET /api/v1/refunds/{reference}`` shows it, without events."""
    response = await shop.get(f"/api/v1/refunds/{reference}", headers=auth(key))
    assert response.status == 200, await response.text()
    shown: dict[str, Any] = await response.json()
    del shown["events"]
    return shown


def check_delivery(delivery: Received, secret: str, stored: dict[str, Any]) -> dict[str, Any]:
    """Check the signature as the README's receiver does and the data against the store."""
    assert readme_verified(secret)(delivery.headers[SIGNATURE_HEADER], delivery.body, time.time())
    event = delivery.event
    assert delivery.headers[EVENT_ID_HEADER] == event["id"]
    assert {name: event["data"][name] for name in stored} == stored
    return event


def events_once(receiver: Receiver, database_url: str) -> list[Received]:
    """Return the first delivery of each event, as the README's receiver keeps them.

    Delivery is at least once: an attempt the gateway counts as failed (no answer in time on a
    busy machine) is sent again, and must be the same bytes under the same event id.
    """
    first: dict[str, Received] = {}
    for delivery in receiver.received:
        kept = first.setdefault(delivery.event["id"], delivery)
        assert kept.body == delivery.body, f"a retry changed the body: {attempts(database_url)}"
    if len(first) < len(receiver.received):
        print(f"sent again: {attempts(database_url)}")  # shown when the test fails
    return list(first.values())


def attempts(database_url: str) -> list[tuple[Any, ...]]:
    """Every recorded webhook attempt: delivery, time, status code, error."""
    with get_sessionmaker(database_url).begin() as session:
        rows = session.execute(
            select(
                WebhookAttempt.delivery_id,
                WebhookAttempt.at,
                WebhookAttempt.status_code,
                WebhookAttempt.error,
            ).order_by(WebhookAttempt.id)
        )
        return [tuple(row) for row in rows]


def stored_fields(database_url: str, reference: str) -> dict[str, Any]:
    with get_sessionmaker(database_url).begin() as session:
        found = store.find_application(session, reference=reference, customer_id=CUSTOMER)
        return found.fields()


async def test_a_shop_with_only_http_follows_a_widget_refund_through(
    real_stack_on_db: Stack,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    stack = real_stack_on_db
    settings = shop_settings(stack, tmp_path)
    server = await aiohttp_server(create_app(settings), host="127.0.0.1")
    shop = await aiohttp_client(server)
    key = api_key(settings)  # the operator's `refundbot api-key create`, given to the shop

    # The shop: an order of its own for a customer of its own, and a webhook to its receiver.
    pushed = await put_order(shop, key, ORDER, order_body(CUSTOMER))
    assert (pushed["order_id"], pushed["customer_id"]) == (ORDER, CUSTOMER)
    hook = await subscribe(shop, key, receiver.url)

    # The buyer, signed in by the shop's token, files the refund in the widget, typing.
    [script] = [s for s in load_scripts([PROJECT_ROOT / "tests" / "scripted"]) if s.name == SCRIPT]
    account = Account(CUSTOMER, f"{CUSTOMER}@example.com", {"LAMP": ORDER})
    async with aiohttp.ClientSession() as browser:
        buyer = await WidgetBuyer.connect(
            browser,
            str(server.make_url("/webchat/ws")),
            token=make_token(stack.shop_secret, CUSTOMER, 3600),
            quiet_seconds=0.75,  # as the corpus plays
        )
        try:
            outcome = await play(script, buyer, account)
            assert outcome.passed, outcome.describe()
            [reference] = REFERENCE.findall(outcome.turns[-1].text)

            await wait_until(
                lambda: bool(receiver.events("refund.created")), DEADLINE_SECONDS, "refund.created"
            )
            filed = stored_fields(stack.database_url, reference)
            assert {k: filed[k] for k in ("order_id", "method", "amount", "status")} == {
                "order_id": ORDER,
                "method": "return_and_refund",
                "amount": "42.50",
                "status": "pending_review",
            }
            [delivered] = events_once(receiver, stack.database_url)
            created = check_delivery(delivered, hook["secret"], filed)
            assert created["type"] == "refund.created"
            assert created["data"] == await shown_by_api(shop, key, reference)

            # The shop approves over the API; the buyer hears of it in the open widget.
            approve = await shop.post(f"/api/v1/refunds/{reference}/approve", headers=auth(key))
            assert approve.status == 200, await approve.text()
            assert (await approve.json())["status"] == "awaiting_return"
            notice = message_text("status.awaiting_return", reference=reference)
            heard: list[str] = []
            deadline = time.monotonic() + DEADLINE_SECONDS
            while notice not in heard and time.monotonic() < deadline:
                turn = await buyer.listen(wait=deadline - time.monotonic())
                heard += [reply.text for reply in turn.replies]
            assert notice in heard, f"the buyer heard {heard}"
        finally:
            await buyer.close()

    await wait_until(
        lambda: len(receiver.events("refund.approved")) > 0, DEADLINE_SECONDS, "refund.approved"
    )
    approved_now = stored_fields(stack.database_url, reference)
    assert approved_now["status"] == "awaiting_return"
    # The event carries the application as the approval left it, before it went on.
    at_approval = {**approved_now, "status": "approved"}
    first, second = events_once(receiver, stack.database_url)
    assert first.event["id"] == created["id"]
    approved = check_delivery(second, hook["secret"], at_approval)
    assert approved["type"] == "refund.approved"
    shown_now = await shown_by_api(shop, key, reference)
    assert approved["data"] == {**shown_now, "status": "approved", "allowed_actions": ["refunded"]}
    assert approved["id"] != created["id"]
