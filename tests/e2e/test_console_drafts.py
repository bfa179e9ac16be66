"""The agent's words in Chromium while a colleague's note redraws the conversation panel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Locator, Page, Route, expect

from bot.console.models import Role
from bot.settings import Settings
from tests.console.agents import Console, add_agent, ask_for_a_person, client_of
from tests.e2e.console_page import sign_in_as

pytestmark = [pytest.mark.browser]


@dataclass
class Desk:
    """Sam's console page on a conversation Sam has claimed, and Ana, a colleague."""

    page: Page
    ana: Console
    conversation_id: str
    notes: int = 0

    async def redraw(self) -> None:
        """Ana adds a private note: every console showing the conversation draws it again."""
        self.notes += 1
        note = f"note {self.notes}"
        path = f"/console/api/conversations/{self.conversation_id}/notes"
        await self.ana.ok(path, {"text": note})
        await expect(self.page.get_by_role("list", name="Private notes")).to_contain_text(note)


@pytest.fixture
async def desk(
    browser: Browser, gateway_server: TestServer, settings: Settings
) -> AsyncIterator[Desk]:
    add_agent(settings, "sam", Role.AGENT)
    add_agent(settings, "ana", Role.ADMIN)
    ana = Console(await client_of(gateway_server))
    assert await ana.sign_in("ana") == 302
    conversation_id = await ask_for_a_person(gateway_server)
    page = await browser.new_page()
    await page.goto(str(gateway_server.make_url("/console")))
    await sign_in_as(page, "sam")
    await page.goto(str(gateway_server.make_url(f"/console#conversations/{conversation_id}")))
    await page.get_by_role("button", name="Claim").click()
    await expect(page.get_by_role("button", name="Hand back to the bot")).to_be_visible()
    yield Desk(page, ana, conversation_id)
    await page.close()
    await ana.client.close()


async def type_through_a_redraw(desk: Desk, field: Locator, words: tuple[str, str]) -> None:
    """Type the first words, have the panel drawn again, type the rest."""
    await field.click()
    await desk.page.keyboard.type(words[0])
    await desk.redraw()
    await desk.page.keyboard.type(words[1])
    await expect(field).to_have_value("".join(words))


async def test_what_the_agent_types_survives_a_redraw_and_keeps_the_caret(desk: Desk) -> None:
    reply = desk.page.get_by_label("Reply to the buyer")
    await type_through_a_redraw(desk, reply, ("Hello, which ord", "er is it?"))
    await desk.page.get_by_text("What you learned").click()
    order = desk.page.get_by_label("Order number")
    await type_through_a_redraw(desk, order, ("8041", "7795"))
    await expect(reply).to_have_value("Hello, which order is it?")


async def test_a_reply_sent_while_the_panel_is_redrawn_leaves_the_box_empty(desk: Desk) -> None:
    answered = asyncio.Event()

    async def held(route: Route) -> None:
        await answered.wait()
        await route.continue_()

    await desk.page.route("**/reply", held)
    reply = desk.page.get_by_label("Reply to the buyer")
    await reply.fill("Your refund is on its way.")
    await desk.page.get_by_role("button", name="Send reply").click()
    await desk.redraw()  # while the reply is on its way
    answered.set()

    transcript = desk.page.get_by_role("log", name="Transcript")
    await expect(transcript).to_contain_text("Your refund is on its way.")
    await expect(reply).to_have_value("")
