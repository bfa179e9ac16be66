"""The words buyers type, one table per language: what :mod:`bot.refunds.reading` looks for.

Each language's words live in one module here (``en``, ``es``, ``ru``) as a :class:`Words`;
the reading functions take the conversation's language and read its words first, then
English's (buyers mix in English: "ok", "refund", "USD"). Order numbers, references and
e-mails are the same in every language and are not here. Adding a language is a module with
its :class:`Words` and a line in :data:`TABLES`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.languages import DEFAULT
from bot.refunds.enums import ReasonCategory, RefundMethod

Pattern = re.Pattern[str]


@dataclass(frozen=True)
class Numbers:
    """Numbers written in words ("doce cincuenta", "двадцать рублей")."""

    values: Mapping[str, int]
    """Every word that is a number by itself: units, tens, hundreds."""
    multipliers: Mapping[str, int]
    """Words that multiply what came before ("hundred", "mil", "тысяча")."""
    joiners: frozenset[str]
    """Words that may sit between the parts of one amount ("and", "y", "con", "и")."""
    cents: frozenset[str]
    """Words that make the number before them cents."""
    money: frozenset[str]
    """Words of a currency: after them, a number is the cents."""


@dataclass(frozen=True)
class Words:
    """What buyers of one language write, as the patterns the reading functions use."""

    locale: str
    """Babel locale whose decimal and group signs a written number uses."""
    # refund methods
    no_return: Pattern
    """Keeping the item: read before the other methods (it often mentions a return too)."""
    methods: tuple[tuple[RefundMethod, Pattern], ...]
    # amounts
    amount_phrase: Pattern
    """Words of a request that ask for an amount without a number ("full refund")."""
    whole: Pattern
    """Everything that can be refunded ("all of it", "the rest")."""
    half: Pattern
    currencies: Mapping[str, str]
    """A currency word or sign, lower case, and its ISO code (``"$"`` for any dollar)."""
    currency: Pattern
    """Finds any of :attr:`currencies` (see :func:`currency_pattern`)."""
    money_in_passing: Pattern
    """Money with its currency, said in a message about something else."""
    numbers: Numbers
    # reasons
    reasons: tuple[tuple[ReasonCategory, Pattern], ...]
    """Words of each category, the more specific first."""
    other_category: Pattern
    """The category "other" named (the whole answer)."""
    other_reasons: Pattern
    """Reasons that name no category but are enough for a refund without return."""
    clauses: Pattern
    """Where a message's clauses part."""
    order_words: Pattern
    """An order number with the words that introduce it."""
    # the read-back and the rest of the conversation
    change: Mapping[str, Pattern]
    """Words that name a field of the application, when the buyer wants to change it."""
    change_request: Pattern
    """A message that starts by asking to change something."""
    a_person: Pattern
    affirmative: Pattern
    """Words that accept what was offered ("yes", "that one")."""
    ordinals: tuple[Pattern, ...]
    """The first, second and third of a list."""
    last: Pattern
    explicit_stop: Pattern
    """A message that only asks to stop."""
    correction: Pattern
    """Words that correct an answer given before."""
    corrected_number: Pattern
    """A number as a correction gives it ("make it 10")."""
    request: Pattern
    """A message that asks for a refund in so many words."""
    request_later: Pattern
    """… or says so after telling what happened ("…, I want to cancel it")."""
    can_i: Pattern
    """A question whether something is possible ("can I …?")."""
    refund_asked: Pattern
    """Words of getting one's money back ("refund", "money back")."""
    already_refunded: Pattern
    """A question about what was already refunded on the order."""
    status_question: Pattern
    """Words of a question about the state of something, not a request."""
    last_order: Pattern
    """"My last order"."""
    switch_order: Pattern
    """Words that move a draft to another order without asking ("no wait, the other order")."""
    keep: Pattern
    """A no to "withdraw this application?" ("no", "leave it")."""
    why_not: Pattern
    """A question about why something is not allowed ("why can't I return it?")."""
    # questions about the policy
    policy_topics: tuple[tuple[str, Pattern], ...]
    """Each topic of the policy (``utter_policy_<topic>``) and its words, the first match wins."""
    money_back: Pattern
    """Words of getting money back."""
    about_refunds: Pattern
    """Words of a question about the refund policy itself, when no topic of it is named."""
    shop_question: Pattern
    """Shop questions that are not about refunds ("can I pay with Apple Pay?")."""
    refund_words: Pattern
    """Words that make a shop question one about a refund after all."""


def plain(word: str) -> str:
    """Return ``word`` without accents ("dólares" is "dolares")."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def with_plain(words: Iterable[str]) -> frozenset[str]:
    """Return ``words`` and each of them without accents (buyers often leave them out)."""
    return frozenset(w for word in words for w in (word, plain(word)))


def _alternative(currency: str) -> str:
    """Return the pattern of one currency word or sign: a word is not part of a longer word.

    A word may follow digits directly ("300р", "20usd") but not other letters.
    """
    before = r"(?<![^\W\d_])" if currency[0].isalpha() else ""
    after = r"(?!\w)" if currency[-1].isalnum() else ""
    return before + re.escape(currency) + after


def currency_pattern(currencies: Mapping[str, str]) -> Pattern:
    """Return the pattern that finds any of ``currencies``, the longest first."""
    ordered = sorted(currencies, key=len, reverse=True)
    return re.compile("(" + "|".join(map(_alternative, ordered)) + ")", re.I)


def money_in_passing(currencies: Mapping[str, str]) -> Pattern:
    """Return the pattern of an amount with its currency before or after it."""
    ordered = sorted(currencies, key=len, reverse=True)
    signs = "|".join(re.escape(c) for c in ordered if not c[0].isalpha())
    any_currency = "|".join(map(_alternative, ordered))
    number = r"\d{1,3}(?:[ \u00a0\u202f.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
    return re.compile(
        rf"(?<![\w.,])(?:(?:{signs})\s?(?:{number})|(?:{number})\s?(?:{any_currency}))", re.I
    )


def _tables() -> dict[str, Words]:
    from bot.refunds.words import en, es, ru

    return {"en": en.WORDS, "es": es.WORDS, "ru": ru.WORDS}


#: Every language's words.
TABLES: Mapping[str, Words] = _tables()


def words(language: str) -> Words:
    """Return the words of ``language`` (English's for a language without a table)."""
    return TABLES.get(language, TABLES[DEFAULT])


def readable(language: str) -> tuple[Words, ...]:
    """Return the tables to read a buyer of ``language`` with: theirs, then English's."""
    own = words(language)
    return (own,) if own is TABLES[DEFAULT] else (own, TABLES[DEFAULT])
