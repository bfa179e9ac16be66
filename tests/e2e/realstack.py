"""The real assistant for cross-process tests: action server and Rasa on free local ports.

Started once per test session (Rasa takes ~20 s to load a model here) on a migrated SQLite file
with the demo data; the gateway runs in the test's own event loop against it.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.refunds.db import get_engine, get_sessionmaker
from bot.refunds.demo import seed_demo
from bot.refunds.migrate import upgrade
from bot.settings import PROJECT_ROOT, PolicySettings
from tests.conftest import require

MODELS = [
    Path(os.environ.get("REFUNDBOT_TEST_MODEL", "")),
    PROJECT_ROOT / "models" / "ci" / "refundbot.tar.gz",
    PROJECT_ROOT / "models" / "refundbot.tar.gz",
]
STARTUP_SECONDS = 180.0


@dataclass(frozen=True)
class Stack:
    """Where the real action server and Rasa listen, and the database they share."""

    database_url: str
    rasa_url: str
    rasa_token: str
    action_server_url: str
    var_dir: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited; its log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(
        f"{url} did not come up in {STARTUP_SECONDS:.0f} s; log:\n{log.read_text()[-3000:]}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def real_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The action server and Rasa with the trained model, on demo data; a skip without a model."""
    model = next((m for m in MODELS if m.name and m.is_file()), None)
    require(model is not None, "no trained model: run `make models/ci/refundbot.tar.gz`")
    assert model is not None
    root = tmp_path_factory.mktemp("stack")
    database_url = f"sqlite:///{root / 'refunds.db'}"
    upgrade(database_url)
    with get_sessionmaker(database_url).begin() as session:
        seed_demo(session, now=dt.datetime.now(dt.timezone.utc), settings=PolicySettings())
    action_port, rasa_port = free_port(), free_port()
    token = "test-rasa-token"
    endpoints = root / "endpoints.yml"
    endpoints.write_text(
        yaml.safe_dump({"action_endpoint": {"url": f"http://127.0.0.1:{action_port}/webhook"}})
    )
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SANIC_HOST": "127.0.0.1",
        "REFUNDBOT_DATABASE_URL": database_url,
        "REFUNDBOT_VAR_DIR": str(root / "var"),
    }
    bin_dir = Path(sys.executable).parent
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, argv in [
            (
                "actions",
                [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port",
                 str(action_port)],
            ),
            (
                "rasa",
                [str(bin_dir / "rasa"), "run", "--enable-api", "--auth-token", token,
                 "-i", "127.0.0.1", "-p", str(rasa_port), "--model", str(model),
                 "--endpoints", str(endpoints)],
            ),
        ]:  # fmt: skip
            log = root / f"{name}.log"
            with log.open("wb") as out:
                started.append(
                    subprocess.Popen(
                        argv,
                        cwd=PROJECT_ROOT,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        _wait(f"http://127.0.0.1:{action_port}/health", started[0], root / "actions.log")
        _wait(f"http://127.0.0.1:{rasa_port}/status?token={token}", started[1], root / "rasa.log")
        yield Stack(
            database_url=database_url,
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            rasa_token=token,
            action_server_url=f"http://127.0.0.1:{action_port}/webhook",
            var_dir=root / "var",
        )
    finally:
        for process in reversed(started):
            _stop(process)
        get_engine(database_url).dispose()
