"""Racing submissions at one order never over-refund and never duplicate an application.

The issue asks for this on PostgreSQL (``SELECT ... FOR UPDATE`` on the order row); the same test
runs on SQLite, where ``BEGIN IMMEDIATE`` serialises the writers.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.refunds import store
from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.errors import AmountError
from bot.refunds.models import RefundApplication
from bot.settings import PolicySettings
from tests.factories import NOW, make_order

THREADS = 8


def race(
    session_factory: sessionmaker, keys: list[str], amount: Decimal, order_id: str, customer_id: str
) -> list[tuple[int, bool] | AmountError]:
    """Submit one application per key, each from its own thread and session, all at once."""
    barrier = threading.Barrier(len(keys), timeout=30)

    def one(key: str) -> tuple[int, bool] | AmountError:
        try:
            with session_factory.begin() as session:
                barrier.wait()
                submission = store.submit_application(
                    session,
                    customer_id=customer_id,
                    order_id=order_id,
                    method=RefundMethod.RETURN_AND_REFUND,
                    amount=amount,
                    reason="the zip broke on the first day",
                    reason_category=ReasonCategory.QUALITY_PROBLEM,
                    idempotency_key=key,
                    conversation_id=None,
                    now=NOW,
                    settings=PolicySettings(),
                )
                return (submission.application.id, submission.created)
        except AmountError as e:
            return e

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        return list(pool.map(one, keys))


def new_order(session_factory: sessionmaker, total: str) -> tuple[str, str]:
    with session_factory.begin() as session:
        order = make_order(session, total=Decimal(total))
        return order.id, order.customer_id


def committed(session_factory: sessionmaker, order_id: str) -> list[Decimal]:
    with session_factory.begin() as session:
        return list(
            session.execute(
                select(RefundApplication.amount).where(RefundApplication.order_id == order_id)
            ).scalars()
        )


def test_racing_submissions_never_exceed_the_order_total(session_factory: sessionmaker) -> None:
    order_id, customer_id = new_order(session_factory, "100.00")
    keys = [f"race-{n}" for n in range(THREADS)]
    results = race(session_factory, keys, Decimal("30.00"), order_id, customer_id)

    accepted = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, AmountError)]
    assert len(accepted) == 3
    assert all(created for _, created in accepted)
    assert len(refused) == THREADS - 3
    assert {e.code for e in refused} == {"exceeds_balance"}
    amounts = committed(session_factory, order_id)
    assert sum(amounts) == Decimal("90.00")
    assert sum(amounts) <= Decimal("100.00")


def test_the_same_key_from_many_threads_makes_one_application(
    session_factory: sessionmaker,
) -> None:
    order_id, customer_id = new_order(session_factory, "100.00")
    results = race(
        session_factory, ["double-tap"] * THREADS, Decimal("40.00"), order_id, customer_id
    )

    submitted = [r for r in results if isinstance(r, tuple)]
    assert len(submitted) == THREADS, results
    assert len({application_id for application_id, _ in submitted}) == 1
    assert [created for _, created in submitted].count(True) == 1
    assert committed(session_factory, order_id) == [Decimal("40.00")]
