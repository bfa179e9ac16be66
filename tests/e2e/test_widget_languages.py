"""The real widget in Chromium: the shop's data-lang or the browser's language, then the buyer's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from bot.gateway.app import create_app
from bot.settings import Settings
from tests.gateway.doubles import RasaDouble

pytestmark = [pytest.mark.browser]

Servers = Callable[..., Awaitable[TestServer]]


async def shop(aiohttp_server: Servers, settings: Settings, attributes: str = "") -> str:
    """Serve the gateway and a shop page with the widget's tag; return the page's address."""
    gateway = await aiohttp_server(create_app(settings), host="127.0.0.1")
    tag = f'<script src="{gateway.make_url("/widget.js")}" {attributes} async></script>'

    async def page(_: web.Request) -> web.Response:
        html = f"<!doctype html><html><head><title>Shop</title></head><body>{tag}</body></html>"
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    return str((await aiohttp_server(app, host="127.0.0.1")).make_url("/"))


async def send(page: Page, text: str) -> None:
    box = page.locator("#rb-input")
    await box.fill(text)
    await box.press("Enter")


async def test_the_shops_data_lang_starts_the_chat_in_spanish(
    browser: Browser, aiohttp_server: Servers, settings: Settings, rasa: RasaDouble
) -> None:
    url = await shop(aiohttp_server, settings, 'data-lang="es"')
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_role("button", name="Abrir el chat de reembolsos").click()
    await expect(page.get_by_role("dialog", name="Asistente de reembolsos")).to_be_visible()
    await expect(page.locator(".rb-status")).to_have_text("Invitado")
    await expect(page.get_by_role("textbox", name="Mensaje")).to_have_attribute(
        "placeholder", "Escribe un mensaje…"
    )
    await send(page, "ok")
    await expect(page.get_by_role("log", name="Conversación")).to_contain_text("You said: ok")
    assert rasa.requests[0]["metadata"]["language"] == "es"
    await context.close()


async def test_the_browsers_language_then_the_buyers_request(
    browser: Browser, aiohttp_server: Servers, settings: Settings, rasa: RasaDouble
) -> None:
    url = await shop(aiohttp_server, settings)
    context = await browser.new_context(locale="ru-RU")
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_role("button", name="Открыть чат по возвратам").click()
    await expect(page.locator(".rb-send")).to_have_text("Отправить")
    await send(page, "can you answer in English?")
    # The gateway switches the conversation; the widget's own words follow.
    await expect(page.locator(".rb-send")).to_have_text("Send")
    await expect(page.locator(".rb-status")).to_have_text("Guest")
    await send(page, "ok")
    await expect(page.get_by_role("log", name="Conversation")).to_contain_text("You said: ok")
    assert [r["metadata"]["language"] for r in rasa.requests] == ["en"]
    await context.close()
