"""Anonymous buyers' ownership checks (order number and the e-mail on the order), limited.

Every check that compares an e-mail is recorded in ``verification_attempts``. Failed ones are
counted over a sliding window per conversation, per order (from any conversation) and per client
address. A scope at its limit gets no comparison at all until its oldest counted failures leave
the window: a paused order answers the same whether the e-mail is right or wrong and whether the
order exists or not, so guessing learns nothing while it lasts.

Functions take an open ``session`` (keyword-only) and never commit. :func:`verify` must run in a
unit of work that may write: it serialises the checks of one order and of one address (on
PostgreSQL with transaction-scoped advisory locks, on SQLite by the write lock every writing unit
of work takes at ``BEGIN IMMEDIATE``), so checks made at once cannot all pass the count before
any of them is recorded. One conversation's messages already reach the actions one at a time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.refunds import store
from bot.refunds.errors import OrderNotFound
from bot.refunds.models import Order, VerificationAttempt
from bot.settings import VerificationSettings

#: Longest client address the table keeps (an IPv6 address with a zone fits).
ADDRESS_MAX = 64


class Scope(str, Enum):
    """What a limit counts failed checks of."""

    CONVERSATION = "conversation"
    ADDRESS = "address"
    ORDER = "order"


@dataclass(frozen=True)
class Pause:
    """Checks of ``scope`` are refused until ``until``."""

    scope: Scope
    until: dt.datetime


@dataclass(frozen=True)
class Verdict:
    """The result of :func:`verify`."""

    order: Order | None
    """The order, when the e-mail was compared and is the one on it."""
    compared: bool
    """False when a pause refused the check before anything was compared."""
    pause: Pause | None
    """What refused the check, or (after a failed one) what pauses the next checks."""


def verify(
    session: Session,
    *,
    order_id: str,
    email: str,
    conversation_id: str,
    client_address: str | None,
    now: dt.datetime,
    settings: VerificationSettings,
) -> Verdict:
    """Check that ``email`` is the one on order ``order_id``, unless checks are paused.

    An unknown order fails like a wrong e-mail, and is counted the same.
    """
    address = _address(client_address)
    _serialise(session, order_id=order_id, client_address=address)

    def paused() -> Pause | None:
        return pause(
            session,
            order_id=order_id,
            conversation_id=conversation_id,
            client_address=address,
            now=now,
            settings=settings,
        )

    def attempt(succeeded: bool) -> None:
        record(
            session,
            order_id=order_id,
            conversation_id=conversation_id,
            client_address=address,
            succeeded=succeeded,
            now=now,
        )

    before = paused()
    if before is not None:
        return Verdict(order=None, compared=False, pause=before)
    try:
        order = store.verify_order_email(session, order_id=order_id, email=email)
    except OrderNotFound:
        attempt(succeeded=False)
        return Verdict(order=None, compared=True, pause=paused())
    attempt(succeeded=True)
    return Verdict(order=order, compared=True, pause=None)


def pause(
    session: Session,
    *,
    order_id: str | None,
    conversation_id: str,
    client_address: str | None,
    now: dt.datetime,
    settings: VerificationSettings,
) -> Pause | None:
    """Return what refuses a check now, or ``None`` when one may be made.

    The conversation comes first (its buyer is handed to a person), then the address (no order
    can be checked from it), then the order.
    """
    limits: list[tuple[Scope, object, int]] = [
        (Scope.CONVERSATION, conversation_id, settings.per_conversation),
        (Scope.ADDRESS, _address(client_address), settings.per_address),
        (Scope.ORDER, order_id, settings.per_order),
    ]
    window = dt.timedelta(seconds=settings.window_seconds)
    for scope, value, limit in limits:
        if value is None:
            continue
        column = _COLUMNS[scope]
        # The limit-th most recent failure in the window: while there is one, the scope is at
        # its limit, and it stays so until that failure leaves the window.
        oldest_counted = session.execute(
            select(VerificationAttempt.at)
            .where(
                column == value,
                VerificationAttempt.succeeded.is_(False),
                VerificationAttempt.at > now - window,
            )
            .order_by(VerificationAttempt.at.desc())
            .offset(limit - 1)
            .limit(1)
        ).scalar_one_or_none()
        if oldest_counted is not None:
            return Pause(scope, oldest_counted + window)
    return None


def record(
    session: Session,
    *,
    order_id: str,
    conversation_id: str,
    client_address: str | None,
    succeeded: bool,
    now: dt.datetime,
) -> None:
    """Record a check that compared an e-mail."""
    session.add(
        VerificationAttempt(
            order_id=order_id,
            conversation_id=conversation_id,
            client_address=_address(client_address),
            succeeded=succeeded,
            at=now,
        )
    )
    session.flush()


_COLUMNS = {
    Scope.CONVERSATION: VerificationAttempt.conversation_id,
    Scope.ADDRESS: VerificationAttempt.client_address,
    Scope.ORDER: VerificationAttempt.order_id,
}


def _address(client_address: str | None) -> str | None:
    return client_address[:ADDRESS_MAX] if client_address else None


def _serialise(session: Session, *, order_id: str, client_address: str | None) -> None:
    """Make checks of the same order or from the same address wait for each other.

    Always the order's lock first, then the address's: a transaction waiting for its first lock
    holds none, so two checks can never wait for each other in a circle.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = [f"verification:order:{order_id}"]
    if client_address:
        keys.append(f"verification:address:{client_address}")
    for key in keys:
        session.execute(select(func.pg_advisory_xact_lock(_lock_key(key))))


def _lock_key(name: str) -> int:
    """Return a stable 64-bit advisory lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
