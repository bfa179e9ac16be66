"""One line about an order or an application, and lists of them, as buyers read them."""

from __future__ import annotations

from actions.common import method_name, order_summary, state_words
from bot.messages import date, money, text
from bot.refunds.models import Order, RefundApplication


def describe_order(order: Order) -> str:
    """Return one line about an order's state and its next deadline."""
    facts = {
        "name": order_summary(order),
        "state": state_words(order.status),
        "total": money(order.total, order.currency),
    }
    if order.status == "awaiting_shipment":
        return text("order.line_ship_by", ship_by=date(order.ship_by), **facts)
    if order.status == "shipped" and order.shipped_at:
        return text(
            "order.line_shipped",
            shipped=date(order.shipped_at),
            promised=date(order.promised_delivery_by),
            **facts,
        )
    if order.status == "delivered" and order.delivered_at:
        return text("order.line_delivered", delivered=date(order.delivered_at), **facts)
    return text("order.line", **facts)


def describe_application(application: RefundApplication) -> str:
    """Return one line about a refund application."""
    facts = {
        "reference": application.reference,
        "order_id": application.order_id,
        "method": method_name(application.method).lower(),
        "amount": money(application.amount, application.currency),
        "state": state_words(application.status),
    }
    if application.status == "pending_review" and application.review_due_at:
        return text("application.line_due", due=date(application.review_due_at), **facts)
    return text("application.line", **facts)


def bullet_list(lines: list[str]) -> str:
    """Return lines as a bulleted list, one per line."""
    return "\n".join(text("list.item", line=line) for line in lines)
