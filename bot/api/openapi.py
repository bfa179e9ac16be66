"""The OpenAPI 3.1 document of the shop API, built from the route table and its schemas.

Nothing here is written by hand beside the views: each operation comes from a
:class:`bot.api.routes.Route`, its bodies are the :mod:`bot.api.schemas` the views validate with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.api import schemas
from bot.api.credentials import SCOPES
from bot.api.idempotency import HEADER
from bot.api.problems import CONTENT_TYPE, PREFIX, TITLES

if TYPE_CHECKING:
    from bot.api.routes import Route

_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


def document(routes: Sequence[Route]) -> dict[str, Any]:
    """Return the OpenAPI document for ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "refundbot shop API",
            "version": "1",
            "description": (
                "Orders in, refund applications out, reviewed by the shop. Send "
                "`Authorization: Bearer KEY` (`refundbot api-key add`). Money is a decimal "
                f"string, times ISO-8601 UTC. Scopes: {', '.join(SCOPES)}. Errors are "
                f"`{CONTENT_TYPE}` (RFC 9457)."
            ),
        },
        "paths": paths,
        "webhooks": {"event": _webhook()},
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": schemas.PROBLEM},
        },
        "security": [{"apiKey": []}],
    }


def _webhook() -> dict[str, Any]:
    """Return what the shop's endpoint receives (``POST /api/v1/webhooks`` subscribes it)."""
    header = {"in": "header", "required": True, "schema": {"type": "string"}}
    return {
        "post": {
            "summary": "An event, POSTed to each webhook subscribed to its type",
            "description": (
                "`Refundbot-Signature: t=UNIX,v1=HEX`, HEX being the hex HMAC-SHA256 of "
                '`f"{t}.{raw body}"` with the webhook\'s secret. Any 2xx answer delivers it; '
                "otherwise it is sent again with growing delays for 24 hours."
            ),
            "security": [],
            "parameters": [
                {"name": "Refundbot-Signature", **header},
                {"name": "Refundbot-Event-Id", **header},
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schemas.WEBHOOK_EVENT}},
            },
            "responses": {"2XX": {"description": "Received"}},
        }
    }


def _operation(route: Route) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": schemas.PATH_PARAMETERS[name]}
        for name in _PATH_PARAMETER.findall(route.path)
    ]
    parameters += route.parameters
    if route.idempotent_post:
        parameters.append(
            {
                "name": HEADER,
                "in": "header",
                "required": False,
                "description": "Retry safely: the same key and body replay the first answer.",
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    responses: dict[str, Any] = {
        str(route.ok): {"description": "No content"}
        if route.response is None
        else {"description": "OK", "content": {"application/json": {"schema": route.response}}}
    }
    bodies = (413, 415) if route.request is not None else ()
    for status in sorted({400, 401, 403, *bodies, *route.errors}):
        responses[str(status)] = {
            "description": TITLES[status],
            "content": {CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    if route.method == "PUT":
        responses["201"] = {**responses[str(route.ok)], "description": "Created"}
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": route.summary,
        # The scope the key needs: OpenAPI 3.1 lets a requirement of any scheme name its roles.
        "security": [{"apiKey": [route.scope]}],
        "parameters": parameters,
        "responses": responses,
    }
    if route.request is not None:
        operation["requestBody"] = {
            "required": route.method == "PUT" or route.request is not schemas.REVIEW,
            "content": {"application/json": {"schema": route.request}},
        }
    return operation


def _operation_id(route: Route) -> str:
    # PUT /orders/{order_id}/refunds -> putOrdersByOrderIdRefunds
    words = re.findall(r"[a-z]+", route.path.replace("{", " by "))
    return route.method.lower() + "".join(w.capitalize() for w in words)
