"""Several Rasa servers behind one gateway: the home server, failover, and what is not resent."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.gateway.app import create_app
from bot.gateway.models import TranscriptMessage
from bot.gateway.rasa import RasaClient, RasaNotReached, RasaOutcomeUnknown, ranking
from bot.gateway.router import FAILED_TURN_TRIES
from bot.messages import text
from bot.refunds.db import get_sessionmaker
from bot.settings import ConfigError, Settings, rasa_urls
from tests.gateway.doubles import RasaDouble, scripted_reply, with_gateway
from tests.gateway.webchat_client import bot_text, hello

ServerMaker = Callable[..., Awaitable[TestServer]]


def test_rasa_url_takes_one_server_or_a_list(tmp_path: Path) -> None:
    one = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path)})
    assert one.rasa_servers == ("http://127.0.0.1:5005",)
    assert one.rasa_url == "http://127.0.0.1:5005"
    several = Settings.from_env(
        {
            "REFUNDBOT_VAR_DIR": str(tmp_path),
            "REFUNDBOT_RASA_URL": " http://127.0.0.1:5005/, http://rasa-2.internal:5005",
        }
    )
    assert several.rasa_servers == ("http://127.0.0.1:5005", "http://rasa-2.internal:5005")
    assert several.rasa_url == "http://127.0.0.1:5005"  # what `refundbot shell` talks to
    # Settings built in code with one URL keep working.
    assert Settings(var_dir=tmp_path, database_url="x", rasa_url="http://h:1").rasa_servers == (
        "http://h:1",
    )


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("http://127.0.0.1:5005,", "an empty entry is not a URL"),
        ("http://127.0.0.1:5005,,http://127.0.0.1:5006", "an empty entry is not a URL"),
        ("127.0.0.1:5005", "'127.0.0.1:5005' is not a URL like http://127.0.0.1:5005"),
        ("http://127.0.0.1:5005 http://127.0.0.1:5006", "is not a URL"),
        ("http://127.0.0.1:99999", "is not a URL"),
        ("http://127.0.0.1:0", "is not a URL"),
        ("ftp://rasa:21", "is not a URL"),
        ("http://rasa:5005/?token=x", "is not a URL"),
        ("http://rasa:5005,http://rasa:5005/", "'http://rasa:5005' is named twice"),
    ],
)
def test_a_bad_rasa_url_entry_is_named(raw: str, says: str) -> None:
    with pytest.raises(ConfigError, match="REFUNDBOT_RASA_URL: ") as caught:
        rasa_urls(raw)
    assert says in str(caught.value)


def test_each_conversation_has_a_stable_home_and_conversations_spread() -> None:
    servers = ["http://a:5005", "http://b:5005"]
    homes = [ranking(servers, f"web-{i}")[0] for i in range(400)]
    assert homes == [ranking(list(reversed(servers)), f"web-{i}")[0] for i in range(400)]
    assert 120 < homes.count("http://a:5005") < 280
    # A third server takes conversations only from the others, never swaps them between them.
    three = [*servers, "http://c:5005"]
    moved = [(h, ranking(three, f"web-{i}")[0]) for i, h in enumerate(homes)]
    assert all(new in (old, "http://c:5005") for old, new in moved)


async def _doubles(aiohttp_server: ServerMaker, n: int) -> list[RasaDouble]:
    doubles = []
    for _ in range(n):
        double = RasaDouble()
        server = await aiohttp_server(double.app(), host="127.0.0.1")
        double.url = str(server.make_url("")).rstrip("/")
        doubles.append(double)
    return doubles


def _closed_port_url() -> str:
    """A URL on this machine where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_a_refused_connection_moves_the_turn_and_the_server_is_tried_last_for_a_while(
    aiohttp_server: ServerMaker,
) -> None:
    (up,) = await _doubles(aiohttp_server, 1)
    dead = _closed_port_url()
    seen: list[tuple[str, str]] = []
    async with aiohttp.ClientSession() as http:
        client = RasaClient(
            http,
            [dead, up.url],
            timeout_seconds=5,
            on_request=lambda server, outcome: seen.append((server, outcome)),
            down_seconds=60,
        )
        cid = next(f"web-{i}" for i in range(100) if ranking(client.servers, f"web-{i}")[0] == dead)
        replies = await client.send(cid, "hello", {})
        assert [r.text for r in replies] == ["You said: hello"]
        assert seen == [(dead, "not_reached"), (up.url, "answered")]
        # Known to be down: the next turn goes straight to the other server.
        await client.send(cid, "again", {})
        assert seen[2:] == [(up.url, "answered")]
        assert client.order(cid) == [up.url, dead]
    assert up.messages == ["hello", "again"]


async def test_a_503_moves_the_turn_but_a_500_or_a_timeout_is_not_sent_again(
    aiohttp_server: ServerMaker,
) -> None:
    first, second = await _doubles(aiohttp_server, 2)
    async with aiohttp.ClientSession() as http:
        client = RasaClient(http, [first.url, second.url], timeout_seconds=3.0, down_seconds=0)
        cid = next(
            f"web-{i}" for i in range(100) if ranking(client.servers, f"web-{i}")[0] == first.url
        )
        first.down = True  # answers 503: it says it did not take the message in
        await client.send(cid, "one", {})
        assert (first.refused, second.messages) == (1, ["one"])

        first.down = False

        def fail(_: dict[str, Any]) -> list[dict[str, Any]]:
            raise RuntimeError("the turn broke half-way")  # the double answers 500

        first.reply = fail
        with pytest.raises(RasaOutcomeUnknown):
            await client.send(cid, "two", {})
        assert first.messages == ["two"]
        assert second.messages == ["one"]  # not made a second time elsewhere

        first.reply = second.reply
        first.delay = 10.0  # took the message in, no answer within the timeout
        with pytest.raises(RasaOutcomeUnknown):
            await client.send(cid, "three", {})
        assert second.messages == ["one"]

        # Reads are safe to repeat: the tracker comes from the other server.
        first.delay = 0.0
        first.reply = fail
        first.down = True
        tracker = await client.tracker(cid)
        assert tracker["sender_id"] == cid


async def test_no_server_taking_the_message_in_is_not_reached(aiohttp_server: ServerMaker) -> None:
    first, second = await _doubles(aiohttp_server, 2)
    first.down = second.down = True
    async with aiohttp.ClientSession() as http:
        client = RasaClient(http, [first.url, second.url], timeout_seconds=5)
        with pytest.raises(RasaNotReached):
            await client.send("web-x", "anyone?", {})
    assert first.refused == second.refused == 1


async def _gateway_on(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    doubles: list[RasaDouble],
    **changes: Any,
) -> TestClient:
    app_settings = dataclasses.replace(
        with_gateway(settings, rasa_down_seconds=0.2, **changes),
        rasa_urls=tuple(d.url for d in doubles),
    )
    return await aiohttp_client(create_app(app_settings))


async def test_the_home_server_down_its_turns_go_to_the_other_and_come_back(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    aiohttp_server: ServerMaker,
    settings: Settings,
    rasa: RasaDouble,
) -> None:
    (other,) = await _doubles(aiohttp_server, 1)
    gateway = await _gateway_on(aiohttp_client, settings, [rasa, other])
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "first", "client_id": "m1"})
    assert (await bot_text(ws))["text"] == "You said: first"
    home, away = (rasa, other) if rasa.messages else (other, rasa)
    assert home.messages == ["first"]
    assert away.messages == []

    home.down = True
    await ws.send_json({"type": "message", "text": "second", "client_id": "m2"})
    assert (await bot_text(ws))["text"] == "You said: second"  # no "unavailable" notice
    assert away.messages == ["second"]

    home.down = False
    home_refused = home.refused
    # Once the home server has been out of the way long enough, it is tried first again.
    await asyncio.sleep(0.3)
    await ws.send_json({"type": "message", "text": "third", "client_id": "m3"})
    assert (await bot_text(ws))["text"] == "You said: third"
    assert home.messages == ["first", "third"]
    assert home.refused == home_refused

    health = await (await gateway.get("/health")).json()
    assert health["checks"]["rasa"]["up"] == 2
    other.down = True  # (the fixture's double also plays the action server)
    response = await gateway.get("/health")
    body = await response.json()
    assert response.status == 200  # the other server answers every conversation meanwhile
    assert body["checks"]["rasa"]["ok"] is True
    assert body["checks"]["rasa"]["up"] == 1
    assert {s["url"]: s["ok"] for s in body["checks"]["rasa"]["servers"]} == {
        f"{rasa.url}/": True,
        f"{other.url}/": False,
    }
    metrics = await (await gateway.get("/metrics")).text()
    assert f'refundbot_rasa_requests_total{{outcome="not_reached",server="{home.url}"}} 1.0' in (
        metrics
    )
    assert f'refundbot_rasa_requests_total{{outcome="answered",server="{away.url}"}} 1.0' in (
        metrics
    )
    await ws.close()


async def _submit_it(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    aiohttp_server: ServerMaker,
    settings: Settings,
    rasa: RasaDouble,
    reply: Callable[[dict[str, Any]], list[dict[str, Any]]],
) -> tuple[aiohttp.ClientWebSocketResponse, RasaDouble]:
    """Two servers answering with ``reply``; a buyer says "submit it". Return their socket."""
    (other,) = await _doubles(aiohttp_server, 1)
    rasa.reply = other.reply = reply
    gateway = await _gateway_on(aiohttp_client, settings, [rasa, other])
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "submit it", "client_id": "m1"})
    return ws, other


async def test_a_turn_rasa_failed_on_after_taking_it_in_goes_again_under_its_name(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    aiohttp_server: ServerMaker,
    settings: Settings,
    rasa: RasaDouble,
) -> None:
    failed: list[str] = []

    def fails_once(body: dict[str, Any]) -> list[dict[str, Any]]:
        if not failed:
            failed.append(body["message_id"])
            raise RuntimeError("crashed after the turn was made")
        return scripted_reply(body)

    ws, other = await _submit_it(aiohttp_client, aiohttp_server, settings, rasa, fails_once)
    assert (await bot_text(ws))["text"] == "You said: submit it"
    # The server that took it in failed on it (it may have made the turn, and Rasa would
    # answer again with what it said): sent again there, under the same name.
    requests = rasa.requests + other.requests
    assert [r["message"] for r in requests] == ["submit it", "submit it"]
    assert len({r["message_id"] for r in requests}) == 1
    assert not (rasa.requests and other.requests), "not moved to the other server"
    await ws.close()


async def test_a_turn_rasa_fails_on_every_time_is_given_up_and_the_buyer_asked_to_resend(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    aiohttp_server: ServerMaker,
    settings: Settings,
    rasa: RasaDouble,
) -> None:
    def fail(_: dict[str, Any]) -> list[dict[str, Any]]:
        raise RuntimeError("broke after the turn was made")

    ws, other = await _submit_it(aiohttp_client, aiohttp_server, settings, rasa, fail)
    notice = await bot_text(ws)
    assert notice["text"] == text("maybe_unanswered")
    assert notice["sender"] == "system"
    assert rasa.messages + other.messages == ["submit it"] * FAILED_TURN_TRIES
    with get_sessionmaker(settings.database_url).begin() as session:
        statuses = session.execute(select(TranscriptMessage.status)).scalars().all()
    # Not pending: a restart does not send it again either.
    assert set(statuses) == {"done"}
    await ws.close()


async def test_health_with_one_server_keeps_its_shape(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    body = await (await gateway.get("/health")).json()
    assert body["checks"]["rasa"] == {"ok": True, "url": f"{rasa.url}/", "status": 200}
