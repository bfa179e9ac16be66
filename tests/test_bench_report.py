"""The report bench's generator and timing, on a small history."""

from __future__ import annotations

import json
from pathlib import Path

from bench.insights import main


def test_a_small_history_is_generated_timed_and_written(tmp_path: Path, capsys: object) -> None:
    status = main(["--conversations", "60", "--days", "3", "--repeat", "1", "--out", str(tmp_path)])

    assert status == 0
    result = json.loads((tmp_path / "report_bench.json").read_text())
    assert result["conversations"] == 60
    assert result["passed"] is True
    assert set(result["runs_seconds"]) == {"whole history", "last 7 days"}
    assert all(len(runs) == 1 for runs in result["runs_seconds"].values())
