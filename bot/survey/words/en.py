"""How English-speaking buyers rate the service in words: what :mod:`bot.survey.answers` reads."""

from __future__ import annotations

import re

from bot.survey.words import Ratings, words

NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}

VERDICTS: dict[str, int] = {
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
    "unhelpful": 2,
    "not helpful": 2,
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
    "helpful": 4,
    "very good": 5,
    "great": 5,
    "excellent": 5,
    "perfect": 5,
    "amazing": 5,
    "awesome": 5,
    "fantastic": 5,
    "brilliant": 5,
    "superb": 5,
    "super": 5,
    "outstanding": 5,
    "wonderful": 5,
    "very helpful": 5,
}

FILLER = words(
    "i i'd id would say it it's its was is that this a an the my rating rate give you your "
    "thanks thank thx ty really honestly overall so service experience chat bot just "
    "maybe about all in"
)

# Only the words that start a request: a question mark, an order number, a reference or an
# e-mail address make any message one (:func:`bot.survey.answers.reads_as_request`).
REQUEST = re.compile(
    r"\b(refunds?|return|money back|cancel|withdraw|status of|where is|where's|when will|"
    r"my order|tracking number|i want|i need|can you|could you|help me|how do|how can|"
    r"talk to|speak to)\b",
    re.I,
)

RATINGS = Ratings(
    numbers=NUMBERS,
    out_of=r"out\s+of|of",
    five=r"five",
    stars=r"stars?",
    verdicts=VERDICTS,
    filler=FILLER,
    request=REQUEST,
)
