"""The known week, written once per test on each database."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker

from tests.insights.history import History
from tests.insights.week import build_week


@pytest.fixture
def week(session_factory: sessionmaker) -> sessionmaker:
    """The session factory of a database holding :func:`build_week`'s history."""
    with session_factory.begin() as session:
        build_week(History(session))
    return session_factory
