"""The real widget in Chromium against frames the server refuses, limits, origins, a bad server.

A frame that once closed the socket was resent by the widget on every reconnect, for ever; now
the server refuses it by name and the widget marks it not sent. The widget also gives up a
frame that keeps a server from answering, whatever the server does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from bot.channels.webchat import STATIC_DIR
from bot.gateway.app import create_app
from bot.settings import Settings
from tests.gateway.doubles import RasaDouble, with_gateway

pytestmark = [pytest.mark.browser]

Servers = Callable[..., Awaitable[TestServer]]


class ShopPage:
    """A shop's page on its own origin with the widget's one script tag."""

    def __init__(self) -> None:
        self.gateway = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.page)
        return app

    async def page(self, _: web.Request) -> web.Response:
        html = (
            "<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>"
            f'<script src="{self.gateway}widget.js" async></script></body></html>'
        )
        return web.Response(text=html, content_type="text/html")


async def shop_for(aiohttp_server: Servers, gateway: str = "") -> tuple[ShopPage, str]:
    shop = ShopPage()
    shop.gateway = gateway
    server = await aiohttp_server(shop.app(), host="127.0.0.1")
    return shop, str(server.make_url("/"))


async def open_chat(page: Page, url: str) -> list[str]:
    """Open ``url`` and the widget; return the list the page's socket openings are added to."""
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.goto(url)
    await page.get_by_role("button", name=re.compile("Open refund assistant chat")).click()
    return sockets


async def type_raw(page: Page, text: str) -> None:
    """Type text a keyboard cannot (a lone surrogate), the way a paste could bring it."""
    await page.evaluate(
        """(text) => {
          const box = document.querySelector('#rb-input');
          box.value = text;
          box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
        }""",
        text,
    )


async def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")


@pytest.fixture
async def gateway_url(aiohttp_server: Servers, settings: Settings) -> str:
    server = await aiohttp_server(create_app(settings), host="127.0.0.1")
    return str(server.make_url("/"))


async def test_a_message_the_server_refuses_is_marked_not_sent_and_never_resent(
    browser: Browser, gateway_url: str, rasa: RasaDouble, aiohttp_server: Servers
) -> None:
    _, shop = await shop_for(aiohttp_server, gateway_url)
    page = await (await browser.new_context()).new_page()
    sockets = await open_chat(page, shop)
    await expect(page.locator(".rb-status")).to_have_text("Guest")
    for sent, poisoned in enumerate(("broken \ud800 text", "nul \x00 inside"), start=1):
        await type_raw(page, poisoned)
        await expect(page.locator(".rb-msg.rb-failed")).to_have_count(sent)
        await expect(page.locator(".rb-error")).to_contain_text("characters I can't read")
    await send(page, "hello")
    await expect(page.get_by_role("log", name="Conversation")).to_contain_text("You said: hello")
    await page.wait_for_timeout(1500)
    assert len(sockets) == 1  # never closed, so never reopened
    assert await page.locator(".rb-status").text_content() == "Guest"
    assert rasa.messages == ["hello"]


async def test_a_buyer_over_the_rate_limit_sees_why_and_what_was_not_sent(
    browser: Browser, settings: Settings, rasa: RasaDouble, aiohttp_server: Servers
) -> None:
    limited = with_gateway(settings, rate_limit_messages=2, rate_limit_seconds=3600)
    gateway = await aiohttp_server(create_app(limited), host="127.0.0.1")
    _, shop = await shop_for(aiohttp_server, str(gateway.make_url("/")))
    page = await (await browser.new_context()).new_page()
    await open_chat(page, shop)
    for said in ("one", "two"):
        await send(page, said)
        await expect(page.locator(".rb-log")).to_contain_text(f"You said: {said}")
    await send(page, "three")
    await expect(page.locator(".rb-error")).to_have_text(
        "You're sending messages faster than I can read them; please wait a few seconds."
    )
    await expect(page.locator(".rb-msg.rb-failed")).to_have_text(re.compile("three"))
    assert rasa.messages == ["one", "two"]


async def test_only_allowed_shop_origins_get_the_chat(
    browser: Browser, settings: Settings, rasa: RasaDouble, aiohttp_server: Servers
) -> None:
    allowed, allowed_url = await shop_for(aiohttp_server)
    other, other_url = await shop_for(aiohttp_server)
    only = with_gateway(settings, allowed_origins=(allowed_url.rstrip("/"),))
    gateway = await aiohttp_server(create_app(only), host="127.0.0.1")
    allowed.gateway = other.gateway = str(gateway.make_url("/"))
    page = await (await browser.new_context()).new_page()
    await open_chat(page, allowed_url)
    await expect(page.locator(".rb-status")).to_have_text("Guest")
    await send(page, "hello")
    await expect(page.locator(".rb-log")).to_contain_text("You said: hello")

    page = await (await browser.new_context()).new_page()
    await open_chat(page, other_url)
    await expect(page.locator(".rb-status")).to_have_text(re.compile("reconnecting", re.I))
    assert rasa.messages == ["hello"]


class BadGateway:
    """A server speaking the widget's protocol badly: it drops or refuses every message."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.received: list[dict[str, object]] = []
        self.sockets: set[web.WebSocketResponse] = set()

    def app(self) -> web.Application:
        app = web.Application()
        # Like the gateway, close open sockets on shutdown rather than wait for the browser.
        app.on_shutdown.append(self.close_sockets)
        app.router.add_get("/", self.page)
        app.router.add_get("/widget.js", self.static)
        app.router.add_get("/widget.css", self.static)
        app.router.add_get("/webchat/ws", self.socket)
        return app

    async def page(self, request: web.Request) -> web.Response:
        html = (
            "<!doctype html><html><head><title>Shop</title></head><body>"
            '<script src="/widget.js" async></script></body></html>'
        )
        return web.Response(text=html, content_type="text/html")

    async def static(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / request.path.removeprefix("/"))

    async def close_sockets(self, _: web.Application) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001)

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            await self.answer(ws)
        finally:
            self.sockets.discard(ws)
        return ws

    async def answer(self, ws: web.WebSocketResponse) -> None:
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            if frame["type"] == "hello":
                welcome = {"type": "welcome", "session": "s.x", "customer": None, "history": []}
                await ws.send_json(welcome)
            elif frame["type"] == "message":
                self.received.append(frame)
                if self.mode == "refuse":
                    await ws.send_json({"type": "error", "code": "bad_frame", "message": "No."})
                await ws.close(code=1011)


async def test_the_widget_gives_up_a_frame_that_keeps_closing_the_socket(
    browser: Browser, aiohttp_server: Servers
) -> None:
    bad = BadGateway("close")
    server = await aiohttp_server(bad.app(), host="127.0.0.1")
    page = await (await browser.new_context()).new_page()
    await open_chat(page, str(server.make_url("/")))
    await expect(page.locator(".rb-status")).to_have_text("Guest")
    await send(page, "poison")
    await expect(page.locator(".rb-msg.rb-failed")).to_have_count(1, timeout=20_000)
    await page.wait_for_timeout(3000)
    assert [f["text"] for f in bad.received] == ["poison"] * 3


async def test_a_refusal_without_a_client_id_drops_the_last_frame_sent(
    browser: Browser, aiohttp_server: Servers
) -> None:
    bad = BadGateway("refuse")
    server = await aiohttp_server(bad.app(), host="127.0.0.1")
    page = await (await browser.new_context()).new_page()
    sockets = await open_chat(page, str(server.make_url("/")))
    await expect(page.locator(".rb-status")).to_have_text("Guest")
    await send(page, "refused")
    await expect(page.locator(".rb-msg.rb-failed")).to_have_count(1)
    await expect(page.locator(".rb-error")).to_have_text("No.")
    # The socket closed after the refusal: the widget came back without the refused frame.
    await expect(page.locator(".rb-status")).to_have_text("Guest", timeout=10_000)
    await page.wait_for_timeout(1500)
    assert len(sockets) >= 2
    assert len(bad.received) == 1
