"""`make bench-cluster`'s figure: the most conversations a minute at a level within the p95 bar."""

from __future__ import annotations

import math
from typing import Any

from bench.cluster import HEADER, best, rows


def level(buyers: int, p95_ms: float, per_min: float) -> dict[str, Any]:
    return {
        "buyers": buyers,
        "load_before": "load 1.00 1.00 1.00 on 2 CPUs",
        "peak_rss_mb": {"gateway-1": 100, "gateway-2": 120},
        "gateway": {
            "p50_ms": p95_ms / 2, "p95_ms": p95_ms, "p99_ms": p95_ms * 2,
            "completed_per_min": per_min, "errors": 0,
        },
    }  # fmt: skip


def test_the_figure_is_the_best_level_whose_p95_is_within_the_bar() -> None:
    levels = [level(5, 120.0, 40.0), level(10, 290.0, 75.5), level(20, 650.0, 90.0)]
    assert best(levels, 300.0) == {"conversations_per_min": 75.5, "buyers": 10, "p95_ms": 290.0}


def test_no_level_within_the_bar_gives_none() -> None:
    figure = best([level(5, 400.0, 40.0)], 300.0)
    assert figure["conversations_per_min"] == 0.0
    assert figure["buyers"] is None
    assert math.isnan(figure["p95_ms"])


def test_each_profile_and_level_is_a_row() -> None:
    table = rows({"single": [level(5, 120.0, 40.0)], "cluster": [level(5, 110.0, 44.0)]})
    assert [row[:2] for row in table] == [["single", "5"], ["cluster", "5"]]
    assert all(len(row) == len(HEADER) for row in table)
    assert table[1][7] == "220"
