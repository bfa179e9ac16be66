"""Sign-in throttling: per client address and per account, in the database; the form's limits.

Addresses are the real mechanism: the test server trusts 127.0.0.1 as its reverse proxy, so a
client's address is the ``X-Forwarded-For`` it sends. Time passes by moving the recorded
failures into the past, as they would be after a wait.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.clock import utcnow
from bot.console.models import LoginFailure
from bot.gateway.app import create_app
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.console.agents import PASSWORD, Console, add_agent, client_of
from tests.gateway.doubles import with_gateway

PROXY = "127.0.0.1"
ATTACKER = "198.51.100.9"
OWNER = "203.0.113.5"
# The defaults (tests/console/test_settings_and_cli.py checks them).
ADDRESS_LIMIT = 20
ADDRESS_WINDOW = 900
ACCOUNT_WINDOW = 86400


@dataclass
class Answer:
    status: int
    text: str
    retry_after: int | None
    error: str


class Browser:
    """One browser: its own cookie jar; every request comes through the proxy for ``address``."""

    def __init__(self, client: TestClient, address: str | None) -> None:
        self.client = client
        self.address = address

    def headers(self) -> dict[str, str]:
        return {"X-Forwarded-For": self.address} if self.address else {}

    async def form_token(self) -> str:
        page = await self.client.get("/console/login", headers=self.headers())
        found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert found is not None
        return found.group(1)

    async def sign_in(self, name: str, password: str = PASSWORD) -> Answer:
        data = {"csrf": await self.form_token(), "name": name, "password": password}
        return await self.post_form(data)

    async def post_form(self, data: object, headers: dict[str, str] | None = None) -> Answer:
        response = await self.client.post(
            "/console/login",
            data=data,
            headers=self.headers() if headers is None else headers,
            allow_redirects=False,
        )
        text = await response.text()
        error = re.search(r'<p class="error" role="alert">([^<]*)</p>', text)
        retry = response.headers.get("Retry-After")
        return Answer(
            status=response.status,
            text=text,
            retry_after=int(retry) if retry is not None else None,
            error=error.group(1) if error else "",
        )

    async def sign_out(self) -> None:
        home = await self.client.get("/console")
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', await home.text())
        assert csrf is not None
        out = await self.client.post(
            "/console/logout", data={"csrf": csrf.group(1)}, allow_redirects=False
        )
        assert out.status == 302


BrowserOf = Callable[..., Awaitable[Browser]]


@pytest.fixture
def proxied(settings: Settings) -> Settings:
    return with_gateway(settings, trusted_proxies=(f"{PROXY}/32",))


@pytest.fixture
async def browser_at(
    aiohttp_server: Callable[..., Awaitable[TestServer]], proxied: Settings
) -> AsyncIterator[BrowserOf]:
    """Browsers of one gateway behind a trusted proxy: ``await browser_at(address)``."""
    server = await aiohttp_server(create_app(proxied), host="127.0.0.1")
    clients: list[TestClient] = []

    async def make(address: str | None = None, *, on: TestServer = server) -> Browser:
        client = await client_of(on)
        clients.append(client)
        return Browser(client, address)

    yield make
    for client in clients:
        await client.close()


def failures(settings: Settings) -> list[tuple[str, str]]:
    with get_sessionmaker(settings.database_url).begin() as session:
        rows = session.execute(
            select(LoginFailure.address, LoginFailure.account).order_by(LoginFailure.id)
        )
        return [(address, account) for address, account in rows]


def let_time_pass(settings: Settings, seconds: float) -> None:
    """Move every recorded failure ``seconds`` into the past."""
    with get_sessionmaker(settings.database_url).begin() as session:
        for row in session.execute(select(LoginFailure)).scalars():
            row.at = row.at - dt.timedelta(seconds=seconds)


def record_failures(settings: Settings, account: str, count: int, address: str) -> None:
    """``count`` failures for ``account``, one second apart, the last one just now."""
    now = utcnow()
    with get_sessionmaker(settings.database_url).begin() as session:
        session.add_all(
            LoginFailure(address=address, account=account, at=now - dt.timedelta(seconds=i))
            for i in range(count)
        )


async def test_many_names_from_one_address_make_that_address_wait(
    proxied: Settings, browser_at: BrowserOf
) -> None:
    add_agent(proxied, "dora")
    attacker = await browser_at(ATTACKER)
    limit = ADDRESS_LIMIT
    for i in range(limit):
        assert (await attacker.sign_in(f"guess{i}", "wrong password")).status == 401
    refused = await attacker.sign_in("guess-more", "wrong password")
    assert refused.status == 429
    window = ADDRESS_WINDOW
    assert refused.retry_after is not None
    assert window - 60 < refused.retry_after <= window
    assert "from your address" in refused.error
    assert "try again in 15 minutes" in refused.error
    # Even a right password waits at that address; everyone else signs in.
    assert (await attacker.sign_in("dora")).status == 429
    assert (await (await browser_at(OWNER)).sign_in("dora")).status == 302
    # Refused attempts are not failures: the wait ends when the first failures leave the window.
    assert len(failures(proxied)) == limit
    let_time_pass(proxied, window + 1)
    assert (await attacker.sign_in("guess-again", "wrong password")).status == 401


async def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(
    settings: Settings, browser_of: Callable[[], Awaitable[Console]]
) -> None:
    # No trusted proxies: every request comes from 127.0.0.1, whatever it says.
    browser = Browser((await browser_of()).client, None)
    for i in range(ADDRESS_LIMIT):
        browser.address = f"192.0.2.{i}"
        assert (await browser.sign_in(f"guess{i}", "wrong password")).status == 401
    browser.address = "192.0.2.200"
    assert (await browser.sign_in("another", "wrong password")).status == 429
    assert {address for address, _ in failures(settings)} == {"127.0.0.1"}


async def test_failures_are_shared_by_every_gateway_instance(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    proxied: Settings,
    browser_at: BrowserOf,
) -> None:
    other = await aiohttp_server(create_app(proxied), host="127.0.0.1")
    limit = ADDRESS_LIMIT
    first, second = await browser_at(ATTACKER), await browser_at(ATTACKER, on=other)
    for i in range(limit):
        browser = first if i % 2 else second
        assert (await browser.sign_in(f"guess{i}", "wrong password")).status == 401
    assert (await first.sign_in("x", "wrong password")).status == 429
    assert (await second.sign_in("y", "wrong password")).status == 429


async def test_an_account_backs_off_exponentially_up_to_a_cap(
    proxied: Settings, browser_at: BrowserOf
) -> None:
    add_agent(proxied, "dora")
    # Guesses from five places: the account, not an address, is what is counted.
    for i in range(5):
        attacker = await browser_at(f"198.51.100.{i}")
        assert (await attacker.sign_in("dora", "wrong password")).status == 401
    owner = await browser_at(OWNER)
    waits = []
    for _ in range(4):
        refused = await owner.sign_in("dora", "wrong password")
        assert refused.status == 429
        assert "for this name" in refused.error
        assert refused.retry_after is not None
        waits.append(refused.retry_after)
        let_time_pass(proxied, refused.retry_after)
        assert (await owner.sign_in("dora", "wrong password")).status == 401
    assert waits == [1, 2, 4, 8]
    # However many failures there were, the wait is at most the cap, after which the right
    # password is let in.
    record_failures(proxied, "dora", 200, ATTACKER)
    refused = await owner.sign_in("dora")
    assert refused.status == 429
    # The cap, less the second the failures may have been recorded before (a loaded machine).
    assert refused.retry_after is not None
    assert 299 <= refused.retry_after <= 300
    assert "try again in 5 minutes" in refused.error
    let_time_pass(proxied, refused.retry_after - 5)
    assert (await owner.sign_in("dora")).status == 429
    let_time_pass(proxied, 5)
    assert (await owner.sign_in("dora")).status == 302


async def test_unknown_names_back_off_like_known_ones(
    proxied: Settings, browser_at: BrowserOf
) -> None:
    add_agent(proxied, "dora")
    answers: dict[str, list[tuple[int, str, int | None]]] = {}
    for name in ("dora", "nobody"):
        answers[name] = []
        for i in range(6):
            browser = await browser_at(f"198.51.100.{i}")
            answer = await browser.sign_in(name, "wrong password")
            answers[name].append((answer.status, answer.error, answer.retry_after))
    assert answers["dora"] == answers["nobody"]
    assert answers["dora"][0] == (401, "Wrong name or password.", None)
    assert answers["dora"][5] == (
        429,
        "Too many failed sign-ins for this name; try again in 1 second.",
        1,
    )
    assert failures(proxied).count(("198.51.100.0", "nobody")) == 1


async def test_a_known_browser_is_not_held_by_the_back_off_others_caused(
    proxied: Settings, browser_at: BrowserOf
) -> None:
    add_agent(proxied, "dora")
    add_agent(proxied, "eli")
    owner = await browser_at(OWNER)
    assert (await owner.sign_in("dora")).status == 302
    device = [c for c in owner.client.session.cookie_jar if c.key == "rb_console_device_dora"]
    assert len(device) == 1
    assert device[0]["httponly"]
    assert device[0]["path"] == "/console/login"
    await owner.sign_out()
    for i in range(5):
        attacker = await browser_at(f"198.51.100.{i}")
        assert (await attacker.sign_in("dora", "wrong password")).status == 401
    record_failures(proxied, "dora", 5, ATTACKER)
    # A new browser at the owner's address waits; the owner's own browser does not.
    stranger = await browser_at(OWNER)
    assert (await stranger.sign_in("dora")).status == 429
    assert (await owner.sign_in("dora")).status == 302
    await owner.sign_out()
    # A copied, altered or borrowed cookie is worth nothing.
    value = device[0].value
    stranger.client.session.cookie_jar.update_cookies(
        {"rb_console_device_dora": value[:-2] + ("AA" if value[-2:] != "AA" else "BB")}
    )
    assert (await stranger.sign_in("dora")).status == 429
    eli = await browser_at(OWNER)
    assert (await eli.sign_in("eli")).status == 302
    [eli_device] = [c for c in eli.client.session.cookie_jar if c.key == "rb_console_device_eli"]
    stranger.client.session.cookie_jar.update_cookies({"rb_console_device_dora": eli_device.value})
    assert (await stranger.sign_in("dora")).status == 429
    # A known browser's own wrong passwords still count for it.
    for _ in range(5):
        assert (await owner.sign_in("dora", "wrong password")).status == 401
    assert (await owner.sign_in("dora")).status == 429


async def test_a_known_browser_still_waits_for_its_address(
    proxied: Settings, browser_at: BrowserOf
) -> None:
    add_agent(proxied, "dora")
    owner = await browser_at(OWNER)
    assert (await owner.sign_in("dora")).status == 302
    await owner.sign_out()
    for i in range(ADDRESS_LIMIT):
        neighbour = await browser_at(OWNER)
        assert (await neighbour.sign_in(f"guess{i}", "wrong password")).status == 401
    refused = await owner.sign_in("dora")
    assert refused.status == 429
    assert "from your address" in refused.error


async def test_signing_in_clears_the_accounts_failures_from_that_address(
    proxied: Settings, browser_at: BrowserOf
) -> None:
    add_agent(proxied, "dora")
    attacker = await browser_at(ATTACKER)
    assert (await attacker.sign_in("dora", "wrong password")).status == 401
    owner = await browser_at(OWNER)
    for _ in range(4):
        assert (await owner.sign_in("dora", "mistyped password")).status == 401
    assert (await owner.sign_in("dora")).status == 429
    let_time_pass(proxied, 1)
    assert (await owner.sign_in("dora")).status == 302
    # The owner's own mistakes are forgotten, the attacker's are not.
    assert failures(proxied) == [(ATTACKER, "dora")]
    assert (await (await browser_at(OWNER)).sign_in("dora", "typo")).status == 401


async def test_old_failures_are_purged(proxied: Settings, browser_at: BrowserOf) -> None:
    add_agent(proxied, "dora")
    record_failures(proxied, "someone", 3, ATTACKER)
    let_time_pass(proxied, ACCOUNT_WINDOW + 1)
    record_failures(proxied, "recent", 1, ATTACKER)
    assert (await (await browser_at(OWNER)).sign_in("dora")).status == 302
    assert failures(proxied) == [(ATTACKER, "recent")]


async def test_concurrent_guesses_cannot_slip_past_the_limits(
    proxied: Settings, browser_at: BrowserOf
) -> None:
    limit = ADDRESS_LIMIT
    browsers = [await browser_at(ATTACKER) for _ in range(limit + 10)]
    forms = [
        {"csrf": await b.form_token(), "name": f"guess{i}", "password": "wrong password"}
        for i, b in enumerate(browsers)
    ]
    answers = await asyncio.gather(*(b.post_form(f) for b, f in zip(browsers, forms, strict=True)))
    assert sorted(a.status for a in answers) == [401] * limit + [429] * 10
    assert len(failures(proxied)) == limit

    # One account, guessed from many places at once: five free guesses, then the back-off.
    browsers = [await browser_at(f"192.0.2.{i}") for i in range(12)]
    forms = [
        {"csrf": await b.form_token(), "name": "dora", "password": "wrong password"}
        for b in browsers
    ]
    answers = await asyncio.gather(*(b.post_form(f) for b, f in zip(browsers, forms, strict=True)))
    assert sorted(a.status for a in answers) == [401] * 5 + [429] * 7


BAD_FORMS = [
    pytest.param({"name": "dora\x00"}, "The name", id="nul-in-name"),
    pytest.param({"password": PASSWORD + "\x00"}, "The password", id="nul-in-password"),
    pytest.param({"name": "d" * 65}, "The name is too long", id="long-name"),
    pytest.param({"password": "p" * 1025}, "The password is too long", id="long-password"),
    pytest.param({"csrf": "c" * 200}, "The form", id="long-token"),
    pytest.param({"name": "dora\ud800"}, "The name", id="surrogate-in-name"),
    pytest.param({"password": "\udfff" + PASSWORD}, "The password", id="surrogate-in-password"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_FORMS)
async def test_unusable_sign_in_forms_are_a_400_not_a_500(
    proxied: Settings, browser_at: BrowserOf, fields: dict[str, str], message: str
) -> None:
    add_agent(proxied, "dora")
    browser = await browser_at(OWNER)
    form = {"csrf": await browser.form_token(), "name": "dora", "password": PASSWORD, **fields}
    # A browser sends UTF-8, which cannot carry a lone surrogate; a client that names another
    # charset can.
    surrogate = any("\ud800" <= c <= "\udfff" for value in form.values() for c in value)
    charset = "raw_unicode_escape" if surrogate else "utf-8"
    body = urllib.parse.urlencode({k: v.encode(charset) for k, v in form.items()})
    answer = await browser.post_form(
        body.encode(),
        headers={
            **browser.headers(),
            "Content-Type": f"application/x-www-form-urlencoded; charset={charset}",
        },
    )
    assert answer.status == 400, answer.text
    assert answer.error.startswith(message), answer.error
    assert failures(proxied) == []
    assert (await browser.sign_in("dora")).status == 302


async def test_unreadable_sign_in_forms_are_a_400(proxied: Settings, browser_at: BrowserOf) -> None:
    browser = await browser_at(OWNER)
    csrf = (await browser.form_token()).encode()
    part = b'--b\r\nContent-Disposition: form-data; name="name"\r\n'
    for content_type, body in [
        ("application/x-www-form-urlencoded", b"csrf=" + csrf + b"&name=\xff\xfe&password=x"),
        ("application/x-www-form-urlencoded; charset=no-such-charset", b"name=dora"),
        ("multipart/form-data; boundary=b", part + b"\r\n\xff\xfe\r\n--b--\r\n"),
        (
            "multipart/form-data; boundary=b",
            part + b"Content-Type: application/octet-stream\r\n\r\ndora\r\n--b--\r\n",
        ),
        ("multipart/form-data; boundary=b", b"--b\r\nnot a part"),
    ]:
        answer = await browser.post_form(
            body, headers={**browser.headers(), "Content-Type": content_type}
        )
        assert answer.status == 400, (content_type, body, answer.status, answer.text)
        assert answer.error == "The form could not be read; please sign in again."
