"""Which gateway polls Telegram: the one holding the polling lock.

Telegram hands a bot's updates to one ``getUpdates`` caller at a time (a second one gets
``409 Conflict`` and the updates are split between them), so of several gateways started with
``REFUNDBOT_TELEGRAM_MODE=polling`` exactly one may poll. Every gateway is configured alike and
they sort it out with a lock on what they share:

* on PostgreSQL, a session-level advisory lock (of the schema the tables are in) held on a
  connection of its own: it goes with the connection, so a gateway that dies or loses the
  database lets another one take over (the holder checks its connection every few seconds and
  stops polling when it is gone);
* on SQLite (every gateway on one machine), an exclusive ``flock`` on
  ``var/telegram-polling.lock``, which the kernel lets go when the process ends.

A gateway that does not hold the lock answers buyers all the same (the router, the outbound path)
and tries the lock again every few seconds. Telegram keeps undelivered updates for a day, so the
seconds between one poller's end and the next one's start lose nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool
from telegram import Update
from telegram.ext import Updater

from bot import tasks
from bot.settings import Settings

log = logging.getLogger(__name__)

#: Takes the advisory lock of the deployment whose tables are in the current schema: keyed by
#: the lock's name and the schema's, so deployments sharing one database do not share it.
TRY_LOCK = (
    "SELECT pg_try_advisory_lock("
    "hashtext('refundbot:telegram-polling'), hashtext(current_schema()))"
)
#: How often a gateway without the lock tries it, and the holder checks it still has it.
CHECK_SECONDS = 5.0


class Lock(Protocol):
    """A lock that at most one gateway holds at a time."""

    async def acquire(self) -> bool:
        """Try to take the lock once; return whether this gateway holds it now."""

    async def held(self) -> bool:
        """Return whether this gateway still holds the lock (``False`` once it is lost)."""

    async def release(self) -> None:
        """Let the lock go (if held)."""


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a connection of its own."""

    def __init__(self, database_url: str) -> None:
        self._engine = create_engine(database_url, future=True, poolclass=NullPool)
        self._connection: Connection | None = None

    async def acquire(self) -> bool:
        """Try to take the lock once; return whether this gateway holds it now."""
        return await asyncio.to_thread(self._acquire)

    async def held(self) -> bool:
        """Return whether the connection holding the lock still answers."""
        return await asyncio.to_thread(self._held)

    async def release(self) -> None:
        """End the lock's session, and the lock with it."""
        await asyncio.to_thread(self._release)

    def _acquire(self) -> bool:
        self._release()
        connection = self._engine.connect()
        try:
            taken = connection.execute(sql(TRY_LOCK)).scalar_one()
            connection.commit()
        except Exception:
            connection.close()
            raise
        if not taken:
            connection.close()
            return False
        self._connection = connection
        return True

    def _held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute(sql("SELECT 1")).scalar_one()
            self._connection.commit()
        except Exception:
            log.warning("the connection holding the Telegram polling lock is gone", exc_info=True)
            self._release()
            return False
        return True

    def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Closing the session ends it on the server, and the lock with it.
            with contextlib.suppress(Exception):
                connection.close()


class FileLock:
    """An exclusive ``flock`` on a file (every gateway on this machine)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        """Try to take the lock once; return whether this gateway holds it now."""
        if self._fd is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def held(self) -> bool:
        """Return whether this gateway holds the lock (the kernel does not take it away)."""
        return self._fd is not None

    async def release(self) -> None:
        """Close the file, which lets the lock go."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def lock_for(database_url: str, var_dir: Path) -> AdvisoryLock | FileLock:
    """Return the polling lock the gateways sharing ``database_url`` agree on."""
    if make_url(database_url).get_backend_name() == "postgresql":
        return AdvisoryLock(database_url)
    return FileLock(var_dir / "telegram-polling.lock")


@contextlib.asynccontextmanager
async def polling_turn(
    lock: Lock,
    *,
    start: Callable[[], Awaitable[Any]],
    stop: Callable[[], Awaitable[Any]],
    check_seconds: float = CHECK_SECONDS,
) -> AsyncIterator[None]:
    """Poll (``start`` … ``stop``) while this gateway holds ``lock``, for the block's duration.

    The lock is tried once before the block starts, so a gateway alone polls from its start;
    afterwards a task tries it again every ``check_seconds`` and checks a held one as often.
    """
    polling = False

    async def begin() -> bool:
        nonlocal polling
        if not await lock.acquire():
            return False
        try:
            await start()
        except Exception:
            await lock.release()
            raise
        polling = True
        log.info("this gateway polls Telegram")
        return True

    async def end() -> None:
        nonlocal polling
        if polling:
            polling = False
            with contextlib.suppress(Exception):
                await stop()
        await lock.release()

    async def watch() -> None:
        while True:
            await asyncio.sleep(check_seconds)
            try:
                if polling:
                    if not await lock.held():
                        log.warning("lost the Telegram polling lock: this gateway stops polling")
                        await end()
                else:
                    await begin()
            except Exception:
                log.exception("Telegram polling lock: trying again in %.0f s", check_seconds)
                await end()

    try:
        await begin()
    except Exception:
        log.exception("Telegram polling could not start; trying again in %.0f s", check_seconds)
    task = asyncio.create_task(watch(), name="telegram-polling-turn")
    try:
        yield
    finally:
        await tasks.stop(task)
        await end()


@contextlib.asynccontextmanager
async def turn_of(updater: Updater | None, settings: Settings) -> AsyncIterator[None]:
    """Poll Telegram with ``updater`` while this gateway holds the lock (webhook mode: none)."""
    if updater is None:
        yield
        return

    async def start() -> None:
        await updater.start_polling(
            timeout=settings.gateway.telegram_poll_timeout_seconds,
            allowed_updates=Update.ALL_TYPES,
        )

    async def stop() -> None:
        if updater.running:
            await updater.stop()

    lock = lock_for(settings.database_url, settings.var_dir)
    async with polling_turn(lock, start=start, stop=stop):
        yield
