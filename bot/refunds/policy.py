"""The refund policy as pure functions: what may be refunded, how, how much, and by whom.

Everything here is deterministic and free of I/O; the store supplies facts and ``now``.
Thresholds come from :class:`bot.settings.PolicySettings`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from bot.refunds.enums import OrderStatus, RefundMethod, RefundStatus, Review, ReviewAction
from bot.refunds.errors import AmountError, MethodNotOffered, ReasonError, TransitionNotAllowed
from bot.refunds.reading import CENT
from bot.settings import PolicySettings

#: Statuses whose amount no longer counts against the order's refundable balance.
RELEASED_STATUSES = frozenset({RefundStatus.REJECTED, RefundStatus.WITHDRAWN})

#: Statuses a buyer may still withdraw from.
WITHDRAWABLE_STATUSES = frozenset(
    {RefundStatus.PENDING_REVIEW, RefundStatus.APPROVED, RefundStatus.AWAITING_RETURN}
)

TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.PENDING_REVIEW: frozenset(
        {RefundStatus.APPROVED, RefundStatus.REJECTED, RefundStatus.WITHDRAWN}
    ),
    RefundStatus.APPROVED: frozenset(
        {RefundStatus.AWAITING_RETURN, RefundStatus.REFUNDED, RefundStatus.WITHDRAWN}
    ),
    RefundStatus.AWAITING_RETURN: frozenset({RefundStatus.RETURN_RECEIVED, RefundStatus.WITHDRAWN}),
    RefundStatus.RETURN_RECEIVED: frozenset({RefundStatus.REFUNDED}),
    RefundStatus.REFUNDED: frozenset(),
    RefundStatus.REJECTED: frozenset(),
    RefundStatus.WITHDRAWN: frozenset(),
}


class Fault(str, Enum):
    """A problem the merchant caused, which makes the full amount refundable with compensation."""

    NOT_SHIPPED_IN_TIME = "not_shipped_in_time"
    LATE_DELIVERY = "late_delivery"


@dataclass(frozen=True)
class OrderFacts:
    """What the policy needs to know about an order."""

    status: OrderStatus
    currency: str
    total: Decimal
    committed: Decimal
    """Already refunded or requested (applications not rejected or withdrawn)."""
    ship_by: dt.datetime
    promised_delivery_by: dt.datetime
    shipped_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None

    @property
    def balance(self) -> Decimal:
        """What can still be refunded."""
        return max(self.total - self.committed, Decimal("0.00")).quantize(CENT)


@dataclass(frozen=True)
class MethodOption:
    """One refund method for one order: offered or not, and why not."""

    method: RefundMethod
    offered: bool
    why_not: str | None = None
    """Stable code of the reason it is not offered (one of ``WHY_NOT_CODES``)."""
    max_amount: Decimal | None = None


@dataclass(frozen=True)
class Decision:
    """How a submitted application proceeds."""

    review: Review
    fault: Fault | None
    compensation: Decimal
    review_due_at: dt.datetime | None


#: Why a method is not offered: the stable codes of ``MethodOption.why_not`` (the buyer's words
#: for each are in :mod:`bot.messages`, ``why_not.<code>``).
WHY_NOT_CODES = frozenset(
    {
        "not_shipped",
        "already_shipped",
        "not_delivered",
        "window_closed",
        "cancelled",
        "nothing_left",
    }
)


def merchant_fault(order: OrderFacts, now: dt.datetime) -> Fault | None:
    """Return the merchant-caused problem the order has right now, if any."""
    if order.status is OrderStatus.AWAITING_SHIPMENT and now > order.ship_by:
        return Fault.NOT_SHIPPED_IN_TIME
    if order.status is OrderStatus.SHIPPED and now > order.promised_delivery_by:
        return Fault.LATE_DELIVERY
    return None


def protection_ends(order: OrderFacts, policy: PolicySettings) -> dt.datetime | None:
    """Return when return-and-refund stops being offered, or None before delivery."""
    if order.delivered_at is None:
        return None
    return order.delivered_at + dt.timedelta(days=policy.protection_window_days)


def method_options(
    order: OrderFacts, now: dt.datetime, policy: PolicySettings
) -> list[MethodOption]:
    """Return every method with whether this order allows it now, in the order to present them."""
    balance = order.balance
    if order.status is OrderStatus.CANCELLED:
        return [MethodOption(m, False, "cancelled") for m in RefundMethod]
    if balance <= 0:
        return [MethodOption(m, False, "nothing_left") for m in RefundMethod]
    shipped = order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
    options: list[MethodOption] = []

    if shipped:
        options.append(MethodOption(RefundMethod.IMMEDIATE, False, "already_shipped"))
    else:
        options.append(MethodOption(RefundMethod.IMMEDIATE, True, max_amount=balance))

    if not shipped:
        options.append(MethodOption(RefundMethod.NO_RETURN, False, "not_shipped"))
    elif merchant_fault(order, now) is Fault.LATE_DELIVERY:
        options.append(MethodOption(RefundMethod.NO_RETURN, True, max_amount=balance))
    else:
        limit = min(balance, policy.no_return_threshold)
        options.append(MethodOption(RefundMethod.NO_RETURN, limit > 0, max_amount=limit))

    ends = protection_ends(order, policy)
    if order.status is not OrderStatus.DELIVERED or ends is None:
        why = "not_shipped" if not shipped else "not_delivered"
        options.append(MethodOption(RefundMethod.RETURN_AND_REFUND, False, why))
    elif now > ends:
        options.append(MethodOption(RefundMethod.RETURN_AND_REFUND, False, "window_closed"))
    else:
        options.append(MethodOption(RefundMethod.RETURN_AND_REFUND, True, max_amount=balance))
    return options


def offered_methods(
    order: OrderFacts, now: dt.datetime, policy: PolicySettings
) -> list[RefundMethod]:
    """Return the methods this order allows now."""
    return [o.method for o in method_options(order, now, policy) if o.offered]


def option_for(
    order: OrderFacts, method: RefundMethod, now: dt.datetime, policy: PolicySettings
) -> MethodOption:
    """Return the option for one method; raise :class:`MethodNotOffered` when it is not offered."""
    option = next(o for o in method_options(order, now, policy) if o.method is method)
    if not option.offered:
        raise MethodNotOffered(
            f"{method.value} not offered: {option.why_not}", why_not=option.why_not or ""
        )
    return option


def check_amount(
    order: OrderFacts,
    method: RefundMethod,
    amount: Decimal,
    now: dt.datetime,
    policy: PolicySettings,
) -> Decimal:
    """Return ``amount`` in cents when it may be refunded by ``method``; else raise AmountError."""
    if amount != amount.quantize(CENT):
        raise AmountError(
            "too_many_decimals", f"{amount} has more than two decimals", amount=str(amount)
        )
    amount = amount.quantize(CENT)
    if amount < 0:
        raise AmountError("negative", "amount is negative", amount=str(amount))
    if amount == 0:
        raise AmountError("zero", "amount is zero", amount=str(amount))
    option = option_for(order, method, now, policy)
    balance = order.balance
    if amount > balance:
        raise AmountError(
            "exceeds_balance",
            f"{amount} exceeds the refundable balance {balance}",
            amount=str(amount),
            balance=str(balance),
            currency=order.currency,
        )
    if option.max_amount is not None and amount > option.max_amount:
        raise AmountError(
            "exceeds_method_limit",
            f"{method.value} is limited to {option.max_amount}",
            amount=str(amount),
            limit=str(option.max_amount),
            currency=order.currency,
        )
    return amount


def decide(
    order: OrderFacts,
    method: RefundMethod,
    amount: Decimal,
    now: dt.datetime,
    policy: PolicySettings,
) -> Decision:
    """Return who reviews an application for ``amount`` by ``method`` and what it adds."""
    check_amount(order, method, amount, now, policy)
    fault = merchant_fault(order, now)
    compensation = (
        (amount * policy.compensation_rate).quantize(CENT, rounding=ROUND_HALF_UP)
        if fault
        else Decimal("0.00")
    )
    if method is RefundMethod.IMMEDIATE or fault is not None:
        # A merchant-caused problem makes the amount refundable at once.
        review = Review.AUTOMATIC
    elif method is RefundMethod.NO_RETURN:
        review = Review.AUTOMATIC if amount <= policy.no_return_threshold else Review.MERCHANT
    else:
        review = Review.MERCHANT
    due = (
        now + dt.timedelta(days=policy.review_deadline_days) if review is Review.MERCHANT else None
    )
    return Decision(review=review, fault=fault, compensation=compensation, review_due_at=due)


#: The statuses each review action starts from.
ALLOWED_FROM: dict[ReviewAction, frozenset[RefundStatus]] = {
    ReviewAction.APPROVE: frozenset({RefundStatus.PENDING_REVIEW}),
    ReviewAction.REJECT: frozenset({RefundStatus.PENDING_REVIEW}),
    ReviewAction.REQUEST_INFO: frozenset(
        {RefundStatus.PENDING_REVIEW, RefundStatus.AWAITING_RETURN, RefundStatus.RETURN_RECEIVED}
    ),
    ReviewAction.RETURN_RECEIVED: frozenset({RefundStatus.AWAITING_RETURN}),
    ReviewAction.REFUNDED: frozenset({RefundStatus.APPROVED, RefundStatus.RETURN_RECEIVED}),
}


def review_actions(status: RefundStatus) -> list[ReviewAction]:
    """Return the review actions ``status`` allows, in the console's order."""
    return [action for action in ReviewAction if status in ALLOWED_FROM[action]]


def after_approval(method: RefundMethod) -> RefundStatus:
    """Return where an approved application goes next: the buyer sends the item back, or not."""
    if method is RefundMethod.RETURN_AND_REFUND:
        return RefundStatus.AWAITING_RETURN
    return RefundStatus.REFUNDED


def automatic_path(method: RefundMethod) -> list[RefundStatus]:
    """Return the statuses an automatically approved application passes through after review."""
    return [RefundStatus.APPROVED, after_approval(method)]


def check_transition(current: RefundStatus, target: RefundStatus) -> None:
    """Raise :class:`TransitionNotAllowed` unless ``current`` may become ``target``."""
    if target not in TRANSITIONS[current]:
        raise TransitionNotAllowed(
            f"cannot go from {current.value} to {target.value}",
            current=current.value,
            target=target.value,
        )


MIN_RETURN_DESCRIPTION_WORDS = 4
MIN_RETURN_DESCRIPTION_CHARS = 15


def check_reason(method: RefundMethod, text: str) -> str:
    """Return the reason, tidied, when it is enough for ``method``; else raise ReasonError.

    Return and refund needs a description the merchant can act on; the other methods a short one.
    """
    reason = " ".join(text.split())
    if len(reason) > 2000:
        raise ReasonError("too_long", "reason longer than 2000 characters")
    if method is RefundMethod.RETURN_AND_REFUND:
        words = re.findall(r"\w+", reason)
        if len(words) < MIN_RETURN_DESCRIPTION_WORDS or len(reason) < MIN_RETURN_DESCRIPTION_CHARS:
            raise ReasonError("too_short", "describe the problem in a few more words")
    elif len(re.findall(r"\w", reason)) < 2:
        raise ReasonError("missing", "a short reason is needed")
    return reason
