"""One line about an order or an application, and lists of them, as buyers read them."""

from __future__ import annotations

from actions.common import method_name, order_summary, state_words
from bot.messages import date, money, text
from bot.refunds.models import Order, RefundApplication


def describe_order(order: Order, *, language: str) -> str:
    """Return one line about an order's state and its next deadline, in ``language``."""
    facts = {
        "name": order_summary(order, language=language),
        "state": state_words(order.status, language=language),
        "total": money(order.total, order.currency, language=language),
    }
    if order.status == "awaiting_shipment":
        ship_by = date(order.ship_by, language=language)
        return text("order.line_ship_by", language=language, ship_by=ship_by, **facts)
    if order.status == "shipped" and order.shipped_at:
        return text(
            "order.line_shipped",
            language=language,
            shipped=date(order.shipped_at, language=language),
            promised=date(order.promised_delivery_by, language=language),
            **facts,
        )
    if order.status == "delivered" and order.delivered_at:
        delivered = date(order.delivered_at, language=language)
        return text("order.line_delivered", language=language, delivered=delivered, **facts)
    return text("order.line", language=language, **facts)


def describe_application(application: RefundApplication, *, language: str) -> str:
    """Return one line about a refund application, in ``language``."""
    facts = {
        "reference": application.reference,
        "order_id": application.order_id,
        "method": method_name(application.method, language=language).lower(),
        "amount": money(application.amount, application.currency, language=language),
        "state": state_words(application.status, language=language),
    }
    if application.status == "pending_review" and application.review_due_at:
        due = date(application.review_due_at, language=language)
        return text("application.line_due", language=language, due=due, **facts)
    return text("application.line", language=language, **facts)


def bullet_list(lines: list[str], *, language: str) -> str:
    """Return lines as a bulleted list, one per line."""
    return "\n".join(text("list.item", language=language, line=line) for line in lines)
