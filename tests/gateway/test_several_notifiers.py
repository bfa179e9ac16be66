"""Two gateways' notifiers over one database: every status change is told once, not twice."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.gateway.app import create_app
from bot.gateway.identity import make_token
from bot.gateway.models import GatewayCursor, SenderKind, TranscriptMessage
from bot.gateway.notifier import CURSOR, ensure_cursor, start_cursor
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import RefundStatus
from bot.settings import Settings
from tests.factories import move, submit
from tests.gateway.doubles import SHOP_SECRET, wait_until, with_gateway
from tests.gateway.webchat_client import hello


async def test_two_gateways_tell_each_change_once(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> None:
    racing = with_gateway(settings, notify_interval_seconds=0.01)
    first = await aiohttp_client(create_app(racing))
    await aiohttp_client(create_app(racing))  # the other gateway: its notifier runs too
    ws, welcome = await hello(first, token=make_token(SHOP_SECRET, "c-1001"))
    conversation_id = welcome["session"].rpartition(".")[0]
    applications = [submit(settings, conversation_id, key=f"k{i}") for i in range(12)]

    def decide(ids: list[int], status: RefundStatus) -> None:
        for application_id in ids:
            move(settings, application_id, status)

    # Decisions land while both notifiers poll, from two threads at once.
    await asyncio.gather(
        asyncio.to_thread(decide, applications[::2], RefundStatus.APPROVED),
        asyncio.to_thread(decide, applications[1::2], RefundStatus.REJECTED),
    )
    sessions = get_sessionmaker(settings.database_url)

    def told() -> list[str]:
        with sessions.begin() as session:
            return list(
                session.execute(
                    select(TranscriptMessage.text).where(
                        TranscriptMessage.conversation_id == conversation_id,
                        TranscriptMessage.sender == SenderKind.SYSTEM.value,
                    )
                ).scalars()
            )

    await wait_until(lambda: len(told()) >= 12, timeout=30, what="every decision told")
    await asyncio.sleep(0.3)  # a second telling would come within a few more passes
    texts = told()
    assert len(texts) == 12
    references = {text.split("application ")[1].split(" ")[0] for text in texts}
    assert len(references) == 12
    await ws.close()


async def test_gateways_starting_at_once_on_a_new_database_share_one_cursor(
    settings: Settings,
) -> None:
    sessions = get_sessionmaker(settings.database_url)
    inserted, go_on = threading.Event(), threading.Event()

    def first_start() -> None:
        with sessions.begin() as session:
            start_cursor(session)
            inserted.set()
            go_on.wait(10)

    first = asyncio.create_task(asyncio.to_thread(first_start))
    await asyncio.to_thread(inserted.wait, 10)
    second = asyncio.create_task(ensure_cursor(sessions))  # waits for the first one's row
    await asyncio.sleep(0.3)
    go_on.set()
    await first
    assert await second == 0
    with sessions.begin() as session:
        assert session.get(GatewayCursor, CURSOR) is not None
