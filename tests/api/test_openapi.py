"""The OpenAPI document: generated from the route table, covering every route the app serves."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator

from bot.api import schemas
from bot.api.routes import ROUTES
from bot.settings import Settings
from tests.api.helpers import api_key, auth, order_body

#: What the gateway serves under /api/v1 for people and tools, not as an operation of the API.
NOT_OPERATIONS = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/{name}"}


async def test_every_api_route_is_documented(gateway: TestClient) -> None:
    response = await gateway.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"] == "3.1.0"

    served = {
        (route.method.lower(), route.resource.canonical)
        for route in gateway.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.resource.canonical not in NOT_OPERATIONS
        and route.method != "HEAD"
    }
    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert served == documented
    assert len(served) == 15

    scopes = {(r.method.lower(), "/api/v1" + r.path): r.scope for r in ROUTES}
    for path, operations in document["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in operations.items():
            given = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert given == names
            assert {"401", "403"} <= set(operation["responses"])
            assert operation["security"] == [{"apiKey": [scopes[(method, path)]]}]
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert "postOrdersByOrderIdRefunds" in ids
    assert "getWebhooksByWebhookIdDeliveries" in ids


def test_the_schemas_are_valid_json_schema() -> None:
    for route in ROUTES:
        for schema in (route.request, route.response):
            if schema is not None:
                Draft202012Validator.check_schema(schema)
    Draft202012Validator.check_schema(schemas.PROBLEM)
    Draft202012Validator.check_schema(schemas.WEBHOOK_EVENT)


def test_path_parameters_document_the_values_that_reach_the_view() -> None:
    # Each value a path parameter's schema allows is one the route matches: never empty (that
    # is another path), and an order number the PUT can take.
    for name, schema in schemas.PATH_PARAMETERS.items():
        Draft202012Validator.check_schema(schema)
        assert not Draft202012Validator(schema).is_valid(""), name
    order_id = Draft202012Validator(schemas.PATH_PARAMETERS["order_id"])
    assert order_id.is_valid("8041235566701234")
    assert not order_id.is_valid("80412355667012x4")
    assert Draft202012Validator(schemas.PATH_PARAMETERS["webhook_id"]).is_valid(7)


async def test_responses_match_their_documented_schemas(
    gateway: TestClient, settings: Settings
) -> None:
    document = await (await gateway.get("/api/v1/openapi.json")).json()
    key = api_key(settings)

    async def call(method: str, template: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await gateway.request(method, path, headers=auth(key), **kwargs)
        documented = document["paths"]["/api/v1" + template][method.lower()]["responses"]
        assert str(response.status) in documented, await response.text()
        content = documented[str(response.status)]["content"]
        [(media_type, spec)] = content.items()
        assert response.content_type == media_type
        schema = spec["schema"]
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        body: dict[str, Any] = await response.json()
        assert schemas.check(schema, body) == []
        return body

    order = "/orders/8041235566701234"
    await call("PUT", "/orders/{order_id}", f"/api/v1{order}", json=order_body())
    await call("PUT", "/orders/{order_id}", f"/api/v1{order}", json=order_body(total=1.5))
    await call("GET", "/orders/{order_id}", f"/api/v1{order}")
    await call("GET", "/orders/{order_id}", "/api/v1/orders/8041235566700000")
    refund = {"method": "no_return_refund", "amount": "1.00", "reason": "scratched"}
    filed = await call("POST", "/orders/{order_id}/refunds", f"/api/v1{order}/refunds", json=refund)
    await call("POST", "/orders/{order_id}/refunds", f"/api/v1{order}/refunds", json={"amount": 1})
    await call("GET", "/refunds", "/api/v1/refunds?limit=1")
    await call("GET", "/refunds", "/api/v1/refunds?limit=x")
    reference = filed["reference"]
    await call("GET", "/refunds/{reference}", f"/api/v1/refunds/{reference}")
    await call(
        "POST", "/refunds/{reference}/approve", f"/api/v1/refunds/{reference}/approve", json={}
    )
    hooks = "/api/v1/webhooks"
    created = await call(
        "POST",
        "/webhooks",
        hooks,
        json={"url": "https://shop.example/hooks", "events": ["refund.created"]},
    )
    await call("POST", "/webhooks", hooks, json={"url": "ftp://x", "events": ["refund.nope"]})
    await call("GET", "/webhooks", hooks)
    await call("GET", "/webhooks/{webhook_id}", f"{hooks}/{created['id']}")
    await call("GET", "/webhooks/{webhook_id}", f"{hooks}/999")
    await call("GET", "/webhooks/{webhook_id}/deliveries", f"{hooks}/{created['id']}/deliveries")
    deleted = await gateway.delete(f"{hooks}/{created['id']}", headers=auth(key))
    assert deleted.status == 204
    assert "204" in document["paths"][hooks + "/{webhook_id}"]["delete"]["responses"]
