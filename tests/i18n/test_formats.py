"""Amounts, dates and file sizes as each language writes them (Babel's locale data).

English keeps the assistant's own forms, which the conversations and the console show; Spanish
and Russian use CLDR's: a decimal comma, their grouping and currency symbols, month names in the
genitive, localised units and plurals. Babel puts a non-breaking space between an amount and its
currency, so a line break never splits an amount.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.messages import date, money, size, text

NBSP = "\N{NO-BREAK SPACE}"
NNBSP = "\N{NARROW NO-BREAK SPACE}"


@pytest.mark.parametrize(
    ("language", "amount", "currency", "written"),
    [
        ("en", "12.50", "USD", "12.50 USD"),
        ("en", Decimal("1234.50"), "RUB", "1234.50 RUB"),
        ("es", "12.50", "USD", f"12,50{NBSP}US$"),
        ("es", Decimal("12.5"), "EUR", f"12,50{NBSP}€"),
        ("es", Decimal("1234.50"), "EUR", f"1.234,50{NBSP}€"),
        ("ru", Decimal("1234.50"), "RUB", f"1{NBSP}234,50{NBSP}₽"),
        ("ru", "12.50", "EUR", f"12,50{NBSP}€"),
        ("ru", "0.99", "USD", f"0,99{NBSP}$"),
    ],
)
def test_money(language: str, amount: Decimal | str, currency: str, written: str) -> None:
    assert money(amount, currency, language=language) == written


@pytest.mark.parametrize(
    ("language", "written"),
    [
        ("en", "06 November 2026"),
        ("es", "6 de noviembre de 2026"),
        ("ru", f"6 ноября 2026{NNBSP}г."),
    ],
)
def test_dates(language: str, written: str) -> None:
    assert date(dt.date(2026, 11, 6), language=language) == written
    assert date(dt.datetime(2026, 11, 6, 23, 59, tzinfo=dt.timezone.utc), language=language) == (
        written
    )


@pytest.mark.parametrize(
    ("language", "sizes"),
    [
        ("en", ["10 MB", "1.5 MB", "2 KB", "10 bytes", "1 bytes"]),
        ("es", ["10 MB", "1,5 MB", "2 kB", "10 bytes", "1 byte"]),
        ("ru", ["10 МБ", "1,5 МБ", "2 кБ", "10 байт", "1 байт"]),
    ],
)
def test_sizes(language: str, sizes: list[str]) -> None:
    measured = [10 * 1024 * 1024, 1536 * 1024, 2048, 10, 1]
    assert [size(n, language=language) for n in measured] == sizes


def test_a_sentence_and_its_values_in_one_language() -> None:
    amount = money(Decimal("1234.50"), "RUB", language="ru")
    assert text("status.approved", language="ru", reference="RF-7", amount=amount) == (
        f"Хорошие новости: ваша заявка на возврат RF-7 на сумму 1{NBSP}234,50{NBSP}₽ одобрена."
    )
    limit = size(10 * 1024 * 1024, language="es")
    assert text("upload.too_big", language="es", limit=limit) == (
        "Los archivos pueden ocupar como máximo 10 MB."
    )


def test_an_unknown_language_is_an_error_not_english_in_disguise() -> None:
    """The gateway resolves a language before it asks for text; a stray code is a bug."""
    with pytest.raises(KeyError):
        text("one_moment", language="de")
