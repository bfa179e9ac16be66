"""The demo's API key: made once per database, every scope, printed again from var/."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.api import credentials
from bot.api.demo import FILE, demo_key
from bot.api.models import ApiKey
from tests.factories import NOW


def test_the_demo_key_is_made_once_and_shown_again(
    session_factory: sessionmaker, tmp_path: Path
) -> None:
    var = tmp_path / "var"
    with session_factory.begin() as session:
        first = demo_key(session, var_dir=var, now=NOW)
    assert first is not None
    assert stat.S_IMODE((var / FILE).stat().st_mode) == 0o600
    with session_factory.begin() as session:
        caller = credentials.authenticate(session, token=first)
        assert caller is not None
        assert (caller.name, caller.scopes) == ("demo", frozenset(credentials.SCOPES))
        assert demo_key(session, var_dir=var, now=NOW) == first
        assert session.execute(select(func.count(ApiKey.id))).scalar_one() == 1

    # Its text gone, it cannot be shown again, and no second key is made.
    (var / FILE).unlink()
    with session_factory.begin() as session:
        assert demo_key(session, var_dir=var, now=NOW) is None
        credentials.revoke_key(session, name="demo", now=NOW)
        assert demo_key(session, var_dir=var, now=NOW) is None
        assert session.execute(select(func.count(ApiKey.id))).scalar_one() == 1
