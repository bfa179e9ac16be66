"""What the review lists and why, grouped by similarity, on a tracker store Rasa wrote."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import sessionmaker

from bot.contract import HandoffReason
from bot.gateway.models import Channel
from bot.review.candidates import Thresholds
from bot.review.grouping import group_similar
from bot.review.page import build_page, to_json
from bot.review.tracker import open_tracker, reading
from tests.insights.history import History
from tests.insights.week import SINCE, UNTIL, day
from tests.review.tracker import (
    EMAIL_MESSAGE,
    ORDER,
    REPHRASED,
    week_conversations,
    write_tracker,
)

THRESHOLDS = Thresholds(fallback=0.5, review=0.7)


@pytest.fixture
def page(tracker_url: str, session_factory: sessionmaker) -> dict:
    write_tracker(tracker_url, week_conversations())
    with session_factory.begin() as session:
        history = History(session)
        for sender in ("web-a", "tg-b", "web-d", "web-f"):
            history.conversation(sender, channel=Channel.WEBCHAT, at=day(3))
        history.handoff("tg-b", reason=HandoffReason.REPEATED_FAILURE, at=day(4, 10, 3))
        # Asked for by the buyer: not a failure, so web-a's messages are not "before a handoff".
        history.handoff("web-a", reason=HandoffReason.BUYER_ASKED, at=day(3, 9, 5))
    engine = open_tracker(tracker_url)
    with session_factory.begin() as session, reading(engine) as tracker:
        built = build_page(tracker, session, since=SINCE, until=UNTIL, thresholds=THRESHOLDS)
        data = to_json(built, intents=("greet", "request_refund"))
    engine.dispose()
    return data


def items(data: dict) -> dict[str, dict]:
    return {i["text"]: i for g in data["groups"] for i in g["items"]}


def test_fallbacks_low_confidence_handoffs_and_corrections_are_listed(page: dict) -> None:
    listed = items(page)

    assert {text: item["kinds"] for text, item in listed.items()} == {
        "blorp my thingy": ["fallback"],
        "I want my money back for the lamp": ["correction"],
        "whatever man": ["low_confidence", "out_of_scope"],
        f"where's my stuff {ORDER}": ["low_confidence", "before_handoff"],
        "wher is my stuf": ["fallback", "before_handoff"],
        "hello??": ["before_handoff", "correction"],
        EMAIL_MESSAGE: ["fallback"],
        "asdf the lamp": ["out_of_scope"],
        REPHRASED: ["correction"],
    }
    # Understood well and with no failure around it: "hi" is not listed; nor is a button press.
    blorp = listed["blorp my thingy"]
    # The rephrase right after, understood, is what the reviewer is offered first.
    assert blorp["suggestion"] == "request_refund"
    assert blorp["rephrase"] == "I want my money back for the lamp"
    assert blorp["best_guess"] == {"name": "request_refund", "confidence": 0.31}
    assert listed["wher is my stuf"]["suggestion"] == "greet"
    assert listed[EMAIL_MESSAGE]["suggestion"] == "request_refund"
    assert listed["whatever man"]["suggestion"] == "out_of_scope"
    # Out of scope at full confidence, then said again so that it was understood.
    assert listed["asdf the lamp"]["suggestion"] == "request_refund"
    assert listed["asdf the lamp"]["rephrase"] == REPHRASED
    assert blorp["sender_id"] == "web-a"
    assert isinstance(blorp["event_id"], int)
    assert blorp["verdict"] is None
    assert page["thresholds"] == {"fallback": 0.5, "review": 0.7}
    assert page["truncated"] is False


def test_similar_messages_share_a_group(page: dict) -> None:
    groups = [[i["text"] for i in g["items"]] for g in page["groups"]]

    assert [f"where's my stuff {ORDER}", "wher is my stuf"] in groups
    assert sum(len(g) for g in groups) == 9


def test_grouping_is_deterministic_and_ignores_which_number() -> None:
    texts = [
        "where is my parcel 8041235566701234",
        "i want a refund",
        "where is my parcel 8041235566709876",
        "I want a refund please",
        "can I pay with apple pay",
        "wheres my parcel??",
    ]

    groups = group_similar(texts)

    assert groups == [[0, 2, 5], [1, 3], [4]]
    assert group_similar(texts) == groups
    assert group_similar([]) == []


def test_a_verdict_shows_on_the_page(
    tracker_url: str, session_factory: sessionmaker, page: dict
) -> None:
    from bot.review import store
    from bot.review.tracker import user_message

    blorp = items(page)["blorp my thingy"]
    engine = open_tracker(tracker_url)
    with session_factory.begin() as session, reading(engine) as tracker:
        message = user_message(tracker, sender_id="web-a", event_id=blorp["event_id"])
        assert message is not None
        now = dt.datetime(2026, 11, 10, tzinfo=dt.timezone.utc)
        store.record_verdict(
            session, message=message, intent="request_refund", agent_id=None, now=now
        )
        again = build_page(tracker, session, since=SINCE, until=UNTIL, thresholds=THRESHOLDS)
    engine.dispose()

    verdicts = {
        c.message.text: again.verdicts.get((c.message.sender_id, c.message.event_id))
        for g in again.groups
        for c in g
    }
    assert verdicts["blorp my thingy"] is not None
    assert verdicts["blorp my thingy"].intent == "request_refund"
    assert verdicts["whatever man"] is None
