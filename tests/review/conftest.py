"""A tracker store beside each test database: a SQLite file, or the same PostgreSQL schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.review.tracker import tracker_url_for


@pytest.fixture
def tracker_url(db_url: str, tmp_path: Path) -> str:
    """Where Rasa keeps its events for this test."""
    return tracker_url_for(db_url, tmp_path)
