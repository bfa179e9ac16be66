"""The agent console in Chromium, driven through Playwright the way an agent uses it."""

from __future__ import annotations

from playwright.async_api import Page

from tests.console.agents import PASSWORD


async def sign_in_as(page: Page, name: str) -> None:
    """Fill in and send the sign-in form the page shows (the console's own, at ``/console``)."""
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
