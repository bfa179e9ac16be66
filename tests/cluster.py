"""What the cluster tests (``tests/test_cluster.py``) use: the running cluster and its buyers.

:class:`Cluster` is a cluster started with the real ``refundbot cluster`` command, as its
command and state file describe it; the functions play scripted buyers on it and read what the
database kept of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql

from bench.accounts import Account, create_accounts, stored_applications
from bench.client import Turn, WidgetBuyer
from bench.scripted import Script, Step, check_turn, fill
from bot.cli import main
from bot.clock import utcnow
from bot.gateway.identity import make_token
from bot.gateway.models import Direction, SenderKind, TranscriptMessage
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import RefundMethod

SHOP_SECRET = "cluster-test-shop-secret-0123456789abcdef"
#: What the widget buyer notes when the gateway says Rasa is unavailable (the answer follows).
UNAVAILABLE = "gateway said Rasa is unavailable"
#: How the bot answers a confirmation whose application is already filed.
ALREADY_FILED = "That application is already submitted:"
#: A log line worth showing when a test fails: an error, or the last line of a traceback.
TROUBLE = re.compile(r" (ERROR|CRITICAL) |^[\w.]+(Error|Exception)\b")


@dataclass
class Cluster:
    """The running cluster as its command and state file describe it."""

    env: dict[str, str]
    var_dir: Path
    database_url: str
    started: str
    """What ``refundbot cluster start`` printed."""
    logs_at: dict[Path, int] = field(default_factory=dict)
    """How long each process's log was when the test began (:meth:`mark_logs`)."""

    def mark_logs(self) -> None:
        """Note where each process's log ends: :meth:`failure_notes` reads on from there."""
        self.logs_at = {path: path.stat().st_size for path in self._logs()}

    def failure_notes(self, *, most: int = 30) -> str:
        """Return the errors each process logged since :meth:`mark_logs`, the last ``most`` of
        each log (a failed test's report shows them: the logs go with the test machine)."""
        said = []
        for path in self._logs():
            with path.open("rb") as log:
                log.seek(self.logs_at.get(path, 0))
                lines = log.read().decode(errors="replace").splitlines()
            trouble = [line[:400] for line in lines if TROUBLE.search(line)]
            if trouble:
                said.append(f"== {path.name}\n" + "\n".join(trouble[-most:]))
        return "\n".join(said)

    def _logs(self) -> list[Path]:
        return sorted((self.var_dir / "log").glob("*.log"))

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


_next_account = iter(range(1, 100_000))


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
        turn = await take_step(buyer, step, variables)
        problem = check_turn(step, turn, variables)
        assert not problem, f"{step.shown}: {problem} (got {turn.text!r})"


async def take_step(buyer: WidgetBuyer, step: Step, variables: dict[str, str]) -> Turn:
    """Say or press what ``step`` says; return the turn."""
    if step.say is not None:
        return await buyer.say(fill(step.say, variables))
    assert step.press is not None
    return await buyer.press(fill(step.press, variables))


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


def transcript_of(cluster: Cluster, conversation_id: str) -> list[tuple[str, str, str, int]]:
    """Return the conversation's transcript: (direction, sender, status, id) per message."""
    with get_sessionmaker(cluster.database_url).begin() as session:
        rows = session.execute(
            select(
                TranscriptMessage.direction,
                TranscriptMessage.sender,
                TranscriptMessage.status,
                TranscriptMessage.id,
            )
            .where(TranscriptMessage.conversation_id == conversation_id)
            .order_by(TranscriptMessage.id)
        ).all()
    return [(str(d), str(s), str(st), int(i)) for d, s, st, i in rows]


def buyer_messages(cluster: Cluster, conversation_id: str) -> list[tuple[str, str]]:
    """Return each buyer message the transcript holds: (text or payload, status), in order."""
    with get_sessionmaker(cluster.database_url).begin() as session:
        rows = session.execute(
            select(
                func.coalesce(TranscriptMessage.text, TranscriptMessage.payload),
                TranscriptMessage.status,
            )
            .where(
                TranscriptMessage.conversation_id == conversation_id,
                TranscriptMessage.direction == Direction.IN.value,
                TranscriptMessage.sender == SenderKind.BUYER.value,
            )
            .order_by(TranscriptMessage.id)
        ).all()
    return [(str(t), str(s)) for t, s in rows]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def running(pid: int) -> bool:
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return False


@dataclass
class Played:
    """One conversation played through the restarts: what the buyer sent and got."""

    account: Account
    conversation_id: str = ""
    turns: list[Turn] = field(default_factory=list)
    problem: str = ""


class Load:
    """Buyers playing the script on fresh accounts, counting the turns answered so far."""

    def __init__(self, cluster: Cluster, script: Script, accounts: list[Account]) -> None:
        self.cluster, self.script = cluster, script
        self.entry = cluster.entry
        self.played = [Played(account) for account in accounts]
        self.turns = 0
        self._turned = asyncio.Condition()

    async def reached(self, turns: int) -> int:
        """Wait until ``turns`` turns were answered in all; return how many are left to play."""
        async with self._turned:
            await self._turned.wait_for(lambda: self.turns >= turns)
        return len(self.played) * len(self.script.steps) - self.turns

    async def buyer(self, http: aiohttp.ClientSession, mine: list[Played]) -> None:
        for played in mine:
            await self._play(http, played)

    async def _play(self, http: aiohttp.ClientSession, played: Played) -> None:
        variables = played.account.variables()
        buyer = await buyer_on(http, self.entry, played.account)
        played.conversation_id = buyer.conversation_id
        try:
            for step in self.script.steps:
                turn = await take_step(buyer, step, variables)
                played.turns.append(turn)
                # "Rasa is unavailable" while PostgreSQL restarts is fine: the answer follows.
                answered = dataclasses.replace(turn, error=None)
                problem = (
                    check_turn(step, answered, variables)
                    if turn.error in (None, UNAVAILABLE)
                    else turn.error
                )
                if problem and turn.error == UNAVAILABLE and ALREADY_FILED in turn.text:
                    # A turn sent again after its first try filed the application (PostgreSQL
                    # went as Rasa saved the tracker) finds it filed; that it was filed once
                    # is checked in the store.
                    problem = ""
                async with self._turned:
                    self.turns += 1
                    self._turned.notify_all()
                if problem:
                    played.problem = f"{step.shown}: {problem} (got {turn.text!r})"
                    return
        finally:
            await buyer.close()


def rasa_turns(cluster: Cluster, conversation_id: str) -> int:
    """Return how many buyer messages Rasa's tracker store holds for the conversation."""
    with get_sessionmaker(cluster.database_url).begin() as session:
        found = session.execute(
            sql("SELECT count(*) FROM events WHERE sender_id = :id AND type_name = 'user'"),
            {"id": conversation_id},
        ).scalar_one()
    return int(found)


async def submit_to_actions(
    http: aiohttp.ClientSession, url: str, account: Account, order: str, *, number: int
) -> str:
    """Post one confirmed application of 1.00 to an action server; return its response's name."""
    sender = f"race-{account.customer_id}-{number}"
    metadata = {"customer_id": account.customer_id, "language": "en"}
    body = {
        "next_action": "action_submit_refund",
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": {
                "refund_confirmed": True,
                "order_id": order,
                "refund_method": RefundMethod.IMMEDIATE.value,
                "refund_amount": "1.00",
                "refund_reason": "ordered it twice by accident",
                "refund_draft_id": f"draft-{number}",
            },
            "latest_message": {"text": "yes", "intent": {"name": "affirm"}, "metadata": metadata},
            "events": [{"event": "user", "text": "yes", "metadata": metadata}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {},
        "version": "3.6.21",
    }
    async with http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=120)) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
    [said] = answer["responses"]
    return str(said["response"])
