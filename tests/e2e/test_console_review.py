"""The NLU review page in Chromium: a merchant judges a group, then one message of another."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy import select

from bot.console.models import Role
from bot.refunds.db import get_sessionmaker
from bot.review.models import NluReview
from bot.settings import Settings
from tests.console.agents import add_agent
from tests.e2e.console_page import sign_in_as
from tests.review.tracker import ORDER, save_tracker, week_conversations

pytestmark = [pytest.mark.browser]


async def test_a_merchant_judges_what_the_bot_did_not_understand(
    browser: Browser, gateway_server: TestServer, settings: Settings
) -> None:
    add_agent(settings, "mia", Role.MERCHANT)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    await save_tracker(settings.tracker_store, week_conversations())
    page = await browser.new_page()

    await page.goto(str(gateway_server.make_url("/console")))
    await sign_in_as(page, "mia")
    await page.get_by_role("button", name="NLU review").click()
    await page.get_by_label("Said since").fill("2026-11-02")
    await page.get_by_label("before (day excluded)").fill("2026-11-09")
    await page.get_by_role("button", name="List messages").click()

    view = page.locator("#review")
    group = view.get_by_role("region", name="Group 1")
    await expect(group.get_by_role("heading")).to_have_text(
        f"2 messages like: where's my stuff {ORDER}"
    )
    await group.get_by_label("Intent for the whole group").select_option("check_order_status")
    await group.get_by_role("button", name="Save for all 2").click()
    # Judged messages leave the list of those without a verdict.
    await expect(view).not_to_contain_text("wher is my stuf")

    blorp = view.get_by_role("listitem").filter(has_text="blorp my thingy")
    await expect(blorp).to_contain_text("Then wrote: I want my money back for the lamp")
    await expect(blorp.get_by_role("combobox")).to_have_value("request_refund")
    await blorp.get_by_role("button", name="Save").click()
    await expect(blorp).to_contain_text("request_refund by you")
    await expect(blorp.get_by_role("link", name="conversation")).to_have_attribute(
        "href", "#conversations/web-a"
    )
    await page.close()

    with get_sessionmaker(settings.database_url).begin() as session:
        verdicts = {t: i for t, i in session.execute(select(NluReview.text, NluReview.intent))}
    assert verdicts == {
        f"where's my stuff {ORDER}": "check_order_status",
        "wher is my stuf": "check_order_status",
        "blorp my thingy": "request_refund",
    }
