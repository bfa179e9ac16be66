"""Reading a buyer's answer to the survey: a button's payload, a typed number, words, stars.

Pure functions, no I/O. A typed answer counts only when the whole message is one: "4", "4/5",
"4 out of 5", "five stars", "great, thanks!", "⭐⭐⭐", "un 4", "muy bien", "на 5", "так себе".
A message that says more ("4 items are missing from order 1234…") is not an answer, and goes on
to Rasa untouched. Each language's words are in :mod:`bot.survey.words`.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass

from bot.languages import DEFAULT
from bot.refunds import reading
from bot.survey import words

#: Intent-like names of the survey's buttons. Typed text never reaches the gateway with a
#: leading ``/`` as its payload (:meth:`bot.gateway.transcript.Inbound.typed` drops it), so
#: only the buttons the gateway sent carry these.
RATE = "survey_rate"
NO_COMMENT = "survey_no_comment"

_PAYLOAD = re.compile(r"/(?P<name>survey_rate|survey_no_comment)(?P<body>\{.*\})")


@dataclass(frozen=True)
class Pressed:
    """A press of one of the survey's buttons."""

    survey_id: int
    rating: int | None
    """The rating of a rating button; ``None`` for [No comment]."""


def rate_payload(survey_id: int, rating: int) -> str:
    """Return the payload of the button that gives survey ``survey_id`` ``rating``."""
    return f'/{RATE}{{"survey":{survey_id},"rating":{rating}}}'


def no_comment_payload(survey_id: int) -> str:
    """Return the payload of the [No comment] button of survey ``survey_id``."""
    return f'/{NO_COMMENT}{{"survey":{survey_id}}}'


def pressed(payload: str | None) -> Pressed | None:
    """Return the survey button ``payload`` names, or ``None`` when it is not one of them."""
    match = _PAYLOAD.fullmatch(payload or "")
    if match is None:
        return None
    try:
        body = json.loads(match["body"])
    except ValueError:
        return None
    survey = body.get("survey") if isinstance(body, dict) else None
    if not isinstance(survey, int) or isinstance(survey, bool):
        return None
    if match["name"] == NO_COMMENT:
        return Pressed(survey, None)
    rating = body.get("rating")
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        return None
    return Pressed(survey, rating)


# --- typed ratings ----------------------------------------------------------------------------

_EMOJI: dict[str, int] = {
    "\N{THUMBS UP SIGN}": 4,
    "\N{THUMBS DOWN SIGN}": 2,
    "\N{SMILING FACE WITH HEART-SHAPED EYES}": 5,
    "\N{GRINNING FACE}": 5,
    "\N{SLIGHTLY SMILING FACE}": 4,
    "\N{NEUTRAL FACE}": 3,
    "\N{SLIGHTLY FROWNING FACE}": 2,
    "\N{POUTING FACE}": 1,
    "\N{ANGRY FACE}": 1,
}

_STARS = "\N{WHITE MEDIUM STAR}\N{GLOWING STAR}\N{BLACK STAR}"
_EMPTY_STAR = "\N{WHITE STAR}"


@dataclass(frozen=True)
class _Reader:
    """The patterns that read a rating in one set of languages, mixed in one message."""

    scale: re.Pattern[str]
    """A digit, with its scale and unit: "4", "4/5", "4 de 5", "5 звёзд"."""
    word_scale: re.Pattern[str]
    """A number in words, with its scale and unit: "five stars", "cuatro de cinco"."""
    numbers: dict[str, int]
    verdict: re.Pattern[str]
    verdicts: dict[str, int]
    filler: frozenset[str]


@functools.cache
def _reader(languages: tuple[str, ...]) -> _Reader:
    tables = [words.TABLES[code] for code in languages]
    out_of = "|".join(t.out_of for t in tables)
    five = "|".join(t.five for t in tables)
    stars = "|".join(t.stars for t in tables)
    numbers = {words.fold(w): n for t in tables for w, n in t.numbers.items()}
    verdicts = {words.fold(w): n for t in tables for w, n in t.verdicts.items()}
    unit = rf"(?:\s*(?:{stars})(?!\w))?"
    scale = re.compile(
        rf"(?<![\d.,+\-\u2212])(?P<n>[1-5])(?:\s*(?:/|(?:{out_of})(?!\w))\s*(?:5|{five}))?"
        rf"{unit}(?![\d.,]*\d)"
    )
    spelled = "|".join(sorted(map(re.escape, numbers), key=len, reverse=True))
    word_scale = re.compile(
        rf"(?<!\w)(?P<w>{spelled})(?:\s+(?:(?:{out_of})\s+)?(?:{five}))?{unit}(?!\w)"
    )
    phrases = "|".join(sorted(map(re.escape, verdicts), key=len, reverse=True))
    return _Reader(
        scale=scale,
        word_scale=word_scale,
        numbers=numbers,
        verdict=re.compile(rf"(?<![\w-])(?:{phrases})(?![\w-])"),
        verdicts=verdicts,
        filler=frozenset().union(*(t.filler for t in tables)),
    )


def rating_of(said: str, language: str = DEFAULT) -> int | None:
    """Return the 1–5 rating a typed message gives, or ``None`` when it is not only a rating.

    Read in the conversation's ``language`` first, then in each other language we speak
    (:func:`bot.survey.words.readable`), each with English's words mixed in.
    """
    text = unicodedata.normalize("NFKC", said).strip()
    if not text or len(text) > 60:
        return None
    stars = _star_rating(text)
    if stars is not None:
        return stars
    folded = re.sub(r"\s+", " ", words.fold(text).replace("\u2019", "'"))
    marks = [mark for mark in _EMOJI if mark in folded]
    if marks:
        ratings = {_EMOJI[mark] for mark in marks}
        for mark in marks:
            folded = folded.replace(mark, " ")
        if len(ratings) != 1:
            return None
        alone = any(not _rest(folded, _reader(c).filler) for c in words.readable(language))
        return ratings.pop() if alone else None
    for codes in words.readable(language):
        rating = _read(folded, _reader(codes))
        if rating is not None:
            return rating
    return None


def _read(folded: str, reader: _Reader) -> int | None:
    """Return the one rating ``folded`` gives in ``reader``'s words, if it says nothing else."""
    found: list[int] = []
    rest = folded
    for match in reader.scale.finditer(rest):
        found.append(int(match["n"]))
    rest = reader.scale.sub(" ", rest)
    for match in reader.word_scale.finditer(rest):
        found.append(reader.numbers[match["w"]])
    rest = reader.word_scale.sub(" ", rest)
    for match in reader.verdict.finditer(rest):
        found.append(reader.verdicts[match[0]])
    rest = reader.verdict.sub(" ", rest)
    if len(set(found)) != 1 or _rest(rest, reader.filler):
        return None
    return found[0]


def _star_rating(text: str) -> int | None:
    """Return the number of filled stars when the message is only stars (``★★★★☆``)."""
    kept = text.replace("\N{VARIATION SELECTOR-16}", "").replace(" ", "")
    if not kept or any(c not in _STARS + _EMPTY_STAR for c in kept):
        return None
    filled = sum(1 for c in kept if c in _STARS)
    return filled if 1 <= filled <= 5 else None


def _rest(text: str, filler: frozenset[str]) -> bool:
    """Return whether ``text`` holds words that are neither ``filler`` nor punctuation."""
    return any(word not in filler for word in re.findall(r"[^\W_]+(?:'[^\W_]+)?", text))


# --- comments ---------------------------------------------------------------------------------


def reads_as_request(said: str) -> bool:
    """Return whether a message after a rating is a new request rather than a comment.

    A question, an order number, an application's reference, an e-mail address, or words that
    start a request in any language we speak ("I want a refund for…", "quiero devolverlo",
    "где мой заказ") go to Rasa; other words are the buyer's comment. Every language's words
    count: a comment wrongly taken for a request is only lost, a request taken for a comment
    would go unanswered.
    """
    text = said.strip()
    if not text or text.startswith("/"):
        return True
    if text.endswith("?") or text.startswith("\N{INVERTED QUESTION MARK}"):
        return True
    if reading.find_order_id(text) or reading.find_reference(text) or reading.find_email(text):
        return True
    folded = words.fold(text)
    return any(table.request.search(folded) for table in words.TABLES.values())
