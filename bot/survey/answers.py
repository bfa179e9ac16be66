"""Reading a buyer's answer to the survey: a button's payload, a typed number, words, stars.

Pure functions, no I/O. A typed answer counts only when the whole message is one: "4", "4/5",
"4 out of 5", "five stars", "great, thanks!", "⭐⭐⭐". A message that says more ("4 items are
missing from order 1234…") is not an answer, and goes on to Rasa untouched.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from bot.refunds import reading

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

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}

#: Words (and short phrases) that are a rating on their own.
_VERDICTS: dict[str, int] = {
    "terrible": 1,
    "awful": 1,
    "horrible": 1,
    "the worst": 1,
    "worst": 1,
    "useless": 1,
    "very bad": 1,
    "very poor": 1,
    "bad": 2,
    "poor": 2,
    "not good": 2,
    "not great": 2,
    "disappointing": 2,
    "meh": 3,
    "ok": 3,
    "okay": 3,
    "average": 3,
    "so so": 3,
    "so-so": 3,
    "fine": 3,
    "alright": 3,
    "not bad": 4,
    "good": 4,
    "nice": 4,
    "pretty good": 4,
    "quite good": 4,
    "very good": 5,
    "great": 5,
    "excellent": 5,
    "perfect": 5,
    "amazing": 5,
    "awesome": 5,
    "fantastic": 5,
    "brilliant": 5,
    "superb": 5,
    "outstanding": 5,
    "wonderful": 5,
    "very helpful": 5,
    "helpful": 4,
    "unhelpful": 2,
    "not helpful": 2,
}

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

#: Words around a rating that do not change it ("I'd say 4, thanks").
_FILLER = frozenset(
    "i i'd id would say it it's its was is that this a an the my rating rate give you your "
    "thanks thank thx ty really honestly overall so service experience chat bot just "
    "maybe about all in".split()
)

_SCALE = re.compile(
    r"(?<![\d.,+\-\u2212])(?P<n>[1-5])(?:\s*(?:/|out\s+of|of)\s*5)?(?:\s*stars?)?(?![\d.,]*\d)"
)
_WORD_SCALE = re.compile(
    r"\b(?P<w>one|two|three|four|five)(?:\s+(?:out\s+of\s+)?five)?(?:\s+stars?)?\b"
)


def rating_of(said: str) -> int | None:
    """Return the 1–5 rating a typed message gives, or ``None`` when it is not only a rating."""
    text = unicodedata.normalize("NFKC", said).strip()
    if not text or len(text) > 60:
        return None
    stars = _star_rating(text)
    if stars is not None:
        return stars
    lowered = text.lower().replace("\u2019", "'")
    marks = [mark for mark in _EMOJI if mark in lowered]
    if marks:
        ratings = {_EMOJI[mark] for mark in marks}
        for mark in marks:
            lowered = lowered.replace(mark, " ")
        return ratings.pop() if len(ratings) == 1 and not _rest(lowered) else None
    found: list[int] = []
    rest = lowered
    for pattern, value in ((_SCALE, "n"), (_WORD_SCALE, "w")):
        for match in pattern.finditer(rest):
            word = match[value]
            found.append(int(word) if word.isdigit() else _NUMBER_WORDS[word])
        rest = pattern.sub(" ", rest)
    for phrase in sorted(_VERDICTS, key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])")
        if pattern.search(rest):
            found.append(_VERDICTS[phrase])
            rest = pattern.sub(" ", rest)
    if len(set(found)) != 1 or _rest(rest):
        return None
    return found[0]


def _star_rating(text: str) -> int | None:
    """Return the number of filled stars when the message is only stars (``★★★★☆``)."""
    kept = text.replace("\N{VARIATION SELECTOR-16}", "").replace(" ", "")
    if not kept or any(c not in _STARS + _EMPTY_STAR for c in kept):
        return None
    filled = sum(1 for c in kept if c in _STARS)
    return filled if 1 <= filled <= 5 else None


def _rest(text: str) -> bool:
    """Return whether ``text`` holds words that are neither filler nor punctuation."""
    words = re.findall(r"[^\W_]+(?:'[^\W_]+)?", text)
    return any(word not in _FILLER for word in words)


# --- comments ---------------------------------------------------------------------------------

#: Words that start a new request rather than a remark about the service.
_REQUEST = re.compile(
    r"\b(refunds?|return|money back|cancel|withdraw|status of|where is|where's|when will|"
    r"my order|tracking number|i want|i need|can you|could you|help me|how do|how can|"
    r"talk to|speak to)\b",
    re.I,
)


def reads_as_request(said: str) -> bool:
    """Return whether a message after a rating is a new request rather than a comment.

    A question, an order number, an application's reference, an e-mail address, or words that
    start a request ("I want a refund for…", "where is my order") go to Rasa; other words are
    the buyer's comment.
    """
    text = said.strip()
    if not text or text.startswith("/"):
        return True
    if text.endswith("?"):
        return True
    if reading.find_order_id(text) or reading.find_reference(text) or reading.find_email(text):
        return True
    return bool(_REQUEST.search(text))
