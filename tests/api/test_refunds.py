"""GET /api/v1/refunds and the review actions: pages, filters, events, 409 and 422."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from bot.refunds import store
from bot.refunds.db import get_sessionmaker
from bot.refunds.models import RefundApplication
from bot.settings import Settings
from tests.api.helpers import api_key, auth, problem
from tests.factories import submit_for_review


def file_many(settings: Settings, count: int, customer_id: str) -> list[str]:
    """File ``count`` applications at the same instant (so only ids order them); references."""
    with get_sessionmaker(settings.database_url).begin() as session:
        return [
            str(
                submit_for_review(
                    session, customer_id=customer_id, key=f"{customer_id}-{n}"
                ).reference
            )
            for n in range(count)
        ]


async def all_pages(client: TestClient, key: str, query: str) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    url = f"/api/v1/refunds?{query}"
    while True:
        response = await client.get(url, headers=auth(key))
        assert response.status == 200, await response.text()
        body = await response.json()
        pages.append(body["data"])
        if body["next_cursor"] is None:
            return pages
        url = f"/api/v1/refunds?{query}&cursor={body['next_cursor']}"


async def test_pages_cover_every_row_once_in_a_stable_order(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings, "refunds:read")
    ana = file_many(settings, 45, "c-1001")
    ben = file_many(settings, 7, "c-1002")

    pages = await all_pages(gateway, key, "limit=20")
    assert [len(p) for p in pages] == [20, 20, 12]
    seen = [a["reference"] for page in pages for a in page]
    assert sorted(seen) == sorted(ana + ben)
    assert seen == list(reversed(ana + ben))  # newest first; a tie on time is broken by id

    only_ben = await all_pages(gateway, key, "customer_id=c-1002&limit=5")
    assert [a["reference"] for p in only_ben for a in p] == list(reversed(ben))
    assert {a["customer_id"] for p in only_ben for a in p} == {"c-1002"}


async def test_filters_never_cross_customers_or_orders(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings, "refunds:read")
    [ana] = file_many(settings, 1, "c-1001")
    file_many(settings, 1, "c-1002")
    with get_sessionmaker(settings.database_url).begin() as session:
        order_id = session.query(RefundApplication).filter_by(reference=ana).one().order_id

    async def listed(query: str) -> list[str]:
        body = await (await gateway.get(f"/api/v1/refunds?{query}", headers=auth(key))).json()
        return [a["reference"] for a in body["data"]]

    assert await listed(f"order_id={order_id}") == [ana]
    assert await listed(f"order_id={order_id}&customer_id=c-1002") == []
    assert await listed("customer_id=c-9999") == []
    assert await listed("status=pending_review,approved&customer_id=c-1001") == [ana]
    assert await listed("status=refunded") == []
    assert await listed("created_after=2000-01-01T00:00:00Z&customer_id=c-1001") == [ana]
    assert await listed("created_after=2100-01-01T00:00:00Z") == []


async def test_bad_listing_parameters_are_422_by_field(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings, "refunds:read")
    response = await gateway.get(
        "/api/v1/refunds?status=lost&limit=0&cursor=xyz&created_after=yesterday&colour=red",
        headers=auth(key),
    )
    body = await problem(response, 422)
    assert [e["field"] for e in body["errors"]] == [
        "colour",
        "created_after",
        "cursor",
        "limit",
        "status",
    ]
    await problem(await gateway.get("/api/v1/refunds?limit=101", headers=auth(key)), 422)


async def test_review_actions_move_the_application_and_are_audited(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings, "refunds:read", "refunds:write", name="shop-backend")
    [reference] = file_many(settings, 1, "c-1001")
    url = f"/api/v1/refunds/{reference}"

    asked = await gateway.post(
        f"{url}/request-info", json={"note": "Please send a photo."}, headers=auth(key)
    )
    assert asked.status == 200
    approved = await gateway.post(f"{url}/approve", headers=auth(key))
    assert approved.status == 200, await approved.text()
    body = await approved.json()
    assert body["status"] == "awaiting_return"
    assert body["allowed_actions"] == ["request-info", "return-received"]
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in body["events"]][1:] == [
        ("pending_review", "pending_review", "seller:shop-backend"),
        ("pending_review", "approved", "seller:shop-backend"),
        ("approved", "awaiting_return", "system"),
    ]
    assert body["events"][1]["note"] == "Please send a photo."

    again = await problem(await gateway.post(f"{url}/approve", headers=auth(key)), 409)
    assert again["allowed_actions"] == ["request-info", "return-received"]
    assert again["status_now"] == "awaiting_return"
    no_reason = await problem(await gateway.post(f"{url}/request-info", headers=auth(key)), 422)
    assert no_reason["errors"][0]["field"] == "note"

    assert (await gateway.post(f"{url}/return-received", headers=auth(key))).status == 200
    paid = await gateway.post(f"{url}/refunded", json={"note": "paid"}, headers=auth(key))
    assert (await paid.json())["status"] == "refunded"
    detail = await (await gateway.get(url, headers=auth(key))).json()
    assert detail["allowed_actions"] == []
    assert detail["events"][-1]["actor"] == "seller:shop-backend"
    assert detail["amount"] == "80.00"


async def test_reject_needs_a_note_and_unknown_things_are_404(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings, "refunds:read", "refunds:write")
    [reference] = file_many(settings, 1, "c-1001")
    url = f"/api/v1/refunds/{reference}"
    body = await problem(await gateway.post(f"{url}/reject", json={}, headers=auth(key)), 422)
    assert body["errors"] == [
        {"field": "note", "detail": "a rejection needs a reason the buyer can read"}
    ]
    blank = await gateway.post(f"{url}/reject", json={"note": 5}, headers=auth(key))
    assert (await problem(blank, 422))["errors"][0]["field"] == "note"
    rejected = await gateway.post(
        f"{url}/reject", json={"note": "Used item, not eligible."}, headers=auth(key)
    )
    assert (await rejected.json())["status"] == "rejected"
    with get_sessionmaker(settings.database_url).begin() as session:
        application = session.query(RefundApplication).filter_by(reference=reference).one()
        last = store.events_of(session, application_id=application.id)[-1]
        assert (last.to_status, last.note) == ("rejected", "Used item, not eligible.")

    await problem(await gateway.get("/api/v1/refunds/RF-NOPE0000", headers=auth(key)), 404)
    await problem(await gateway.post("/api/v1/refunds/RF-NOPE0000/approve", headers=auth(key)), 404)
    await problem(await gateway.post(f"{url}/undo", headers=auth(key)), 404)


async def test_two_reviewers_at_once_decide_once(gateway: TestClient, settings: Settings) -> None:
    key = api_key(settings, "refunds:read", "refunds:write")
    [reference] = file_many(settings, 1, "c-1001")
    url = f"/api/v1/refunds/{reference}"

    responses = await asyncio.gather(
        gateway.post(f"{url}/approve", headers=auth(key)),
        gateway.post(f"{url}/reject", json={"note": "Out of policy."}, headers=auth(key)),
    )

    statuses = sorted(r.status for r in responses)
    assert statuses == [200, 409]
    loser = next(r for r in responses if r.status == 409)
    assert (await problem(loser, 409))["status_now"] in ("awaiting_return", "rejected")
    detail = await (await gateway.get(url, headers=auth(key))).json()
    decisions = [e for e in detail["events"] if e["actor"] == "seller:shop"]
    assert len(decisions) == 1


async def test_a_bad_idempotency_key_is_refused(gateway: TestClient, settings: Settings) -> None:
    key = api_key(settings, "refunds:write")
    [reference] = file_many(settings, 1, "c-1001")
    for bad in ("x" * 256, " "):
        response = await gateway.post(
            f"/api/v1/refunds/{reference}/approve",
            headers=auth(key, **{"Idempotency-Key": bad}),
        )
        await problem(response, 400)
    with get_sessionmaker(settings.database_url).begin() as session:
        application = session.query(RefundApplication).filter_by(reference=reference).one()
        assert application.status == "pending_review"
