"""The shop API's request and response bodies, as JSON Schema (draft 2020-12) written once.

Views validate requests with :func:`check` against these, and :mod:`bot.api.openapi` puts the
same dicts in the OpenAPI 3.1 document (whose schema dialect is this draft). An order's fields
are checked by :mod:`bot.refunds.order_rows`, as the import file's are; :data:`ORDER_PUT`
describes them for readers of the document.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from bot.refunds.enums import OrderStatus, ReasonCategory, RefundMethod, RefundStatus, Review
from bot.refunds.order_rows import MAX_MONEY, MAX_QUANTITY, REQUIRED_FIELDS
from bot.refunds.outbox import EVENT_TYPES

Schema = dict[str, Any]

MONEY: Schema = {
    "type": "string",
    "pattern": r"^[0-9]{1,10}\.[0-9]{2}$",
    "description": "A decimal amount as a string, in the order's currency.",
    "examples": ["42.50"],
}
AMOUNT_IN: Schema = {
    "type": "string",
    "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$",
    "description": "A decimal amount as a string (never a JSON number), at most two decimals.",
}
TIMESTAMP: Schema = {"type": "string", "format": "date-time", "description": "ISO-8601, UTC."}
NULLABLE_TIMESTAMP: Schema = {"type": ["string", "null"], "format": "date-time"}
NOTE: Schema = {"type": "string", "minLength": 1, "maxLength": 1000}
ORDER_ID: Schema = {"type": "string", "pattern": "^[0-9]{12,19}$", "description": "12-19 digits."}

#: The values each path parameter takes, by name.
PATH_PARAMETERS: dict[str, Schema] = {
    "order_id": ORDER_ID,
    "reference": {
        "type": "string",
        "minLength": 1,
        "description": "An application's reference (`RF-` and eight letters and digits).",
        "examples": ["RF-6P38WEBJ"],
    },
    "webhook_id": {"type": "integer", "minimum": 1},
}


def _enum(values: Any) -> Schema:
    return {"type": "string", "enum": [v.value for v in values]}


def _object(properties: Schema, required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


ITEM: Schema = _object(
    {
        "sku": {"type": "string", "minLength": 1, "maxLength": 64},
        "title": {"type": "string", "minLength": 1, "maxLength": 300},
        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        "unit_price": MONEY,
    }
)

ORDER_PUT: Schema = {
    **_object(
        {
            "order_id": ORDER_ID,
            "customer_id": {"type": "string", "minLength": 1, "maxLength": 64},
            "customer_email": {"type": "string", "format": "email", "maxLength": 254},
            "customer_name": {"type": ["string", "null"], "maxLength": 200},
            "status": _enum(OrderStatus),
            "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
            "total": {
                "oneOf": [AMOUNT_IN, {"type": "integer", "minimum": 1, "maximum": int(MAX_MONEY)}]
            },
            "paid_at": TIMESTAMP,
            "ship_by": TIMESTAMP,
            "shipped_at": NULLABLE_TIMESTAMP,
            "promised_delivery_by": TIMESTAMP,
            "delivered_at": NULLABLE_TIMESTAMP,
            "items": {"type": "array", "minItems": 1, "items": ITEM},
        },
        required=[f for f in REQUIRED_FIELDS if f != "order_id"],
    ),
    "description": (
        "An order with the fields of the import file (`refundbot orders import`). `order_id` "
        "may be left out; when given it must be the one in the path. A shipped order needs "
        "`shipped_at`, a delivered one `delivered_at` too."
    ),
}

EVENT: Schema = _object(
    {
        "from_status": {"type": ["string", "null"]},
        "to_status": {"type": "string"},
        "actor": {"type": "string"},
        "note": {"type": ["string", "null"]},
        "at": TIMESTAMP,
    }
)

ACTIONS: Schema = {
    "type": "array",
    "items": {
        "type": "string",
        "enum": ["approve", "reject", "request-info", "return-received", "refunded"],
    },
}

_REFUND_FIELDS: Schema = {
    "reference": {"type": "string"},
    "order_id": {"type": "string"},
    "customer_id": {"type": "string"},
    "method": _enum(RefundMethod),
    "amount": MONEY,
    "compensation": MONEY,
    "currency": {"type": "string"},
    "reason_category": {
        "type": ["string", "null"],
        "enum": [*(c.value for c in ReasonCategory), None],
    },
    "reason": {"type": "string"},
    "status": _enum(RefundStatus),
    "review": _enum(Review),
    "review_due_at": NULLABLE_TIMESTAMP,
    "return_tracking": {"type": ["string", "null"]},
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "allowed_actions": ACTIONS,
}
REFUND: Schema = _object(_REFUND_FIELDS)
REFUND_DETAIL: Schema = _object({**_REFUND_FIELDS, "events": {"type": "array", "items": EVENT}})
REFUND_PAGE: Schema = _object(
    {
        "data": {"type": "array", "items": REFUND},
        "next_cursor": {
            "type": ["string", "null"],
            "description": "Pass as `cursor` for the next page; null on the last one.",
        },
    }
)

METHOD_OPTION: Schema = _object(
    {
        "method": _enum(RefundMethod),
        "offered": {"type": "boolean"},
        "max_amount": {**MONEY, "type": ["string", "null"]},
        "why_not": {"type": ["string", "null"], "description": "Code of the reason it is not."},
        "explanation": {"type": ["string", "null"]},
    }
)

ORDER: Schema = _object(
    {
        "order_id": {"type": "string"},
        "customer_id": {"type": "string"},
        "customer_email": {"type": "string"},
        "status": _enum(OrderStatus),
        "currency": {"type": "string"},
        "total": MONEY,
        "paid_at": TIMESTAMP,
        "ship_by": TIMESTAMP,
        "shipped_at": NULLABLE_TIMESTAMP,
        "promised_delivery_by": TIMESTAMP,
        "delivered_at": NULLABLE_TIMESTAMP,
        "updated_at": TIMESTAMP,
        "items": {"type": "array", "items": ITEM},
        "balance": _object(
            {
                "paid": MONEY,
                "refunded": MONEY,
                "requested": {
                    **MONEY,
                    "description": "Refunded or asked for by applications not rejected or "
                    "withdrawn.",
                },
                "refundable": MONEY,
            }
        ),
        "methods": {"type": "array", "items": METHOD_OPTION},
        "applications": {"type": "array", "items": REFUND},
    }
)

REFUND_CREATE: Schema = _object(
    {
        "method": _enum(RefundMethod),
        "amount": AMOUNT_IN,
        "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
        "reason_category": _enum(ReasonCategory),
    },
    required=["method", "amount", "reason"],
)

REVIEW: Schema = _object({"note": NOTE}, required=[])

EVENT_TYPE: Schema = {"type": "string", "enum": list(EVENT_TYPES)}
WEBHOOK_CREATE: Schema = _object(
    {
        "url": {
            "type": "string",
            "minLength": 1,
            "maxLength": 2000,
            "description": "An absolute https URL on a public host (plain http, or a host "
            "inside the network, only where the gateway allows it).",
        },
        "events": {"type": "array", "minItems": 1, "uniqueItems": True, "items": EVENT_TYPE},
    }
)
_WEBHOOK_FIELDS: Schema = {
    "id": {"type": "integer"},
    "url": {"type": "string"},
    "events": {"type": "array", "items": EVENT_TYPE},
    "created_at": TIMESTAMP,
}
WEBHOOK: Schema = _object(_WEBHOOK_FIELDS)
WEBHOOK_CREATED: Schema = _object(
    {
        **_WEBHOOK_FIELDS,
        "secret": {
            "type": "string",
            "description": "Signs every body (Refundbot-Signature); shown only this once.",
        },
    }
)
WEBHOOK_LIST: Schema = _object({"data": {"type": "array", "items": WEBHOOK}})
ATTEMPT: Schema = _object(
    {
        "at": TIMESTAMP,
        "status_code": {"type": ["integer", "null"]},
        "response_excerpt": {"type": ["string", "null"], "description": "The answer's start."},
        "duration_ms": {"type": "integer"},
        "error": {"type": ["string", "null"], "description": "Why no answer came (timeout, ...)."},
        "next_attempt_at": NULLABLE_TIMESTAMP,
    }
)
DELIVERY: Schema = _object(
    {
        "id": {"type": "integer", "description": "`refundbot webhooks retry ID` sends it again."},
        "event_id": {"type": "string"},
        "event_type": EVENT_TYPE,
        "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "created_at": TIMESTAMP,
        "next_attempt_at": NULLABLE_TIMESTAMP,
        "delivered_at": NULLABLE_TIMESTAMP,
        "attempts": {"type": "array", "items": ATTEMPT},
    }
)
DELIVERY_LOG: Schema = _object(
    {"data": {"type": "array", "items": DELIVERY, "description": "Newest first, at most 100."}}
)

HANDOFF: Schema = _object(
    {
        "conversation_id": {"type": "string"},
        "reason": {"type": "string", "description": "Why: buyer_asked, bot_failed, ..."},
        "detail": {"type": ["string", "null"]},
        "customer_id": {"type": ["string", "null"], "description": "null for an anonymous buyer"},
        "channel": {"type": "string"},
        "requested_at": TIMESTAMP,
    }
)
WEBHOOK_EVENT: Schema = _object(
    {
        "id": {"type": "string", "description": "The same on every retry: drop duplicates by it."},
        "type": EVENT_TYPE,
        "created_at": TIMESTAMP,
        "data": {
            "oneOf": [REFUND, HANDOFF],
            "description": "refund.*: the application as it was when the event happened; "
            "handoff.requested: the conversation handed to people.",
        },
    }
)

PROBLEM: Schema = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
                "required": ["field", "detail"],
            },
        },
        "allowed_actions": ACTIONS,
    },
    "required": ["type", "title", "status", "detail"],
}


def check(schema: Schema, body: object) -> list[dict[str, str]]:
    """Return each problem of ``body`` against ``schema`` as ``{"field", "detail"}``, by field."""
    errors: list[dict[str, str]] = []
    for error in _validator(id(schema), schema).iter_errors(body):
        where = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = [p for p in error.validator_value if p not in error.instance]
            errors.extend({"field": _join(where, p), "detail": "is required"} for p in missing)
        elif error.validator == "additionalProperties":
            known = set(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - known)
            errors.extend(
                {"field": _join(where, p), "detail": "is not a known field"} for p in unknown
            )
        else:
            errors.append({"field": where or "(body)", "detail": error.message})
    return sorted(errors, key=lambda e: e["field"])


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


_VALIDATORS: dict[int, Draft202012Validator] = {}


def _validator(key: int, schema: Schema) -> Draft202012Validator:
    # Built once per schema: building checks the schema itself, which costs more than using it.
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = _VALIDATORS[key] = Draft202012Validator(schema)
    return validator
