"""Which buyer messages a person should look at, and why: pure rules over the tracker's messages.

* **fallback**: Rasa answered ``nlu_fallback``, or its confidence was under config.yml's
  FallbackClassifier threshold;
* **low confidence**: understood, but with less confidence than the review threshold;
* **out of scope**: understood as something the assistant cannot help with. DIET is often sure
  of itself (gibberish comes out as ``out_of_scope`` at confidence 1.0 with the current model),
  so these are where many messages it did not really understand end up;
* **before a handoff**: among the last messages before the conversation went to a person
  because the bot failed (``repeated_failure``);
* **correction**: the buyer's next message right after a fallback or an out-of-scope one (their
  rephrase). Its intent, when Rasa understood it well, is the suggestion for the message before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import groupby

from bot.review.tracker import NLU_FALLBACK, UserMessage

#: The domain's intent for what the assistant cannot help with.
OUT_OF_SCOPE = "out_of_scope"

#: How many of the buyer's messages before a handoff after failures are listed.
BEFORE_HANDOFF = 3


class Kind(str, Enum):
    """Why a message is listed."""

    FALLBACK = "fallback"
    LOW_CONFIDENCE = "low_confidence"
    OUT_OF_SCOPE = "out_of_scope"
    BEFORE_HANDOFF = "before_handoff"
    CORRECTION = "correction"


@dataclass(frozen=True)
class Thresholds:
    """Confidences under which a message is a fallback, and under which it is reviewed."""

    fallback: float
    review: float


@dataclass(frozen=True)
class Candidate:
    """A buyer message to review, why, and what the reviewer is offered first."""

    message: UserMessage
    kinds: tuple[Kind, ...]
    suggestion: str | None
    """The intent the page preselects: the rephrase's, else Rasa's best real guess."""
    rephrase: str | None = None
    """After a fallback: what the buyer wrote next."""


def is_fallback(message: UserMessage, thresholds: Thresholds) -> bool:
    """Return whether Rasa did not understand ``message``."""
    if message.intent == NLU_FALLBACK:
        return True
    return message.confidence is not None and message.confidence < thresholds.fallback


def _not_understood(message: UserMessage, thresholds: Thresholds) -> bool:
    return is_fallback(message, thresholds) or message.intent == OUT_OF_SCOPE


def _understood(message: UserMessage, thresholds: Thresholds) -> bool:
    return (
        not _not_understood(message, thresholds)
        and message.confidence is not None
        and message.confidence >= thresholds.review
    )


def find_candidates(
    messages: Sequence[UserMessage],
    *,
    thresholds: Thresholds,
    handoffs: Mapping[str, Sequence[dt.datetime]],
) -> list[Candidate]:
    """Return the messages to review, in the order given (by sender, then as they were said).

    ``messages`` are grouped by sender and in order within one; ``handoffs`` maps a sender
    (conversation id) to when its handoffs after failures were requested.
    """
    found: list[Candidate] = []
    for sender, group in groupby(messages, key=lambda m: m.sender_id):
        said = list(group)
        before = _before_handoffs(said, handoffs.get(sender, ()))
        for i, message in enumerate(said):
            kinds: list[Kind] = []
            if is_fallback(message, thresholds):
                kinds.append(Kind.FALLBACK)
            elif message.confidence is not None and message.confidence < thresholds.review:
                kinds.append(Kind.LOW_CONFIDENCE)
            if message.intent == OUT_OF_SCOPE:
                kinds.append(Kind.OUT_OF_SCOPE)
            if i in before:
                kinds.append(Kind.BEFORE_HANDOFF)
            if i > 0 and _not_understood(said[i - 1], thresholds):
                kinds.append(Kind.CORRECTION)
            if not kinds:
                continue
            missed = _not_understood(message, thresholds)
            following = said[i + 1] if missed and i + 1 < len(said) else None
            found.append(
                Candidate(
                    message=message,
                    kinds=tuple(kinds),
                    suggestion=_suggestion(message, following, thresholds),
                    rephrase=following.text if following else None,
                )
            )
    return found


def _before_handoffs(said: Sequence[UserMessage], times: Sequence[dt.datetime]) -> set[int]:
    listed: set[int] = set()
    for at in times:
        earlier = [i for i, m in enumerate(said) if m.at <= at]
        listed.update(earlier[-BEFORE_HANDOFF:])
    return listed


def _suggestion(
    message: UserMessage, following: UserMessage | None, thresholds: Thresholds
) -> str | None:
    if following is not None and _understood(following, thresholds) and following.intent:
        return following.intent
    guess = message.best_guess
    if guess is not None:
        return guess.name
    return message.intent if message.intent != NLU_FALLBACK else None
