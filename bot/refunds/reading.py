"""Reading what buyers type: order numbers, e-mails, application references, amounts, methods.

Pure functions over text, shared by the action server (the forms), the order import and the
gateway; nothing here knows about Rasa or the database. What the text *means* for a refund (is
the amount allowed, is the reason enough) is :mod:`bot.refunds.policy`'s business.

Functions that read words take the conversation's language (:mod:`bot.languages`) and read its
words, then English's; each language's words are in :mod:`bot.refunds.words`. Order numbers,
references and e-mails read the same in every language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import NumberFormatError, parse_decimal

from bot.languages import DEFAULT
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.errors import AmountError
from bot.refunds.words import Numbers, Words, readable

CENT = Decimal("0.01")

# --- order numbers, e-mails, references -----------------------------------------------------

#: An AliExpress-style order number: 12 to 19 digits.
ORDER_ID = re.compile(r"(?<!\d)\d{12,19}(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
#: Letters of application references (``RF-`` and eight of these): no 0/O, 1/I.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
REFERENCE = re.compile(r"\bRF-?([2-9A-HJ-NP-Z]{8})\b", re.I)


def find_order_id(text: str) -> str | None:
    """Return the order number in ``text``; digits split by spaces or dashes count too."""
    match = ORDER_ID.search(re.sub(r"(?<=\d)[\s-](?=\d)", "", text))
    return None if match is None else match.group(0)


def is_order_id(text: str) -> bool:
    """Return whether ``text`` is exactly an order number."""
    return ORDER_ID.fullmatch(text) is not None


def find_email(text: str) -> str | None:
    """Return the first e-mail address in ``text``."""
    match = EMAIL.search(text)
    return None if match is None else match.group(0)


def is_email(text: str) -> bool:
    """Return whether ``text`` is exactly an e-mail address."""
    return EMAIL.fullmatch(text) is not None


def find_reference(text: str) -> str | None:
    """Return the application reference in ``text`` as stored (``RF-7KQ2M9XA``)."""
    match = REFERENCE.search(text)
    return None if match is None else f"RF-{match.group(1).upper()}"


# --- refund methods -------------------------------------------------------------------------


def method_from_text(text: str, language: str = DEFAULT) -> RefundMethod | None:
    """Return the refund method a buyer's words name, if exactly one."""
    for method in RefundMethod:
        if text.strip() == method.value:
            return method
    tables = readable(language)
    if any(w.no_return.search(text) for w in tables):
        return RefundMethod.NO_RETURN
    found = list(
        dict.fromkeys(
            method for w in tables for method, pattern in w.methods if pattern.search(text)
        )
    )
    return found[0] if len(found) == 1 else None


def amount_phrase(text: str, language: str = DEFAULT) -> str | None:
    """Return the words of a request that ask for an amount without a number ("full refund")."""
    match = next(filter(None, (w.amount_phrase.search(text) for w in readable(language))), None)
    return None if match is None else match.group(0)


def money_in_passing(text: str, language: str = DEFAULT) -> str | None:
    """Return money said in passing, with its currency ("$20", "12,50 €", "500 руб").

    An amount even in a message about something else; a bare number is not (it may be a
    quantity).
    """
    match = next(filter(None, (w.money_in_passing.search(text) for w in readable(language))), None)
    return None if match is None else match.group(0)


def names_everything(text: str, language: str = DEFAULT) -> bool:
    """Return True when ``text`` asks for everything that can be refunded ("all of it", "всё")."""
    return any(w.whole.search(text) for w in readable(language))


def field_named(text: str, language: str = DEFAULT) -> str | None:
    """Return the application field ``text`` names ("change the amount" is ``refund_amount``)."""
    return next(
        (
            field
            for w in readable(language)
            for field, pattern in w.change.items()
            if pattern.search(text)
        ),
        None,
    )


def asks_to_change(text: str, language: str = DEFAULT) -> bool:
    """Return True when ``text`` starts by asking to change something ("change the reason")."""
    return any(w.change_request.search(text) for w in readable(language))


# --- amounts and reasons --------------------------------------------------------------------

_PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d+)?)\s?%")
_DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"})
#: A written number: digits in groups of three (by spaces, no-break spaces or apostrophes), or
#: digits with separators the locale reads.
_NUMBER = re.compile(
    r"(?<![\w.,])(-|−|minus\s+)?(\d{1,3}(?:[ '\u00a0\u202f](?=\d{3}(?!\d))\d{3})+(?:[.,]\d+)?|"
    r"\d[\d.,]*\d|\d|[.,]\d{1,2})(?![\w])",
    re.I,
)


@dataclass(frozen=True)
class AmountRequest:
    """An amount as a buyer gave it: a number, a fraction of the balance, or everything."""

    value: Decimal | None = None
    fraction: Decimal | None = None
    currency: str | None = None
    """ISO code, ``"$"`` for any dollar, or None when not said."""

    def resolve(self, balance: Decimal, order_currency: str) -> Decimal:
        """Return the amount in the order's currency; raise AmountError when it cannot be."""
        if self.currency and not _currency_matches(self.currency, order_currency):
            raise AmountError(
                "currency_mismatch",
                f"amount in {self.currency}, order paid in {order_currency}",
                given=self.currency,
                currency=order_currency,
            )
        if self.fraction is not None:
            return (balance * self.fraction).quantize(CENT, rounding=ROUND_HALF_UP)
        assert self.value is not None
        return self.value


def _currency(text: str, tables: tuple[Words, ...]) -> tuple[str | None, str]:
    """Return the currency ``text`` names and the text with glued currencies set apart."""
    for w in tables:
        match = w.currency.search(text)
        if match:
            # "300р", "20usd": the number is read on its own.
            apart = w.currency.sub(lambda m: f" {m.group(0)} ", text)
            return w.currencies[match.group(0).lower()], apart
    return None, text


def parse_amount(text: str, language: str = DEFAULT) -> AmountRequest:
    """Read an amount from buyer text ("$12.50", "12,50 €", "la mitad", "всё", "30%").

    The number is read the way the buyer's language writes it (``1.234,50`` in Spanish,
    ``1 234,50`` in Russian), and English's way when that does not read it.

    Raises:
        AmountError: ``not_a_number`` when no amount can be read, ``negative`` for a negative one.
    """
    tables = readable(language)
    currency, cleaned = _currency(text.strip(), tables)
    number_match = next(
        (m for m in _NUMBER.finditer(cleaned.replace("−", "-")) if not _is_order_number(m)), None
    )
    percent = _PERCENT.search(cleaned)
    if percent:
        share = _to_decimal(percent.group(1), tables[0].locale)
        if share is not None and share > 100:
            raise AmountError("percent_over_100", f"{share}% is more than everything", given=text)
        if share is not None and share > 0:
            return AmountRequest(fraction=share / 100, currency=currency)
    if number_match is None:
        spelled = number_from_words(cleaned, language)
        if spelled is not None:
            return AmountRequest(value=spelled, currency=currency)
        if any(w.half.search(cleaned) for w in tables):
            return AmountRequest(fraction=Decimal("0.5"), currency=currency)
        if any(w.whole.search(cleaned) for w in tables):
            return AmountRequest(fraction=Decimal("1"), currency=currency)
        raise AmountError("not_a_number", f"no amount in {text!r}", given=text)
    sign, digits = number_match.group(1), number_match.group(2)
    value = _to_decimal(digits, tables[0].locale)
    if value is None:
        raise AmountError("not_a_number", f"cannot read {digits!r} as money", given=text)
    if sign or re.search(r"-\s*(us\$|\$|€|£|₽)\s*\d", cleaned):
        raise AmountError("negative", "amount is negative", amount=f"-{value}")
    return AmountRequest(value=value, currency=currency)


def number_from_words(text: str, language: str = DEFAULT) -> Decimal | None:
    """Read an amount spelled in words: "twelve fifty", "veinte euros", "двести рублей".

    Only the first run of number words counts. A lone "one" is not an amount ("that one")
    unless money follows it ("one dollar").
    """
    for w in readable(language):
        value = _spelled(text, w.numbers)
        if value is not None:
            return value
    return None


def _spelled(text: str, numbers: Numbers) -> Decimal | None:
    groups: list[int] = []
    current: int | None = None
    cents: int | None = None
    money = False
    started = False
    for word in re.findall(r"[^\W\d_]+", text.lower().replace("ё", "е")):
        if word in numbers.multipliers and started:
            current = (current or 1) * numbers.multipliers[word]
        elif word in numbers.values:
            value = numbers.values[word]
            if current is not None and _joins(current, value):
                current += value
            else:
                if current is not None:
                    groups.append(current)
                current = value
            started = True
        elif word in numbers.cents and current is not None:
            cents, current = current, None
        elif word in numbers.money and started:
            money = True
            if current is not None:
                groups.append(current)
                current = None
        elif word in numbers.joiners and started:
            continue
        elif started:
            break
    if current is not None:
        groups.append(current)
    if not groups and cents is None:
        return None
    whole = groups[0] if groups else 0
    if cents is None and len(groups) == 2 and groups[1] < 100:
        cents = groups[1]
    elif len(groups) > 2 or (len(groups) == 2 and cents is not None):
        return None
    if cents is not None and cents >= 100:
        return None
    if whole == 1 and cents is None and not money and len(groups) == 1:
        return None
    return Decimal(whole) + Decimal(cents or 0) / 100


def _joins(current: int, value: int) -> bool:
    """Return whether ``value`` continues ``current`` ("twenty" "five", "ciento" "veinte").

    It does when it fills a place ``current`` leaves empty: units after tens of twenty or
    more, tens or units after hundreds. "ten five" is two numbers.
    """
    if current <= 0 or current % 100 in range(1, 20):
        return False
    place = 1
    while current % (place * 10) == 0:
        place *= 10
    return place >= 10 and value < place


def _is_order_number(match: re.Match[str]) -> bool:
    """Order numbers (12+ digits) sit beside amounts in buyers' messages; they are not money."""
    return len(re.sub(r"\D", "", match.group(2))) >= 12 and not re.search(
        r"[.,]\d{1,2}$", match.group(2)
    )


def _to_decimal(digits: str, locale: str = "en") -> Decimal | None:
    """Read a written number: the locale's way first, then ``12.50``, ``12,50``, ``1,234.50``.

    ``1.234,50`` is 1234.50 in Spanish, ``1,234`` 1.234 in Russian; what the locale cannot
    read strictly (``12.50`` from a Spanish buyer) is read by the separators' positions.
    """
    s = re.sub(r"[\s'\u00a0\u202f]", "", digits)
    try:
        value = parse_decimal(s, locale=locale, strict=True)
    except NumberFormatError:
        return _by_separators(s)
    return value if value.is_finite() else None


def _by_separators(s: str) -> Decimal | None:
    """Read ``12.50``, ``12,50``, ``1,234.50``, ``1.234,50`` by where the separators are."""
    if "," in s and "." in s:
        decimal_sep = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        s = s.replace(thousands, "").replace(decimal_sep, ".")
    elif "," in s:
        head, _, tail = s.rpartition(",")
        s = s.replace(",", "") if len(tail) == 3 and head else head.replace(",", "") + "." + tail
    elif s.count(".") > 1:
        head, _, tail = s.rpartition(".")
        s = s.replace(".", "") if len(tail) == 3 else head.replace(".", "") + "." + tail
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _currency_matches(given: str, order_currency: str) -> bool:
    if given == "$":
        return order_currency in _DOLLAR_CURRENCIES
    return given == order_currency


def classify_reason(text: str, language: str = DEFAULT) -> ReasonCategory | None:
    """Return the reason category a description points at, or None when it names none."""
    lowered = text.strip().lower().replace("_", " ")
    for category in ReasonCategory:
        if lowered in (category.value.replace("_", " "), category.value):
            return category
    tables = readable(language)
    for w in tables:
        for category, pattern in w.reasons:
            if pattern.search(text):
                return category
    if any(w.other_category.fullmatch(lowered) for w in tables):
        return ReasonCategory.OTHER
    return None


def problem_clause(text: str, language: str = DEFAULT) -> str | None:
    """Return the part of a request that describes the problem, if it names one.

    "Refund order 9000…, the lamp arrived broken and flickers" describes the problem in its
    second clause; the request itself and the order number are not the description.
    """
    tables = readable(language)
    clauses = [c.strip(" -:") for c in tables[0].clauses.split(text) if c and c.strip(" -:")]
    described = [
        _without_order_words(c, tables).strip(" -:,")
        for c in clauses
        if classify_reason(c, language) is not None
        or any(w.other_reasons.search(c) for w in tables)
    ]
    described = [c for c in described if c]
    return ", ".join(described) if described else None


def _without_order_words(clause: str, tables: tuple[Words, ...]) -> str:
    for w in tables:
        clause = w.order_words.sub("", clause)
    return clause


# --- return tracking numbers ----------------------------------------------------------------

#: Carrier formats: UPU S10 for international post ("LX123456789CN": two letters, eight digits
#: and a check digit, the country), UPS ("1Z" + 16), Cainiao ("LP" + 14 digits), YunExpress
#: ("YT" + 16 digits). A plain run of digits is not read as one: order numbers look the same.
_TRACKING = re.compile(r"\b([A-Z]{2}\d{9}[A-Z]{2}|1Z[0-9A-Z]{16}|LP\d{14}|YT\d{16})\b")


def find_tracking_number(text: str) -> str | None:
    """Return a return tracking number in one of the carriers' formats, upper-cased."""
    match = _TRACKING.search(text.upper())
    return match.group(0) if match else None


def wants_a_person(text: str, language: str = DEFAULT) -> bool:
    """Return True when the buyer asks for a person in so many words."""
    return any(w.a_person.search(text) for w in readable(language))
