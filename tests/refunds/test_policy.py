"""The refund policy: every row of the table in DESIGN.md and every boundary."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from bot.messages import MESSAGES
from bot.refunds import policy
from bot.refunds.enums import OrderStatus, RefundMethod, RefundStatus, Review
from bot.refunds.errors import AmountError, MethodNotOffered, ReasonError, TransitionNotAllowed
from bot.refunds.policy import Fault, OrderFacts
from bot.settings import PolicySettings

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
SETTINGS = PolicySettings()  # threshold 20.00, window 15 days, review 5 days, compensation 10 %
IMMEDIATE, NO_RETURN, RETURN = (
    RefundMethod.IMMEDIATE,
    RefundMethod.NO_RETURN,
    RefundMethod.RETURN_AND_REFUND,
)


def awaiting(**kw: object) -> OrderFacts:
    base = OrderFacts(
        status=OrderStatus.AWAITING_SHIPMENT,
        currency="USD",
        total=Decimal("50.00"),
        committed=Decimal("0.00"),
        ship_by=NOW + 3 * DAY,
        promised_delivery_by=NOW + 20 * DAY,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def shipped(**kw: object) -> OrderFacts:
    return replace(
        awaiting(status=OrderStatus.SHIPPED, ship_by=NOW - 2 * DAY, shipped_at=NOW - 3 * DAY),
        **kw,  # type: ignore[arg-type]
    )


def delivered(**kw: object) -> OrderFacts:
    return replace(
        shipped(status=OrderStatus.DELIVERED, delivered_at=NOW - 2 * DAY),
        **kw,  # type: ignore[arg-type]
    )


def options(order: OrderFacts, now: dt.datetime = NOW) -> dict[RefundMethod, policy.MethodOption]:
    return {o.method: o for o in policy.method_options(order, now, SETTINGS)}


def offered(order: OrderFacts, now: dt.datetime = NOW) -> dict[RefundMethod, str | None]:
    """Return each method mapped to None when offered, else to the why-not code."""
    return {m: (None if o.offered else o.why_not) for m, o in options(order, now).items()}


# --- which methods each order state allows --------------------------------------------------


def test_not_shipped_offers_only_immediate_refund_of_the_balance() -> None:
    order = awaiting(committed=Decimal("5.00"))
    assert offered(order) == {IMMEDIATE: None, NO_RETURN: "not_shipped", RETURN: "not_shipped"}
    assert options(order)[IMMEDIATE].max_amount == Decimal("45.00")
    assert policy.offered_methods(order, NOW, SETTINGS) == [IMMEDIATE]


def test_shipped_offers_no_return_up_to_the_threshold_only() -> None:
    order = shipped()
    assert offered(order) == {
        IMMEDIATE: "already_shipped",
        NO_RETURN: None,
        RETURN: "not_delivered",
    }
    assert options(order)[NO_RETURN].max_amount == Decimal("20.00")


def test_no_return_limit_is_the_balance_when_smaller_than_the_threshold() -> None:
    order = shipped(total=Decimal("12.00"))
    assert options(order)[NO_RETURN].max_amount == Decimal("12.00")


def test_delivered_within_window_offers_no_return_and_return_and_refund() -> None:
    order = delivered()
    assert offered(order) == {IMMEDIATE: "already_shipped", NO_RETURN: None, RETURN: None}
    assert options(order)[RETURN].max_amount == Decimal("50.00")
    assert policy.offered_methods(order, NOW, SETTINGS) == [NO_RETURN, RETURN]


def test_delivered_after_window_keeps_small_no_return_only() -> None:
    order = delivered(delivered_at=NOW - 40 * DAY)
    assert offered(order) == {
        IMMEDIATE: "already_shipped",
        NO_RETURN: None,
        RETURN: "window_closed",
    }


def test_protection_window_last_second_and_just_after() -> None:
    order = delivered(delivered_at=NOW - 15 * DAY)
    assert policy.protection_ends(order, SETTINGS) == NOW
    assert offered(order, NOW)[RETURN] is None
    assert offered(order, NOW + SECOND)[RETURN] == "window_closed"


def test_protection_window_follows_the_setting() -> None:
    order = delivered(delivered_at=NOW - 20 * DAY)
    wide = PolicySettings(protection_window_days=30)
    assert policy.option_for(order, RETURN, NOW, wide).offered
    with pytest.raises(MethodNotOffered) as e:
        policy.option_for(order, RETURN, NOW, SETTINGS)
    assert e.value.params == {"why_not": "window_closed"}


def test_protection_ends_is_none_before_delivery() -> None:
    assert policy.protection_ends(shipped(), SETTINGS) is None


def test_cancelled_order_offers_nothing() -> None:
    for order in (
        awaiting(status=OrderStatus.CANCELLED),
        shipped(status=OrderStatus.CANCELLED),
    ):
        assert offered(order) == dict.fromkeys(RefundMethod, "cancelled")


@pytest.mark.parametrize("make", [awaiting, shipped, delivered])
def test_nothing_left_offers_nothing(make: object) -> None:
    order = make(committed=Decimal("50.00"))  # type: ignore[operator]
    assert order.balance == Decimal("0.00")
    assert offered(order) == dict.fromkeys(RefundMethod, "nothing_left")


def test_option_for_raises_method_not_offered_with_the_reason() -> None:
    with pytest.raises(MethodNotOffered) as e:
        policy.option_for(awaiting(), RETURN, NOW, SETTINGS)
    assert e.value.code == "method_not_offered"
    assert e.value.params == {"why_not": "not_shipped"}


def test_every_why_not_code_has_words() -> None:
    codes = {
        o.why_not
        for order in (
            awaiting(),
            shipped(),
            delivered(delivered_at=NOW - 40 * DAY),
            awaiting(status=OrderStatus.CANCELLED),
            shipped(committed=Decimal("50.00")),
        )
        for o in policy.method_options(order, NOW, SETTINGS)
        if not o.offered
    }
    assert codes <= policy.WHY_NOT_CODES
    assert all(f"why_not.{code}" in MESSAGES for code in codes)


# --- balance ----------------------------------------------------------------------------------


def test_balance_is_total_minus_committed_never_negative() -> None:
    assert delivered(committed=Decimal("12.34")).balance == Decimal("37.66")
    assert delivered(committed=Decimal("60.00")).balance == Decimal("0.00")


def test_rejected_and_withdrawn_are_the_released_statuses() -> None:
    assert policy.RELEASED_STATUSES == {RefundStatus.REJECTED, RefundStatus.WITHDRAWN}


def test_amount_up_to_the_balance_and_one_cent_more() -> None:
    order = delivered(committed=Decimal("30.00"))
    assert policy.check_amount(order, RETURN, Decimal("20.00"), NOW, SETTINGS) == Decimal("20.00")
    with pytest.raises(AmountError) as e:
        policy.check_amount(order, RETURN, Decimal("20.01"), NOW, SETTINGS)
    assert e.value.code == "exceeds_balance"
    assert e.value.params == {
        "amount": "20.01",
        "balance": "20.00",
        "currency": "USD",
    }


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Decimal("0"), "zero"),
        (Decimal("0.00"), "zero"),
        (Decimal("-1.00"), "negative"),
        (Decimal("1.005"), "too_many_decimals"),
    ],
)
def test_amount_errors(amount: Decimal, code: str) -> None:
    with pytest.raises(AmountError) as e:
        policy.check_amount(delivered(), RETURN, amount, NOW, SETTINGS)
    assert e.value.code == code


def test_amount_for_a_method_not_offered_is_method_not_offered() -> None:
    with pytest.raises(MethodNotOffered):
        policy.check_amount(shipped(), IMMEDIATE, Decimal("1.00"), NOW, SETTINGS)


# --- no-return threshold ----------------------------------------------------------------------


def test_no_return_exactly_at_the_threshold_is_automatic() -> None:
    decision = policy.decide(delivered(), NO_RETURN, Decimal("20.00"), NOW, SETTINGS)
    assert decision == policy.Decision(
        review=Review.AUTOMATIC, fault=None, compensation=Decimal("0.00"), review_due_at=None
    )


def test_no_return_one_cent_above_the_threshold_is_refused() -> None:
    with pytest.raises(AmountError) as e:
        policy.decide(delivered(), NO_RETURN, Decimal("20.01"), NOW, SETTINGS)
    assert e.value.code == "exceeds_method_limit"
    assert e.value.params == {"amount": "20.01", "limit": "20.00", "currency": "USD"}


def test_threshold_follows_the_setting() -> None:
    low = PolicySettings(no_return_threshold=Decimal("5.00"))
    assert policy.check_amount(delivered(), NO_RETURN, Decimal("5.00"), NOW, low)
    with pytest.raises(AmountError):
        policy.check_amount(delivered(), NO_RETURN, Decimal("5.01"), NOW, low)


# --- review, deadlines and merchant faults ---------------------------------------------------


def test_immediate_refund_is_automatic_without_compensation_before_ship_by() -> None:
    decision = policy.decide(awaiting(), IMMEDIATE, Decimal("50.00"), NOW, SETTINGS)
    assert decision.review is Review.AUTOMATIC
    assert decision.fault is None
    assert decision.compensation == Decimal("0.00")


def test_return_and_refund_goes_to_the_merchant_with_a_review_deadline() -> None:
    decision = policy.decide(delivered(), RETURN, Decimal("50.00"), NOW, SETTINGS)
    assert decision.review is Review.MERCHANT
    assert decision.review_due_at == NOW + 5 * DAY
    assert decision.compensation == Decimal("0.00")


def test_ship_by_deadline_exactly_and_one_second_after() -> None:
    order = awaiting(ship_by=NOW)
    assert policy.merchant_fault(order, NOW) is None
    assert policy.merchant_fault(order, NOW + SECOND) is Fault.NOT_SHIPPED_IN_TIME


def test_not_shipped_in_time_refunds_in_full_with_compensation() -> None:
    order = awaiting(ship_by=NOW - 2 * DAY, total=Decimal("55.00"))
    assert options(order)[IMMEDIATE].max_amount == Decimal("55.00")
    decision = policy.decide(order, IMMEDIATE, Decimal("55.00"), NOW, SETTINGS)
    assert decision.fault is Fault.NOT_SHIPPED_IN_TIME
    assert decision.review is Review.AUTOMATIC
    assert decision.compensation == Decimal("5.50")


def test_compensation_rounds_half_up_to_cents() -> None:
    order = awaiting(ship_by=NOW - DAY)
    decision = policy.decide(order, IMMEDIATE, Decimal("0.05"), NOW, SETTINGS)
    assert decision.compensation == Decimal("0.01")  # 0.005 rounds up


def test_promised_delivery_deadline_exactly_and_one_second_after() -> None:
    order = shipped(promised_delivery_by=NOW)
    assert policy.merchant_fault(order, NOW) is None
    assert options(order, NOW)[NO_RETURN].max_amount == Decimal("20.00")
    assert policy.merchant_fault(order, NOW + SECOND) is Fault.LATE_DELIVERY
    assert options(order, NOW + SECOND)[NO_RETURN].max_amount == Decimal("50.00")


def test_late_parcel_small_amount_is_automatic_with_compensation() -> None:
    order = shipped(promised_delivery_by=NOW - 5 * DAY)
    decision = policy.decide(order, NO_RETURN, Decimal("20.00"), NOW, SETTINGS)
    assert decision.review is Review.AUTOMATIC
    assert decision.fault is Fault.LATE_DELIVERY
    assert decision.compensation == Decimal("2.00")


def test_late_parcel_full_amount_is_allowed_with_compensation() -> None:
    order = shipped(promised_delivery_by=NOW - 5 * DAY, total=Decimal("27.80"))
    decision = policy.decide(order, NO_RETURN, Decimal("27.80"), NOW, SETTINGS)
    assert decision.fault is Fault.LATE_DELIVERY
    assert decision.compensation == Decimal("2.78")
    # The merchant caused it: refundable at once, above the no-return threshold too.
    assert decision.review is Review.AUTOMATIC


def test_delivered_late_is_no_fault_any_more() -> None:
    order = delivered(promised_delivery_by=NOW - 5 * DAY)
    assert policy.merchant_fault(order, NOW) is None


# --- transitions ------------------------------------------------------------------------------

S = RefundStatus
ALLOWED = {
    (S.PENDING_REVIEW, S.APPROVED),
    (S.PENDING_REVIEW, S.REJECTED),
    (S.PENDING_REVIEW, S.WITHDRAWN),
    (S.APPROVED, S.AWAITING_RETURN),
    (S.APPROVED, S.REFUNDED),
    (S.APPROVED, S.WITHDRAWN),
    (S.AWAITING_RETURN, S.RETURN_RECEIVED),
    (S.AWAITING_RETURN, S.WITHDRAWN),
    (S.RETURN_RECEIVED, S.REFUNDED),
}


@pytest.mark.parametrize("current", list(RefundStatus))
@pytest.mark.parametrize("target", list(RefundStatus))
def test_transition_table(current: RefundStatus, target: RefundStatus) -> None:
    if (current, target) in ALLOWED:
        policy.check_transition(current, target)
    else:
        with pytest.raises(TransitionNotAllowed) as e:
            policy.check_transition(current, target)
        assert e.value.params == {"current": current.value, "target": target.value}


def test_withdrawable_statuses_are_those_that_may_become_withdrawn() -> None:
    assert policy.WITHDRAWABLE_STATUSES == {c for c, t in ALLOWED if t is S.WITHDRAWN}


def test_after_approval_a_return_comes_next_or_the_money_goes_out() -> None:
    assert policy.after_approval(IMMEDIATE) is S.REFUNDED
    assert policy.after_approval(NO_RETURN) is S.REFUNDED
    assert policy.after_approval(RETURN) is S.AWAITING_RETURN
    for method in RefundMethod:
        assert policy.after_approval(method) in policy.TRANSITIONS[S.APPROVED]


def test_automatic_paths() -> None:
    assert policy.automatic_path(IMMEDIATE) == [S.APPROVED, S.REFUNDED]
    assert policy.automatic_path(NO_RETURN) == [S.APPROVED, S.REFUNDED]
    assert policy.automatic_path(RETURN) == [S.APPROVED, S.AWAITING_RETURN]


# --- reasons ----------------------------------------------------------------------------------


def test_return_and_refund_needs_a_real_description() -> None:
    assert policy.check_reason(RETURN, "  the lamp   flickers constantly ") == (
        "the lamp flickers constantly"
    )
    with pytest.raises(ReasonError) as e:
        policy.check_reason(RETURN, "broken")
    assert e.value.code == "too_short"


def test_other_methods_need_a_short_reason() -> None:
    assert policy.check_reason(NO_RETURN, "late") == "late"
    with pytest.raises(ReasonError) as e:
        policy.check_reason(IMMEDIATE, " ? ")
    assert e.value.code == "missing"
    with pytest.raises(ReasonError) as e:
        policy.check_reason(IMMEDIATE, "x" * 2001)
    assert e.value.code == "too_long"
