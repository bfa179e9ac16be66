"""Restarts of PostgreSQL and Redis, on servers of the tests' own (:mod:`tests.engines`).

The gateway's units of work wait out a restart and run once; Rasa's tracker store takes a new
connection after one instead of failing a turn on each dead pooled connection; a lock Rasa
cannot release because Redis went away does not fail the turn it guarded. The whole cluster
under load through both restarts: ``tests/test_cluster.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from rasa.core.lock_store import RedisLockStore
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text as sql
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from bot import rasa_server
from bot.gateway import conversations, transcript
from bot.gateway.models import Channel
from bot.gateway.transcript import Inbound
from bot.refunds.db import connection_lost, get_sessionmaker, make_engine
from tests.engines import PrivatePostgres, PrivateRedis, private_postgres, private_redis

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def sessions(postgres: PrivatePostgres) -> Iterator[sessionmaker]:
    engine = make_engine(postgres.url)
    with engine.begin() as conn:
        conn.execute(sql("DROP TABLE IF EXISTS notes"))
        conn.execute(sql("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)"))
    yield sessionmaker(bind=engine, future=True)
    engine.dispose()


def _note(session: Session) -> int:
    session.execute(sql("INSERT INTO notes (body) VALUES ('written during a restart')"))
    return int(session.execute(sql("SELECT count(*) FROM notes")).scalar_one())


async def test_a_unit_of_work_waits_out_a_postgres_restart_and_runs_once(
    postgres: PrivatePostgres, sessions: sessionmaker
) -> None:
    assert await transcript.run_in_session(sessions, _note) == 1  # a pooled connection now
    await asyncio.to_thread(postgres.stop_fast)
    try:
        writing = asyncio.create_task(transcript.run_in_session(sessions, _note))
        await asyncio.sleep(1.5)
        assert not writing.done()  # still trying: the server is down
    finally:
        await asyncio.to_thread(postgres.start)
    assert await asyncio.wait_for(writing, timeout=30) == 2


async def test_other_database_errors_are_not_tried_again(sessions: sessionmaker) -> None:
    started = time.monotonic()
    with pytest.raises(ProgrammingError) as raised:
        await transcript.run_in_session(
            sessions, lambda s: s.execute(sql("SELECT * FROM no_such_table"))
        )
    assert not connection_lost(raised.value)
    assert time.monotonic() - started < 1.0


def test_a_message_is_marked_answered_once(db_url: str) -> None:
    factory = get_sessionmaker(db_url)
    with factory.begin() as session:
        conversations.ensure_conversation(session, conversation_id="c-1", channel=Channel.WEBCHAT)
        inbound = Inbound(conversation_id="c-1", channel=Channel.WEBCHAT, text="hello")
        message = transcript.record_inbound(session, inbound=inbound)
    with factory.begin() as session:
        assert transcript.mark_done(session, message_id=message.id)
    # A unit of work run again after its COMMIT went through finds the message answered.
    with factory.begin() as session:
        assert not transcript.mark_done(session, message_id=message.id)


async def test_rasas_tracker_store_takes_a_new_connection_after_a_restart(
    postgres: PrivatePostgres,
) -> None:
    rasa_server.install()
    store = SQLTrackerStore(
        Domain.empty(),
        dialect="postgresql",
        host="127.0.0.1",
        port=postgres.port,
        db="postgres",
        username="postgres",
    )
    try:
        tracker = DialogueStateTracker.from_events("buyer-1", [UserUttered("hello")])
        await store.save(tracker)
        await asyncio.to_thread(postgres.restart)
        # Without the check of pooled connections this read failed on the dead connection.
        found = await store.retrieve("buyer-1")
        assert found is not None
        assert [e.text for e in found.events if isinstance(e, UserUttered)] == ["hello"]
    finally:
        store.engine.dispose()


async def test_a_tracker_rasa_cannot_read_or_save_fails_the_turn(
    postgres: PrivatePostgres,
) -> None:
    rasa_server.install()
    sql_store = SQLTrackerStore(
        Domain.empty(),
        dialect="postgresql",
        host="127.0.0.1",
        port=postgres.port,
        db="postgres",
        username="postgres",
    )
    store = FailSafeTrackerStore(sql_store)
    tracker = DialogueStateTracker.from_events("buyer-2", [UserUttered("hello")])
    await store.save(tracker)
    await asyncio.to_thread(postgres.stop_fast)
    try:
        # Not an empty tracker (a new conversation), not a save into this process's memory.
        with pytest.raises(rasa_server.TrackerStoreUnavailable):
            await store.retrieve("buyer-2")
        with pytest.raises(rasa_server.TrackerStoreUnavailable):
            await store.retrieve_full_tracker("buyer-2")
        tracker.update(UserUttered("are you there?"))
        with pytest.raises(rasa_server.TrackerStoreUnavailable):
            await store.save(tracker)
    finally:
        await asyncio.to_thread(postgres.start)
        sql_store.engine.dispose()
    found = await store.retrieve("buyer-2")
    assert found is not None
    assert [e.text for e in found.events if isinstance(e, UserUttered)] == ["hello"]


async def test_a_lock_rasa_cannot_release_does_not_fail_the_turn_it_guarded(
    redis_server: PrivateRedis,
) -> None:
    rasa_server.install()
    locks = RedisLockStore(host="127.0.0.1", port=redis_server.port, socket_timeout=1)
    done = False
    async with locks.lock("buyer-1"):
        # The turn is made and its tracker saved; then Redis goes away before the release.
        done = True
        await asyncio.to_thread(redis_server.stop)
    assert done
