"""The Rasa endpoints `refundbot run` writes, used by Rasa's own stores on real services."""

from __future__ import annotations

import os
from pathlib import Path

from rasa.__main__ import create_argument_parser
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from bot.run import rasa_endpoints, services
from bot.settings import PROJECT_ROOT, Settings
from tests.conftest import PG_ENV, require

REDIS_ENV = "REFUNDBOT_TEST_REDIS_URL"


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path), **env})


def test_defaults_keep_the_tracker_in_a_sqlite_file_beside_the_store(tmp_path: Path) -> None:
    endpoints = rasa_endpoints(settings(tmp_path))
    assert endpoints == {
        "action_endpoint": {"url": "http://127.0.0.1:5055/webhook"},
        "tracker_store": {
            "type": "SQL",
            "dialect": "sqlite",
            "db": str(tmp_path / "rasa-tracker.db"),
        },
    }


def test_postgres_and_redis_urls_become_rasa_settings(tmp_path: Path) -> None:
    endpoints = rasa_endpoints(
        settings(
            tmp_path,
            REFUNDBOT_TRACKER_STORE_URL="postgresql://bot:s3cret@db.internal:6543/tracker",
            REFUNDBOT_REDIS_URL="redis://:pw@cache.internal:6380/2",
        )
    )
    assert endpoints["tracker_store"] == {
        "type": "SQL",
        "dialect": "postgresql",
        "db": "tracker",
        "url": "db.internal",
        "port": 6543,
        "username": "bot",
        "password": "s3cret",
    }
    assert endpoints["lock_store"] == {
        "type": "redis",
        "url": "cache.internal",
        "port": 6380,
        "db": 2,
        "password": "pw",
        "key_prefix": "refundbot",
    }


def tracker_store(endpoints: dict[str, object]) -> TrackerStore:
    config = dict(endpoints["tracker_store"])  # type: ignore[call-overload]
    store_type = config.pop("type")
    return TrackerStore.create(
        EndpointConfig(type=store_type, **config),
        domain=Domain.load(str(PROJECT_ROOT / "domain.yml")),
    )


async def conversation_survives_a_new_store(endpoints: dict[str, object]) -> None:
    """A form half-filled in one Rasa process is still there for the next one."""
    first = tracker_store(endpoints)
    assert isinstance(first, SQLTrackerStore)
    tracker = DialogueStateTracker("restart-test", first.domain.slots)
    tracker.update(UserUttered("refund for 8041235566701234"))
    tracker.update(SlotSet("order_id", "8041235566701234"))
    await first.save(tracker)

    again = await tracker_store(endpoints).retrieve("restart-test")
    assert again is not None
    assert again.get_slot("order_id") == "8041235566701234"


async def test_sqlite_tracker_store_keeps_conversations(tmp_path: Path) -> None:
    await conversation_survives_a_new_store(rasa_endpoints(settings(tmp_path)))


async def test_postgres_tracker_store_keeps_conversations(tmp_path: Path) -> None:
    url = os.environ.get(PG_ENV, "")
    require(bool(url), f"PostgreSQL not configured: set {PG_ENV}")
    parsed = make_url(url)
    tracker_url = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    await conversation_survives_a_new_store(
        rasa_endpoints(settings(tmp_path, REFUNDBOT_TRACKER_STORE_URL=tracker_url))
    )


async def test_redis_lock_store_from_the_settings(tmp_path: Path) -> None:
    url = os.environ.get(REDIS_ENV, "")
    require(bool(url), f"Redis not configured: set {REDIS_ENV}")
    config = dict(rasa_endpoints(settings(tmp_path, REFUNDBOT_REDIS_URL=url))["lock_store"])
    store_type = config.pop("type")
    store = LockStore.create(EndpointConfig(type=store_type, **config))
    assert isinstance(store, RedisLockStore)
    async with store.lock("lock-test", lock_lifetime=5):
        assert store.get_lock("lock-test") is not None
    assert store.get_lock("lock-test") is None


def test_rasa_takes_a_token_that_begins_with_a_dash_as_its_value(tmp_path: Path) -> None:
    model = tmp_path / "model.tar.gz"
    model.touch()
    token = "-looks-like-an-option"
    rasa = next(
        s
        for s in services(settings(tmp_path, REFUNDBOT_RASA_TOKEN=token), model)
        if s.name == "rasa"
    )
    python, dash_m, module, *arguments = rasa.argv
    assert (dash_m, module) == ("-m", "bot.rasa_server")
    assert create_argument_parser().parse_args(arguments).auth_token == token
