"""The refund store's vocabulary as plain enums: what the policy reasons about.

Nothing here imports SQLAlchemy, so :mod:`bot.refunds.policy` stays pure by construction; the
tables in :mod:`bot.refunds.models` store these values as strings.
"""

from __future__ import annotations

from enum import Enum


class OrderStatus(str, Enum):
    """Where an order is in its life."""

    AWAITING_SHIPMENT = "awaiting_shipment"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class RefundMethod(str, Enum):
    """The three refund methods of the policy."""

    IMMEDIATE = "immediate_refund"
    NO_RETURN = "no_return_refund"
    RETURN_AND_REFUND = "return_and_refund"


class RefundStatus(str, Enum):
    """States of a refund application; transitions live in :mod:`bot.refunds.policy`."""

    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    AWAITING_RETURN = "awaiting_return"
    RETURN_RECEIVED = "return_received"
    REFUNDED = "refunded"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Review(str, Enum):
    """Who decides on an application."""

    AUTOMATIC = "automatic"
    MERCHANT = "merchant"


class ReasonCategory(str, Enum):
    """Why a buyer returns an item (required for return and refund)."""

    QUALITY_PROBLEM = "quality_problem"
    NOT_AS_DESCRIBED = "not_as_described"
    WRONG_ITEM = "wrong_item"
    DAMAGED = "damaged"
    OTHER = "other"


class ReviewAction(str, Enum):
    """What a reviewer can do with an application (which statuses allow it: the policy)."""

    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_INFO = "request_info"
    RETURN_RECEIVED = "return_received"
    REFUNDED = "refunded"
