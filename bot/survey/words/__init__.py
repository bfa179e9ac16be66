"""The words buyers rate with, one table per language: what :mod:`bot.survey.answers` reads.

Each language's words live in one module here (``en``, ``es``, ``ru``) as a :class:`Ratings`.
They are written the way buyers type them; :func:`fold` takes accents and "ё" out of both the
tables and the message, so "malísimo" and "malisimo", "звёзд" and "звезд" read alike. Adding a
language is a module with its :class:`Ratings` and a line in :data:`TABLES`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from bot.languages import DEFAULT

Pattern = re.Pattern[str]


@dataclass(frozen=True)
class Ratings:
    """How buyers of one language give a 1–5 rating in words, and start a new request."""

    numbers: Mapping[str, int]
    """Numbers 1–5 written in words, and grades named by their number ("пятёрка")."""
    out_of: str
    """The pattern of the words between a rating and its scale ("out of", "de", "из")."""
    five: str
    """The pattern of the top of the scale written in words ("five", "cinco", "пяти")."""
    stars: str
    """The pattern of the unit a rating may come with ("stars", "estrellas", "баллов")."""
    verdicts: Mapping[str, int]
    """Words and short phrases that are a rating on their own ("great", "muy bien", "так себе")."""
    filler: frozenset[str]
    """Words around a rating that do not change it ("I'd say 4, thanks")."""
    request: Pattern
    """Words that start a new request rather than a remark about the service."""


def fold(said: str) -> str:
    """Return ``said`` in lower case without accents and with "ё" as "е" ("й" stays "й")."""
    kept = []
    for c in said.lower():
        if c == "й":
            kept.append(c)
            continue
        decomposed = unicodedata.normalize("NFD", c)
        kept.append("".join(d for d in decomposed if not unicodedata.combining(d)))
    return "".join(kept)


def words(text: str) -> frozenset[str]:
    """Return the words of ``text`` (space-separated), folded."""
    return frozenset(fold(text).split())


def _tables() -> dict[str, Ratings]:
    from bot.survey.words import en, es, ru

    return {"en": en.RATINGS, "es": es.RATINGS, "ru": ru.RATINGS}


#: Every language's words.
TABLES: Mapping[str, Ratings] = _tables()


def readable(language: str) -> tuple[tuple[str, ...], ...]:
    """Return the sets of languages to read a rating in, one set at a time, the likeliest first.

    The conversation's language with English (buyers mix in "ok", "super"), then each other
    language with English: the question may have gone out in the default language before the
    buyer's own was told apart, and a rating in any language we speak is still a rating.
    """
    others = [code for code in TABLES if code != DEFAULT]
    first = [language] if language in others else []
    sets = [(code, DEFAULT) for code in first + [c for c in others if c not in first]]
    return tuple(sets) if first else ((DEFAULT,), *sets)
