"""The agent's unsent words in Chromium: a colleague's note redraws the panel mid-sentence."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Locator, expect

from bot.console.models import Role
from bot.settings import Settings
from tests.console.agents import PASSWORD, Console, add_agent, ask_for_a_person, client_of

pytestmark = [pytest.mark.browser]


async def type_through_a_redraw(
    field: Locator, colleague: Console, conversation_id: str, words: tuple[str, str]
) -> None:
    """Type the first words, have a colleague's private note redraw the panel, type the rest.

    A note reaches every console showing the conversation, and each draws the panel again.
    """
    page = field.page
    await field.click()
    await page.keyboard.type(words[0])
    note = f"note while typing {words[0]!r}"
    await colleague.ok(f"/console/api/conversations/{conversation_id}/notes", {"text": note})
    await expect(page.get_by_role("list", name="Private notes")).to_contain_text(note)
    await page.keyboard.type(words[1])
    await expect(field).to_have_value("".join(words))


async def test_what_the_agent_types_survives_a_redraw_and_keeps_the_caret(
    browser: Browser, gateway_server: TestServer, settings: Settings
) -> None:
    add_agent(settings, "sam", Role.AGENT)
    add_agent(settings, "ana", Role.ADMIN)
    ana = Console(await client_of(gateway_server))
    assert await ana.sign_in("ana") == 302
    conversation_id = await ask_for_a_person(gateway_server)
    page = await browser.new_page()
    await page.goto(str(gateway_server.make_url("/console")))
    await page.get_by_label("Name").fill("sam")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.goto(str(gateway_server.make_url(f"/console#conversations/{conversation_id}")))
    await page.get_by_role("button", name="Claim").click()
    await expect(page.get_by_role("button", name="Hand back to the bot")).to_be_visible()

    reply = page.get_by_label("Reply to the buyer")
    await type_through_a_redraw(reply, ana, conversation_id, ("Hello, which ord", "er is it?"))
    await page.get_by_text("What you learned").click()
    order = page.get_by_label("Order number")
    await type_through_a_redraw(order, ana, conversation_id, ("8041", "7795"))
    await expect(reply).to_have_value("Hello, which order is it?")
    await page.close()
    await ana.client.close()
