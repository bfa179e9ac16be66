"""Sign-in throttling: per client address, per account, and the browsers an agent used before.

Every failed sign-in is a row of ``login_failures`` (the client's address, the name tried, when),
so every gateway instance counts the same failures. Two limits are checked before a password is:

* **per address**: ``signin_address_failures`` failures, for any names, from one address within
  ``signin_address_window_seconds`` make that address wait until the oldest of them leaves the
  window. Trying many names from one place stops there.
* **per account**: after ``signin_account_free_failures`` failures for one name, from anywhere
  within ``signin_account_window_seconds``, the next attempt for it waits 1 s after the last
  failure, then 2 s, 4 s, … at most ``signin_account_max_delay_seconds``. Guessing one agent's
  password slows to one try per maximum delay, and no wait is ever longer than that.

A browser that signed in to an account carries a *known device* cookie for it, an HMAC whose key
is derived from the agent's password hash (a new password forgets every device). For that browser
only the account's failures from its own address count, so what others do to the account does not
hold it; its address's limit holds it like anyone else.

An attempt is written as a failure *before* its password is checked, after both limits were
checked under a lock of its address and of its account (``BEGIN IMMEDIATE`` on SQLite, advisory
locks on PostgreSQL); a right password deletes it again. So attempts made at the same moment
cannot slip past the limits while the first ones are being checked.

Functions take a ``session`` (keyword-only arguments) and never commit.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from bot.console.models import Agent, LoginFailure
from bot.settings import ConsoleSettings

DEVICE_COOKIE_PREFIX = "rb_console_device_"
#: Where the browser sends the known-device cookie: only with the sign-in form.
DEVICE_COOKIE_PATH = "/console/login"
_MAX_SHIFT = 30  # 2**30 s is past any cap; keeps the power small


@dataclass(frozen=True)
class Attempt:
    """An attempt the limits let through, recorded as a failure until its password is right."""

    address: str
    account: str


@dataclass(frozen=True)
class Refusal:
    """An attempt refused without checking its password."""

    limit: Literal["address", "account"]
    retry_after: int
    """Seconds until an attempt can be made again."""

    @property
    def message(self) -> str:
        """Return what the sign-in form says about it."""
        where = "from your address" if self.limit == "address" else "for this name"
        return f"Too many failed sign-ins {where}; try again in {_duration(self.retry_after)}."


def account_of(name: str) -> str:
    """Return the account a typed name stands for, as failures are recorded."""
    return name.strip().lower()[:64]


def backoff_seconds(failures: int, settings: ConsoleSettings) -> int:
    """Return how long after its last failure an account with ``failures`` failures waits."""
    over = failures - settings.signin_account_free_failures
    if over < 0:
        return 0
    return min(settings.signin_account_max_delay_seconds, 1 << min(over, _MAX_SHIFT))


def begin_attempt(
    session: Session,
    *,
    address: str,
    account: str,
    device: str,
    now: dt.datetime,
    settings: ConsoleSettings,
) -> Attempt | Refusal:
    """Check both limits for a sign-in attempt; record it as a failure when it may go ahead.

    ``device`` is the attempt's known-device cookie for ``account`` ("" when it has none).
    """
    _lock(session, address=address, account=account)
    _purge(session, now=now, settings=settings, account=account, address=address)
    refusal = _address_refusal(session, address=address, now=now, settings=settings)
    if refusal is None:
        known = is_known_device(session, account=account, device=device, now=now, settings=settings)
        refusal = _account_refusal(
            session, account=account, address=address if known else None, now=now, settings=settings
        )
    if refusal is not None:
        return refusal
    session.add(LoginFailure(address=address, account=account, at=now))
    return Attempt(address=address, account=account)


def succeeded(
    session: Session, *, attempt: Attempt, now: dt.datetime, settings: ConsoleSettings
) -> None:
    """Forget the attempt and the account's earlier failures from its address; purge old rows."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.account == attempt.account, LoginFailure.address == attempt.address
        )
    )
    session.execute(delete(LoginFailure).where(LoginFailure.at < _horizon(now, settings)))


def device_cookie(account: str) -> str:
    """Return the name of the known-device cookie for ``account``."""
    return DEVICE_COOKIE_PREFIX + account


def device_token(session: Session, *, account: str, now: dt.datetime) -> str:
    """Return a known-device cookie value for the agent ``account`` (who exists)."""
    password_hash = session.execute(
        select(Agent.password_hash).where(Agent.name == account)
    ).scalar_one()
    issued = int(now.timestamp())
    return f"{issued}.{_device_mac(password_hash, account, issued)}"


def is_known_device(
    session: Session, *, account: str, device: str, now: dt.datetime, settings: ConsoleSettings
) -> bool:
    """Return whether ``device`` is a valid known-device cookie value for ``account``."""
    issued_text, _, mac = device.partition(".")
    if not device.isascii() or not issued_text.isdigit() or not mac or len(device) > 100:
        return False
    issued = int(issued_text)
    age = now.timestamp() - issued
    if not -60 <= age <= settings.known_device_days * 86400:
        return False
    password_hash = session.execute(
        select(Agent.password_hash).where(Agent.name == account)
    ).scalar_one_or_none()
    if password_hash is None:
        return False
    return hmac.compare_digest(mac, _device_mac(password_hash, account, issued))


def _device_mac(password_hash: str, account: str, issued: int) -> str:
    # The key is derived from the hash, so changing the password forgets every known device.
    key = hmac.new(password_hash.encode(), b"refundbot console known device", "sha256").digest()
    mac = hmac.new(key, f"{account}\x00{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _lock(session: Session, *, address: str, account: str) -> None:
    # SQLite: the unit of work began with BEGIN IMMEDIATE, so writers are serialised already.
    if session.get_bind().dialect.name != "postgresql":
        return
    # Always the address first, then the account: two attempts never wait for each other in a
    # circle.
    for kind, value in ((1, address), (2, account)):
        key = int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big", signed=True)
        session.execute(
            sql("SELECT pg_advisory_xact_lock(:kind, :key)"), {"kind": kind, "key": key}
        )


def _address_refusal(
    session: Session, *, address: str, now: dt.datetime, settings: ConsoleSettings
) -> Refusal | None:
    limit = settings.signin_address_failures
    window = dt.timedelta(seconds=settings.signin_address_window_seconds)
    recent = (
        session.execute(
            select(LoginFailure.at)
            .where(LoginFailure.address == address, LoginFailure.at > now - window)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if len(recent) < limit:
        return None
    # One more attempt is allowed once the limit-th latest failure has left the window.
    return Refusal("address", _seconds_until(recent[-1] + window, now))


def _account_refusal(
    session: Session,
    *,
    account: str,
    address: str | None,
    now: dt.datetime,
    settings: ConsoleSettings,
) -> Refusal | None:
    """Refuse while the account's back-off lasts (counting only ``address``'s failures if set)."""
    since = now - dt.timedelta(seconds=settings.signin_account_window_seconds)
    query = select(func.count(LoginFailure.id), func.max(LoginFailure.at)).where(
        LoginFailure.account == account, LoginFailure.at > since
    )
    if address is not None:
        query = query.where(LoginFailure.address == address)
    count, last = session.execute(query).one()
    delay = backoff_seconds(int(count), settings)
    if not delay or last is None:
        return None
    ends = last + dt.timedelta(seconds=delay)
    return Refusal("account", _seconds_until(ends, now)) if ends > now else None


def _purge(
    session: Session, *, now: dt.datetime, settings: ConsoleSettings, account: str, address: str
) -> None:
    # Through the indexes: this account's and this address's old rows; the rest when someone
    # signs in (see :func:`succeeded`).
    horizon = _horizon(now, settings)
    for column, value in ((LoginFailure.account, account), (LoginFailure.address, address)):
        session.execute(delete(LoginFailure).where(column == value, LoginFailure.at < horizon))


def _horizon(now: dt.datetime, settings: ConsoleSettings) -> dt.datetime:
    longest = max(settings.signin_address_window_seconds, settings.signin_account_window_seconds)
    return now - dt.timedelta(seconds=longest)


def _seconds_until(when: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((when - now).total_seconds()))


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"
