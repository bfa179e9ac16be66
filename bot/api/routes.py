"""Every route of the shop API: one table that both mounts the views and documents them.

Each :class:`Route` names its scope, its request and response schemas and the errors it can
answer; :func:`setup` adds the routes to the gateway app behind the key check, and
:mod:`bot.api.openapi` builds the OpenAPI document from the same table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.api import docs, openapi, orders, refunds, schemas, webhooks
from bot.api.credentials import Caller
from bot.api.edge import authorize
from bot.api.problems import PREFIX
from bot.refunds.review import ReviewAction

View = Callable[[web.Request, Caller], Awaitable[web.Response]]


@dataclass(frozen=True)
class Route:
    """One operation: where, who may call it, what it takes and what it answers."""

    method: str
    path: str
    view: View
    scope: str
    summary: str
    ok: int
    response: schemas.Schema | None
    request: schemas.Schema | None = None
    parameters: list[dict[str, Any]] = field(default_factory=list)
    errors: tuple[int, ...] = ()
    idempotent_post: bool = False


def _query(name: str, description: str, schema: schemas.Schema) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_LISTING = [
    _query("status", "Comma-separated statuses.", {"type": "string"}),
    _query("order_id", "Only this order's applications.", {"type": "string"}),
    _query("customer_id", "Only this customer's applications.", {"type": "string"}),
    _query("created_after", "Only those filed after this time.", schemas.TIMESTAMP),
    _query("limit", "Page size (default 50).", {"type": "integer", "minimum": 1, "maximum": 100}),
    _query("cursor", "The previous page's next_cursor.", {"type": "string"}),
]

ROUTES: list[Route] = [
    Route(
        "PUT",
        "/orders/{order_id}",
        orders.put_order,
        "orders:write",
        "Create or update an order",
        200,
        schemas.ORDER,
        schemas.ORDER_PUT,
        errors=(409, 422),
    ),
    Route(
        "GET",
        "/orders/{order_id}",
        orders.get_order,
        "orders:read",
        "Read an order: balance, methods allowed now, applications",
        200,
        schemas.ORDER,
        errors=(404,),
    ),
    Route(
        "POST",
        "/orders/{order_id}/refunds",
        orders.create_refund,
        "refunds:write",
        "File a refund on the order as the seller",
        201,
        schemas.REFUND_DETAIL,
        schemas.REFUND_CREATE,
        errors=(404, 422),
        idempotent_post=True,
    ),
    Route(
        "GET",
        "/refunds",
        refunds.list_refunds,
        "refunds:read",
        "List refund applications, newest first",
        200,
        schemas.REFUND_PAGE,
        parameters=_LISTING,
        errors=(422,),
    ),
    Route(
        "GET",
        "/refunds/{reference}",
        refunds.get_refund,
        "refunds:read",
        "Read a refund application with its events",
        200,
        schemas.REFUND_DETAIL,
        errors=(404,),
    ),
    *(
        Route(
            "POST",
            f"/refunds/{{reference}}/{action.value.replace('_', '-')}",
            refunds.review_handler(action),
            "refunds:write",
            f"Review: {action.value.replace('_', ' ')}",
            200,
            schemas.REFUND_DETAIL,
            schemas.REVIEW,
            errors=(404, 409, 422),
            idempotent_post=True,
        )
        for action in ReviewAction
    ),
    Route(
        "POST",
        "/webhooks",
        webhooks.create,
        "webhooks:write",
        "Subscribe a URL to events; the answer holds its signing secret, once",
        201,
        schemas.WEBHOOK_CREATED,
        schemas.WEBHOOK_CREATE,
        errors=(422,),
        idempotent_post=True,
    ),
    Route(
        "GET",
        "/webhooks",
        webhooks.listing,
        "webhooks:write",
        "List the webhooks",
        200,
        schemas.WEBHOOK_LIST,
    ),
    Route(
        "GET",
        "/webhooks/{webhook_id}",
        webhooks.read,
        "webhooks:write",
        "Read a webhook",
        200,
        schemas.WEBHOOK,
        errors=(404,),
    ),
    Route(
        "DELETE",
        "/webhooks/{webhook_id}",
        webhooks.remove,
        "webhooks:write",
        "Delete a webhook: nothing more is sent to it",
        204,
        None,
        errors=(404,),
    ),
    Route(
        "GET",
        "/webhooks/{webhook_id}/deliveries",
        webhooks.deliveries,
        "webhooks:write",
        "The webhook's latest deliveries, each with its attempts and answers",
        200,
        schemas.DELIVERY_LOG,
        errors=(404,),
    ),
]


def setup(app: web.Application) -> None:
    """Add the shop API's routes, its OpenAPI document and its reference page to the app."""
    for route in ROUTES:
        app.router.add_route(route.method, PREFIX + route.path, _guarded(route))
    document = openapi.document(ROUTES)

    async def serve_document(_: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get(PREFIX + "/openapi.json", serve_document)
    docs.setup(app)


def _guarded(route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        caller = await authorize(request, route.scope)
        return await route.view(request, caller)

    return handle
