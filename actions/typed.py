"""What a typed answer picks when it names nothing directly: "that one", "the second", "yes".

The refund form's extraction calls these; they read the buyer's words and the tracker only.
"""

from __future__ import annotations

import re

from rasa_sdk import Tracker

from actions.common import AFFIRMATIVE, latest_intent
from bot.refunds import policy, reading
from bot.refunds.enums import RefundMethod
from bot.refunds.errors import ReasonError

_ORDINALS = (
    re.compile(r"\b(first|1st|top)\b", re.I),
    re.compile(r"\b(second|2nd|middle)\b", re.I),
    re.compile(r"\b(third|3rd)\b", re.I),
)
_LAST = re.compile(r"\b(last|bottom)\b( one| option)?", re.I)


def choose_offered(
    said: str, intent: str | None, offered: list[RefundMethod]
) -> RefundMethod | None:
    """Return the offered method an answer without a method's name picks, if it picks one.

    The only method offered is picked by "yes", "ok", "that one" or "all of it"; among
    several, "the first one", "the second" or "the last one" pick by position.
    """
    if not offered:
        return None
    if len(offered) == 1 and (
        intent == "affirm" or AFFIRMATIVE.search(said) or reading.WHOLE_WORDS.search(said)
    ):
        return offered[0]
    for index, pattern in enumerate(_ORDINALS):
        if pattern.search(said) and index < len(offered):
            return offered[index]
    if _LAST.search(said):
        return offered[-1]
    return None


def asks_for_a_refund(tracker: Tracker) -> bool:
    """Return True when the latest message starts the refund: everything in it is read."""
    return latest_intent(tracker) == "request_refund" or (
        tracker.get_slot("requested_slot") is None and latest_intent(tracker) == "inform"
    )


def describes_enough(reason: str, method: RefundMethod | None) -> bool:
    """Return True when ``reason`` is enough for ``method`` (for any method, when unknown)."""
    try:
        policy.check_reason(method or RefundMethod.RETURN_AND_REFUND, reason)
    except ReasonError:
        return False
    return True
