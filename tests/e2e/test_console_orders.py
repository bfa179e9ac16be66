"""The seller's back-office in Chromium: a merchant finds an order, starts a refund, reviews it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from bot.clock import utcnow
from bot.console.models import Role
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.console.agents import add_agent
from tests.e2e.console_page import sign_in_as
from tests.factories import DAMAGED_REASON, make_customer, make_order

pytestmark = [pytest.mark.browser]

ORDER = "8041235566701234"


async def test_a_merchant_finds_an_order_and_starts_a_refund(
    browser: Browser, gateway_server: TestServer, settings: Settings
) -> None:
    add_agent(settings, "mia", Role.MERCHANT)
    now = utcnow()
    with get_sessionmaker(settings.database_url).begin() as session:
        ana = make_customer(session, id="c-1001", email="ana@example.com", name="Ana", now=now)
        make_order(session, id=ORDER, customer=ana, total=Decimal("42.50"), now=now)
        make_order(session, customer=make_customer(session, email="ben@example.com"), now=now)
    base = str(gateway_server.make_url("/"))
    page = await browser.new_page()

    await page.goto(base + "console")
    await sign_in_as(page, "mia")
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()

    await page.get_by_role("button", name="Orders").click()
    await page.get_by_label("Find orders").fill("ANA@example.com")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("caption")).to_have_text("1 order(s)")
    await page.get_by_role("link", name=ORDER).click()

    order = page.get_by_role("region", name="Order")
    await expect(order.get_by_role("heading", name=f"Order {ORDER}")).to_be_visible()
    await expect(order.get_by_role("list", name="Refund methods now")).to_contain_text(
        "Immediate refund — not allowed: this order has already shipped"
    )
    await page.get_by_label("Method", exact=True).select_option("return_and_refund")
    await page.get_by_label(re.compile(r"^Amount")).fill("99.00")
    await page.get_by_label(re.compile(r"^Reason category")).select_option("damaged")
    await page.get_by_label("Reason", exact=True).fill(DAMAGED_REASON)
    await page.get_by_role("button", name="Start refund").click()
    await expect(page.locator("#refund-amount-error")).to_contain_text(
        "exceeds the refundable balance 42.50"
    )

    await page.get_by_label(re.compile(r"^Amount")).fill("20.00")
    await page.get_by_role("button", name="Start refund").click()
    await expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"Refund RF-\w+ started: pending review")
    )
    filed = order.get_by_role("list", name="Applications").get_by_role(
        "link", name=re.compile(r"^RF-")
    )
    await expect(filed).to_have_count(1)
    reference = await filed.inner_text()

    await filed.click()
    review = page.get_by_role("region", name="Application")
    await expect(review.get_by_role("heading", name=f"Application {reference}")).to_be_visible()
    await expect(review).to_contain_text("merchant:mia")
    await expect(page.locator("#refunds table")).to_contain_text(reference)
    await review.get_by_role("link", name=f"Open order {ORDER}").click()
    await expect(order.get_by_role("heading", name=f"Order {ORDER}")).to_be_visible()
    await page.close()


async def test_an_agent_without_the_role_reads_an_order_but_has_no_form(
    browser: Browser, gateway_server: TestServer, settings: Settings
) -> None:
    add_agent(settings, "sam", Role.AGENT)
    with get_sessionmaker(settings.database_url).begin() as session:
        make_order(session, id=ORDER, now=utcnow())
    page = await browser.new_page()
    await page.goto(str(gateway_server.make_url("/console")))
    await sign_in_as(page, "sam")
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()

    await page.goto(str(gateway_server.make_url(f"/console#orders/{ORDER}")))
    order = page.get_by_role("region", name="Order")
    await expect(order.get_by_role("heading", name=f"Order {ORDER}")).to_be_visible()
    await expect(order).to_contain_text("Only a merchant or an admin can start a refund.")
    await expect(page.get_by_role("button", name="Start refund")).to_have_count(0)
    # Back and forth by the tabs, a link to the same order opens it again.
    await page.get_by_role("button", name="Refunds").click()
    await expect(order).to_be_hidden()
    await page.get_by_role("button", name="Orders").click()
    await expect(page.get_by_role("link", name=ORDER)).to_be_visible()
    await page.get_by_role("link", name=ORDER).click()
    await expect(order.get_by_role("heading", name=f"Order {ORDER}")).to_be_visible()
    await page.close()
