"""What `make bench` reports from its levels: the throughput of each count of Rasa servers."""

from __future__ import annotations

from typing import Any

import pytest

from bench.load import main
from bench.load_results import Targets, judge, level_rows, throughput_rows


def _level(
    workers: int, buyers: int, per_min: float, p95: float, mode: str = "gateway only"
) -> dict[str, Any]:
    path = {
        "completed_per_min": per_min, "p95_ms": p95, "p50_ms": p95 / 2, "p99_ms": p95 * 1.2,
        "turns_per_s": per_min / 10, "turns": 100, "diverged": 0, "errors": 0,
    }  # fmt: skip
    return {
        "mode": mode,
        "rasa_workers": workers,
        "buyers": buyers,
        "gateway": path,
        "rasa": {**path, "turns": 0},
        "p95_ratio": float("nan"),
        "peak_rss_mb": {"gateway": 1},
        "load_before": "load 0 0 0 on 2 CPUs",
        "cpu": {"rasa": {"cores": 0.5, "ms_per_turn": 30.0}, "gateway": {"cores": 0.2,
                "ms_per_turn": 10.0}},
    }  # fmt: skip


def test_each_count_of_rasa_servers_gets_its_best_level_within_the_p95_target() -> None:
    levels = [
        _level(1, 5, 300.0, 180.0, mode="side by side"),  # not a throughput run
        _level(1, 5, 290.0, 200.0),
        _level(1, 10, 310.0, 520.0),  # more, but too slow
        _level(2, 5, 400.0, 140.0),
        _level(2, 9, 436.0, 293.0),
        _level(2, 12, 460.0, 410.0),
    ]
    rows = throughput_rows(levels, 300.0)
    assert rows == [
        ["1", "290.0", "5", "200", "29.0", "40.0"],
        ["2", "436.0", "9", "293", "43.6", "40.0"],
    ]
    # The level rows name the count of Rasa servers each level ran with.
    assert {row[1] for row in level_rows(levels)} == {"1", "2"}


def test_a_count_with_no_level_within_the_target_reads_zero() -> None:
    assert throughput_rows([_level(1, 5, 300.0, 900.0)], 300.0) == [["1", "0", "", "", "", ""]]


def test_the_throughput_target_is_judged_on_the_best_gateway_only_level_when_there_is_one() -> None:
    targets = Targets(min_conversations_per_minute=300.0, max_p95_ms=300.0)
    side_by_side = _level(1, 5, 330.0, 180.0, mode="side by side")
    levels = [side_by_side, _level(1, 5, 290.0, 200.0), _level(2, 5, 310.0, 250.0)]
    [_, throughput, _] = judge(levels, targets)
    assert throughput[1:] == ("best 310.0/min", True)
    # A run of side-by-side levels only is judged on them.
    [_, throughput, _] = judge([side_by_side, _level(1, 8, 400.0, 320.0, "side by side")], targets)
    assert throughput[1:] == ("best 330.0/min", True)


@pytest.mark.parametrize(
    ("flags", "told"),
    [
        (["--rasa-workers", "0"], "--rasa-workers: give counts of at least 1"),
        (["--rasa-workers", "one"], "--rasa-workers: give counts of at least 1"),
        (["--rasa-workers", "1,2", "--sample"], "give one --rasa-workers count"),
        (["--rasa-workers", "1,2", "--no-gateway-only"], "compared through the gateway only"),
    ],
)
def test_counts_of_rasa_servers_that_cannot_be_run_are_refused(
    flags: list[str], told: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(flags)
    assert exit_.value.code == 2
    assert told in capsys.readouterr().err
