"""The real assistant for cross-process tests: action server and Rasa on free local ports.

Started once per test session (Rasa takes ~20 s to load a model here) on a migrated SQLite file
with the demo data, by the same code as ``make bench``; the gateway runs in the test's own
event loop against it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.stack import Stack, running_stack
from bot.settings import PROJECT_ROOT
from tests.conftest import require

__all__ = ["Stack", "real_stack"]

MODELS = [
    Path(os.environ.get("REFUNDBOT_TEST_MODEL", "")),
    PROJECT_ROOT / "models" / "refundbot.tar.gz",
]


@pytest.fixture(scope="session")
def real_stack() -> Iterator[Stack]:
    """The action server and Rasa with the trained model, on demo data; a skip without a model."""
    model = next((m for m in MODELS if m.name and m.is_file()), None)
    require(model is not None, "no trained model: run `make train`")
    assert model is not None
    with running_stack(model, only=("actions", "rasa")) as stack:
        yield stack
