"""The summary of py-spy's samples: which functions the processes were in, by share."""

from __future__ import annotations

from pathlib import Path

from bench.sampling import busiest, frame_name, report
from bot.settings import PROJECT_ROOT

SITE = "/x/.venv/lib/python3.10/site-packages"
LOOP = "run_forever (/usr/lib/python3.10/asyncio/base_events.py:600)"
HANDLE = f"handle_message ({SITE}/rasa/core/processor.py:169)"
VALIDATE = f"validate ({SITE}/jsonschema/validators.py:1117)"
ROUTER = f"_process ({PROJECT_ROOT}/bot/gateway/router.py:240)"


def test_frames_are_named_by_function_and_module() -> None:
    assert frame_name(HANDLE) == "handle_message rasa/core/processor.py"
    assert frame_name(ROUTER) == "_process bot/gateway/router.py"
    assert frame_name("<module> (rasa:8)") == "<module> rasa"
    assert frame_name("main (rasa/__main__.py:133)") == "main rasa/__main__.py"


def test_a_function_counts_once_per_sample_however_deep_it_recurses() -> None:
    lines = [
        f"{LOOP};{HANDLE};{VALIDATE};{VALIDATE} 30",
        f"{LOOP};{HANDLE} 10",
        f"{LOOP} 60",
        "garbage without a count",
    ]
    total, rows = busiest(lines)
    assert total == 100
    shares = dict(rows)
    assert shares["run_forever base_events.py"] == 1.0
    assert shares["handle_message rasa/core/processor.py"] == 0.4
    assert shares["validate jsonschema/validators.py"] == 0.3
    assert [name for name, _ in rows][0] == "run_forever base_events.py"
    _, busy = busiest(lines, below=0.9)
    assert [name for name, _ in busy] == [
        "handle_message rasa/core/processor.py",
        "validate jsonschema/validators.py",
    ]


def test_the_report_has_a_table_per_process_and_says_when_one_has_no_samples(
    tmp_path: Path,
) -> None:
    (tmp_path / "profile-rasa.txt").write_text(f"{LOOP};{HANDLE} 4\n{LOOP} 6\n")
    text = report({"rasa": tmp_path / "profile-rasa.txt", "gateway": tmp_path / "missing.txt"})
    assert "## rasa (10 samples)" in text
    assert "| 40.0% | `handle_message rasa/core/processor.py` |" in text
    assert "run_forever" not in text  # on every sample
    assert "## gateway (0 samples)" in text
    assert "No samples" in text
