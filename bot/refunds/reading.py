"""Reading what buyers type: order numbers, e-mails, application references, amounts, methods.

Pure functions over text, shared by the action server (the forms), the order import and the
gateway; nothing here knows about Rasa or the database. What the text *means* for a refund (is
the amount allowed, is the reason enough) is :mod:`bot.refunds.policy`'s business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.errors import AmountError

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

# Keeping the item is the more specific statement: "refund without returning it" mentions a
# return too, so the no-return words are read first.
_NO_RETURN_WORDS = re.compile(
    r"\b(no[ -]?return|without (a |any )?return|without (returning|sending|shipping|giving)|"
    r"keep (it|them|the|my)\b|"
    r"(don'?t|do not|won'?t|will not) (want to |need to |have to )?(return|send)|"
    r"no need to (return|send))",
    re.I,
)
_METHOD_WORDS: list[tuple[RefundMethod, re.Pattern[str]]] = [
    (
        RefundMethod.RETURN_AND_REFUND,
        re.compile(
            r"\b(return|retrun|retun|send (it |them )?back|ship (it |them )?back|exchange)", re.I
        ),
    ),
    (
        RefundMethod.IMMEDIATE,
        re.compile(r"\b(im+[ei]di?a?te(ly)?|instant(ly)?|right away|cancel)", re.I),
    ),
]


def method_from_text(text: str) -> RefundMethod | None:
    """Return the refund method a buyer's words name, if exactly one."""
    for method in RefundMethod:
        if text.strip() == method.value:
            return method
    if _NO_RETURN_WORDS.search(text):
        return RefundMethod.NO_RETURN
    found = [method for method, pattern in _METHOD_WORDS if pattern.search(text)]
    return found[0] if len(found) == 1 else None


#: Words of a refund request that ask for an amount without a number.
AMOUNT_PHRASE = re.compile(
    r"\b(full refund|full amount|all (of )?(my|the) money|everything back|whole amount|"
    r"refund (it )?all|all of it|the whole (thing|amount)|half)\b",
    re.I,
)

#: Money said in passing, with its currency ("$20", "20 dollars", "12,50 €"): an amount even
#: in a message about something else. A bare number is not (it may be a quantity).
AMOUNT_IN_PASSING = re.compile(
    r"(?<![\w.,])(?:(?:us)?[$€£]\s?\d+(?:[.,]\d{1,2})?|"
    r"\d+(?:[.,]\d{1,2})?\s?(?:dollars?|bucks|usd|eur(?:os?)?\b|€|£|\$))",
    re.I,
)

#: Words that name a field of the application, when the buyer wants to change it.
CHANGE_WORDS = {
    "order_id": re.compile(r"\border\b", re.I),
    "refund_method": re.compile(r"\bmethod|\btype\b", re.I),
    "refund_amount": re.compile(r"\bamount|\bsum\b|how much|\bmoney\b", re.I),
    "refund_reason": re.compile(r"\breason|\bdescription|\bproblem", re.I),
}


def field_named(text: str) -> str | None:
    """Return the application field ``text`` names ("change the amount" is ``refund_amount``)."""
    return next((field for field, pattern in CHANGE_WORDS.items() if pattern.search(text)), None)


# --- amounts and reasons --------------------------------------------------------------------

_WHOLE = re.compile(
    r"\b(all|everything|full|entire|whole|total|complete|max(imum)?|all of it|100 ?%|"
    r"the rest|rest of it|remaining|remainder|whatever(\'s| is) left|what(\'s| is) left)\b",
    re.I,
)
#: Words that ask for everything that can be refunded ("all of it", "the rest").
WHOLE_WORDS = _WHOLE
_HALF = re.compile(r"\b(half|50 ?%)\b", re.I)
_PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d+)?)\s?%")
_CURRENCY_WORDS: dict[str, str] = {
    "usd": "USD",
    "us$": "USD",
    "dollar": "$",
    "dollars": "$",
    "bucks": "$",
    "buck": "$",
    "$": "$",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "€": "EUR",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "£": "GBP",
    "cad": "CAD",
    "aud": "AUD",
    "rub": "RUB",
    "rubles": "RUB",
    "₽": "RUB",
    "brl": "BRL",
    "r$": "BRL",
    "jpy": "JPY",
    "yen": "JPY",
    "cny": "CNY",
    "rmb": "CNY",
    "yuan": "CNY",
}
_DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"})
_NUMBER = re.compile(
    r"(?<![\w.,])(-|−|minus\s+)?(\d{1,3}(?:[ '](?=\d{3}(?!\d))\d{3})+(?:[.,]\d+)?|\d[\d.,]*\d|"
    r"\d|[.,]\d{1,2})(?![\w])",
    re.I,
)
_CURRENCY = re.compile(
    r"(us\$|r\$|\$|€|£|₽|\b(?:usd|eur|euros?|gbp|pounds?|dollars?|bucks?|cad|aud|rub|rubles|brl|"
    r"jpy|yen|cny|rmb|yuan)\b)",
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


def parse_amount(text: str) -> AmountRequest:
    """Read an amount from buyer text ("$12.50", "12,50 usd", "half", "all of it", "30%").

    Raises:
        AmountError: ``not_a_number`` when no amount can be read, ``negative`` for a negative one.
    """
    cleaned = text.strip()
    currency_match = _CURRENCY.search(cleaned)
    currency = _CURRENCY_WORDS[currency_match.group(0).lower()] if currency_match else None
    number_match = next(
        (m for m in _NUMBER.finditer(cleaned.replace("−", "-")) if not _is_order_number(m)), None
    )
    percent = _PERCENT.search(cleaned)
    if percent:
        share = _to_decimal(percent.group(1))
        if share is not None and share > 100:
            raise AmountError("percent_over_100", f"{share}% is more than everything", given=text)
        if share is not None and share > 0:
            return AmountRequest(fraction=share / 100, currency=currency)
    if number_match is None:
        spelled = number_from_words(cleaned)
        if spelled is not None:
            return AmountRequest(value=spelled, currency=currency)
        if _HALF.search(cleaned):
            return AmountRequest(fraction=Decimal("0.5"), currency=currency)
        if _WHOLE.search(cleaned):
            return AmountRequest(fraction=Decimal("1"), currency=currency)
        raise AmountError("not_a_number", f"no amount in {text!r}", given=text)
    sign, digits = number_match.group(1), number_match.group(2)
    value = _to_decimal(digits)
    if value is None:
        raise AmountError("not_a_number", f"cannot read {digits!r} as money", given=text)
    if sign or re.search(r"-\s*(us\$|\$|€|£)\s*\d", cleaned):
        raise AmountError("negative", "amount is negative", amount=f"-{value}")
    return AmountRequest(value=value, currency=currency)


_UNITS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    word: value * 10
    for value, word in enumerate(
        "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2
    )
}
_MONEY_WORDS = frozenset(
    "dollar dollars buck bucks euro euros pound pounds usd eur gbp rub roubles rubles".split()
)


def number_from_words(text: str) -> Decimal | None:
    """Read an amount spelled in words: "twelve fifty", "twenty dollars", "ten dollars and 5 cents".

    Only the first run of number words counts. A lone "one" is not an amount ("that one")
    unless money follows it ("one dollar").
    """
    groups: list[int] = []
    current: int | None = None
    cents: int | None = None
    money = False
    started = False
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _UNITS or word in _TENS:
            value = _UNITS.get(word, _TENS.get(word, 0))
            joins = current is not None and (
                (word in _UNITS and current % 10 == 0 and current % 100 >= 20 and value < 10)
                or (current % 100 == 0 and current >= 100)
            )
            if joins and current is not None:
                current += value
            else:
                if current is not None:
                    groups.append(current)
                current = value
            started = True
        elif word == "hundred" and started:
            current = (current or 1) * 100
        elif word in ("cent", "cents") and current is not None:
            cents, current = current, None
        elif word in _MONEY_WORDS and started:
            money = True
            if current is not None:
                groups.append(current)
                current = None
        elif word == "and" and started:
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


def _is_order_number(match: re.Match[str]) -> bool:
    """Order numbers (12+ digits) sit beside amounts in buyers' messages; they are not money."""
    return len(re.sub(r"\D", "", match.group(2))) >= 12 and not re.search(
        r"[.,]\d{1,2}$", match.group(2)
    )


def _to_decimal(digits: str) -> Decimal | None:
    """Read ``12.50``, ``12,50``, ``1,234.50``, ``1.234,50``, ``1 234`` as a Decimal."""
    s = re.sub(r"[\s']", "", digits)
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


_REASON_KEYWORDS: list[tuple[ReasonCategory, re.Pattern[str]]] = [
    (
        ReasonCategory.WRONG_ITEM,
        re.compile(
            r"wrong (item|product|thing|one|model|colou?r|size)|not what i (ordered|bought)|"
            r"(sent|got|received) (me )?(a |the )?(different|another)|instead of",
            re.I,
        ),
    ),
    (
        ReasonCategory.DAMAGED,
        re.compile(
            r"\b(damaged?|broken|broke|cracked|crushed|smashed|shattered|dent(ed)?|torn|ripped|"
            r"leak(ed|ing)?|scratch(ed|es)?)\b",
            re.I,
        ),
    ),
    (
        ReasonCategory.NOT_AS_DESCRIBED,
        re.compile(
            r"not as described|doesn'?t match|does not match|different (from|than)|"
            r"not like (the )?(picture|photo|description)|fake|counterfeit|smaller than|"
            r"bigger than|misleading|description",
            re.I,
        ),
    ),
    (
        ReasonCategory.QUALITY_PROBLEM,
        re.compile(
            r"quality|defect(ive)?|faulty|(doesn'?t|does not|stopped|won'?t|not) work(ing|s)?|"
            r"malfunction|cheap|poorly made|falls? apart|fell apart|dead on arrival|won'?t turn on|"
            r"fray(s|ed|ing)?|peel(s|ed|ing)?|flicker(s|ed|ing)?|wobbl(e|es|y|ing)|"
            r"(doesn'?t|does not|won'?t|stopped|not) (charg|click|switch|turn|connect|hold)",
            re.I,
        ),
    ),
]


def classify_reason(text: str) -> ReasonCategory | None:
    """Return the reason category a description points at, or None when it names none."""
    lowered = text.strip().lower().replace("_", " ")
    for category in ReasonCategory:
        if lowered in (category.value.replace("_", " "), category.value):
            return category
    for category, pattern in _REASON_KEYWORDS:
        if pattern.search(text):
            return category
    if re.fullmatch(r"\s*other( reason)?\s*", lowered):
        return ReasonCategory.OTHER
    return None


_CLAUSES = re.compile(r"[.!?;\n]+|,\s+|\s+(?:but|because|since|as)\s+", re.I)
_ORDER_WORDS = re.compile(r"\b(order|no\.?|number|#)\s*:?\s*\d{12,19}\b|\d{12,19}", re.I)


#: Reasons that name no category of item problem but are enough for a refund without return.
_OTHER_REASONS = re.compile(
    r"\b(late|delayed|never (arrived|came|shipped)|not (arrived|received|delivered)|"
    r"(hasn'?t|has not|didn'?t|did not|still not) (arrive|arrived|come|shipped|been delivered)|"
    r"changed? my mind|(don'?t|do not|no longer) (need|want)|"
    r"too (small|big|large|tight|long|short)|doesn'?t fit|does not fit|ordered by mistake|"
    r"by accident|duplicate)",
    re.I,
)


def problem_clause(text: str) -> str | None:
    """Return the part of a request that describes the problem, if it names one.

    "Refund order 9000…, the lamp arrived broken and flickers" describes the problem in its
    second clause; the request itself and the order number are not the description.
    """
    clauses = [c.strip(" -:") for c in _CLAUSES.split(text) if c and c.strip(" -:")]
    described = [
        _ORDER_WORDS.sub("", c).strip(" -:,")
        for c in clauses
        if classify_reason(c) is not None or _OTHER_REASONS.search(c)
    ]
    described = [c for c in described if c]
    return ", ".join(described) if described else None


# --- return tracking numbers ----------------------------------------------------------------

#: Carrier formats: UPU S10 for international post ("LX123456789CN": two letters, eight digits
#: and a check digit, the country), UPS ("1Z" + 16), Cainiao ("LP" + 14 digits), YunExpress
#: ("YT" + 16 digits). A plain run of digits is not read as one: order numbers look the same.
_TRACKING = re.compile(r"\b([A-Z]{2}\d{9}[A-Z]{2}|1Z[0-9A-Z]{16}|LP\d{14}|YT\d{16})\b")


def find_tracking_number(text: str) -> str | None:
    """Return a return tracking number in one of the carriers' formats, upper-cased."""
    match = _TRACKING.search(text.upper())
    return match.group(0) if match else None


_A_PERSON = re.compile(
    r"\b(human|real person|a person|someone real|real agent|an agent|live agent|live chat|"
    r"support (team|agent|staff|person)|operator|representative|customer service|"
    r"talk to (someone|somebody|a person)|speak to (someone|somebody|a person))\b",
    re.I,
)


def wants_a_person(text: str) -> bool:
    """Return True when the buyer asks for a person in so many words."""
    return _A_PERSON.search(text) is not None
