"""Fixtures of the console tests: the real gateway app with a Rasa double, agents, sign-in.

``db_url`` is the shared one (tests/conftest.py): SQLite, and PostgreSQL when configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.console.models import Role
from bot.gateway.app import create_app
from bot.refunds.db import get_sessionmaker
from bot.refunds.models import RefundApplication
from bot.settings import Settings
from tests.console.agents import Console, add_agent, ask_for_a_person, client_of
from tests.factories import submit
from tests.gateway.doubles import bot_api, rasa, settings

__all__ = ["bot_api", "rasa", "settings"]


@pytest.fixture
async def server(
    aiohttp_server: Callable[..., Awaitable[TestServer]], settings: Settings
) -> TestServer:
    return await aiohttp_server(create_app(settings), host="127.0.0.1")


@pytest.fixture
async def browser_of(server: TestServer) -> AsyncIterator[Callable[[], Awaitable[Console]]]:
    clients: list[TestClient] = []

    async def make() -> Console:
        client = await client_of(server)
        clients.append(client)
        return Console(client)

    yield make
    for client in clients:
        await client.close()


async def signed_in(
    settings: Settings, browser_of: Callable[[], Awaitable[Console]], name: str, role: Role
) -> Console:
    """Register an agent and return their browser, signed in through the form."""
    add_agent(settings, name, role)
    console = await browser_of()
    assert await console.sign_in(name) == 302
    return console


@pytest.fixture
async def ana(settings: Settings, browser_of: Callable[[], Awaitable[Console]]) -> Console:
    return await signed_in(settings, browser_of, "ana", Role.ADMIN)


@pytest.fixture
async def ben(settings: Settings, browser_of: Callable[[], Awaitable[Console]]) -> Console:
    return await signed_in(settings, browser_of, "ben", Role.AGENT)


@pytest.fixture
async def mia(settings: Settings, browser_of: Callable[[], Awaitable[Console]]) -> Console:
    """A merchant: the seller's back-office."""
    return await signed_in(settings, browser_of, "mia", Role.MERCHANT)


@pytest.fixture
async def waiting(settings: Settings, ana: Console, server: TestServer) -> tuple[str, str]:
    """A conversation in the queue and an application under review."""
    conversation_id = await ask_for_a_person(server)
    application_id = submit(settings, conversation_id)
    with get_sessionmaker(settings.database_url).begin() as session:
        reference = session.get(RefundApplication, application_id).reference
    return conversation_id, str(reference)
