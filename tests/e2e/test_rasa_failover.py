"""Failover between Rasa servers with real processes: `python -m bot.gateway` and two servers.

The Rasa servers are stand-ins (:mod:`tests.rasa_standin`, the Rasa double in processes of
their own), killed and started again as a crashed Rasa would be.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.settings import PROJECT_ROOT
from tests.gateway.doubles import SHOP_SECRET
from tests.rasa_standin import DIE

NAMES = ("left", "right")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Servers:
    """Two Rasa stand-in processes, each on a port of its own, started and killed by name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports = {name: free_port() for name in NAMES}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str) -> None:
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "tests.rasa_standin", str(self.ports[name]), name,
             str(self.folder)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def taken_in(self, name: str) -> list[str]:
        log = self.folder / f"{name}.log"
        return log.read_text().splitlines() if log.exists() else []

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    running = Servers(tmp_path)
    try:
        for name in NAMES:
            running.start(name)
        yield running
    finally:
        running.stop_all()


async def _up(http: aiohttp.ClientSession, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        assert time.monotonic() < deadline, f"{url} did not come up"
        await asyncio.sleep(0.1)


@pytest.fixture
async def gateway_url(tmp_path: Path, servers: Servers) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "REFUNDBOT_VAR_DIR": str(tmp_path / "var"),
        "REFUNDBOT_PORT": str(port),
        "REFUNDBOT_RASA_URL": ",".join(servers.url(name) for name in NAMES),
        "REFUNDBOT_ACTION_SERVER_URL": f"{servers.url('left')}/webhook",
        "REFUNDBOT_SHOP_SECRET": SHOP_SECRET,
        "REFUNDBOT_RASA_TIMEOUT_SECONDS": "20",
    }
    for unset in ("REFUNDBOT_DATABASE_URL", "REFUNDBOT_TELEGRAM_TOKEN", "REFUNDBOT_REDIS_URL"):
        env.pop(unset, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.gateway",
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as http:
            for name in NAMES:
                await _up(http, f"{servers.url(name)}/")
            await _up(http, f"http://127.0.0.1:{port}/health/live")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)


async def _answer(ws: aiohttp.ClientWebSocketResponse, timeout: float = 30.0) -> str:
    """Return the next text the buyer is sent (the bot's or the system's)."""

    async def read() -> str:
        while True:
            frame = await ws.receive_json()
            message = frame.get("message") or {}
            if frame["type"] == "message" and message.get("direction") == "out":
                return str(message["text"])

    return await asyncio.wait_for(read(), timeout)


def _server_of(answer: str) -> str:
    match = re.search(r"\[(\w+)\]$", answer)
    assert match is not None, answer
    return match.group(1)


async def test_a_dead_rasa_server_s_conversations_go_to_the_other_and_come_back(
    gateway_url: str, servers: Servers
) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{gateway_url}/webchat/ws") as ws:
        await ws.send_json({"type": "hello"})
        n = 0

        async def say(words: str) -> str:
            nonlocal n
            n += 1
            await ws.send_json({"type": "message", "text": words, "client_id": f"m{n}"})
            return await _answer(ws)

        first = await say("first")
        home = _server_of(first)
        other = next(name for name in NAMES if name != home)
        assert first == f"You said: first [{home}]"

        servers.kill(home)
        # Answered by the other server, with no "temporarily unavailable" notice first.
        assert await say("second") == f"You said: second [{other}]"
        assert await say("third") == f"You said: third [{other}]"

        servers.start(home)
        await _up(http, f"{servers.url(home)}/")
        # Once the gateway tries it first again (a few seconds after it failed), home it goes.
        deadline, words = time.monotonic() + 30, []
        while True:
            words.append(f"again {len(words)}")
            answer = await say(words[-1])
            if _server_of(answer) == home:
                break
            assert time.monotonic() < deadline, "the conversation never went home"
            await asyncio.sleep(1)
        # Each message was taken in once, by one server.
        taken = servers.taken_in(home) + servers.taken_in(other)
        assert sorted(taken) == sorted(["first", "second", "third", *words])

        # A server that dies after taking a message in may have made the turn: the message goes
        # again under its name (a Rasa that had saved the turn answers with what it said), to
        # the other server once the dead one refuses it.
        assert await say(DIE) == f"You said: {DIE} [{other}]"
        assert servers.taken_in(home).count(DIE) == 1
        assert servers.taken_in(other).count(DIE) == 1
        assert await say("after the crash") == f"You said: after the crash [{other}]"
