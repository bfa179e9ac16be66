"""``/api/v1/orders``: the shop pushes orders, reads one, and files a refund on one.

An order is checked exactly as a row of the import file is (:mod:`bot.refunds.order_rows`) and
stored by :func:`bot.refunds.imports.import_orders`; a seller's refund goes through
:func:`bot.refunds.store.submit_application`, the policy's checks included, with the seller as
the one who filed it.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.api import idempotency, present, schemas
from bot.api.credentials import Caller
from bot.api.edge import json_body
from bot.api.problems import Problem, invalid
from bot.clock import utcnow
from bot.gateway import keys, transcript
from bot.messages import text
from bot.refunds import store
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.errors import AmountError, MethodNotOffered, OrderNotFound, ReasonError
from bot.refunds.imports import import_orders
from bot.refunds.models import Order
from bot.refunds.order_rows import validate_row
from bot.refunds.policy import WHY_NOT_CODES
from bot.refunds.reading import is_order_id

#: The field a problem of :mod:`bot.refunds.order_rows` is about: the words it starts with.
_LISTED = re.compile(r"(?:missing|unknown field) (.+)")
_STATUS_DATE = re.compile(r"status \w+ (?:needs|but) (\w+)")
_LEADING = re.compile(r"(?:unknown )?([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+)?)")


def row_fields(message: str) -> list[str]:
    """Return the fields an order row's problem names (``items.0.sku``), read from its text."""
    if listed := _LISTED.fullmatch(message):
        return [f.strip() for f in listed.group(1).split(",")]
    if status_date := _STATUS_DATE.match(message):
        return [status_date.group(1)]
    if message.startswith("row must be"):
        return ["(body)"]
    leading = _LEADING.match(message)
    field = leading.group(1) if leading else "(body)"
    return [re.sub(r"\[(\d+)\]", r".\1", field)]


async def put_order(request: web.Request, caller: Caller) -> web.Response:
    """Create or update the order; 201 when it is new, 200 otherwise."""
    order_id = request.match_info["order_id"]
    if not is_order_id(order_id):
        raise invalid([{"field": "order_id", "detail": "an order number is 12-19 digits"}])
    body, _ = await json_body(request)
    if not isinstance(body, dict):
        raise invalid([{"field": "(body)", "detail": "send one order as a JSON object"}])
    if body.get("order_id", order_id) != order_id:
        raise invalid([{"field": "order_id", "detail": "differs from the order in the path"}])
    row = {**body, "order_id": order_id}
    now = utcnow()
    _, problems = validate_row(0, row, now=now)
    if problems:
        raise invalid(
            [
                {"field": field, "detail": p.message}
                for p in problems
                for field in row_fields(p.message)
            ]
        )
    policy = request.app[keys.SETTINGS].policy

    def work(session: Session) -> tuple[int, dict[str, Any]]:
        report = import_orders(session, rows=[row], now=now)
        if report.problems:
            raise Problem(409, "order-conflict", report.problems[0].message)
        order: Order = session.get(Order, order_id)
        return (201 if report.created else 200), present.order(
            session, order, now=now, settings=policy
        )

    status, answer = await transcript.run_in_session(request.app[keys.SESSIONS], work)
    return web.json_response(answer, status=status)


async def get_order(request: web.Request, caller: Caller) -> web.Response:
    """Return the order, its balance, the methods allowed now and its applications."""
    order_id = request.match_info["order_id"]
    policy = request.app[keys.SETTINGS].policy

    def read(session: Session) -> dict[str, Any] | None:
        order: Order | None = session.get(Order, order_id)
        if order is None:
            return None
        return present.order(session, order, now=utcnow(), settings=policy)

    answer = await transcript.run_in_session(request.app[keys.READ_SESSIONS], read)
    if answer is None:
        raise Problem(404, "not-found", f"no order {order_id}")
    return web.json_response(answer)


async def create_refund(request: web.Request, caller: Caller) -> web.Response:
    """File a refund on the order as the seller, with the checks the chat makes."""
    order_id = request.match_info["order_id"]
    body, _ = await json_body(request)
    errors = schemas.check(schemas.REFUND_CREATE, body)
    if errors:
        raise invalid(errors)
    method = RefundMethod(body["method"])
    amount = Decimal(body["amount"])
    category = ReasonCategory(body["reason_category"]) if "reason_category" in body else None
    settings = request.app[keys.SETTINGS].policy

    def work(session: Session) -> tuple[int, dict[str, Any]]:
        order: Order | None = session.get(Order, order_id)
        if order is None:
            raise Problem(404, "not-found", f"no order {order_id}")
        try:
            submission = store.submit_application(
                session,
                customer_id=order.customer_id,
                order_id=order.id,
                method=method,
                amount=amount,
                reason=body["reason"],
                reason_category=category,
                idempotency_key=f"api:{uuid.uuid4().hex}",
                conversation_id=None,
                now=utcnow(),
                settings=settings,
                actor=caller.actor,
            )
        except OrderNotFound as e:
            raise Problem(404, "not-found", f"no order {order_id}") from e
        except MethodNotOffered as e:
            why = e.params.get("why_not", "")
            key = f"why_not.{why}" if why in WHY_NOT_CODES else "why_not.other"
            explanation = text(key, days=settings.protection_window_days)
            raise invalid(
                [{"field": "method", "detail": explanation}],
                f"{method.value} is not offered for this order: {explanation}",
                code=why or "method_not_offered",
            ) from e
        except AmountError as e:
            raise invalid([{"field": "amount", "detail": str(e)}], str(e), code=e.code) from e
        except ReasonError as e:
            field = "reason_category" if e.code == "category_missing" else "reason"
            raise invalid([{"field": field, "detail": str(e)}], str(e), code=e.code) from e
        return 201, present.application_detail(session, submission.application)

    return await idempotency.run(request, caller, body, work)
