"""``refundbot agent deactivate|activate|password|list``: the real command, the real app."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer

from bot.cli import main
from bot.console.models import Role
from bot.settings import Settings
from tests.console.agents import PASSWORD, Console, add_agent, client_of
from tests.gateway.doubles import RasaDouble
from tests.gateway.webchat_client import bot_text, hello

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def refundbot(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run ``refundbot ARGS`` on the test database; return its status, output and errors."""
    monkeypatch.setenv("REFUNDBOT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REFUNDBOT_VAR_DIR", str(settings.var_dir))

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


async def test_deactivating_ends_the_agents_sessions_at_once(
    settings: Settings,
    ana: Console,
    ben: Console,
    browser_of: Callable[[], Awaitable[Console]],
    refundbot: Callable[..., tuple[int, str, str]],
) -> None:
    events = await ana.client.ws_connect("/console/ws")
    await events.send_str('{"type":"ping"}')
    assert (await events.receive_json())["type"] == "pong"

    status, out, _ = refundbot("agent", "deactivate", "ana")
    assert status == 0
    assert "ana is deactivated" in out
    assert (await ana.client.get("/console/api/me")).status == 401
    # The open console page is closed at its next ping.
    await events.send_str('{"type":"ping"}')
    closing = await events.receive()
    assert closing.type is WSMsgType.CLOSE
    assert events.close_code == 4401
    # Nobody else is touched; the deactivated agent cannot sign in again.
    assert (await ben.client.get("/console/api/me")).status == 200
    again = await browser_of()
    assert await again.sign_in("ana") == 401

    status, out, _ = refundbot("agent", "list")
    assert status == 0
    assert out.splitlines() == ["ana\tadmin\tAna\tinactive", "ben\tagent\tBen\tactive"]

    assert refundbot("agent", "activate", "ana")[:2] == (0, "agent ana is active\n")
    assert await again.sign_in("ana") == 302
    assert (await again.client.get("/console/api/me")).status == 200
    assert refundbot("agent", "list")[1].splitlines()[0] == "ana\tadmin\tAna\tactive"


async def test_a_new_password_ends_the_agents_sessions(
    settings: Settings,
    ana: Console,
    ben: Console,
    browser_of: Callable[[], Awaitable[Console]],
    refundbot: Callable[..., tuple[int, str, str]],
) -> None:
    second = await browser_of()
    assert await second.sign_in("ana") == 302

    status, out, _ = refundbot("agent", "password", "ana", stdin=NEW_PASSWORD + "\n")
    assert (status, out) == (0, "agent ana has a new password; their sessions ended\n")
    assert (await ana.client.get("/console/api/me")).status == 401
    assert (await second.client.get("/console/api/me")).status == 401
    assert (await ben.client.get("/console/api/me")).status == 200
    assert await second.sign_in("ana", PASSWORD) == 401
    assert await second.sign_in("ana", NEW_PASSWORD) == 302

    status, _, err = refundbot("agent", "password", "ana", stdin="short\n")
    assert status == 2
    assert "at least 10 characters" in err
    assert (await second.client.get("/console/api/me")).status == 200


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        pytest.param(("agent", "deactivate", "ana"), "", id="deactivated"),
        pytest.param(("agent", "password", "ana"), NEW_PASSWORD + "\n", id="new-password"),
    ],
)
async def test_an_open_page_that_never_pings_gets_nothing_once_its_session_ended(
    server: TestServer,
    ana: Console,
    ben: Console,
    refundbot: Callable[..., tuple[int, str, str]],
    rasa: RasaDouble,
    args: tuple[str, ...],
    stdin: str,
) -> None:
    # A program (not the console page) holds the socket open and never pings.
    silent = await ana.client.ws_connect("/console/ws")
    watching = await ben.client.ws_connect("/console/ws")
    assert refundbot(*args, stdin=stdin)[0] == 0

    buyer = await client_of(server)
    ws, _ = await hello(buyer)
    await ws.send_json({"type": "message", "text": "my card number is 4111", "client_id": "c1"})
    assert (await bot_text(ws))["text"] == "You said: my card number is 4111"
    # The agent still signed in sees the buyer's message; the one signed out is closed instead.
    seen = [await watching.receive_json(timeout=10) for _ in range(2)]
    assert [(f["type"], f["message"]["text"]) for f in seen] == [
        ("message", "my card number is 4111"),
        ("message", "You said: my card number is 4111"),
    ]
    closing = await silent.receive(timeout=10)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 4401), closing
    await ws.close()
    await buyer.close()
    await watching.close()


@pytest.mark.parametrize(
    "args",
    [
        ("agent", "deactivate", "ghost"),
        ("agent", "activate", "ghost"),
        ("agent", "password", "ghost"),
    ],
)
def test_no_such_agent_is_a_clear_error(
    settings: Settings, refundbot: Callable[..., tuple[int, str, str]], args: tuple[str, ...]
) -> None:
    add_agent(settings, "ana", Role.ADMIN)
    status, out, err = refundbot(*args, stdin=NEW_PASSWORD + "\n")
    assert (status, out) == (1, "")
    assert err == "refundbot: there is no agent named 'ghost'\n"


def test_deactivating_twice_says_so(
    settings: Settings, refundbot: Callable[..., tuple[int, str, str]]
) -> None:
    add_agent(settings, "ana")
    assert refundbot("agent", "deactivate", "ANA")[:2] == (0, "agent ana is deactivated\n")
    assert refundbot("agent", "deactivate", "ana")[:2] == (0, "agent ana was inactive already\n")
    assert refundbot("agent", "activate", "ana")[:2] == (0, "agent ana is active\n")
    assert refundbot("agent", "activate", "ana")[:2] == (0, "agent ana was active already\n")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("p" * 1025, "passwords have at most 1024 characters"),
        ("a password\x00with a NUL", "passwords cannot hold NUL characters or lone surrogates"),
    ],
)
def test_passwords_the_sign_in_form_would_refuse_are_refused(
    settings: Settings,
    refundbot: Callable[..., tuple[int, str, str]],
    password: str,
    problem: str,
) -> None:
    add_agent(settings, "ana")
    for args in (("agent", "add", "bob"), ("agent", "password", "ana")):
        status, out, err = refundbot(*args, stdin=password + "\n")
        assert (status, out, err) == (2, "", f"refundbot: {problem}\n")


def test_a_merchant_is_added_with_its_role(refundbot: Callable[..., tuple[int, str, str]]) -> None:
    status, out, _ = refundbot("agent", "add", "mia", "--role", "merchant", stdin=PASSWORD + "\n")
    assert status == 0
    assert "agent mia (merchant) added" in out
    status, out, _ = refundbot("agent", "list")
    assert "mia\tmerchant\tMia\tactive" in out
