"""Reading Rasa's tracker store as Rasa writes it, read-only, and the NLU fallback rate."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import exc, insert
from sqlalchemy.orm import sessionmaker

from bot.insights.figures import NluFallback, NotRecorded
from bot.insights.render import to_json, to_text
from bot.insights.report import NLU_NOT_RECORDED, build_report
from bot.review.tracker import (
    EVENTS,
    TrackerUnavailable,
    open_tracker,
    reading,
    user_message,
    user_messages,
)
from tests.insights.week import SINCE, UNTIL
from tests.review.tracker import (
    EMAIL_MESSAGE,
    ORDER,
    REPHRASED,
    week_conversations,
    write_tracker,
)


@pytest.fixture
def tracker(tracker_url: str) -> str:
    write_tracker(tracker_url, week_conversations())
    return tracker_url


def test_typed_buyer_messages_are_read_with_what_rasa_understood(tracker: str) -> None:
    engine = open_tracker(tracker)
    with reading(engine) as connection:
        messages, truncated = user_messages(connection, since=SINCE, until=UNTIL, limit=100)
    engine.dispose()

    assert not truncated
    # By sender, in the order said; the button's "/affirm" and web-e (after the week) are not.
    assert [(m.sender_id, m.text) for m in messages] == [
        ("tg-b", f"where's my stuff {ORDER}"),
        ("tg-b", "wher is my stuf"),
        ("tg-b", "hello??"),
        ("web-a", "hi"),
        ("web-a", "blorp my thingy"),
        ("web-a", "I want my money back for the lamp"),
        ("web-a", "whatever man"),
        ("web-d", EMAIL_MESSAGE),
        ("web-f", "asdf the lamp"),
        ("web-f", REPHRASED),
    ]
    blorp = messages[4]
    assert (blorp.intent, blorp.confidence) == ("nlu_fallback", 0.5)
    assert blorp.best_guess is not None
    assert blorp.best_guess.name == "request_refund"
    assert messages[0].entities[0]["entity"] == "order_id"
    assert messages[0].at.isoformat() == "2026-11-04T10:00:00+00:00"


def test_the_newest_messages_are_kept_when_there_are_too_many(tracker: str) -> None:
    engine = open_tracker(tracker)
    with reading(engine) as connection:
        messages, truncated = user_messages(connection, since=SINCE, until=UNTIL, limit=2)
        first = messages[0]
        again = user_message(connection, sender_id=first.sender_id, event_id=first.event_id)
        elsewhere = user_message(connection, sender_id="web-a", event_id=first.event_id)
    engine.dispose()

    assert truncated
    # The two newest rows of the week: web-d's message, written last, and web-f's last one.
    assert [m.text for m in messages] == [EMAIL_MESSAGE, REPHRASED]
    assert again == first
    assert elsewhere is None


def test_our_engine_cannot_write_to_rasas_store(tracker: str) -> None:
    engine = open_tracker(tracker)
    with pytest.raises(exc.DBAPIError), engine.begin() as connection:
        connection.execute(insert(EVENTS).values(sender_id="x", type_name="user", data="{}"))
    engine.dispose()


def test_a_store_rasa_never_wrote_is_unavailable_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "var" / "rasa-tracker.db"
    engine = open_tracker(f"sqlite:///{missing}")

    with pytest.raises(TrackerUnavailable), reading(engine):
        pass
    assert not missing.exists()


def test_the_fallback_rate_of_a_known_week(tracker: str, session_factory: sessionmaker) -> None:
    engine = open_tracker(tracker)
    with session_factory.begin() as session:
        report = build_report(session, since=SINCE, until=UNTIL, tracker=engine)
    engine.dispose()

    # 10 typed buyer messages in the week (a button press is not one), 3 not understood.
    assert report.nlu_fallback == NluFallback(messages=10, fallbacks=3)
    assert to_json(report)["nlu_fallback"] == {
        "recorded": True,
        "messages": 10,
        "fallbacks": 3,
        "rate": 0.3,
    }
    assert "NLU fallback rate: 30.0 % (3 of 10 typed buyer messages)" in to_text(report)


def test_the_rate_is_not_made_up_without_a_store(
    tmp_path: Path, session_factory: sessionmaker
) -> None:
    engine = open_tracker(f"sqlite:///{tmp_path / 'none.db'}")
    with session_factory.begin() as session:
        report = build_report(session, since=SINCE, until=UNTIL, tracker=engine)
    assert report.nlu_fallback == NotRecorded(NLU_NOT_RECORDED)
    assert to_json(report)["nlu_fallback"] == {"recorded": False, "note": NLU_NOT_RECORDED}
