"""The console refuses anonymous access, requests without the CSRF token, and foreign pages."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.console import auth
from bot.console.models import AgentSession
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.console.agents import (
    PASSWORD,
    Console,
    add_agent,
    client_of,
    console_routes,
    snapshot,
)
from tests.gateway.doubles import PNG, RasaDouble


def fill(path: str, conversation_id: str, reference: str) -> str:
    return (
        path.replace("{id}", conversation_id)
        .replace("{reference}", reference)
        .replace("{action}", "approve")
        .replace("{name}", "console.js")
    )


async def test_every_console_route_refuses_anonymous_access(
    server: TestServer, settings: Settings, waiting: tuple[str, str], rasa: RasaDouble
) -> None:
    conversation_id, reference = waiting
    routes = console_routes(server)
    assert len(routes) >= 20
    before = snapshot(settings)
    anonymous = await client_of(server)
    public = {"/console/login", "/console/static/{name}"}
    checked = 0
    for method, path in routes:
        if path in public:
            continue
        url = fill(path, conversation_id, reference)
        body = {"text": "hi", "take_over": True, "note": "n", "title": "t"}
        response = await anonymous.request(method, url, json=body, allow_redirects=False)
        if method == "GET" and not path.startswith(("/console/api", "/console/ws")):
            assert response.status == 302, (method, path)
            assert response.headers["Location"] == "/console/login"
        else:
            assert response.status == 401, (method, path, response.status)
        checked += 1
    # A forged cookie is no better than none.
    anonymous.session.cookie_jar.update_cookies({"rb_console": "forged"})
    response = await anonymous.get("/console/api/conversations")
    assert response.status == 401
    assert checked >= 17
    assert snapshot(settings) == before
    await anonymous.close()


async def test_state_changes_without_the_csrf_token_are_refused(
    server: TestServer, settings: Settings, ana: Console, waiting: tuple[str, str]
) -> None:
    conversation_id, reference = waiting
    before = snapshot(settings)
    for method, path in console_routes(server):
        if method != "POST" or path in ("/console/login",):
            continue
        url = fill(path, conversation_id, reference)
        missing = await ana.post(url, {"text": "hi", "note": "n", "title": "t"}, csrf=False)
        assert missing.status == 403, (path, missing.status)
        wrong = await ana.client.post(
            url, json={"text": "hi"}, headers={"X-CSRF-Token": "x" * len(ana.csrf)}
        )
        assert wrong.status == 403, path
    # The sign-out form without its token is refused too: the session stays.
    response = await ana.client.post("/console/logout", data={}, allow_redirects=False)
    assert response.status == 403
    assert snapshot(settings) == before
    assert (await ana.client.get("/console/api/me")).status == 200


async def test_sign_in_cookie_sign_out_and_wrong_passwords(
    server: TestServer,
    settings: Settings,
    browser_of: Callable[[], Awaitable[Console]],
) -> None:
    add_agent(settings, "cleo")
    console = await browser_of()
    assert await console.sign_in("cleo", "wrong password!") == 401
    assert await console.sign_in("nobody", PASSWORD) == 401
    assert snapshot(settings)["agent_sessions"] == 0
    # The sign-in form needs its own token (login CSRF).
    stray = await console.client.post(
        "/console/login", data={"name": "cleo", "password": PASSWORD}, allow_redirects=False
    )
    assert stray.status == 403

    page = await console.client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert token is not None
    response = await console.client.post(
        "/console/login",
        data={"csrf": token.group(1), "name": "cleo", "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 302
    cookie = next(
        v for k, v in response.headers.items() if k == "Set-Cookie" and "rb_console=" in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    with get_sessionmaker(settings.database_url).begin() as session:
        stored = session.execute(select(AgentSession.token_hash)).scalar_one()
    assert stored not in cookie  # only the hash is kept
    me = await console.client.get("/console/api/me")
    assert (await me.json())["name"] == "cleo"
    home = await console.client.get("/console")
    assert "default-src 'self'" in home.headers["Content-Security-Policy"]
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', await home.text())
    assert csrf is not None
    out = await console.client.post(
        "/console/logout", data={"csrf": csrf.group(1)}, allow_redirects=False
    )
    assert out.status == 302
    assert (await console.client.get("/console/api/me")).status == 401
    assert snapshot(settings)["agent_sessions"] == 0


async def test_socket_from_another_origin_is_refused(server: TestServer, ana: Console) -> None:
    response = await ana.client.get(
        "/console/ws",
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403


async def test_only_admins_add_canned_replies(ana: Console, ben: Console) -> None:
    assert (await ben.post("/console/api/canned", {"title": "x", "text": "y"})).status == 403
    await ana.ok("/console/api/canned", {"title": "Thanks", "text": "Thanks for waiting!"})
    titles = [c["title"] for c in await ben.get("/console/api/canned")]
    assert "Thanks" in titles
    assert "Order number" in titles


def test_passwords_are_salted_scrypt_hashes() -> None:
    one, two = auth.hash_password(PASSWORD), auth.hash_password(PASSWORD)
    assert one != two
    assert one.startswith("scrypt$32768$8$1$")
    assert auth.verify_password(PASSWORD, one)
    assert not auth.verify_password(PASSWORD + "!", one)
    assert not auth.verify_password(PASSWORD, "md5$abc")


async def test_evidence_files_only_for_agents(
    server: TestServer, settings: Settings, ana: Console
) -> None:
    buyer = await client_of(server)
    ws = await buyer.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello"})
    welcome = await ws.receive_json()
    form = aiohttp.FormData()
    form.add_field("session", welcome["session"])
    form.add_field("file", PNG, filename="crack.png", content_type="image/png")
    uploaded = await (await buyer.post("/webchat/upload", data=form)).json()
    evidence_id = uploaded["evidence"]["evidence_id"]
    conversation_id = welcome["session"].rpartition(".")[0]
    detail = await ana.get(f"/console/api/conversations/{conversation_id}")
    [attachment] = [a for m in detail["messages"] for a in m["attachments"]]
    assert attachment["evidence_id"] == evidence_id

    response = await ana.client.get(f"/console/evidence/{evidence_id}")
    assert response.status == 200
    assert await response.read() == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await ana.client.get("/console/evidence/999999")).status == 404
    anonymous = await buyer.get(f"/console/evidence/{evidence_id}", allow_redirects=False)
    assert anonymous.status == 302
    await ws.close()
    await buyer.close()


async def test_every_script_the_page_loads_is_served_under_the_same_policy(ana: Console) -> None:
    page = await (await ana.client.get("/console")).text()
    scripts = re.findall(r'<script src="(/console/static/[^"]+)" defer></script>', page)

    assert "/console/static/console.js" in scripts
    assert "/console/static/refunds.js" in scripts
    for src in scripts:
        response = await ana.client.get(src)
        assert response.status == 200, src
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
