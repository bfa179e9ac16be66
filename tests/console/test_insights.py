"""The Insights page: the report for merchants and admins, as JSON and as a CSV download."""

from __future__ import annotations

import csv
import io

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.orm import sessionmaker

from tests.console.agents import Console, client_of
from tests.insights.history import History
from tests.insights.week import build_week

WEEK = "?since=2026-11-02&until=2026-11-09"


@pytest.fixture
def week(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        build_week(History(session))


@pytest.mark.usefixtures("week")
async def test_a_merchant_reads_the_weeks_figures(mia: Console) -> None:
    data = await mia.get("/console/api/insights" + WEEK)

    assert data["period"] == {"since": "2026-11-02T00:00:00Z", "until": "2026-11-09T00:00:00Z"}
    assert data["conversations"] == {
        "total": 6,
        "by_channel": {"telegram": 3, "webchat": 3},
        "contained": 3,
        "containment_rate": 0.5,
    }
    assert data["decisions"] == {
        "approved": 5,
        "rejected": 1,
        "decided": 6,
        "approval_rate": 0.8333,
    }
    assert {
        "method": "no_return_refund",
        "status": "refunded",
        "currency": "EUR",
        "applications": 1,
        "amount": "120.00",
        "compensation": "12.00",
    } in data["refunds"]
    csat = data["csat"]
    assert (csat["asked"], csat["rated"], csat["average"]) == (7, 5, 3.2)
    assert csat["by_agent"] == [
        {
            "key": "history.agent",
            "rated": 2,
            "average": 1.5,
            "distribution": {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0},
        }
    ]


@pytest.mark.usefixtures("week")
async def test_an_admin_downloads_the_same_figures_as_csv(ana: Console) -> None:
    response = await ana.client.get("/console/api/insights.csv" + WEEK)

    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="refundbot-report-20261102_20261109.csv"'
    )
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["figure", "key", "currency", "value"]
    assert ["conversations", "total", "", "6"] in rows
    assert ["handoffs", "buyer_asked", "", "3"] in rows
    assert ["handoff_rate", "buyer_asked", "", "0.3333"] in rows
    assert ["refund_amount", "immediate_refund:refunded", "USD", "15.25"] in rows
    assert ["refund_compensation", "no_return_refund:refunded", "EUR", "12.00"] in rows
    assert ["time_to_payout", "p90_seconds", "", "120960.0"] in rows
    assert ["messages_by_hour", "09", "", "3"] in rows
    assert ["approval_rate", "", "", "0.8333"] in rows
    assert ["csat_asked", "", "", "7"] in rows
    assert ["csat_response_rate", "", "", "0.7143"] in rows
    assert ["csat_average", "all", "", "3.2"] in rows
    assert ["csat_average", "channel:webchat", "", "3.67"] in rows
    assert ["csat_rated", "agent:history.agent", "", "2"] in rows
    assert ["csat_ratings", "event:submitted:5", "", "1"] in rows
    assert ["csat_ratings", "all:4", "", "2"] in rows
    assert len([r for r in rows if r[0] == "messages_by_hour"]) == 24


async def test_an_agent_has_no_insights(ben: Console, ana: Console) -> None:
    for path in ("/console/api/insights", "/console/api/insights.csv"):
        assert (await ben.client.get(path)).status == 403
    assert 'data-view="insights"' not in await (await ben.client.get("/console")).text()
    assert 'data-view="insights"' in await (await ana.client.get("/console")).text()


async def test_a_stranger_is_sent_to_sign_in(server: TestServer) -> None:
    stranger = await client_of(server)
    try:
        response = await stranger.get("/console/api/insights.csv", allow_redirects=False)
        assert response.status == 401
    finally:
        await stranger.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?since=2026-02-30", "since must be a date as YYYY-MM-DD"),
        ("?since=2026-11-09&until=2026-11-02", "until must be a later day than since"),
        ("?until=" + "9" * 40, "give days as YYYY-MM-DD"),
    ],
)
async def test_a_bad_period_is_a_400_that_says_why(mia: Console, query: str, message: str) -> None:
    response = await mia.client.get("/console/api/insights" + query)

    assert response.status == 400
    assert message in await response.text()


async def test_the_page_script_is_served(mia: Console) -> None:
    response = await mia.client.get("/console/static/insights.js")

    assert response.status == 200
    assert "window.ConsoleInsights" in await response.text()
