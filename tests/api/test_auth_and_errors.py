"""Keys and errors at the edge of the shop API: 401/403, problem+json for every failure."""

from __future__ import annotations

import hashlib

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.api.credentials import authenticate, revoke_key
from bot.api.models import ApiKey
from bot.clock import utcnow
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.api.helpers import api_key, auth, problem

ORDER = "/api/v1/orders/8041235566701234"


async def test_requests_without_a_valid_key_are_401(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings)
    prefix = key.split("_")[1]
    wrong_secret = f"rbk_{prefix}_" + "A" * 43
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not-a-key"},
        auth(wrong_secret),
        auth("rbk_000000000000_" + key.split("_", 2)[2]),
    ):
        response = await gateway.get(ORDER, headers=headers)
        body = await problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert body["type"].endswith("/unauthorized")

    assert (await gateway.get(ORDER, headers=auth(key))).status == 404  # valid key: no such order
    with get_sessionmaker(settings.database_url).begin() as session:
        revoke_key(session, name="shop", now=utcnow())
    await problem(await gateway.get(ORDER, headers=auth(key)), 401)


async def test_a_key_without_the_scope_is_403(gateway: TestClient, settings: Settings) -> None:
    key = api_key(settings, "refunds:read")
    body = await problem(await gateway.get(ORDER, headers=auth(key)), 403)
    assert body["scope"] == "orders:read"
    await problem(await gateway.put(ORDER, json={}, headers=auth(key)), 403)
    assert (await gateway.get("/api/v1/refunds", headers=auth(key))).status == 200


async def test_only_a_hash_of_the_secret_is_stored_and_found_by_prefix(settings: Settings) -> None:
    key = api_key(settings, "orders:read", "refunds:read")
    _, prefix, secret = key.split("_", 2)
    with get_sessionmaker(settings.database_url).begin() as session:
        row = session.execute(select(ApiKey)).scalar_one()
        assert row.prefix == prefix
        assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in row.secret_hash
        assert row.scopes == "orders:read refunds:read"
        caller = authenticate(session, token=key)
        assert caller is not None
        assert caller.actor == "seller:shop"
        assert caller.scopes == {"orders:read", "refunds:read"}


async def test_every_error_under_the_api_is_problem_json(
    gateway: TestClient, settings: Settings
) -> None:
    key = api_key(settings)
    body = await problem(await gateway.get("/api/v1/nothing-here", headers=auth(key)), 404)
    assert body["type"].endswith("/not-found")
    await problem(await gateway.get("/api/v1/nothing-here"), 404)
    response = await gateway.delete(ORDER, headers=auth(key))
    await problem(response, 405)
    assert "GET" in response.headers["Allow"]
    await problem(
        await gateway.put(
            ORDER,
            data=b'{"customer_id": ',
            headers=auth(key, **{"Content-Type": "application/json"}),
        ),
        400,
    )
    await problem(
        await gateway.put(ORDER, data=b"x" * (300 * 1024), headers=auth(key)),
        413,
    )
    await problem(
        await gateway.put(
            ORDER, data=b"customer_id=1", headers=auth(key, **{"Content-Type": "text/plain"})
        ),
        415,
    )
    deep = b"[" * 100 + b"]" * 100
    await problem(
        await gateway.put(
            ORDER, data=deep, headers=auth(key, **{"Content-Type": "application/json"})
        ),
        400,
    )
    nul = b'{"customer_id": "a\\u0000b"}'
    await problem(
        await gateway.put(
            ORDER, data=nul, headers=auth(key, **{"Content-Type": "application/json"})
        ),
        400,
    )
    # Paths outside the API keep their own errors.
    outside = await gateway.get("/nothing-here")
    assert outside.status == 404
    assert outside.content_type != "application/problem+json"
