"""The NLU review page: merchants and admins list what the bot did not understand and judge it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import sessionmaker

from bot.console.models import Agent
from bot.insights.report import NLU_NOT_RECORDED
from bot.review.models import NluReview
from bot.review.project import load_project
from bot.settings import Settings
from tests.console.agents import Console
from tests.review.tracker import tracker_url_for, week_conversations, write_tracker

WEEK = "?since=2026-11-02&until=2026-11-09"
PAGE = "/console/api/nlu-review"
VERDICTS = "/console/api/nlu-review/verdicts"


@pytest.fixture
def settings(settings: Settings, db_url: str, tmp_path: Path) -> Settings:
    """The gateway's settings with Rasa's tracker store written for the known week."""
    url = tracker_url_for(db_url, tmp_path)
    write_tracker(url, week_conversations())
    return dataclasses.replace(settings, tracker_store_url=url)


def by_text(data: dict) -> dict[str, dict]:
    return {i["text"]: i for g in data["groups"] for i in g["items"]}


async def test_a_merchant_lists_the_weeks_messages_to_review(mia: Console) -> None:
    data = await mia.get(PAGE + WEEK)

    listed = by_text(data)
    assert listed["blorp my thingy"]["kinds"] == ["fallback"]
    assert listed["blorp my thingy"]["suggestion"] == "request_refund"
    assert "hi" not in listed
    assert "request_refund" in data["intents"]
    assert "nlu_fallback" not in data["intents"]
    # config.yml's FallbackClassifier threshold, and the review setting's default.
    assert data["thresholds"] == {
        "fallback": load_project().fallback_threshold,
        "review": 0.7,
    }


async def test_a_verdict_is_stored_once_per_message_and_can_change(
    ana: Console, session_factory: sessionmaker
) -> None:
    item = by_text(await ana.get(PAGE + WEEK))["blorp my thingy"]
    key = {"sender_id": item["sender_id"], "event_id": item["event_id"]}

    await ana.ok(VERDICTS, {**key, "intent": "out_of_scope"})
    await ana.ok(VERDICTS, {**key, "intent": "request_refund"})
    ignored = by_text(await ana.get(PAGE + WEEK))["whatever man"]
    await ana.ok(
        VERDICTS, {"sender_id": "web-a", "event_id": ignored["event_id"], "intent": "ignore"}
    )

    with session_factory.begin() as session:
        rows = session.execute(
            select(NluReview.text, NluReview.intent, Agent.name, NluReview.predicted_intent)
            .join(Agent, Agent.id == NluReview.agent_id)
            .order_by(NluReview.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("blorp my thingy", "request_refund", "ana", "nlu_fallback"),
        ("whatever man", None, "ana", "out_of_scope"),
    ]
    page = by_text(await ana.get(PAGE + WEEK))
    assert page["blorp my thingy"]["verdict"]["intent"] == "request_refund"
    assert page["blorp my thingy"]["verdict"]["agent"] == "Ana"
    assert page["whatever man"]["verdict"]["intent"] is None


async def test_only_domain_intents_and_real_messages_are_accepted(mia: Console) -> None:
    item = by_text(await mia.get(PAGE + WEEK))["blorp my thingy"]
    key = {"sender_id": item["sender_id"], "event_id": item["event_id"]}

    assert (await mia.post(VERDICTS, {**key, "intent": "nlu_fallback"})).status == 400
    assert (await mia.post(VERDICTS, {**key, "intent": "make_me_rich"})).status == 400
    for wrong in ({"event_id": "1"}, {"event_id": 2**40}, {"event_id": 0}, {"sender_id": ""}):
        assert (await mia.post(VERDICTS, {**key, **wrong, "intent": "greet"})).status == 400
    assert (await mia.post(VERDICTS, [key])).status == 400
    # Another conversation's event id, or no such event: nothing to judge.
    other = {"sender_id": "tg-b", "event_id": item["event_id"], "intent": "greet"}
    assert (await mia.post(VERDICTS, other)).status == 404
    # No CSRF token: refused before anything is read.
    assert (await mia.post(VERDICTS, {**key, "intent": "greet"}, csrf=False)).status == 403


async def test_an_agent_has_no_review(ben: Console, ana: Console) -> None:
    assert (await ben.client.get(PAGE + WEEK)).status == 403
    response = await ben.post(VERDICTS, {"sender_id": "web-a", "event_id": 1, "intent": "greet"})
    assert response.status == 403
    assert 'data-view="review"' not in await (await ben.client.get("/console")).text()
    assert 'data-view="review"' in await (await ana.client.get("/console")).text()
    assert (await ana.client.get("/console/static/review.js")).status == 200


async def test_the_insights_page_shows_the_fallback_rate(mia: Console) -> None:
    data = await mia.get("/console/api/insights" + WEEK)

    assert data["nlu_fallback"] == {"recorded": True, "messages": 10, "fallbacks": 3, "rate": 0.3}
    csv = await (await mia.client.get("/console/api/insights.csv" + WEEK)).text()
    assert "nlu_fallback,rate,,0.3\r\n" in csv
    assert "nlu_fallback,messages,,10\r\n" in csv


async def test_without_rasas_events_the_page_says_so_and_nothing_fails(
    mia: Console, settings: Settings
) -> None:
    engine = create_engine(settings.tracker_store, future=True)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE events"))
    engine.dispose()

    page = await mia.get(PAGE + WEEK)
    assert page["groups"] == []
    assert "tracker store cannot be read" in page["unavailable"]
    posted = await mia.post(VERDICTS, {"sender_id": "web-a", "event_id": 1, "intent": "greet"})
    assert posted.status == 404
    insights = await mia.get("/console/api/insights" + WEEK)
    assert insights["nlu_fallback"] == {"recorded": False, "note": NLU_NOT_RECORDED}
