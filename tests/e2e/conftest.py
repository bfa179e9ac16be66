"""Fixtures of the e2e tests: the gateway on a port, Rasa double or the real stack, Chromium.

The real stack's fixtures are imported here, once for the folder: a session fixture imported
into each test module would be one per module, and each would load Rasa's model again.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, async_playwright

from bot.gateway.app import create_app
from bot.settings import Settings
from tests.e2e.realstack import real_stack, real_stack_on_db
from tests.gateway.doubles import bot_api, db_url, rasa, settings

__all__ = ["bot_api", "db_url", "rasa", "real_stack", "real_stack_on_db", "settings"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing: apt-get install -y chromium")
        pytest.skip("Chromium not installed (/usr/bin/chromium): apt-get install -y chromium")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest.fixture
async def gateway_server(
    aiohttp_server: Callable[..., Awaitable[TestServer]], settings: Settings
) -> TestServer:
    return await aiohttp_server(create_app(settings), host="127.0.0.1")


@pytest.fixture
def shop_url(gateway_server: TestServer) -> str:
    return str(gateway_server.make_url("/"))
