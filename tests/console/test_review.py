"""Refund review: each decision changes the store, writes an audited event, tells the buyer once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.gateway import keys
from bot.gateway.identity import make_token
from bot.gateway.notifier import notify_once
from bot.handoff.models import Handoff
from bot.refunds import review, store
from bot.refunds.enums import RefundMethod
from bot.refunds.errors import ReasonError, TransitionNotAllowed
from bot.refunds.models import RefundApplication
from bot.settings import Settings
from tests.console.agents import Console, client_of
from tests.factories import NOW, submit_for_review
from tests.gateway.webchat_client import bot_text, frame

A = review.ReviewAction


def new_application(
    factory: sessionmaker,
    method: RefundMethod = RefundMethod.RETURN_AND_REFUND,
    conversation_id: str | None = None,
    key: str = "k1",
) -> str:
    with factory.begin() as session:
        application = submit_for_review(
            session,
            amount=Decimal("40.00"),
            method=method,
            conversation_id=conversation_id,
            key=key,
        )
        return str(application.reference)


def act(
    factory: sessionmaker, reference: str, action: review.ReviewAction, note: str | None = None
) -> str:
    with factory.begin() as session:
        application = review.get_application(session, reference=reference)
        review.review(
            session, application=application, action=action, actor="agent:ana", now=NOW, note=note
        )
        return str(application.status)


def trail(factory: sessionmaker, reference: str) -> list[tuple[str | None, str, str, str | None]]:
    with factory.begin() as session:
        application = review.get_application(session, reference=reference)
        return [
            (e.from_status, e.to_status, e.actor, e.note)
            for e in store.events_of(session, application_id=application.id)
        ]


def test_return_and_refund_through_review(session_factory: sessionmaker) -> None:
    reference = new_application(session_factory)
    with session_factory.begin() as session:
        application = review.get_application(session, reference=reference)
        assert review.available_actions(application) == [A.APPROVE, A.REJECT, A.REQUEST_INFO]
    assert (
        act(session_factory, reference, A.REQUEST_INFO, "Is the box damaged too?")
        == "pending_review"
    )
    assert act(session_factory, reference, A.APPROVE) == "awaiting_return"
    with pytest.raises(TransitionNotAllowed):
        act(session_factory, reference, A.REFUNDED)
    assert act(session_factory, reference, A.RETURN_RECEIVED) == "return_received"
    assert act(session_factory, reference, A.REFUNDED) == "refunded"
    for action in A:
        with pytest.raises(TransitionNotAllowed):
            act(session_factory, reference, action, "note")
    assert trail(session_factory, reference)[1:] == [
        ("pending_review", "pending_review", "agent:ana", "Is the box damaged too?"),
        ("pending_review", "approved", "agent:ana", None),
        ("approved", "awaiting_return", "system", None),
        ("awaiting_return", "return_received", "agent:ana", None),
        ("return_received", "refunded", "agent:ana", None),
    ]


def test_rejection_needs_a_reason_and_ends_the_application(session_factory: sessionmaker) -> None:
    reference = new_application(session_factory)
    with pytest.raises(ReasonError):
        act(session_factory, reference, A.REJECT, "  ")
    with pytest.raises(ReasonError):
        act(session_factory, reference, A.REQUEST_INFO)
    assert act(session_factory, reference, A.REJECT, "Photos show no damage.") == "rejected"
    with pytest.raises(TransitionNotAllowed):
        act(session_factory, reference, A.APPROVE)
    assert trail(session_factory, reference)[-1] == (
        "pending_review",
        "rejected",
        "agent:ana",
        "Photos show no damage.",
    )


async def test_console_review_tells_the_buyer_once(
    server: TestServer, settings: Settings, ana: Console, session_factory: sessionmaker
) -> None:
    buyer = await client_of(server)
    ws = await buyer.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "token": make_token("test-shop-secret", "c-1001")})
    welcome = await frame(ws, "welcome")
    conversation_id = welcome["session"].rpartition(".")[0]
    reference = new_application(session_factory, conversation_id=conversation_id)
    other = new_application(session_factory, conversation_id=conversation_id, key="k2")

    listed = await ana.get("/console/api/applications?status=pending_review")
    assert {a["reference"] for a in listed} == {reference, other}
    assert (await ana.client.get("/console/api/applications?status=bogus")).status == 400

    base = f"/console/api/applications/{reference}"
    refused = await ana.post(f"{base}/refunded")
    assert refused.status == 409
    assert (await ana.post(f"{base}/reject", {"note": ""})).status == 400

    asked = await ana.ok(f"{base}/request_info", {"note": "Could you send a photo of the seam?"})
    assert asked["status"] == "pending_review"
    message = await bot_text(ws)
    assert message["text"] == (
        f"About your refund application {reference}, the merchant asks: Could you send a photo "
        "of the seam? Please answer here."
    )
    # The conversation stays with the bot, which attaches the buyer's answer to the application.
    with session_factory.begin() as session:
        assert session.execute(select(Handoff)).first() is None

    approved = await ana.ok(f"{base}/approve")
    assert approved["status"] == "awaiting_return"
    assert approved["actions"] == ["request_info", "return_received"]
    assert "approved for return" in (await bot_text(ws))["text"]
    await ana.ok(f"{base}/return_received")
    assert "received the item you returned" in (await bot_text(ws))["text"]
    await ana.ok(f"{base}/refunded")
    assert (await bot_text(ws))["text"] == (
        f"Your refund of 40.00 USD for application {reference} has been paid."
    )
    # The satisfaction survey follows a payout.
    assert "from 1 (poor) to 5 (excellent)" in (await bot_text(ws))["text"]
    await ana.ok(f"/console/api/applications/{other}/reject", {"note": "Bought 40 days ago."})
    assert (await bot_text(ws))["text"] == (
        f"Your refund application {other} was not approved. Note from the merchant: "
        "Bought 40 days ago."
    )
    detail = await ana.get(base)
    assert [e["to"] for e in detail["events"]] == [
        "pending_review",
        "pending_review",
        "approved",
        "awaiting_return",
        "return_received",
        "refunded",
    ]
    assert {e["actor"] for e in detail["events"][1:]} == {"agent:ana", "system"}

    # Nothing is told twice.
    assert await notify_once(server.app[keys.OUTBOUND], server.app[keys.SESSIONS]) == 0
    with pytest.raises(asyncio.TimeoutError):
        await frame(ws, "message", timeout=0.3)
    with session_factory.begin() as session:
        statuses = session.execute(select(RefundApplication.status)).scalars().all()
    assert sorted(statuses) == ["refunded", "rejected"]
    await ws.close()
    await buyer.close()
