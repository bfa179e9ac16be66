"""`refundbot cluster`: two of every process behind nginx, on PostgreSQL and Redis, for real.

One cluster for the whole module (two Rasa servers load the trained model), on a PostgreSQL and
a Redis of its own (:mod:`tests.engines`: they are restarted here, which the machine's shared
ones must never be): started with the real command, used by buyers and agents over real
sockets, hurt with ``kill -9`` and with restarts of PostgreSQL and Redis under load, raced by
200 submissions and 50 approvals at once, and stopped with the real command. The tests run in
order and share it.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from sqlalchemy import select

from bench.agent import ConsoleAgent
from bench.client import WidgetBuyer
from bench.scripted import Script, load_scripts
from bot.clock import utcnow
from bot.cluster.nginx import DEBIAN_NGINX
from bot.cluster.state import group_members
from bot.gateway.rasa import ranking
from bot.gateway.ratelimit import QUIET_SECONDS
from bot.refunds import store
from bot.refunds.db import dispose, get_sessionmaker
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.models import RefundApplication, RefundEvent
from bot.settings import PROJECT_ROOT, PolicySettings
from tests.cluster import (
    SHOP_SECRET,
    Cluster,
    Load,
    buyer_messages,
    buyer_on,
    heard,
    listening,
    new_account,
    play,
    rasa_turns,
    refunded,
    running,
    submit_to_actions,
    take_step,
    transcript_of,
)
from tests.conftest import require
from tests.e2e.realstack import trained_model
from tests.engines import PrivatePostgres, PrivateRedis, private_postgres, private_redis

pytestmark = [pytest.mark.rasa, pytest.mark.postgres]

SCRIPT = "immediate_refund_of_everything_with_buttons"


def nginx_available() -> bool:
    return bool(shutil.which("nginx")) or DEBIAN_NGINX.exists()


@dataclass
class Engines:
    """The cluster's own PostgreSQL and Redis."""

    postgres: PrivatePostgres
    redis: PrivateRedis


@pytest.fixture(scope="module")
def engines() -> Iterator[Engines]:
    with private_postgres() as postgres, private_redis() as redis_server:
        yield Engines(postgres, redis_server)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, engines: Engines) -> Iterator[Cluster]:
    model = trained_model()
    require(nginx_available(), "nginx not installed: run scripts/install-nginx.sh")
    database_url = engines.postgres.url.rsplit("/", 1)[0] + "/refundbot_cluster_test"
    var_dir = tmp_path_factory.mktemp("cluster")
    env = {
        "REFUNDBOT_VAR_DIR": str(var_dir),
        "REFUNDBOT_CLUSTER_DATABASE_URL": database_url,
        "REFUNDBOT_CLUSTER_REDIS_URL": engines.redis.url,
        "REFUNDBOT_CLUSTER_PORT": "0",
        "REFUNDBOT_CLUSTER_FIRST_PORT": "0",
        "REFUNDBOT_DEMO_SHOP": "true",
        "REFUNDBOT_SHOP_SECRET": SHOP_SECRET,
        "RASA_TELEMETRY_ENABLED": "false",
    }
    cluster = Cluster(env, var_dir / "cluster", database_url, started="")
    try:
        start = cluster.command("start", "--model", str(model))
        assert start.returncode == 0, start.stdout + start.stderr
        cluster.started = start.stdout
        yield cluster
    finally:
        cluster.command("stop")
        dispose(database_url)


@pytest.fixture(autouse=True)
def marked_logs(cluster: Cluster) -> None:
    """A failed test's report shows what the processes logged wrong while it ran."""
    cluster.mark_logs()


@pytest.fixture(scope="module")
def script() -> Script:
    [found] = [s for s in load_scripts([PROJECT_ROOT / "tests" / "scripted"]) if s.name == SCRIPT]
    return found


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
        cid = buyer.conversation_id
        try:
            await play(buyer, script, account, slice(0, 2))
            before = [m["text"] for m in (await _history(buyer))]
            # Killed in the middle of the next turn: the buyer's press recorded, not answered.
            pressed = asyncio.create_task(take_step(buyer, script.steps[2], account.variables()))
            await _until(lambda: len(buyer_messages(cluster, cid)) == 3, seconds=30, every=0.005)
            os.kill(victim["pid"], signal.SIGKILL)
            assert buyer_messages(cluster, cid)[-1][1] == "pending"
            await pressed
            # Back through nginx, which leaves the dead gateway out: the same conversation,
            # its whole history, and the refund form where the buyer left it.
            turn = await buyer.rejoin(cluster.ws(cluster.entry))
            assert turn.error is None, turn.error
            after = [m["text"] for m in buyer.welcome["history"]]
            assert after[: len(before)] == before
            # The gateway, restarted, sends the pending press to Rasa (under its name: had Rasa
            # made the turn already, it would answer with what it said): answered once, and
            # the buyer sees the answer.
            await _until(lambda: buyer_messages(cluster, cid)[2][1] == "done", seconds=60)
            history = [m["text"] for m in (await _history(buyer))]
            assert history[len(before)].startswith("All of it")  # the button's title
            assert [t for t in history if "why would you like the refund" in t] == [
                history[len(before) + 1]
            ]
            await play(buyer, script, account, slice(3, None))
        finally:
            await buyer.close()
    assert refunded(cluster, account)[-1:] == [("PHONE_CASE", "immediate_refund", "refunded")]
    sent = [buyer_text for buyer_text, _ in buyer_messages(cluster, cid)]
    assert buyer_messages(cluster, cid) == [(text, "done") for text in sent]
    assert len(sent) == len(script.steps)
    assert rasa_turns(cluster, cid) == len(sent)
    # The supervisor brought the killed gateway back.
    cluster.wait_up("gateway-1", restarts=1)
    assert cluster.process("gateway-1")["pid"] != victim["pid"]


async def _until(condition: Callable[[], bool], *, seconds: float, every: float = 0.2) -> None:
    """Wait until ``condition()`` holds, looking every ``every`` seconds; fail after ``seconds``."""
    for _ in range(math.ceil(seconds / every)):
        if condition():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"not so after {seconds} s")


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
            # The buyer writes once the supervisor has seen them die (well under a second).
            # A turn sent in the same instant could meet the gateway's pooled connection to
            # that Rasa server not yet closed: it would go again under its name, a second
            # later (tests/e2e/test_rasa_failover.py has a server die in mid-turn).
            for name, pid in killed.items():

                def replaced(name: str = name, pid: int = pid) -> bool:
                    return bool(cluster.process(name)["pid"] != pid)

                cluster.wait(replaced)
            await play(buyer, script, account, slice(None))
        finally:
            await buyer.close()
    assert refunded(cluster, account)[-1:] == [("PHONE_CASE", "immediate_refund", "refunded")]
    # The supervisor brings both back (a Rasa server only once its model is loaded again).
    for name, pid in killed.items():
        cluster.wait_up(name, restarts=1)
        assert not running(pid)


#: Buyers writing at once while PostgreSQL and Redis restart, and conversations each.
LOAD_BUYERS = 4
LOAD_CONVERSATIONS = 3


async def test_postgres_and_redis_restart_under_load_and_every_process_carries_on(
    cluster: Cluster, script: Script, engines: Engines
) -> None:
    before = {name: (p["pid"], p["restarts"]) for name, p in cluster.state()["processes"].items()}
    accounts = [new_account(cluster) for _ in range(LOAD_BUYERS * LOAD_CONVERSATIONS)]
    load = Load(cluster, script, accounts)
    left: dict[str, int] = {}
    back: dict[str, float] = {}

    async def faults() -> None:
        # Every buyer is in a conversation; then again once more turns were answered.
        left["postgres"] = await load.reached(LOAD_BUYERS * 2)
        await asyncio.to_thread(engines.postgres.restart, down_seconds=2.0)
        left["redis"] = await load.reached(load.turns + LOAD_BUYERS * 2)
        await asyncio.to_thread(engines.redis.restart, down_seconds=1.0)
        back["redis"] = time.monotonic()

    restarts = asyncio.create_task(faults())
    try:
        async with aiohttp.ClientSession() as http:
            buyers = [load.buyer(http, load.played[i::LOAD_BUYERS]) for i in range(LOAD_BUYERS)]
            await asyncio.wait_for(asyncio.gather(*buyers), timeout=300)
        await asyncio.wait({restarts}, timeout=60)  # over, unless a buyer stopped early
        problems = [f"{p.account.customer_id}: {p.problem}" for p in load.played if p.problem]
        assert problems == []
        assert restarts.done(), f"the buyers were done before the restarts: {left}"
        restarts.result()
    finally:
        restarts.cancel()
    # Both restarts came while buyers were writing.
    assert left["postgres"] > 0, left
    assert left["redis"] > 0, left
    for played in load.played:
        sent = [turn.sent for turn in played.turns]
        # Every message once in the transcript, answered; one turn of Rasa's for each.
        assert buyer_messages(cluster, played.conversation_id) == [(s, "done") for s in sent]
        assert rasa_turns(cluster, played.conversation_id) == len(sent)
        # Every answer the buyer got once; every answer recorded reached the buyer.
        got = [r.message_id for turn in played.turns for r in turn.replies]
        assert len(got) == len(set(got))
        answers = {
            i for d, who, _, i in transcript_of(cluster, played.conversation_id) if who == "bot"
        }
        assert answers <= set(got)
        assert refunded(cluster, played.account) == [("PHONE_CASE", "immediate_refund", "refunded")]

    # Nobody had to restart anything: every process is the one from before, and well.
    after = {name: (p["pid"], p["restarts"]) for name, p in cluster.state()["processes"].items()}
    assert after == before
    async with aiohttp.ClientSession() as http, http.get(f"{cluster.entry}/health") as response:
        health = await response.json()
    assert {name: check["ok"] for name, check in health["checks"].items()} == {
        "database": True,
        "rasa": True,
        "action_server": True,
    }
    # The gateways listen to each other over the new Redis again (an agent on one reaches a
    # buyer on the other), and count rate limits in it again once their quiet period is over.
    await asyncio.sleep(max(0.0, back["redis"] + QUIET_SECONDS + 1 - time.monotonic()))
    account = new_account(cluster)
    agent = ConsoleAgent(
        cluster.direct("gateway-2"), get_sessionmaker(cluster.database_url), name="ana"
    )
    async with aiohttp.ClientSession() as http:
        buyer = await buyer_on(http, cluster.direct("gateway-1"), account)
        try:
            await play(buyer, script, account, slice(0, 1))
            await agent.act("take", buyer.conversation_id)
            await agent.act("say", buyer.conversation_id, text="Ana here, after the restarts.")
            assert "Ana here" in await heard(buyer, "Ana here")
        finally:
            await buyer.close()
            await agent.close()
    shared = redis.Redis.from_url(engines.redis.url)
    try:
        assert shared.keys("refundbot:ratelimit:*")
    finally:
        shared.close()


SUBMISSIONS = 200


async def test_200_submissions_on_one_order_through_both_action_servers_stay_within_its_balance(
    cluster: Cluster,
) -> None:
    account = new_account(cluster)
    order = account.orders["PHONE_CASE"]  # 18.90 USD, not shipped: immediate refunds, automatic
    servers = [f"{cluster.direct(name)}/webhook" for name in ("actions-1", "actions-2")]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        answers = await asyncio.gather(
            *(
                submit_to_actions(http, servers[i % 2], account, order, number=i)
                for i in range(SUBMISSIONS)
            )
        )
    said = [response for response in answers]
    accepted = said.count("utter_refund_submitted_automatic")
    with get_sessionmaker(cluster.database_url).begin() as session:
        amounts = (
            session.execute(
                select(RefundApplication.amount)
                .where(RefundApplication.customer_id == account.customer_id)
                .where(RefundApplication.idempotency_key.like("race-%"))
            )
            .scalars()
            .all()
        )
    # One euro at a time: 18 of them fit in 18.90, and exactly 18 were taken.
    assert len(amounts) == accepted == 18
    assert sum(amounts, Decimal(0)) == Decimal("18.00")
    assert said.count("utter_refund_failed") == SUBMISSIONS - accepted


APPROVALS = 50


async def test_50_approvals_of_one_application_on_both_gateways_approve_it_once(
    cluster: Cluster,
) -> None:
    account = new_account(cluster)
    with get_sessionmaker(cluster.database_url).begin() as session:
        application = store.submit_application(
            session,
            customer_id=account.customer_id,
            order_id=account.orders["LAMP"],
            method=RefundMethod.RETURN_AND_REFUND,
            amount=Decimal("20.00"),
            reason="the lamp arrived with a cracked shade and it does not switch on",
            reason_category=ReasonCategory.DAMAGED,
            idempotency_key=f"approvals-{account.customer_id}",
            conversation_id=None,
            now=utcnow(),
            settings=PolicySettings(),
        ).application
        reference, application_id = application.reference, application.id
    sessions = get_sessionmaker(cluster.database_url)
    agents = [
        ConsoleAgent(cluster.direct("gateway-1"), sessions, name="bea"),
        ConsoleAgent(cluster.direct("gateway-2"), sessions, name="cal"),
    ]
    path = f"/console/api/applications/{reference}/approve"
    try:
        answers = await asyncio.gather(*(agents[i % 2].post(path) for i in range(APPROVALS)))
    finally:
        for agent in agents:
            await agent.close()
    assert sorted(status for status, _ in answers) == [200] + [409] * (APPROVALS - 1)
    refusals = {said for status, said in answers if status == 409}
    assert all(said.startswith("cannot approve an application that is ") for said in refusals), (
        refusals
    )
    with sessions.begin() as session:
        approvals = (
            session.execute(
                select(RefundEvent.actor)
                .where(RefundEvent.application_id == application_id)
                .where(RefundEvent.to_status == "approved")
            )
            .scalars()
            .all()
        )
    assert len(approvals) == 1, approvals
    assert approvals[0] in ("agent:bea", "agent:cal"), approvals


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
        assert [pid for pid in members if running(pid)] == []
        assert [port for port in ports if listening(port)] == []
        assert bystander.poll() is None
        assert cluster.command("status").returncode == 3
        assert not (cluster.var_dir / "cluster.json").exists()
    finally:
        bystander.kill()
        bystander.wait()
