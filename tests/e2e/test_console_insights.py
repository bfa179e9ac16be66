"""The Insights page in Chromium: a merchant picks a week, reads its figures, downloads the CSV."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Route, expect

from bot.console.models import Role
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.console.agents import add_agent
from tests.e2e.console_page import sign_in_as
from tests.insights.history import History
from tests.insights.week import build_week

pytestmark = [pytest.mark.browser]


async def test_a_merchant_reads_a_week_and_downloads_it(
    browser: Browser, gateway_server: TestServer, settings: Settings
) -> None:
    add_agent(settings, "mia", Role.MERCHANT)
    with get_sessionmaker(settings.database_url).begin() as session:
        build_week(History(session))
    page = await browser.new_page()

    await page.goto(str(gateway_server.make_url("/console")))
    await sign_in_as(page, "mia")
    await page.get_by_role("button", name="Insights").click()
    await page.get_by_label("From").fill("2026-11-02")
    await page.get_by_label("until (not included)").fill("2026-11-09")
    await page.get_by_role("button", name="Show").click()

    view = page.locator("#insights")
    await expect(view.get_by_role("heading")).to_have_text("From 2026-11-02 until 2026-11-09")
    await expect(view).to_contain_text("6 (telegram 3, webchat 3)")
    await expect(view).to_contain_text("3 · 50.0 %")
    await expect(view).to_contain_text("6 (approved 5, rejected 1) · approval 83.3 %")
    await expect(view).to_contain_text("median 15 min, p90 12 h 30 min")
    await expect(view).to_contain_text("3.20 of 5 ratings (7 asked, 71.4 % answered)")
    handoffs = view.get_by_role("table").filter(has_text="Handoffs by reason")
    await expect(handoffs.get_by_role("row").nth(1)).to_have_text("buyer asked3233.3 %")
    refunds = view.get_by_role("table").filter(has_text="Refund applications")
    await expect(refunds).to_contain_text("no return refundrefundedEUR1120.0012.00")
    csat = view.get_by_role("table").filter(has_text="Buyer satisfaction")
    await expect(csat.get_by_role("row").nth(1)).to_have_text("allall53.2011021")
    await expect(csat).to_contain_text("agenthistory.agent21.5011000")
    await expect(csat).to_contain_text("eventpaid out14.0000010")

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Download CSV").click()
    download = await downloading.value
    assert download.suggested_filename == "refundbot-report-20261102_20261109.csv"
    saved = Path(await download.path())
    text = await asyncio.to_thread(saved.read_text, encoding="utf-8")
    assert "refund_amount,no_return_refund:refunded,EUR,120.00" in text
    assert "csat_average,channel:webchat,,3.67" in text
    await page.close()


async def test_a_tab_pressed_while_the_scripts_still_load_opens_its_view(
    browser: Browser, gateway_server: TestServer, settings: Settings
) -> None:
    add_agent(settings, "mia", Role.MERCHANT)
    page = await browser.new_page()

    async def slowly(route: Route) -> None:
        await asyncio.sleep(1.5)
        await route.continue_()

    await page.route("**/console/static/console.js", slowly)
    await page.goto(str(gateway_server.make_url("/console")))
    await sign_in_as(page, "mia")
    await page.get_by_role("button", name="Insights").click()

    await expect(page.get_by_label("From")).to_be_visible()
    await expect(page.get_by_role("button", name="Insights")).to_have_attribute(
        "aria-pressed", "true"
    )
    await page.close()
