"""`refundbot cluster`: two of every process behind nginx, on PostgreSQL and Redis, for real.

One cluster for the whole module (two Rasa servers load the trained model): started with the
real command on a database of its own, used by buyers and an agent over real sockets, hurt with
``kill -9``, and stopped with the real command. The tests run in order and share it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.accounts import Account, create_accounts, stored_applications
from bench.agent import ConsoleAgent
from bench.client import WidgetBuyer
from bench.scripted import Script, check_turn, fill, load_scripts
from bot.cli import main
from bot.clock import utcnow
from bot.cluster.nginx import DEBIAN_NGINX
from bot.cluster.state import group_members
from bot.gateway.identity import make_token
from bot.gateway.rasa import ranking
from bot.refunds.db import dispose, get_sessionmaker
from bot.settings import PROJECT_ROOT
from tests.conftest import PG_ENV, REDIS_ENV, require
from tests.e2e.realstack import trained_model

pytestmark = [pytest.mark.rasa, pytest.mark.postgres]

SHOP_SECRET = "cluster-test-shop-secret-0123456789abcdef"
SCRIPT = "immediate_refund_of_everything_with_buttons"


@dataclass
class Cluster:
    """The running cluster as its command and state file describe it."""

    env: dict[str, str]
    var_dir: Path
    database_url: str
    started: str
    """What ``refundbot cluster start`` printed."""

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``refundbot cluster ARGS`` with the cluster's environment (in this process, so
        that coverage sees it; the supervisor it starts is a process of its own)."""
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("REFUNDBOT_")]:
                patch.delenv(name)
            for name, value in self.env.items():
                patch.setenv(name, value)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["cluster", *args])
        return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())

    def state(self) -> dict[str, Any]:
        status = self.command("status", "--json")
        assert status.returncode in (0, 1), status.stderr
        result: dict[str, Any] = json.loads(status.stdout)
        return result

    def process(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.state()["processes"][name]
        return found

    def port(self, name: str) -> int:
        return int(self.process(name)["address"].rsplit(":", 1)[1])

    @property
    def entry(self) -> str:
        return str(self.state()["entry_url"]).rstrip("/")

    def ws(self, base: str) -> str:
        return base.replace("http://", "ws://") + "/webchat/ws"

    def direct(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def wait(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.1)

    def wait_up(self, name: str, *, restarts: int, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            process = self.process(name)
            if process["state"] == "up" and process["restarts"] >= restarts:
                return
            assert time.monotonic() < deadline, f"{name} is not up again: {process}"
            time.sleep(0.5)


def nginx_available() -> bool:
    return bool(shutil.which("nginx")) or DEBIAN_NGINX.exists()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    model = trained_model()
    server_url = os.environ.get(PG_ENV, "")
    redis_url = os.environ.get(REDIS_ENV, "")
    require(bool(server_url), f"PostgreSQL not configured: set {PG_ENV}")
    require(bool(redis_url), f"Redis not configured: set {REDIS_ENV}")
    require(nginx_available(), "nginx not installed: run scripts/install-nginx.sh")
    name = f"refundbot_cluster_test_{uuid.uuid4().hex[:8]}"
    database_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    var_dir = tmp_path_factory.mktemp("cluster")
    env = {
        "REFUNDBOT_VAR_DIR": str(var_dir),
        "REFUNDBOT_CLUSTER_DATABASE_URL": database_url,
        "REFUNDBOT_CLUSTER_REDIS_URL": redis_url,
        "REFUNDBOT_CLUSTER_PORT": "0",
        "REFUNDBOT_CLUSTER_FIRST_PORT": "0",
        "REFUNDBOT_DEMO_SHOP": "true",
        "REFUNDBOT_SHOP_SECRET": SHOP_SECRET,
        "RASA_TELEMETRY_ENABLED": "false",
    }
    running = Cluster(env, var_dir / "cluster", database_url, started="")
    try:
        start = running.command("start", "--model", str(model))
        assert start.returncode == 0, start.stdout + start.stderr
        running.started = start.stdout
        yield running
    finally:
        running.command("stop")
        dispose(database_url)
        admin = create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="module")
def script() -> Script:
    [found] = [s for s in load_scripts([PROJECT_ROOT / "tests" / "scripted"]) if s.name == SCRIPT]
    return found


_next_account = iter(range(1, 1000))


def new_account(cluster: Cluster) -> Account:
    with get_sessionmaker(cluster.database_url).begin() as session:
        [account] = create_accounts(
            session, first=next(_next_account), count=1, now=utcnow(), prefix="cluster"
        )
    return account


async def buyer_on(http: aiohttp.ClientSession, base: str, account: Account) -> WidgetBuyer:
    token = make_token(SHOP_SECRET, account.customer_id, 3600)
    return await WidgetBuyer.connect(
        http, base.replace("http://", "ws://") + "/webchat/ws", token=token
    )


async def play(buyer: WidgetBuyer, script: Script, account: Account, steps: slice) -> None:
    """Play ``steps`` of ``script``; every turn must show what the script expects."""
    variables = account.variables()
    for step in script.steps[steps]:
        if step.say is not None:
            turn = await buyer.say(fill(step.say, variables))
        else:
            assert step.press is not None
            turn = await buyer.press(fill(step.press, variables))
        problem = check_turn(step, turn, variables)
        assert not problem, f"{step.shown}: {problem} (got {turn.text!r})"


async def heard(buyer: WidgetBuyer, words: str, *, wait: float = 60.0) -> str:
    """Return what reaches ``buyer`` without them writing, up to the message with ``words``."""
    said: list[str] = []
    deadline = time.monotonic() + wait
    while not any(words in line for line in said):
        turn = await buyer.listen(wait=max(0.1, deadline - time.monotonic()))
        assert turn.error is None, f"{turn.error}; heard {said}"
        said += [reply.text for reply in turn.replies]
    return "\n".join(said)


def refunded(cluster: Cluster, account: Account) -> list[tuple[str, str, str]]:
    with get_sessionmaker(cluster.database_url).begin() as session:
        found = stored_applications(session, account=account)
    return [(a.order, a.method, a.status) for a in found]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_start_prints_the_entry_and_every_process_it_started(cluster: Cluster) -> None:
    state = cluster.state()
    names = sorted(state["processes"])
    assert names == sorted(
        ["actions-1", "actions-2", "rasa-1", "rasa-2", "gateway-1", "gateway-2", "nginx"]
    )
    assert state["entry_url"] in cluster.started
    for name, process in state["processes"].items():
        assert process["state"] == "up", (name, process)
        assert f"{process['address']}" in cluster.started
        assert str(process["pid"]) in cluster.started
        assert listening(int(process["address"].rsplit(":", 1)[1]))
    config = Path(state["nginx_config"]).read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in config
    assert config.count("max_fails=") == 4
    # Everyone behind nginx listens on loopback only.
    assert all(p["address"].startswith("127.0.0.1:") for p in state["processes"].values())


async def test_a_buyer_through_nginx_is_answered_and_health_sees_every_dependency(
    cluster: Cluster, script: Script
) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{cluster.entry}/health") as response:
        health = await response.json()
    assert health["status"] == "ok"
    assert {name: check["ok"] for name, check in health["checks"].items()} == {
        "database": True,
        "rasa": True,
        "action_server": True,
    }
    assert set(health["processes"]["children"]) == set(cluster.state()["processes"])

    account = new_account(cluster)
    async with aiohttp.ClientSession() as http:
        buyer = await buyer_on(http, cluster.entry, account)
        try:
            await play(buyer, script, account, slice(None))
        finally:
            await buyer.close()
    assert refunded(cluster, account)[-1:] == [("PHONE_CASE", "immediate_refund", "refunded")]


async def test_an_agent_on_gateway_b_reaches_a_buyer_on_gateway_a(
    cluster: Cluster, script: Script
) -> None:
    account = new_account(cluster)
    agent = ConsoleAgent(cluster.direct("gateway-2"), get_sessionmaker(cluster.database_url))
    async with aiohttp.ClientSession() as http:
        buyer = await buyer_on(http, cluster.direct("gateway-1"), account)
        try:
            await play(buyer, script, account, slice(0, 1))
            await agent.act("take", buyer.conversation_id)
            await agent.act("say", buyer.conversation_id, text="Hello, Sam from support here.")
            assert "Hello, Sam from support here." in await heard(buyer, "Sam from support")
        finally:
            await buyer.close()
            await agent.close()


async def test_a_buyer_whose_gateway_is_killed_goes_on_through_nginx_with_nothing_lost(
    cluster: Cluster, script: Script
) -> None:
    account = new_account(cluster)
    victim = cluster.process("gateway-1")
    async with aiohttp.ClientSession() as http:
        buyer = await buyer_on(http, cluster.direct("gateway-1"), account)
        try:
            await play(buyer, script, account, slice(0, 2))
            before = [m["text"] for m in (await _history(buyer))]
            os.kill(victim["pid"], signal.SIGKILL)
            # Back through nginx, which leaves the dead gateway out: the same conversation,
            # its whole history, and the refund form where the buyer left it.
            turn = await buyer.rejoin(cluster.ws(cluster.entry))
            assert turn.error is None, turn.error
            after = [m["text"] for m in buyer.welcome["history"]]
            assert after[: len(before)] == before
            assert len(after) == len(before)
            await play(buyer, script, account, slice(2, None))
        finally:
            await buyer.close()
    assert refunded(cluster, account)[-1:] == [("PHONE_CASE", "immediate_refund", "refunded")]
    # The supervisor brought the killed gateway back.
    cluster.wait_up("gateway-1", restarts=1)
    assert cluster.process("gateway-1")["pid"] != victim["pid"]


async def _history(buyer: WidgetBuyer) -> list[dict[str, Any]]:
    """Return the conversation's messages as a new tab of it is shown them."""
    turn = await buyer.rejoin()
    assert turn.error is None, turn.error
    history: list[dict[str, Any]] = buyer.welcome["history"]
    return history


async def test_turns_are_answered_with_a_rasa_server_and_an_action_server_killed(
    cluster: Cluster, script: Script
) -> None:
    rasa = {f"http://{cluster.process(n)['address']}": n for n in ("rasa-1", "rasa-2")}
    account = new_account(cluster)
    async with aiohttp.ClientSession() as http:
        buyer = await buyer_on(http, cluster.entry, account)
        try:
            # The Rasa server this conversation's turns go to while it is up, and one of the
            # action servers nginx alternates between, both gone before the first turn.
            home = rasa[ranking(list(rasa), buyer.conversation_id)[0]]
            killed = {name: cluster.process(name)["pid"] for name in (home, "actions-1")}
            for pid in killed.values():
                os.kill(pid, signal.SIGKILL)
            # The buyer writes once the supervisor has seen them die (well under a second):
            # a turn sent in the same instant could find the gateway's pooled connection to
            # that Rasa server not yet closed, and a request lost on such a connection is not
            # sent again (the gateway cannot tell it from one the server took in).
            for name, pid in killed.items():
                cluster.wait(lambda n=name, p=pid: cluster.process(n)["pid"] != p)
            await play(buyer, script, account, slice(None))
        finally:
            await buyer.close()
    assert refunded(cluster, account)[-1:] == [("PHONE_CASE", "immediate_refund", "refunded")]
    # The supervisor brings both back (a Rasa server only once its model is loaded again).
    for name, pid in killed.items():
        cluster.wait_up(name, restarts=1)
        assert not _running(pid)


def test_stop_ends_every_process_it_started_and_nothing_else(cluster: Cluster) -> None:
    state = cluster.state()
    groups = [state["supervisor"]["pid"], *(g["pid"] for g in state["groups"])]
    members = {pid for group in groups for pid in group_members(group)}
    nginx_pid = state["processes"]["nginx"]["pid"]
    assert len(group_members(nginx_pid)) >= 2  # nginx's master and its worker
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ports = [int(p["address"].rsplit(":", 1)[1]) for p in state["processes"].values()]
    try:
        stopped = cluster.command("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped the cluster" in stopped.stdout
        assert [pid for pid in members if _running(pid)] == []
        assert [port for port in ports if listening(port)] == []
        assert bystander.poll() is None
        assert cluster.command("status").returncode == 3
        assert not (cluster.var_dir / "cluster.json").exists()
    finally:
        bystander.kill()
        bystander.wait()


def _running(pid: int) -> bool:
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return False
