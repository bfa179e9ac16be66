"""Concurrent writers of the refund store, each in its own thread and unit of work.

Racing submissions at one order never over-refund and never duplicate an application (on
PostgreSQL ``SELECT ... FOR UPDATE`` on the order row; on SQLite ``BEGIN IMMEDIATE`` serialises
the writers). Racing status changes of one application (buyer, agents, the review-deadline sweep)
have exactly one winner: the others get :class:`TransitionNotAllowed` with the status the winner
left, and the audit trail stays one chain of events.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from bot.refunds import review, store
from bot.refunds.enums import ReasonCategory, RefundMethod, RefundStatus
from bot.refunds.errors import AmountError, TransitionNotAllowed
from bot.refunds.models import RefundApplication
from bot.settings import PolicySettings
from tests.factories import NOW, make_order, submit_for_review

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


# --- racing status changes --------------------------------------------------------------------

A = review.ReviewAction
S = RefundStatus
BUYER = "c-1001"
LATER = NOW + dt.timedelta(hours=1)
PAST_DEADLINE = NOW + dt.timedelta(days=30)

Read = Callable[[Session, str], RefundApplication]
Write = Callable[[Session, RefundApplication], str | None]
"""A racer's write returns its actor when it changed the application, None when it found nothing
to change (a sweep after the application left review)."""


@dataclass(frozen=True)
class Outcome:
    """What one racer read, and what came of its write."""

    read: str
    result: str | None | TransitionNotAllowed


@pytest.fixture
def racing_sessions(db_url: str, session_factory: sessionmaker) -> Iterator[sessionmaker]:
    """Sessions for many threads at once.

    On PostgreSQL a connection each (the product's pool holds 15, and a thread waiting for one
    while the others wait for it at the barrier would never meet them); on SQLite the product's
    factory, whose ``BEGIN IMMEDIATE`` is what serialises writers there.
    """
    if db_url.startswith("sqlite"):
        yield session_factory
        return
    engine = create_engine(db_url, future=True, poolclass=NullPool)
    yield sessionmaker(bind=engine, future=True, expire_on_commit=False)
    engine.dispose()


def race_status(
    factory: sessionmaker, reference: str, racers: Sequence[tuple[Read, Write]]
) -> list[Outcome]:
    """Run every racer in its own thread and unit of work, all at once.

    On PostgreSQL every racer reads the application, then all write together: each decided on
    the same status, as a buyer and an agent looking at one application do. On SQLite a writing
    unit of work holds the database from its first statement, so the racers meet before it and
    race for that lock instead; who comes second reads what the first left.
    """
    sqlite = factory.kw["bind"].dialect.name == "sqlite"
    barrier = threading.Barrier(len(racers), timeout=60)

    def run(racer: tuple[Read, Write]) -> Outcome:
        read, write = racer
        if sqlite:
            barrier.wait()
        with factory.begin() as session:
            application = read(session, reference)
            status = str(application.status)
            if not sqlite:
                barrier.wait()
            try:
                return Outcome(status, write(session, application))
            except TransitionNotAllowed as e:
                return Outcome(status, e)

    with ThreadPoolExecutor(max_workers=len(racers)) as pool:
        outcomes = list(pool.map(run, racers))
    if not sqlite:
        assert len({o.read for o in outcomes}) == 1, "the racers did not all read one status"
    return outcomes


def agent_reads(session: Session, reference: str) -> RefundApplication:
    return review.get_application(session, reference=reference)


def console_reads(session: Session, reference: str) -> RefundApplication:
    """As the console's review view does: the row locked for the decision."""
    return review.get_application(session, reference=reference, for_update=True)


def buyer_reads(session: Session, reference: str) -> RefundApplication:
    return store.find_application(session, reference=reference, customer_id=BUYER)


def agent(action: review.ReviewAction, name: str, note: str | None = None) -> Write:
    def write(session: Session, application: RefundApplication) -> str:
        actor = f"agent:{name}"
        review.review(
            session, application=application, action=action, actor=actor, now=LATER, note=note
        )
        return actor

    return write


def buyer_withdraws(session: Session, application: RefundApplication) -> str:
    store.withdraw(session, application=application, customer_id=BUYER, now=LATER)
    return store.customer_actor(BUYER)


def store_approves(name: str) -> Write:
    def write(session: Session, application: RefundApplication) -> str:
        store.approve(session, application=application, actor=name, now=LATER)
        return name

    return write


def sweeps(customer_id: str | None = None) -> Write:
    """The review-deadline sweep: the gateway's (every buyer) or a status question's (one)."""

    def write(session: Session, _application: RefundApplication) -> str | None:
        approved = store.approve_overdue(session, now=PAST_DEADLINE, customer_id=customer_id)
        return store.SYSTEM if approved else None

    return write


def pending(factory: sessionmaker) -> str:
    with factory.begin() as session:
        application = submit_for_review(session, customer_id=BUYER, key=uuid.uuid4().hex)
        return str(application.reference)


def awaiting_return(factory: sessionmaker) -> str:
    reference = pending(factory)
    with factory.begin() as session:
        application = review.get_application(session, reference=reference)
        store.approve(session, application=application, actor="agent:mia", now=NOW)
        assert application.status == S.AWAITING_RETURN.value
    return reference


def trail(factory: sessionmaker, reference: str) -> list[tuple[str | None, str, str]]:
    with factory.begin() as session:
        application = review.get_application(session, reference=reference)
        return [
            (e.from_status, e.to_status, e.actor)
            for e in store.events_of(session, application_id=application.id)
        ]


def status_of(factory: sessionmaker, reference: str) -> str:
    with factory.begin() as session:
        return str(review.get_application(session, reference=reference).status)


def winner_of(
    factory: sessionmaker, reference: str, outcomes: Sequence[Outcome], raced_on: RefundStatus
) -> str:
    """Return the actor who won the race, having checked there was one and the trail is whole.

    Of the racers that decided on one status, exactly one changed it; the others were refused
    with the status as it is now (or, a sweep, found nothing overdue any more). A racer that
    read what an earlier one left (only SQLite, which runs them one after another) may succeed
    from there, as a buyer withdrawing an approved application does.
    """
    final = status_of(factory, reference)
    winners: list[str] = []
    for read in {o.read for o in outcomes}:
        results = [o.result for o in outcomes if o.read == read]
        won = [r for r in results if isinstance(r, str)]
        assert len(won) <= 1, outcomes
        winners += won
        refused = [r for r in results if isinstance(r, TransitionNotAllowed)]
        assert len(won) + len(refused) + results.count(None) == len(results)
        assert {e.params["current"] for e in refused} <= {final}, outcomes
    first_winners = [
        o.result for o in outcomes if o.read == raced_on.value and isinstance(o.result, str)
    ]
    assert len(first_winners) == 1, outcomes

    events = trail(factory, reference)
    # One chain: every event starts where the one before it ended, and no status is left twice.
    assert all(e[0] == before[1] for before, e in zip(events, events[1:], strict=False)), events
    left = [e[0] for e in events if e[0] != e[1]]
    assert len(left) == len(set(left)), events
    assert events[-1][1] == final
    # Each winner's change is in the trail, from the status it decided on.
    for o in outcomes:
        if isinstance(o.result, str):
            assert any(f == o.read and a == o.result and f != t for f, t, a in events), events
    return str(first_winners[0])


def changes_by(factory: sessionmaker, reference: str, actor: str) -> list[tuple[str, str]]:
    """Return the status changes ``actor`` made (not the submission, not a question)."""
    return [
        (f, t) for f, t, a in trail(factory, reference) if a == actor and f is not None and f != t
    ]


def test_buyer_withdraws_while_the_agent_marks_the_return_received(
    racing_sessions: sessionmaker,
) -> None:
    reference = awaiting_return(racing_sessions)
    outcomes = race_status(
        racing_sessions,
        reference,
        [(buyer_reads, buyer_withdraws), (console_reads, agent(A.RETURN_RECEIVED, "ana"))],
    )
    winner = winner_of(racing_sessions, reference, outcomes, S.AWAITING_RETURN)
    expected = S.WITHDRAWN if winner == store.customer_actor(BUYER) else S.RETURN_RECEIVED
    assert status_of(racing_sessions, reference) == expected.value
    assert changes_by(racing_sessions, reference, winner) == [("awaiting_return", expected.value)]
    # Neither can follow the other: the loser is refused whichever way the race goes.
    assert isinstance(outcomes[1 if winner.startswith("customer:") else 0].result, Exception)


def test_buyer_withdraws_while_the_agent_approves(racing_sessions: sessionmaker) -> None:
    reference = pending(racing_sessions)
    outcomes = race_status(
        racing_sessions,
        reference,
        [(buyer_reads, buyer_withdraws), (agent_reads, agent(A.APPROVE, "ana"))],
    )
    winner = winner_of(racing_sessions, reference, outcomes, S.PENDING_REVIEW)
    withdrawn = outcomes[0].result == store.customer_actor(BUYER)
    if winner == "agent:ana":
        assert changes_by(racing_sessions, reference, winner) == [("pending_review", "approved")]
    expected = S.WITHDRAWN if withdrawn else S.AWAITING_RETURN
    assert status_of(racing_sessions, reference) == expected.value


def test_one_agent_approves_while_another_rejects(racing_sessions: sessionmaker) -> None:
    reference = pending(racing_sessions)
    outcomes = race_status(
        racing_sessions,
        reference,
        [
            (agent_reads, agent(A.APPROVE, "ana")),
            (agent_reads, agent(A.REJECT, "bob", "The photos show a different item.")),
        ],
    )
    winner = winner_of(racing_sessions, reference, outcomes, S.PENDING_REVIEW)
    expected = S.AWAITING_RETURN if winner == "agent:ana" else S.REJECTED
    assert status_of(racing_sessions, reference) == expected.value
    assert sum(isinstance(o.result, TransitionNotAllowed) for o in outcomes) == 1


APPROVERS = 30


def test_many_approvals_of_one_application_approve_it_once(racing_sessions: sessionmaker) -> None:
    reference = pending(racing_sessions)
    racers: list[tuple[Read, Write]] = [
        (agent_reads, store_approves(f"agent:{n}")) for n in range(APPROVERS)
    ]
    outcomes = race_status(racing_sessions, reference, racers)
    winner = winner_of(racing_sessions, reference, outcomes, S.PENDING_REVIEW)
    assert trail(racing_sessions, reference)[1:] == [
        ("pending_review", "approved", winner),
        ("approved", "awaiting_return", store.SYSTEM),
    ]
    refused = [o.result for o in outcomes if isinstance(o.result, TransitionNotAllowed)]
    assert len(refused) == APPROVERS - 1
    assert {e.params["current"] for e in refused} == {S.AWAITING_RETURN.value}


#: Races whose loser is refused only in one of the two orders run a few times, to see both.
ROUNDS = 4


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(store_approves("agent:ana"), id="merchant"),
        pytest.param(sweeps(BUYER), id="status-question-sweep"),
    ],
)
def test_the_review_deadline_sweep_races_another_approval(
    racing_sessions: sessionmaker, other: Write
) -> None:
    for _ in range(ROUNDS):
        reference = pending(racing_sessions)
        outcomes = race_status(
            racing_sessions, reference, [(agent_reads, sweeps()), (agent_reads, other)]
        )
        winner = winner_of(racing_sessions, reference, outcomes, S.PENDING_REVIEW)
        assert status_of(racing_sessions, reference) == S.AWAITING_RETURN.value
        approvals = [(f, t, a) for f, t, a in trail(racing_sessions, reference) if t == "approved"]
        assert approvals == [("pending_review", "approved", winner)]


def test_a_question_is_never_recorded_for_a_withdrawn_application(
    racing_sessions: sessionmaker,
) -> None:
    for _ in range(ROUNDS):
        reference = pending(racing_sessions)
        outcomes = race_status(
            racing_sessions,
            reference,
            [
                (buyer_reads, buyer_withdraws),
                (agent_reads, agent(A.REQUEST_INFO, "ana", "Is the box damaged too?")),
            ],
        )
        # A question keeps the status, so it may come first and the withdrawal still follow.
        assert outcomes[0].result == store.customer_actor(BUYER)
        assert status_of(racing_sessions, reference) == S.WITHDRAWN.value
        asked = outcomes[1].result
        events = trail(racing_sessions, reference)
        if isinstance(asked, TransitionNotAllowed):
            assert asked.params["current"] == S.WITHDRAWN.value
            assert events[1:] == [("pending_review", "withdrawn", store.customer_actor(BUYER))]
        else:
            assert events[1:] == [
                ("pending_review", "pending_review", "agent:ana"),
                ("pending_review", "withdrawn", store.customer_actor(BUYER)),
            ]
