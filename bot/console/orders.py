"""The seller's back-office: find an order, read it as the shop API shows it, start a refund.

Every signed-in agent may search and read orders; only merchants and admins
(:attr:`bot.console.models.Role.files_refunds`) may start a refund. A refund goes through
:func:`bot.refunds.store.submit_application`, the chat's and the API's policy checks included,
with ``merchant:<name>`` as the one who filed it; the notifier tells the buyer. The order page
carries a fresh form token, and a refund is filed once per token, so a double submit files one.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.api import present
from bot.clock import utcnow
from bot.console import keys, queries
from bot.console.conversations import json_body
from bot.console.session import current_agent
from bot.gateway import inputs, transcript
from bot.gateway import keys as gateway_keys
from bot.refunds import store
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.errors import (
    AmountError,
    MethodNotOffered,
    OrderNotFound,
    ReasonError,
    RefundError,
)
from bot.refunds.models import Order
from bot.refunds.reading import is_order_id

MAX_QUERY_CHARS = 254
MAX_REASON_CHARS = 2000
AMOUNT = re.compile(r"\d{1,9}(?:\.\d{1,2})?")
FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


class Refused(Exception):
    """A refund the form cannot take: ``field`` is the input to correct."""

    def __init__(self, field: str, message: str, code: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


def refused(error: Refused) -> web.Response:
    """Return a refusal as the order page's form shows it beside its field."""
    return web.json_response(
        {"error": str(error), "field": error.field, "code": error.code}, status=422
    )


async def search(request: web.Request) -> web.Response:
    """Find orders by number, customer id or e-mail (``?q=``); a bounded list with ``more``."""
    query = request.query.get("q", "")
    if len(query) > MAX_QUERY_CHARS or not inputs.storable(query):
        raise web.HTTPBadRequest(text="q: give an order number, a customer id or an e-mail")
    found = await transcript.run_in_session(
        request.app[gateway_keys.READ_SESSIONS],
        lambda s: queries.search_orders(s, query=query),
    )
    return web.json_response(found)


async def order(request: web.Request) -> web.Response:
    """Return an order with its balance, the methods allowed now, its applications, a form token."""
    order_id = request.match_info["id"]
    if not is_order_id(order_id):
        raise web.HTTPNotFound(text="no such order")
    settings = request.app[gateway_keys.SETTINGS].policy
    agent = current_agent(request)

    def read(session: Session) -> dict[str, Any] | None:
        found: Order | None = session.get(Order, order_id)
        if found is None:
            return None
        shown = present.order(session, found, now=utcnow(), settings=settings)
        applications = store.list_applications(session, order_id=found.id)
        return shown | {
            "applications": [queries.application_json(a) for a in applications],
            "reason_categories": [c.value for c in ReasonCategory],
            "can_refund": agent.role.files_refunds,
            "form_token": secrets.token_urlsafe(24) if agent.role.files_refunds else None,
        }

    data = await transcript.run_in_session(request.app[gateway_keys.READ_SESSIONS], read)
    if data is None:
        raise web.HTTPNotFound(text="no such order")
    return web.json_response(data)


async def start_refund(request: web.Request) -> web.Response:
    """File a refund for the order as the signed-in merchant; 201, or 200 for a repeated form."""
    agent = current_agent(request)
    if not agent.role.files_refunds:
        raise web.HTTPForbidden(text="only a merchant or an admin may start a refund")
    body = await json_body(request)
    try:
        method, amount, reason, category, token = _form(body)
    except Refused as e:
        return refused(e)
    order_id = request.match_info["id"]
    if not is_order_id(order_id):
        raise web.HTTPNotFound(text="no such order")
    settings = request.app[gateway_keys.SETTINGS].policy
    now = utcnow()

    def work(session: Session) -> tuple[bool, dict[str, Any]]:
        found: Order | None = session.get(Order, order_id)
        if found is None:
            raise OrderNotFound(f"no order {order_id}")
        try:
            submission = store.submit_application(
                session,
                customer_id=found.customer_id,
                order_id=found.id,
                method=method,
                amount=amount,
                reason=reason,
                reason_category=category,
                idempotency_key=f"console:{agent.name}:{token}",
                conversation_id=None,
                now=now,
                settings=settings,
                actor=f"merchant:{agent.name}",
            )
        except MethodNotOffered as e:
            # The order page's own words for why the method is not offered now.
            shown = present.order(session, found, now=now, settings=settings)
            why = next(m["explanation"] for m in shown["methods"] if m["method"] == method.value)
            raise Refused("method", why or str(e), e.code) from e
        except AmountError as e:
            raise Refused("amount", str(e), e.code) from e
        except ReasonError as e:
            field = "reason_category" if e.code == "category_missing" else "reason"
            raise Refused(field, str(e), e.code) from e
        return submission.created, queries.application_json(submission.application)

    try:
        created, data = await transcript.run_in_session(request.app[gateway_keys.SESSIONS], work)
    except OrderNotFound as e:
        raise web.HTTPNotFound(text="no such order") from e
    except Refused as e:
        return refused(e)
    except RefundError as e:
        # The form's token was used for another order: the page is stale.
        raise web.HTTPConflict(text="this form was already used; reload the order") from e
    if created:
        await request.app[keys.HUB].publish({"type": "application", "reference": data["reference"]})
    return web.json_response(data, status=201 if created else 200)


def _form(
    body: dict[str, Any],
) -> tuple[RefundMethod, Decimal, str, ReasonCategory | None, str]:
    """Return the form's method, amount, reason, reason category and token, or raise Refused."""
    try:
        method = RefundMethod(body.get("method"))
    except ValueError as e:
        raise Refused("method", "choose a refund method", "method_missing") from e
    raw_amount = body.get("amount")
    if not isinstance(raw_amount, str) or not AMOUNT.fullmatch(raw_amount.strip()):
        raise Refused("amount", "give the amount as a number, like 12.50", "amount_unreadable")
    reason = body.get("reason")
    if not isinstance(reason, str) or not inputs.storable(reason):
        raise Refused("reason", "give a reason", "missing")
    if len(reason) > MAX_REASON_CHARS:
        raise Refused("reason", f"keep the reason under {MAX_REASON_CHARS} characters", "too_long")
    raw_category = body.get("reason_category") or None
    try:
        category = None if raw_category is None else ReasonCategory(raw_category)
    except ValueError as e:
        raise Refused("reason_category", "choose a reason category", "category_unknown") from e
    token = body.get("form_token")
    if not isinstance(token, str) or not FORM_TOKEN.fullmatch(token):
        raise Refused("form_token", "this form has expired; reload the order", "form_expired")
    return method, Decimal(raw_amount.strip()), reason, category, token
