"""Conversation tests: the trained Rasa model, the real action server and a seeded database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.orm import sessionmaker

from bot import rasa_server
from bot.clock import utcnow
from bot.refunds.db import get_sessionmaker
from bot.refunds.demo import seed_demo
from bot.refunds.migrate import upgrade
from bot.settings import PROJECT_ROOT, PolicySettings
from tests.conftest import require

DEFAULT_MODEL = PROJECT_ROOT / "models" / "refundbot.tar.gz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = Path(os.environ.get("REFUNDBOT_TEST_MODEL") or DEFAULT_MODEL)
    require(path.exists(), f"no trained model at {path} (make test trains it)")
    return path


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with the demo orders, shared by the conversations of this session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('conversation') / 'refunds.db'}"
    upgrade(url)
    with get_sessionmaker(url).begin() as session:
        seed_demo(session, now=utcnow(), settings=PolicySettings())
    return url


@pytest.fixture(scope="session")
def demo_sessions(demo_db: str) -> sessionmaker:
    return get_sessionmaker(demo_db)


@pytest.fixture(scope="session")
def action_server(demo_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The project's action server in its own process, on a free port, on the demo database."""
    port = free_port()
    log = (tmp_path_factory.mktemp("actions") / "actions.log").open("wb")
    env = {
        **os.environ,
        "REFUNDBOT_DATABASE_URL": demo_db,
        "SANIC_HOST": "127.0.0.1",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"action server did not start; see {log.name}") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def agent(model_path: Path, action_server: str) -> Agent:
    """The trained assistant, loaded once, calling the real action server.

    Rasa checks action answers as ``refundbot run`` has it do (:mod:`bot.rasa_server`).
    """
    rasa_server.install()
    return Agent.load(model_path, action_endpoint=EndpointConfig(action_server))


class Buyer:
    """A buyer chatting with the assistant: ``await buyer.say("...")`` returns the replies."""

    def __init__(self, agent: Agent, sender: str, customer_id: str | None) -> None:
        self.agent = agent
        self.sender = sender
        self.customer_id = customer_id

    async def say(self, text: str) -> list[dict[str, Any]]:
        output = CollectingOutputChannel()
        metadata = {"customer_id": self.customer_id} if self.customer_id else {}
        await self.agent.handle_message(UserMessage(text, output, self.sender, metadata=metadata))
        return output.messages

    async def texts(self, text: str) -> str:
        """Return the replies to ``text`` joined into one string."""
        return "\n".join(m.get("text") or "" for m in await self.say(text))


@pytest.fixture
def buyer(agent: Agent, request: pytest.FixtureRequest) -> Buyer:
    """Ana (c-1001), in a conversation of this test's own."""
    return Buyer(agent, f"test-{request.node.name}", "c-1001")


@pytest.fixture
def make_buyer(agent: Agent, request: pytest.FixtureRequest) -> Any:
    def make(customer_id: str | None, suffix: str = "") -> Buyer:
        return Buyer(agent, f"test-{request.node.name}{suffix}", customer_id)

    return make
