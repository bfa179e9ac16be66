"""Agent takeover end to end: real Rasa and action server, the gateway, Chromium for both sides.

A buyer (in the web widget, then on Telegram through the Bot API double) starts a refund, asks
for a person; an agent signs in to the console, claims the conversation, reads the context,
replies and hands it back with the order number; the bot carries on with the form from there.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from bot.clock import utcnow
from bot.console.auth import AgentExists, create_agent
from bot.console.models import Role
from bot.gateway.app import create_app
from bot.gateway.identity import make_start_parameter
from bot.refunds import store
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.settings import GatewaySettings, PolicySettings, Settings
from tests.channels.telegram_buyer import CHAT, HOOK_SECRET, Buyer
from tests.console.agents import PASSWORD, client_of
from tests.e2e.console_page import sign_in_as
from tests.e2e.realstack import Stack
from tests.e2e.widget_page import log, open_widget, send
from tests.factories import NOW
from tests.gateway.doubles import (
    SHOP_SECRET,
    TELEGRAM_TOKEN,
    BotApiDouble,
    text_update,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.rasa, pytest.mark.demo_shop]

ORDER = "8041235566701234"
REASON = "The lamp flickers and the switch is loose"


def stack_settings(stack: Stack, tmp_path: Path, **gateway: object) -> Settings:
    with get_sessionmaker(stack.database_url).begin() as session:
        try:
            create_agent(session, name="sam", password=PASSWORD, role=Role.AGENT, now=NOW)
        except AgentExists:
            pass
    return Settings(
        var_dir=tmp_path / "var",
        database_url=stack.database_url,
        rasa_url=stack.rasa_url,
        rasa_token=stack.rasa_token,
        action_server_url=stack.action_server_url,
        gateway=GatewaySettings(
            shop_secret=SHOP_SECRET,
            notify_interval_seconds=0.2,
            demo_shop=True,  # the browser opens the demo shop page
            **gateway,  # type: ignore[arg-type]
        ),
    )


async def sign_in(page: Page, base: str) -> None:
    await page.goto(base + "console")
    await expect(page).to_have_url(re.compile("/console/login$"))
    await sign_in_as(page, "sam")
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()


async def take_and_hand_back(console: Page, item_name: re.Pattern[str], screenshot: Path) -> None:
    """Claim the waiting conversation, check the context, reply, hand back with the order."""
    queue = console.get_by_role("list", name="Waiting and claimed conversations")
    item = queue.get_by_role("button", name=item_name)
    await expect(item).to_contain_text("Buyer asked for a person")
    await item.click()
    context = console.get_by_role("complementary", name="Context")
    await expect(context).to_contain_text("Why here: Buyer asked for a person")
    await expect(context).to_contain_text(ORDER)
    await expect(context).to_contain_text("refund_form")
    await expect(context).to_contain_text(re.compile(r"human_handoff \d+%"))
    await console.get_by_role("button", name="Claim").click()
    await expect(console.get_by_role("button", name="Hand back to the bot")).to_be_visible()
    transcript = console.get_by_role("log", name="Transcript")
    # The claim's own updates re-render the panel; type once they have arrived.
    await expect(transcript).to_contain_text("Sam from support joined the conversation.")
    reply = console.get_by_label("Reply to the buyer")
    await reply.fill("Hi, I'm Sam. Which order is it about?")
    await expect(reply).to_have_value("Hi, I'm Sam. Which order is it about?")
    await console.get_by_role("button", name="Send reply").click()
    await expect(transcript).to_contain_text("Which order is it about?")


async def hand_back(console: Page, screenshot: Path) -> None:
    transcript = console.get_by_role("log", name="Transcript")
    await expect(transcript).to_contain_text("the desk lamp")
    await console.get_by_label("Reply to the buyer").fill("private: buyer is polite")
    await console.get_by_role("button", name="Add private note").click()
    await expect(console.get_by_role("list", name="Private notes")).to_contain_text("polite")
    image = await console.screenshot(path=str(screenshot), full_page=True)
    assert len(image) > 5000
    await console.get_by_text("What you learned").click()
    await console.get_by_label("Order number").fill(ORDER)
    await console.get_by_role("button", name="Hand back to the bot").click()
    await expect(console.get_by_role("button", name="Take over from the bot")).to_be_visible()


async def test_widget_buyer_gets_an_agent_then_finishes_the_form_with_the_bot(
    browser: Browser,
    real_stack: Stack,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    tmp_path: Path,
) -> None:
    server = await aiohttp_server(
        create_app(stack_settings(real_stack, tmp_path)), host="127.0.0.1"
    )
    base = str(server.make_url("/"))
    agent = await browser.new_context(viewport={"width": 1280, "height": 860})
    console = await agent.new_page()
    await sign_in(console, base)

    shop = await browser.new_context()
    page = await shop.new_page()
    await page.goto(base + "?customer=c-1001")
    await open_widget(page)
    await send(page, "I want a refund")
    await expect(log(page)).to_contain_text("What is the order number?")
    await send(page, "I want to talk to a human")
    await expect(log(page)).to_contain_text("Expected wait: about")

    await take_and_hand_back(console, re.compile("webchat"), tmp_path / "console.png")
    await expect(log(page)).to_contain_text("Sam from support joined the conversation.")
    await expect(log(page)).to_contain_text("Hi, I'm Sam. Which order is it about?")
    await expect(log(page).get_by_text("Sam, support", exact=True)).to_have_count(1)
    await send(page, "It is the desk lamp")
    await hand_back(console, tmp_path / "console.png")
    await expect(log(page)).to_contain_text("Sam from support left the conversation.")
    await expect(log(page)).not_to_contain_text("buyer is polite")

    # The form goes on from the order the agent learned: the method question comes next.
    await expect(log(page)).to_contain_text("How would you like to be refunded?")
    await page.get_by_role("button", name=re.compile("No-return refund")).click()
    await page.get_by_role("button", name=re.compile(r"Half \(")).click()
    await expect(log(page)).to_contain_text("why would you like the refund?")
    await send(page, REASON)
    await expect(log(page)).to_contain_text("Shall I submit it?")
    await page.get_by_role("button", name="Yes, submit").click()
    await expect(log(page)).to_contain_text(re.compile(r"application RF-[A-Z0-9]{8}"))
    await page.screenshot(path=str(tmp_path / "widget.png"))

    # Merchant review in the console: approving a return tells the buyer in the widget.
    reference = submit_return(real_stack)
    await console.get_by_role("button", name="Refunds").click()
    await console.get_by_role("button", name=reference).click()
    detail = console.get_by_role("region", name="Application")
    await expect(detail).to_contain_text("pending review")
    await console.get_by_role("button", name="Approve").click()
    await expect(detail).to_contain_text(re.compile(r"Status\s*awaiting return"))
    await expect(detail).to_contain_text("agent:sam · pending review → approved")
    await expect(log(page)).to_contain_text(f"application {reference} was approved for return")
    await agent.close()
    await shop.close()


def submit_return(stack: Stack) -> str:
    with get_sessionmaker(stack.database_url).begin() as session:
        submission = store.submit_application(
            session,
            customer_id="c-1001",
            order_id=ORDER,
            method=RefundMethod.RETURN_AND_REFUND,
            amount=Decimal("5.00"),
            reason="The lamp shade arrived cracked along one side and the base wobbles.",
            reason_category=ReasonCategory.DAMAGED,
            idempotency_key=f"e2e-{uuid.uuid4().hex}",
            conversation_id=None,
            now=utcnow(),
            settings=PolicySettings(),
        )
        return str(submission.application.reference)


async def test_telegram_buyer_gets_an_agent_on_a_phone_width_console(
    browser: Browser,
    real_stack: Stack,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    bot_api: BotApiDouble,
    tmp_path: Path,
) -> None:
    settings = stack_settings(
        real_stack,
        tmp_path,
        telegram_token=TELEGRAM_TOKEN,
        telegram_api_url=bot_api.url,
        telegram_mode="webhook",
        telegram_webhook_secret=HOOK_SECRET,
    )
    server = await aiohttp_server(create_app(settings), host="127.0.0.1")
    base = str(server.make_url("/"))
    agent = await browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    console = await agent.new_page()
    await sign_in(console, base)

    buyer = Buyer(bot_api, await client_of(server))
    await buyer.says(f"/start {make_start_parameter(SHOP_SECRET, 'c-1001')}")
    await buyer.says("I want a refund")
    await wait_until(lambda: any("order number" in t for t in bot_api.texts(CHAT)), 30)
    await buyer.says("I want to talk to a human")
    await wait_until(lambda: any("Expected wait" in t for t in bot_api.texts(CHAT)), 30)

    await take_and_hand_back(console, re.compile("telegram"), tmp_path / "console-phone.png")
    await wait_until(
        lambda: "Sam \\(support\\): Hi, I'm Sam\\. Which order is it about?" in bot_api.texts(CHAT),
        10,
    )
    assert "Sam from support joined the conversation\\." in bot_api.texts(CHAT)
    # A person has the chat: no bot reply comes; the agent sees the message.
    assert await buyer.send(text_update(CHAT, "It is the desk lamp")) == 200
    await hand_back(console, tmp_path / "console-phone.png")
    await wait_until(lambda: any("How would you like" in t for t in bot_api.texts(CHAT)), 30)
    assert any("Sam from support left" in t for t in bot_api.texts(CHAT))
    # No horizontal scrolling on a phone.
    width = await console.evaluate("document.documentElement.scrollWidth")
    assert width <= 375

    await buyer.presses("No-return refund (up to 20.00 USD)")
    await buyer.presses("Half (10.00 USD)")
    await buyer.says(REASON)
    await buyer.presses("Yes, submit")
    await wait_until(
        lambda: any(re.search(r"application RF\\-", t) for t in bot_api.texts(CHAT)), 30
    )
    await agent.close()
    await buyer.client.close()
