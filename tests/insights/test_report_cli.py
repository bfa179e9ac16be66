"""``refundbot report`` run as an operator runs it: a real process on the known week."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from bot.cli import main
from bot.insights.report import NLU_NOT_RECORDED
from bot.refunds.migrate import upgrade
from tests.commands import refundbot


def test_json_has_the_documented_shape_and_exact_figures(
    week: sessionmaker, db_url: str, tmp_path: Path
) -> None:
    # A var directory of its own: no tracker store there, so no NLU figures.
    result = refundbot(
        db_url,
        "report",
        *("--since", "2026-11-02", "--until", "2026-11-09", "--json"),
        env={"REFUNDBOT_VAR_DIR": str(tmp_path)},
    )

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    hours = [0] * 24
    hours[0], hours[9], hours[14], hours[21], hours[23] = 1, 3, 1, 1, 1

    def group(method: str, status: str, currency: str, n: int, amount: str, comp: str = "0.00"):
        return {
            "method": method,
            "status": status,
            "currency": currency,
            "applications": n,
            "amount": amount,
            "compensation": comp,
        }

    assert data == {
        "version": 2,
        "period": {"since": "2026-11-02T00:00:00Z", "until": "2026-11-09T00:00:00Z"},
        "conversations": {
            "total": 6,
            "by_channel": {"telegram": 3, "webchat": 3},
            "contained": 3,
            "containment_rate": 0.5,
        },
        "handoffs": [
            {"reason": "buyer_asked", "handoffs": 3, "conversations": 2, "rate": 0.3333},
            {"reason": "policy", "handoffs": 1, "conversations": 1, "rate": 0.1667},
        ],
        "refunds": [
            group("immediate_refund", "refunded", "USD", 2, "15.25"),
            group("no_return_refund", "refunded", "EUR", 1, "120.00", "12.00"),
            group("return_and_refund", "pending_review", "EUR", 1, "40.50"),
            group("return_and_refund", "pending_review", "USD", 1, "30.00"),
            group("return_and_refund", "refunded", "USD", 1, "80.00"),
            group("return_and_refund", "rejected", "EUR", 1, "60.00"),
            group("return_and_refund", "withdrawn", "GBP", 1, "25.00"),
        ],
        "decisions": {"approved": 5, "rejected": 1, "decided": 6, "approval_rate": 0.8333},
        "time_to_decision": {"count": 6, "median_seconds": 900.0, "p90_seconds": 45000.0},
        "time_to_payout": {"count": 4, "median_seconds": 0.0, "p90_seconds": 120960.0},
        "messages_by_hour": hours,
        "nlu_fallback": {"recorded": False, "note": NLU_NOT_RECORDED},
        "csat": {
            "asked": 7,
            "rated": 5,
            "response_rate": 0.7143,
            "average": 3.2,
            "distribution": {"1": 1, "2": 1, "3": 0, "4": 2, "5": 1},
            "by_channel": [
                ratings("telegram", 2, 2.5, [1, 0, 0, 1, 0]),
                ratings("webchat", 3, 3.67, [0, 1, 0, 1, 1]),
            ],
            "by_agent": [ratings("history.agent", 2, 1.5, [1, 1, 0, 0, 0])],
            "by_event": [
                ratings("closed", 2, 1.5, [1, 1, 0, 0, 0]),
                ratings("paid_out", 1, 4.0, [0, 0, 0, 1, 0]),
                ratings("submitted", 2, 4.5, [0, 0, 0, 1, 1]),
            ],
        },
    }


def ratings(key: str, rated: int, average: float, counts: list[int]) -> dict[str, object]:
    return {
        "key": key,
        "rated": rated,
        "average": average,
        "distribution": {str(n): c for n, c in enumerate(counts, start=1)},
    }


def test_the_text_table_reads_the_same_figures(week: sessionmaker, db_url: str) -> None:
    result = refundbot(db_url, "report", "--since", "2026-11-02", "--until", "2026-11-09")

    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert "Conversations: 6 (telegram 3, webchat 3)" in result.stdout
    assert "Contained (no person asked in): 3  rate 50.0 %" in result.stdout
    assert ["buyer_asked", "3", "2", "33.3", "%"] in lines
    assert ["no_return_refund", "refunded", "EUR", "1", "120.00", "12.00"] in lines
    assert "Decided: 6 (approved 5, rejected 1)  approval rate 83.3 %" in result.stdout
    assert "Submission to decision: median 00:15:00  p90 12:30:00  (6 applications)" in (
        result.stdout
    )
    assert "Submission to payout: median 00:00:00  p90 1d 09:36:00  (4 applications)" in (
        result.stdout
    )
    assert "busiest hours UTC: 09:00 (3), 00:00 (1), 14:00 (1)" in result.stdout
    assert "CSAT: average 3.20 of 5 ratings (7 asked, response rate 71.4 %)" in result.stdout
    assert ["event", "submitted", "2", "4.50", "0", "0", "0", "1", "1"] in lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-11-31"], "--since must be a date as YYYY-MM-DD, not '2026-11-31'"),
        (["--until", "yesterday"], "--until must be a date as YYYY-MM-DD, not 'yesterday'"),
        (["--since", "2026-11-09", "--until", "2026-11-02"], "--until must be a later day"),
        (["--since", "2026-11-09", "--until", "2026-11-09"], "--until must be a later day"),
    ],
)
def test_bad_dates_are_refused_with_exit_status_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(db_url)

    result = refundbot(db_url, "report", *args)

    assert result.returncode == 2
    assert f"refundbot: {message}" in result.stderr
    assert result.stdout == ""


def test_the_default_period_is_the_last_seven_days(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(db_url)
    before = dt.datetime.now(dt.timezone.utc)

    result = refundbot(db_url, "report", "--json")
    one_date = refundbot(db_url, "report", "--json", "--since", "2026-11-02")

    assert result.returncode == 0, result.stderr
    period = json.loads(result.stdout)["period"]
    since, until = (dt.datetime.fromisoformat(period[k].replace("Z", "+00:00")) for k in period)
    assert until - since == dt.timedelta(days=7)
    assert before <= until <= dt.datetime.now(dt.timezone.utc)
    assert json.loads(one_date.stdout)["period"] == {
        "since": "2026-11-02T00:00:00Z",
        "until": "2026-11-09T00:00:00Z",
    }


def test_the_command_in_process_prints_the_same_json(
    week: sessionmaker,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What the process prints, from ``main`` itself (so that coverage sees the command run)."""
    monkeypatch.setenv("REFUNDBOT_DATABASE_URL", db_url)

    assert main(["report", "--since", "2026-11-02", "--until", "2026-11-09", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["conversations"]["total"] == 6
    assert data["time_to_decision"] == {"count": 6, "median_seconds": 900.0, "p90_seconds": 45000.0}

    assert main(["report", "--since", "02/11/2026"]) == 2
    assert "--since must be a date as YYYY-MM-DD" in capsys.readouterr().err
