"""`refundbot cluster`'s layout without the model: its settings, its plan, and nginx as configured.

The nginx test runs the generated configuration in a real nginx in front of two small WebSocket
servers, one of which is down; the whole cluster is in ``tests/test_cluster.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.cluster import nginx
from bot.cluster.layout import ClusterSettings, plan
from bot.settings import ConfigError, Settings
from tests.conftest import require


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nginx_binary() -> Path:
    try:
        return nginx.find_nginx()
    except nginx.NginxError as e:
        require(False, str(e))
        raise


def test_the_defaults_are_the_local_postgresql_and_redis() -> None:
    cluster = ClusterSettings.from_env({})
    assert cluster.database_url.endswith("@127.0.0.1:5432/refundbot_cluster")
    assert cluster.redis_url == "redis://127.0.0.1:6379/0"
    assert (cluster.port, cluster.first_port) == (8000, 8101)
    assert (cluster.gateways, cluster.rasa_servers, cluster.action_servers) == (2, 2, 2)


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("REFUNDBOT_CLUSTER_DATABASE_URL", "sqlite:///var/x.db", "PostgreSQL"),
        ("REFUNDBOT_CLUSTER_DATABASE_URL", "postgresql://u@h/bad-name", "may hold only"),
        ("REFUNDBOT_CLUSTER_DATABASE_URL", "postgresql://u@h", "PostgreSQL"),
        ("REFUNDBOT_CLUSTER_GATEWAYS", "0", "1 to 16"),
        ("REFUNDBOT_CLUSTER_RASA_SERVERS", "two", "1 to 16"),
        ("REFUNDBOT_CLUSTER_PORT", "70000", "port number"),
    ],
)
def test_a_bad_setting_is_refused_with_its_name(name: str, value: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint) as refused:
        ClusterSettings.from_env({name: value})
    assert name in str(refused.value)


def test_the_plan_starts_the_servers_together_and_points_every_rasa_at_nginx(
    tmp_path: Path,
) -> None:
    binary = nginx_binary()
    settings = Settings.from_env(
        {"REFUNDBOT_VAR_DIR": str(tmp_path), "REFUNDBOT_TRUSTED_PROXIES": "10.0.0.0/8"}
    )
    cluster = ClusterSettings.from_env(
        {
            "REFUNDBOT_CLUSTER_DATABASE_URL": "postgresql://bot:pw@db.internal:5433/shop",
            "REFUNDBOT_CLUSTER_REDIS_URL": "redis://127.0.0.1:6379/3",
            "REFUNDBOT_CLUSTER_PORT": "0",
            "REFUNDBOT_CLUSTER_FIRST_PORT": "0",
        }
    )
    laid = plan(settings, cluster, model=tmp_path / "model.tar.gz", nginx_binary=binary)

    names = [s.name for s in laid.services]
    assert names == [
        "actions-1", "actions-2", "rasa-1", "rasa-2", "gateway-1", "gateway-2", "nginx",
    ]  # fmt: skip
    # Each False starts a step that waits for every service before it to be ready.
    assert [s.together for s in laid.services] == [False, True, True, True, False, True, False]
    ports = {m.name: m.port for m in laid.members}
    assert len(set(ports.values())) == len(ports)
    assert laid.env["REFUNDBOT_RASA_URL"] == (
        f"http://127.0.0.1:{ports['rasa-1']},http://127.0.0.1:{ports['rasa-2']}"
    )
    assert laid.env["REFUNDBOT_ACTION_SERVER_URL"] == laid.actions_url
    assert laid.env["REFUNDBOT_TRUSTED_PROXIES"] == "10.0.0.0/8,127.0.0.1/32"
    assert laid.env["REFUNDBOT_VAR_DIR"] == str(tmp_path / "cluster")
    gateway = next(s for s in laid.services if s.name == "gateway-2")
    assert gateway.env["REFUNDBOT_PORT"] == str(ports["gateway-2"])

    endpoints = yaml.safe_load((tmp_path / "cluster" / "endpoints.yml").read_text())
    assert endpoints["action_endpoint"] == {"url": laid.actions_url}
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    assert endpoints["tracker_store"]["db"] == "shop"
    assert endpoints["lock_store"]["db"] == 3
    assert endpoints["nlg"] == {"type": "bot.nlg.LanguageResponses"}
    for rasa in ("rasa-1", "rasa-2"):
        argv = next(s for s in laid.services if s.name == rasa).argv
        assert argv[argv.index("--endpoints") + 1] == str(tmp_path / "cluster" / "endpoints.yml")

    config = laid.nginx_config.read_text()
    for name in ("gateway-1", "gateway-2", "actions-1", "actions-2"):
        assert f"server 127.0.0.1:{ports[name]} max_fails=1 fail_timeout=10s;" in config
    assert str(tmp_path / "cluster" / "nginx" / "nginx.pid") in config


Servers = Callable[..., Awaitable[TestServer]]


async def named_socket_server(aiohttp_server: Servers, name: str) -> TestServer:
    """A server whose WebSocket answers each text with its name and the forwarded address."""

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            forwarded = request.headers.get("X-Forwarded-For", "")
            await ws.send_str(f"{name}:{message.data}:{forwarded}")
        return ws

    app = web.Application()
    app.router.add_get("/webchat/ws", socket)
    return await aiohttp_server(app, host="127.0.0.1")


@pytest.fixture
async def running_nginx(
    tmp_path: Path, aiohttp_server: Servers
) -> AsyncIterator[tuple[int, TestServer]]:
    """nginx on the generated configuration: gateways one that is down and one that is up."""
    binary = nginx_binary()
    up = await named_socket_server(aiohttp_server, "up")
    assert up.port is not None
    prefix, entry = tmp_path / "nginx", free_port()
    config = nginx.write_config(
        nginx.render(
            prefix=prefix,
            listen=f"127.0.0.1:{entry}",
            gateways=[free_port(), up.port],
            actions_listen=free_port(),
            action_servers=[free_port()],
            max_body_bytes=1024,
        ),
        prefix,
    )
    nginx.check(binary, prefix, config)
    process = await asyncio.create_subprocess_exec(
        *nginx.argv(binary, prefix, config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", entry)) == 0:
                    break
            await asyncio.sleep(0.05)
        yield entry, up
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)


async def test_nginx_passes_the_widget_socket_on_and_leaves_a_dead_gateway_out(
    running_nginx: tuple[int, TestServer],
) -> None:
    entry, _ = running_nginx
    async with aiohttp.ClientSession() as http:
        for attempt in range(4):
            async with http.ws_connect(f"ws://127.0.0.1:{entry}/webchat/ws") as ws:
                await ws.send_str(f"hello {attempt}")
                answer = await ws.receive_str(timeout=10)
            # Round-robin would give the dead gateway every other socket: each went to the
            # live one, with the client's address appended for the gateway.
            assert answer == f"up:hello {attempt}:127.0.0.1"
