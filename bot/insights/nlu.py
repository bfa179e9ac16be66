"""The NLU fallback rate, computed in SQL on Rasa's tracker store (read-only).

The share of the period's typed buyer messages (user events; button payloads such as
``/affirm`` and intents triggered through Rasa's HTTP API are not typed and not counted) whose
intent was ``nlu_fallback``: what Rasa's FallbackClassifier answers below config.yml's threshold.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, and_, case, cast, func, select
from sqlalchemy.engine import Connection

from bot.insights.dialect import SQLITE
from bot.insights.figures import NluFallback, Period
from bot.review.tracker import EVENTS, NLU_FALLBACK, NOT_TYPED, epoch


def _text(dialect: str) -> Any:
    if dialect == SQLITE:
        return func.json_extract(EVENTS.c.data, "$.text")
    return func.json_extract_path_text(cast(EVENTS.c.data, JSON), "text")


def nlu_fallback(tracker: Connection, *, period: Period) -> NluFallback:
    """Count the period's typed buyer messages and those Rasa did not understand."""
    text = _text(tracker.dialect.name)
    fallbacks = func.count(case((EVENTS.c.intent_name == NLU_FALLBACK, 1)))
    messages, failed = tracker.execute(
        select(func.count(), fallbacks).where(
            EVENTS.c.type_name == "user",
            EVENTS.c.timestamp >= epoch(period.since),
            EVENTS.c.timestamp < epoch(period.until),
            and_(*(text.not_like(f"{prefix}%") for prefix in NOT_TYPED)),
        )
    ).one()
    return NluFallback(messages=int(messages), fallbacks=int(failed))
