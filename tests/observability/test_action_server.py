"""The action server's own process: ``/metrics`` counts and times actions, logs are JSON lines."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.observability.actions import ActionMetrics, attach
from bot.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ActionServer:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def call(self, action: str, sender: str) -> int:
        body = {
            "next_action": action,
            "sender_id": sender,
            "tracker": {
                "sender_id": sender,
                "slots": {},
                "latest_message": {"text": "a person please", "intent": {"name": "human_handoff"}},
                "events": [],
                "paused": False,
                "followup_action": None,
                "active_loop": {},
                "latest_action_name": "action_listen",
            },
            "domain": {},
            "version": "3.6.21",
        }
        request = urllib.request.Request(
            f"{self.url}/webhook",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            return e.code

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = response.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    """``python -m bot.action_server`` as ``refundbot run`` starts it, with JSON logs."""
    port = free_port()
    folder = tmp_path_factory.mktemp("actions")
    log = folder / "actions.log"
    env = {
        **os.environ,
        "REFUNDBOT_VAR_DIR": str(folder),
        "REFUNDBOT_LOG_FORMAT": "json",
        "SANIC_HOST": "127.0.0.1",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.action_server", "--actions", "actions"]
            + ["--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
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
                        pytest.fail(f"action server did not start: {log.read_text()[-2000:]}")
                    time.sleep(0.3)
            yield ActionServer(f"http://127.0.0.1:{port}", log)
        finally:
            process.terminate()
            process.wait(timeout=10)


def _log_lines(log: Path) -> list[dict[str, Any]]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_actions_are_counted_and_timed_by_name(action_server: ActionServer) -> None:
    assert action_server.call("action_request_human", "conv-metrics-1") == 200
    assert action_server.call("action_request_human", "conv-metrics-1") == 200
    assert action_server.call("action_made_up_by_a_caller", "conv-metrics-2") == 404
    samples = action_server.scrape()
    ok = (("action", "action_request_human"), ("outcome", "ok"))
    assert samples[("refundbot_action_runs_total", ok)] == 2
    human = (("action", "action_request_human"),)
    assert samples[("refundbot_action_seconds_count", human)] == 2
    assert samples[("refundbot_action_seconds_sum", human)] > 0
    unknown = (("action", "unknown"), ("outcome", "unknown"))
    assert samples[("refundbot_action_runs_total", unknown)] == 1
    # A name the server does not have adds no series.
    assert not any("made_up" in str(labels) for _, labels in samples)


def test_every_log_line_is_json_with_the_conversation_when_there_is_one(
    action_server: ActionServer,
) -> None:
    assert action_server.call("action_nobody_has", "conv-logs-7") == 404
    lines = _log_lines(action_server.log)  # every line parses, start-up lines included
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    refused = [line for line in lines if "action_nobody_has" in line["message"]]
    assert refused
    assert {line.get("conversation_id") for line in refused} == {"conv-logs-7"}
    assert refused[-1]["level"] == "ERROR"
    # Lines of no conversation (start-up) carry none.
    assert any("conversation_id" not in line for line in lines)


def _own_address() -> str | None:
    """An address of this machine that is not loopback, when it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if ipaddress.ip_address(address).is_loopback else address


@pytest.fixture
async def in_process(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[int, ActionMetrics]]:
    """rasa-sdk's app with the metrics attached, served in the test's loop on every address."""
    from sanic import Sanic

    # Sanic refuses a second app of one name in a process unless it runs in test mode.
    monkeypatch.setattr(Sanic, "test_mode", True)
    with warnings.catch_warnings():
        # sanic-cors, imported by rasa-sdk's endpoint, still uses distutils' versions.
        warnings.filterwarnings("ignore", "distutils Version classes", DeprecationWarning)
        from rasa_sdk.endpoint import create_app

        app = create_app("actions")
    metrics = ActionMetrics()
    attach(app, metrics, health_token="metrics-token-1")
    port = free_port()
    server = await app.create_server("0.0.0.0", port, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield port, metrics
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()


async def test_action_metrics_are_for_this_machine_or_the_health_token(
    in_process: tuple[int, ActionMetrics],
) -> None:
    port, metrics = in_process
    async with aiohttp.ClientSession() as http:
        call = {
            "next_action": "action_request_human",
            "sender_id": "c-1",
            "tracker": _tracker("c-1"),
            "domain": {},
            "version": "3.6.21",
        }
        # Rasa may send the call deflated; the action's name is read all the same.
        async with http.post(
            f"http://127.0.0.1:{port}/webhook",
            data=zlib.compress(json.dumps(call).encode()),
            headers={"Content-Encoding": "deflate", "Content-Type": "application/json"},
        ) as answer:
            assert answer.status == 200, await answer.text()
        ok = {"action": "action_request_human", "outcome": "ok"}
        assert metrics.registry.get_sample_value("refundbot_action_runs_total", ok) == 1
        async with http.get(f"http://127.0.0.1:{port}/metrics") as local:
            assert local.status == 200
            sample = 'refundbot_action_runs_total{action="action_request_human",outcome="ok"} 1.0'
            assert sample in await local.text()
        address = _own_address()
        if address is None:
            return
        remote = f"http://{address}:{port}/metrics"
        for headers, status in (
            ({}, 403),
            ({"Authorization": "Bearer nope"}, 403),
            ({"Authorization": "Bearer metrics-token-1"}, 200),
        ):
            async with http.get(remote, headers=headers) as response:
                assert response.status == status, headers


def _tracker(sender: str) -> dict[str, Any]:
    return {
        "sender_id": sender,
        "slots": {},
        "latest_message": {},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    }
