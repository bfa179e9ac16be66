"""The delivery worker on a clock the test moves, and the HTTP session it sends with."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.api.delivery import Deliverer
from bot.api.destinations import client_session
from bot.refunds.db import get_sessionmaker
from bot.settings import GatewaySettings
from tests.factories import NOW

#: The worker's settings in these tests: the receivers listen on 127.0.0.1, so it may go there.
LOCAL = GatewaySettings(webhook_timeout_seconds=2.0, webhook_allow_private=True)


class Clock:
    """The worker's "now", moved by the test."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The product's webhook session, allowed to reach the local receiver."""
    async with client_session(LOCAL) as session:
        yield session


def deliverer(db_url: str, http: aiohttp.ClientSession, clock: Clock, **settings: Any) -> Deliverer:
    """A worker on ``db_url`` and ``clock``, with :data:`LOCAL` settings changed by ``settings``."""
    return Deliverer(
        sessions=get_sessionmaker(db_url),
        read_sessions=get_sessionmaker(db_url, read_only=True),
        http=http,
        settings=dataclasses.replace(LOCAL, **settings),
        clock=clock,
    )
