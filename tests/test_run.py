"""`refundbot run`: the Rasa endpoints, arguments and processes it starts (see test_supervisor)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rasa.__main__ import create_argument_parser
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from bot.run import _print_banner, rasa_endpoints, services
from bot.settings import PROJECT_ROOT, Settings
from tests.conftest import PG_ENV, REDIS_ENV, require
from tests.supervising import wait_until


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
        "nlg": {"type": "bot.nlg.LanguageResponses"},
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


def test_make_run_turns_the_demo_shop_on_and_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFUNDBOT_")}
    dry = subprocess.run(
        ["make", "--dry-run", "--always-make", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    [start] = [line for line in dry.stdout.splitlines() if "refundbot run" in line]
    assert "REFUNDBOT_DEMO_SHOP=true" in start.split()
    assert "Demo mode: the demo shop page signs anyone in as any demo customer" in dry.stdout


@pytest.mark.parametrize("demo", [True, False])
def test_the_banner_says_when_the_demo_shop_is_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo: bool
) -> None:
    flag = "true" if demo else "false"
    _print_banner(settings(tmp_path, REFUNDBOT_DEMO_SHOP=flag), [], None)
    said = capsys.readouterr().out
    assert ("signs anyone in as any demo customer; never on a real shop" in said) is demo
    assert ("Demo shop with the chat widget" in said) is demo


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


def test_several_rasa_workers_listen_on_consecutive_ports_and_the_gateway_gets_them_all(
    tmp_path: Path,
) -> None:
    model = tmp_path / "model.tar.gz"
    model.touch()
    started = services(settings(tmp_path, REFUNDBOT_RASA_URL="http://127.0.0.1:6005"), model,
                       rasa_workers=3)  # fmt: skip
    assert [s.name for s in started] == ["actions", "rasa", "rasa-2", "rasa-3", "gateway"]
    parsed = [create_argument_parser().parse_args(s.argv[3:]) for s in started[1:4]]
    assert [p.port for p in parsed] == [6005, 6006, 6007]
    assert {p.endpoints for p in parsed} == {str(tmp_path / "endpoints.yml")}
    assert [s.health_url.split("?")[0] for s in started[1:4]] == [
        f"http://127.0.0.1:{port}/status" for port in (6005, 6006, 6007)
    ]
    gateway = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path), **started[-1].env})
    assert gateway.rasa_servers == (
        "http://127.0.0.1:6005",
        "http://127.0.0.1:6006",
        "http://127.0.0.1:6007",
    )


def test_run_refuses_a_list_of_rasa_urls_and_a_zero_worker_count(tmp_path: Path) -> None:
    model = tmp_path / "model.tar.gz"
    model.touch()
    env = {
        **os.environ,
        "REFUNDBOT_VAR_DIR": str(tmp_path),
        "REFUNDBOT_RASA_URL": "http://127.0.0.1:6005,http://127.0.0.1:6006",
    }
    command = [sys.executable, "-m", "bot.cli", "run", "--model", str(model)]
    listed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 2
    assert "--rasa-workers" in listed.stderr
    env.pop("REFUNDBOT_RASA_URL")
    zero = subprocess.run(
        [*command, "--rasa-workers", "0"], env=env, capture_output=True, text=True, timeout=120
    )
    assert zero.returncode == 2
    assert "--rasa-workers: must be at least 1, got 0" in zero.stderr


WRITER = """
import asyncio, sys, yaml
from pathlib import Path
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig

config = yaml.safe_load(Path(sys.argv[1]).read_text())["tracker_store"]
store = TrackerStore.create(
    EndpointConfig(type=config.pop("type"), **config), domain=Domain.load(sys.argv[2])
)
name, turns = sys.argv[3], int(sys.argv[4])
Path(sys.argv[5]).touch()  # ready
while not Path(sys.argv[6]).exists():  # both start writing at once
    pass

async def main() -> None:
    for i in range(turns):
        conversation = f"{name}-{i % 5}"
        tracker = await store.retrieve(conversation) or await store.create_tracker(conversation)
        tracker.update(UserUttered(f"{name} {i}"))
        tracker.update(SlotSet("order_id", f"{name}-{i}"))
        await store.save(tracker)

asyncio.run(main())
"""


def test_rasa_processes_share_one_sqlite_tracker_file(tmp_path: Path) -> None:
    """Two Rasa processes' tracker stores write one SQLite file at once and lose nothing.

    Each writes its own conversations, as two Rasa servers do for their home conversations. (A
    conversation moved to the other server reads what the first one saved: see
    ``test_sqlite_tracker_store_keeps_conversations``.)
    """
    model = tmp_path / "model.tar.gz"
    model.touch()
    services(settings(tmp_path), model, rasa_workers=2)
    endpoints = tmp_path / "endpoints.yml"
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(endpoints), str(PROJECT_ROOT / "domain.yml"),
             name, "40", str(tmp_path / f"{name}.ready"), str(go)],
            cwd=PROJECT_ROOT,
        )
        for name in ("one", "two")
    ]  # fmt: skip
    try:
        wait_until(lambda: all((tmp_path / f"{n}.ready").exists() for n in ("one", "two")), 120)
        go.touch()
        assert [w.wait(timeout=120) for w in writers] == [0, 0]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    store = tracker_store(rasa_endpoints(settings(tmp_path)))
    for name in ("one", "two"):
        said = []
        for conversation in [f"{name}-{i}" for i in range(5)]:
            tracker = asyncio.run(store.retrieve(conversation))
            assert tracker is not None
            said += [e.text for e in tracker.events if isinstance(e, UserUttered)]
        assert sorted(said, key=lambda t: int(t.split()[1])) == [f"{name} {i}" for i in range(40)]
