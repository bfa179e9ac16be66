"""Ownership checks on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from bot.refunds import verification
from bot.refunds.models import VerificationAttempt
from bot.refunds.verification import Pause, Scope
from bot.settings import ConfigError, Settings, VerificationSettings
from tests.factories import NOW, make_order

LIMITS = VerificationSettings()
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
UNKNOWN = "8041235566790001"


def check(
    session: Session,
    order_id: str,
    email: str,
    *,
    conversation: str = "conv",
    address: str | None = "203.0.113.7",
    now: dt.datetime = NOW,
) -> verification.Verdict:
    return verification.verify(
        session,
        order_id=order_id,
        email=email,
        conversation_id=conversation,
        client_address=address,
        now=now,
        settings=LIMITS,
    )


def failed(
    session: Session,
    order_id: str,
    *,
    at: dt.datetime,
    conversation: str = "earlier",
    address: str | None = None,
) -> None:
    verification.record(
        session,
        order_id=order_id,
        conversation_id=conversation,
        client_address=address,
        succeeded=False,
        now=at,
    )


def recorded(session: Session) -> list[tuple[str, bool]]:
    rows = session.execute(select(VerificationAttempt).order_by(VerificationAttempt.id)).scalars()
    return [(a.order_id, a.succeeded) for a in rows]


def test_every_comparison_is_recorded_and_an_unknown_order_fails_like_a_wrong_email(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        order = make_order(session, customer_email="zoe@example.com")
        wrong = check(session, order.id, "someone@example.com")
        unknown = check(session, UNKNOWN, "zoe@example.com")
        right = check(session, order.id, " Zoe@Example.com ")
        assert (wrong.order, wrong.compared, wrong.pause) == (None, True, None)
        assert (unknown.order, unknown.compared, unknown.pause) == (None, True, None)
        assert right.order is order
        assert recorded(session) == [(order.id, False), (UNKNOWN, False), (order.id, True)]


def test_an_order_at_its_limit_is_paused_until_its_oldest_counted_failure_leaves_the_window(
    session_factory: sessionmaker,
) -> None:
    with session_factory.begin() as session:
        order = make_order(session, customer_email="zoe@example.com")
        failed(session, order.id, at=NOW - 2 * HOUR)  # outside the window: not counted
        for minutes in (50, 40, 30, 20, 10):
            failed(session, order.id, at=NOW - minutes * MINUTE, conversation=f"c{minutes}")
        verdict = check(session, order.id, "zoe@example.com")
        # Refused before the comparison: the right e-mail does not pass, and nothing is recorded.
        assert verdict == verification.Verdict(
            order=None, compared=False, pause=Pause(Scope.ORDER, NOW + 10 * MINUTE)
        )
        assert recorded(session).count((order.id, True)) == 0
        # Once the failure of 50 minutes ago has left the window, one more check may be made.
        later = NOW + 11 * MINUTE
        assert check(session, order.id, "zoe@example.com", now=later).order is order


def test_successes_do_not_count_and_limits_are_per_scope(session_factory: sessionmaker) -> None:
    with session_factory.begin() as session:
        order = make_order(session, customer_email="zoe@example.com")
        for n in range(4):
            assert check(session, order.id, "zoe@example.com", conversation=f"ok{n}").order
        for n in range(4):
            verdict = check(
                session, order.id, f"x{n}@example.com", conversation=f"c{n}", address=None
            )
            assert verdict.pause is None
        fifth = check(session, order.id, "x@example.com", conversation="c5", address=None)
        assert fifth.pause == Pause(Scope.ORDER, NOW + HOUR)


def test_the_conversation_comes_first_then_the_address_then_the_order(
    session_factory: sessionmaker,
) -> None:
    address = "203.0.113.7"
    with session_factory.begin() as session:
        for n in range(10):
            failed(session, UNKNOWN, at=NOW - (n + 1) * MINUTE, conversation="c", address=address)

        def paused(conversation: str, client: str | None) -> Pause | None:
            return verification.pause(
                session,
                order_id=UNKNOWN,
                conversation_id=conversation,
                client_address=client,
                now=NOW,
                settings=LIMITS,
            )

        assert paused("c", address) == Pause(Scope.CONVERSATION, NOW - 3 * MINUTE + HOUR)
        assert paused("other", address) == Pause(Scope.ADDRESS, NOW - 10 * MINUTE + HOUR)
        assert paused("other", None) == Pause(Scope.ORDER, NOW - 5 * MINUTE + HOUR)
        quieter = VerificationSettings(per_conversation=20, per_order=20, per_address=20)
        assert (
            verification.pause(
                session,
                order_id=UNKNOWN,
                conversation_id="c",
                client_address=address,
                now=NOW,
                settings=quieter,
            )
            is None
        )


def test_limits_come_from_the_environment_with_safe_defaults() -> None:
    assert Settings.from_env({}).verification == VerificationSettings(
        window_seconds=3600, per_conversation=3, per_order=5, per_address=10
    )
    env = {"REFUNDBOT_VERIFY_MAX_PER_ORDER": "8", "REFUNDBOT_VERIFY_WINDOW_SECONDS": "600"}
    limits = Settings.from_env(env).verification
    assert (limits.per_order, limits.window_seconds, limits.per_address) == (8, 600, 10)
    with pytest.raises(ConfigError, match="REFUNDBOT_VERIFY_MAX_PER_ADDRESS must be at least 1"):
        Settings.from_env({"REFUNDBOT_VERIFY_MAX_PER_ADDRESS": "0"})


# --- checks made at once --------------------------------------------------------------------


@pytest.fixture
def racing_sessions(db_url: str, session_factory: sessionmaker) -> Iterator[sessionmaker]:
    """A connection per thread on PostgreSQL; on SQLite the product's factory (BEGIN IMMEDIATE)."""
    if db_url.startswith("sqlite"):
        yield session_factory
        return
    engine = create_engine(db_url, future=True, poolclass=NullPool)
    yield sessionmaker(bind=engine, future=True, expire_on_commit=False)
    engine.dispose()


def race(factory: sessionmaker, guesses: list[tuple[str, str, str | None]]) -> list[bool]:
    """Check ``(order, conversation, address)`` guesses from threads at once; return compared."""
    barrier = threading.Barrier(len(guesses), timeout=30)

    def one(guess: tuple[str, str, str | None]) -> bool:
        order_id, conversation, address = guess
        barrier.wait()
        with factory.begin() as session:
            verdict = check(
                session,
                order_id,
                "wrong@example.com",
                conversation=conversation,
                address=address,
                now=NOW,
            )
            return verdict.compared

    with ThreadPoolExecutor(max_workers=len(guesses)) as pool:
        return list(pool.map(one, guesses))


def test_guesses_at_one_order_at_once_compare_no_more_than_its_limit(
    racing_sessions: sessionmaker,
) -> None:
    with racing_sessions.begin() as session:
        order_id = make_order(session, customer_email="zoe@example.com").id
    compared = race(racing_sessions, [(order_id, f"c{n}", f"192.0.2.{n}") for n in range(12)])
    assert compared.count(True) == LIMITS.per_order
    with racing_sessions.begin() as session:
        assert session.execute(select(func.count(VerificationAttempt.id))).scalar_one() == 5


def test_guesses_from_one_address_at_once_compare_no_more_than_its_limit(
    racing_sessions: sessionmaker,
) -> None:
    guesses = [(f"80412355667{n:05d}", f"c{n}", "203.0.113.7") for n in range(16)]
    compared = race(racing_sessions, guesses)
    assert compared.count(True) == LIMITS.per_address
