"""Reading what buyers type: amounts in their many forms, reason categories, order numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.refunds import reading
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.errors import AmountError

# --- reading amounts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("$12.50", "12.50", "$"),
        ("12,50 usd", "12.50", "USD"),
        ("12.5", "12.5", None),
        ("12", "12", None),
        ("12.50$", "12.50", "$"),
        ("US$25", "25", "USD"),
        ("USD 7.99", "7.99", "USD"),
        ("1.234,50", "1234.50", None),
        ("1,234.50", "1234.50", None),
        ("1 234,50 €", "1234.50", "EUR"),
        ("€20", "20", "EUR"),
        ("20 euros", "20", "EUR"),
        ("15 bucks", "15", "$"),
        ("0", "0", None),
        ("0.00", "0.00", None),
        ("I want 10 dollars back", "10", "$"),
        ("refund 12.50 on order 8041235566701234", "12.50", None),
        ("8041235566701234 $12.50", "12.50", "$"),
    ],
)
def test_parse_amount_values(text: str, value: str, currency: str | None) -> None:
    assert reading.parse_amount(text) == reading.AmountRequest(
        value=Decimal(value), currency=currency
    )


@pytest.mark.parametrize(
    ("text", "fraction"),
    [
        ("half", "0.5"),
        ("half of it", "0.5"),
        ("50%", "0.5"),
        ("all of it", "1"),
        ("full refund", "1"),
        ("everything", "1"),
        ("the whole amount", "1"),
        ("30%", "0.3"),
        ("30 %", "0.3"),
        ("12,5%", "0.125"),
        ("100%", "1"),
    ],
)
def test_parse_amount_fractions(text: str, fraction: str) -> None:
    request = reading.parse_amount(text)
    assert request.value is None
    assert request.fraction == Decimal(fraction)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("-5", "negative"),
        ("-$5", "negative"),
        ("minus 3 dollars", "negative"),
        ("abc", "not_a_number"),
        ("", "not_a_number"),
        ("some money please", "not_a_number"),
        ("8041235566701234", "not_a_number"),
    ],
)
def test_parse_amount_errors(text: str, code: str) -> None:
    with pytest.raises(AmountError) as e:
        reading.parse_amount(text)
    assert e.value.code == code


def test_fractions_resolve_against_the_balance_in_cents() -> None:
    assert reading.parse_amount("half").resolve(Decimal("30.00"), "USD") == Decimal("15.00")
    assert reading.parse_amount("30%").resolve(Decimal("42.50"), "USD") == Decimal("12.75")
    assert reading.parse_amount("half").resolve(Decimal("0.05"), "USD") == Decimal("0.03")
    assert reading.parse_amount("all of it").resolve(Decimal("27.80"), "USD") == Decimal("27.80")


def test_currency_must_match_the_order() -> None:
    assert reading.parse_amount("$5").resolve(Decimal("9.00"), "CAD") == Decimal("5")
    assert reading.parse_amount("5 eur").resolve(Decimal("9.00"), "EUR") == Decimal("5")
    for text, currency in (("5 eur", "USD"), ("$5", "EUR"), ("5 usd", "CAD")):
        with pytest.raises(AmountError) as e:
            reading.parse_amount(text).resolve(Decimal("9.00"), currency)
        assert e.value.code == "currency_mismatch"


MONEY = st.decimals(
    min_value=Decimal("0.00"),
    max_value=Decimal("9999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


# No example database: nothing written into the working tree.
@settings(database=None, max_examples=300)
@given(amount=MONEY, template=st.sampled_from(["${}", "{} usd", "{} USD", "$ {}", "{}$"]))
def test_money_parses_back_exactly(amount: Decimal, template: str) -> None:
    request = reading.parse_amount(template.format(format(amount, "f")))
    assert request.value == amount
    assert request.fraction is None


# --- reason categories ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("they sent me the wrong colour", ReasonCategory.WRONG_ITEM),
        ("the screen arrived cracked", ReasonCategory.DAMAGED),
        ("it looks nothing like the picture, not as described", ReasonCategory.NOT_AS_DESCRIBED),
        ("it stopped working after a day", ReasonCategory.QUALITY_PROBLEM),
        ("quality_problem", ReasonCategory.QUALITY_PROBLEM),
        ("other", ReasonCategory.OTHER),
        ("I changed my mind", None),
    ],
)
def test_classify_reason(text: str, category: ReasonCategory | None) -> None:
    assert reading.classify_reason(text) is category


# --- order numbers, e-mails, references, methods ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "order_id"),
    [
        ("my order 8041235566701234 came broken", "8041235566701234"),
        ("order #8041 2355 6670 1234", "8041235566701234"),
        ("8041-2355-6670-1234", "8041235566701234"),
        ("refund 12 of 42.50", None),
        ("12345678901", None),
        ("12345678901234567890", None),
    ],
)
def test_find_order_id(text: str, order_id: str | None) -> None:
    assert reading.find_order_id(text) == order_id


def test_is_order_id_is_the_whole_text() -> None:
    assert reading.is_order_id("804123556670")
    assert not reading.is_order_id("order 804123556670")


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("any news on RF-6P38WEBJ?", "RF-6P38WEBJ"),
        ("rf6p38webj", "RF-6P38WEBJ"),
        ("RF-6P38WEB", None),
        ("RF-0O38WEBJ", None),
    ],
)
def test_find_reference(text: str, reference: str | None) -> None:
    assert reading.find_reference(text) == reference


def test_find_email() -> None:
    assert reading.find_email("it's Ben@Example.com thanks") == "Ben@Example.com"
    assert reading.find_email("ben at example dot com") is None
    assert reading.is_email("ana@example.com")
    assert not reading.is_email("ana@example")


@pytest.mark.parametrize(
    ("text", "method"),
    [
        ("return_and_refund", RefundMethod.RETURN_AND_REFUND),
        ("I'd like to send it back", RefundMethod.RETURN_AND_REFUND),
        ("refund without returning it", RefundMethod.NO_RETURN),
        ("keep it", RefundMethod.NO_RETURN),
        ("cancel it right away", RefundMethod.IMMEDIATE),
        ("the desk lamp", None),
    ],
)
def test_method_from_text(text: str, method: RefundMethod | None) -> None:
    assert reading.method_from_text(text) is method


def test_field_named() -> None:
    assert reading.field_named("change the amount please") == "refund_amount"
    assert reading.field_named("wrong order") == "order_id"
    assert reading.field_named("yes") is None
