"""The conversation corpus (tests/scripted/*.yml) end to end, against the ratchet.

Starts the real stack (action server, Rasa with the trained model, the gateway with its
Telegram channel pointed at a local Bot API double) and plays every conversation, several at a
time, through the web widget or Telegram. Every conversation not listed in
``tests/scripted/known_failing.txt`` must pass; each failure's first diverging turn is printed.
A listed conversation that passes is reported (not a failure) so that the list can shrink.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench import corpus
from bench.scripted import load_scripts
from bot.settings import PROJECT_ROOT
from tests.conftest import require

pytestmark = pytest.mark.rasa

#: Conversations played at once: enough to keep both cores busy, few enough that Rasa keeps up.
CONCURRENCY = 8


def test_every_conversation_not_known_to_fail_passes(capsys: pytest.CaptureFixture[str]) -> None:
    model = Path(
        os.environ.get("REFUNDBOT_TEST_MODEL") or PROJECT_ROOT / "models" / "refundbot.tar.gz"
    )
    require(model.exists(), f"no trained model at {model}: set REFUNDBOT_TEST_MODEL")
    scripts = load_scripts([corpus.SCRIPTS_DIR])
    known = corpus.read_known_failing()
    started = time.monotonic()
    outcomes = corpus.run_corpus(scripts, model=model, concurrency=CONCURRENCY)
    seconds = time.monotonic() - started
    summary = corpus.summarize(outcomes, known)
    failures = [corpus.divergence(o).describe() for o in outcomes if not o.passed]
    with capsys.disabled():
        print(
            f"\ncorpus: {corpus.percent(summary.passed, summary.total)} passed in {seconds:.0f} s"
            f"; typed freely {corpus.percent(summary.free_passed, summary.free_total)}"
            f"; Telegram {corpus.percent(summary.telegram_passed, summary.telegram_total)}"
        )
        if summary.now_passing:
            print(
                "corpus: these pass now, remove them from known_failing.txt: "
                + ", ".join(summary.now_passing)
            )
        if failures:
            print("corpus: first diverging turn of each failure:\n" + "\n".join(failures))
    assert not summary.unknown_names, (
        f"known_failing.txt names no such conversation: {summary.unknown_names}"
    )
    regressions = [corpus.divergence(o).describe() for o in outcomes
                   if o.script.name in summary.regressions]  # fmt: skip
    assert not regressions, "conversations not in known_failing.txt failed:\n" + "\n".join(
        regressions
    )
