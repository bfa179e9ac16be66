from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from bot.gateway import keys
from bot.gateway.identity import make_token
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.e2e.widget_page import log, open_widget, send
from tests.factories import make_customer, make_order
from tests.gateway.doubles import PDF, PNG, SHOP_SECRET, RasaDouble

pytestmark = [pytest.mark.browser, pytest.mark.demo_shop]

ORDER = "3000012345678901"


@pytest.fixture
def demo_customer(settings: Settings) -> None:
    with get_sessionmaker(settings.database_url).begin() as session:
        customer = make_customer(session, id="c-1001", name="Ada Buyer")
        make_order(session, customer=customer, id=ORDER, total=Decimal("12.00"))


async def test_refund_in_the_widget_with_history_tabs_and_upload(
    browser: Browser,
    shop_url: str,
    rasa: RasaDouble,
    demo_customer: None,
    tmp_path: Path,
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(shop_url)
    await expect(page.get_by_text(ORDER)).to_be_visible()
    await open_widget(page)
    await expect(page.locator(".rb-status")).to_have_text("Signed in as Ada Buyer")

    await send(page, "I want a refund")
    await expect(log(page)).to_contain_text("What is the order number?")
    await send(page, ORDER)
    await expect(page.get_by_role("button", name="Refund without return")).to_be_visible()
    await page.get_by_role("button", name="Refund without return").click()
    await expect(log(page)).to_contain_text("Shall I submit it?")
    await page.get_by_role("button", name="Yes, submit").click()
    await expect(log(page)).to_contain_text("Your application number is R-TEST1.")
    assert rasa.messages == [
        "I want a refund",
        ORDER,
        '/inform{"refund_method":"no_return_refund"}',
        "/affirm",
    ]
    assert all(r["metadata"]["customer_id"] == "c-1001" for r in rasa.requests)
    # Quick replies of answered questions cannot be pressed again.
    await expect(page.get_by_role("button", name="Return and refund")).to_be_disabled()
    await expect(page.locator(".rb-msg time").first).to_have_text(re.compile(r"\d{1,2}:\d{2}"))
    await page.screenshot(path=str(tmp_path / "widget-open.png"))
    assert (tmp_path / "widget-open.png").stat().st_size > 1000

    # A reload keeps the conversation: the history comes from the transcript.
    await page.reload()
    await expect(log(page)).to_contain_text("Your application number is R-TEST1.")
    await expect(log(page).locator(".rb-mine")).to_have_count(4)

    # A second tab joins the same conversation and both see new messages live.
    second = await context.new_page()
    await second.goto(shop_url)
    await open_widget(second)
    await expect(log(second)).to_contain_text("Your application number is R-TEST1.")
    await send(second, "thanks from tab two")
    await expect(log(page)).to_contain_text("You said: thanks from tab two")
    await expect(log(page).get_by_text("thanks from tab two", exact=True)).to_have_count(1)

    # Evidence upload through the attach button.
    photo = tmp_path / "broken.png"
    photo.write_bytes(PNG)
    await page.locator("#rb-file").set_input_files(str(photo))
    await expect(log(page)).to_contain_text("📎 broken.png")
    await expect(log(page)).to_contain_text("Thanks, I've kept broken.png")
    await expect(log(second)).to_contain_text("📎 broken.png")
    await context.close()


async def test_unread_badge_keyboard_and_reconnect(
    browser: Browser,
    gateway_server: TestServer,
    shop_url: str,
    rasa: RasaDouble,
    demo_customer: None,
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(shop_url)
    launcher = page.get_by_role("button", name=re.compile("Open refund assistant chat"))
    await launcher.focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Refund assistant")
    await expect(dialog).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_be_focused()
    await expect(page.locator(".rb-status")).to_have_text("Signed in as Ada Buyer")

    # Close with Escape; a reply that arrives while closed shows the unread badge.
    rasa.delay = 0.5
    await send(page, "hello")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(launcher).to_be_focused()
    await expect(page.locator(".rb-badge")).to_have_text("1")
    await expect(launcher).to_have_attribute("aria-label", re.compile("1 unread"))
    await launcher.click()
    await expect(page.locator(".rb-badge")).to_be_hidden()
    rasa.delay = 0

    # The network drops: the socket closes and reconnecting fails for a while; a message typed
    # meanwhile is kept and sent once when the widget is back.
    await context.set_offline(True)
    await gateway_server.app[keys.WEBCHAT].close()
    await expect(page.locator(".rb-status")).to_have_text(re.compile("reconnecting", re.I))
    await send(page, "sent while offline")
    await expect(log(page).locator(".rb-pending")).to_have_count(1)
    await page.wait_for_timeout(700)  # at least one failed reconnect attempt
    assert "sent while offline" not in rasa.messages
    await context.set_offline(False)
    await expect(log(page)).to_contain_text("You said: sent while offline", timeout=15_000)
    assert rasa.messages.count("sent while offline") == 1
    await expect(log(page).get_by_text("sent while offline", exact=True)).to_have_count(1)
    await expect(log(page).locator(".rb-pending")).to_have_count(0)
    await context.close()


async def test_guest_and_phone_width(
    browser: Browser, shop_url: str, rasa: RasaDouble, demo_customer: None
) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True)
    page = await context.new_page()
    await page.goto(shop_url + "?anonymous=1")
    await open_widget(page)
    await expect(page.locator(".rb-status")).to_have_text("Guest")
    box = await page.get_by_role("dialog", name="Refund assistant").bounding_box()
    assert box is not None
    assert box["width"] == 375
    await send(page, "how long do I have to return things?")
    await expect(log(page)).to_contain_text("You said: how long do I have to return things?")
    assert "customer_id" not in rasa.requests[-1]["metadata"]
    await context.close()


async def test_one_script_tag_on_another_origin(
    browser: Browser,
    shop_url: str,
    rasa: RasaDouble,
    demo_customer: None,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    tmp_path: Path,
) -> None:
    token = make_token(SHOP_SECRET, "c-1001")
    html = (
        "<!doctype html><html><head><title>Other shop</title></head><body><h1>Other shop</h1>"
        f'<script src="{shop_url}widget.js" data-token="{token}"></script></body></html>'
    )

    async def page_handler(_: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    other = web.Application()
    other.router.add_get("/", page_handler)
    other_server = await aiohttp_server(other, host="127.0.0.1")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(str(other_server.make_url("/")))
    await open_widget(page)
    await expect(page.locator(".rb-status")).to_have_text("Signed in as Ada Buyer")
    await send(page, "hello from elsewhere")
    await expect(log(page)).to_contain_text("You said: hello from elsewhere")
    receipt = tmp_path / "receipt.pdf"
    receipt.write_bytes(PDF)
    await page.locator("#rb-file").set_input_files(str(receipt))
    await expect(log(page)).to_contain_text("Thanks, I've kept receipt.pdf")
    await expect(page.locator(".rb-error")).to_be_hidden()
    await context.close()
