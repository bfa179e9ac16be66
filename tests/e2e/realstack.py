"""The real assistant for cross-process tests: action server and Rasa on free local ports.

Started once per test session (Rasa takes ~20 s to load a model here) on a migrated SQLite file
with the demo data, by the same code as ``make bench``; the gateway runs in the test's own
event loop against it. ``real_stack_on_db`` runs the action server on the test's own ``db_url``
instead (SQLite or PostgreSQL), so the gateway and the actions share one refund store; Rasa
stays loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.stack import Stack, on_database, running_stack
from bot.settings import PROJECT_ROOT
from tests.conftest import require

__all__ = ["Stack", "real_stack", "real_stack_on_db", "trained_model"]

MODELS = [
    Path(os.environ.get("REFUNDBOT_TEST_MODEL", "")),
    PROJECT_ROOT / "models" / "refundbot.tar.gz",
]


def trained_model() -> Path:
    """Return the trained model (REFUNDBOT_TEST_MODEL, else the project's); a skip without one."""
    model = next((m for m in MODELS if m.name and m.is_file()), None)
    require(model is not None, "no trained model: run `make train`")
    assert model is not None
    return model


@pytest.fixture(scope="session")
def real_stack() -> Iterator[Stack]:
    """The action server and Rasa with the trained model, on demo data; a skip without a model."""
    with running_stack(trained_model(), only=("actions", "rasa")) as stack:
        yield stack


@pytest.fixture
def real_stack_on_db(real_stack: Stack, db_url: str) -> Iterator[Stack]:
    """The real stack with its action server on this test's ``db_url`` (restarted, ~3 s)."""
    with on_database(real_stack, db_url) as stack:
        yield stack
