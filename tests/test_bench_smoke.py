"""Smoke test of `make bench` and the eval's scripted runner: one buyer, one conversation.

Starts the real stack (action server, Rasa with the trained model, gateway) on free ports and a
throwaway database, plays one refund conversation through the web widget's WebSocket and the
same through Rasa's REST channel (the bench's two paths), then writes the bench's reports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bench.accounts import stored_applications
from bench.load import AccountPool, PathStats, converse, cpu_per_process, open_buyer
from bench.load_results import PATHS, cpu_rows, level_rows, plot
from bench.scripted import load_scripts
from bench.stack import Stack, running_stack
from bot.refunds.db import get_sessionmaker
from bot.settings import PROJECT_ROOT
from tests.conftest import require

pytestmark = pytest.mark.rasa

SCRIPT = "immediate_refund_of_everything_with_buttons"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    model = Path(
        os.environ.get("REFUNDBOT_TEST_MODEL") or PROJECT_ROOT / "models" / "refundbot.tar.gz"
    )
    require(model.exists(), f"no trained model at {model} (make test trains it)")
    with running_stack(model) as running:
        yield running


async def test_one_buyer_one_conversation_on_each_path(stack: Stack, tmp_path: Path) -> None:
    [script] = [s for s in load_scripts([PROJECT_ROOT / "tests" / "scripted"]) if s.name == SCRIPT]
    assert script.bench
    pool = AccountPool(stack, batch=2)
    stats = {path: PathStats() for path in PATHS}
    cpu_before = stack.cpu_seconds()
    async with aiohttp.ClientSession() as http:
        for path in PATHS:
            account = await pool.take()
            buyer = await open_buyer(path, http, stack, account)
            try:
                await converse(buyer, script, account, stats[path])
            finally:
                await buyer.close()
            with get_sessionmaker(stack.database_url).begin() as session:
                stored = stored_applications(session, account=account)
            if stats[path].completed:
                assert [(a.order, a.method) for a in stored] == [("PHONE_CASE", "immediate_refund")]

    for path in PATHS:
        summary = stats[path].summary(1.0)
        assert summary["errors"] == 0, summary["error_samples"]
        assert summary["turns"] >= 1
        assert summary["p50_ms"] > 0
    level = {
        "mode": "side by side",
        "buyers": 1,
        "seconds": 1.0,
        "load_before": "load 0 0 0 on 2 CPUs",
        "peak_rss_mb": {"gateway": 1},
        "p95_ratio": 1.0,
    }
    level.update({path: stats[path].summary(1.0) for path in PATHS})
    used = stack.cpu_used_since(cpu_before)
    level["cpu"] = cpu_per_process(used, 1.0, level)
    # Every process worked for the two conversations: Rasa most of all.
    assert all(share["ms_per_turn"] > 0 for share in level["cpu"].values()), level["cpu"]
    assert level["cpu"]["rasa"]["ms_per_turn"] > level["cpu"]["actions"]["ms_per_turn"]
    assert len(level_rows([level])) == 2
    assert [row[3] for row in cpu_rows([level])] == sorted(stack.pids())
    plot([level], tmp_path / "bench.png")
    assert (tmp_path / "bench.png").stat().st_size > 0
    json.dumps(level)
