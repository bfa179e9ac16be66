"""Of several gateways in Telegram polling mode, exactly one polls; another takes over."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp.test_utils import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.channels.polling import AdvisoryLock, FileLock, lock_for, polling_turn
from bot.gateway.app import create_app
from bot.settings import Settings
from tests.channels.telegram_buyer import CHAT, telegram_settings
from tests.gateway.doubles import BotApiDouble, RasaDouble, text_update, wait_until


async def test_a_file_lock_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    first, second = FileLock(tmp_path / "poll.lock"), FileLock(tmp_path / "poll.lock")
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.held()
    await first.release()
    assert await second.acquire()
    assert not await first.acquire()
    await second.release()


async def test_an_advisory_lock_goes_with_its_connection(postgres_url: str) -> None:
    first, second = AdvisoryLock(postgres_url), AdvisoryLock(postgres_url)
    assert isinstance(lock_for(postgres_url, Path("unused")), AdvisoryLock)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        # The holder's session ends (the database restarted, the connection was cut).
        admin = create_engine(postgres_url, poolclass=NullPool)
        with admin.begin() as conn:
            ended = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid <> pg_backend_pid() "
                    "AND objid = hashtext(current_schema())::oid AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).all()
        admin.dispose()
        assert len(ended) == 1
        assert not await first.held()
        assert await second.acquire()
    finally:
        await first.release()
        await second.release()


async def test_the_one_polling_stops_and_another_takes_over(tmp_path: Path) -> None:
    polling: list[str] = []

    def gateway(name: str) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
        async def start() -> None:
            polling.append(name)

        async def stop() -> None:
            polling.remove(name)

        return start, stop

    path = tmp_path / "poll.lock"
    start_a, stop_a = gateway("a")
    start_b, stop_b = gateway("b")
    a = polling_turn(FileLock(path), start=start_a, stop=stop_a, check_seconds=0.05)
    b = polling_turn(FileLock(path), start=start_b, stop=stop_b, check_seconds=0.05)
    await a.__aenter__()
    await b.__aenter__()
    assert polling == ["a"]
    await asyncio.sleep(0.3)  # "b" keeps looking, and keeps finding the lock taken
    assert polling == ["a"]
    await a.__aexit__(None, None, None)
    await wait_until(lambda: polling == ["b"], what="b taking over")
    await b.__aexit__(None, None, None)
    assert polling == []


async def test_two_gateways_polling_one_bot_poll_it_once(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
) -> None:
    polling_settings = telegram_settings(settings, bot_api, "polling")
    first = await aiohttp_client(create_app(polling_settings))
    second = await aiohttp_client(create_app(polling_settings))
    assert len(bot_api.called("deleteWebhook")) == 1  # only one started polling
    healths = [await (await g.get("/health")).json() for g in (first, second)]
    assert [h["checks"]["telegram"]["polling"] for h in healths] == [True, False]
    assert all(h["checks"]["telegram"]["ok"] for h in healths)

    bot_api.queue_update(text_update(CHAT, "hello there", update_id=500))
    await wait_until(lambda: rasa.messages == ["hello there"], what="the polled update")
    await first.close()  # the poller goes; the other takes the lock at its next look
    bot_api.queue_update(text_update(CHAT, "still there?", update_id=501))
    await wait_until(
        lambda: rasa.messages == ["hello there", "still there?"],
        timeout=20,
        what="the other gateway polling",
    )
    assert len(bot_api.called("deleteWebhook")) == 2
