"""The chat widget on a shop page, driven through Playwright the way a buyer uses it."""

from __future__ import annotations

import re

from playwright.async_api import Locator, Page, expect


def log(page: Page) -> Locator:
    return page.get_by_role("log", name="Conversation")


async def open_widget(page: Page) -> None:
    await page.get_by_role("button", name=re.compile("Open refund assistant chat")).click()
    await expect(page.get_by_role("dialog", name="Refund assistant")).to_be_visible()


async def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")
