"""API keys: made once, shown once, stored as a hash, found by a public prefix.

A key reads ``rbk_<prefix>_<secret>``: the prefix (12 hex digits) is stored as it is and finds the
row with an index, the secret (32 random bytes) only as its SHA-256, compared with
:func:`hmac.compare_digest`. A random secret of that size needs no slow hash: nobody guesses it,
and a leaked table holds nothing usable. Functions take a ``session`` (keyword-only arguments)
and never commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.api.models import ApiKey

#: What a key may be allowed to do.
SCOPES = ("orders:write", "orders:read", "refunds:read", "refunds:write", "webhooks:write")
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_KEY = re.compile(r"rbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
#: Compared against when the prefix is unknown, so an unknown key costs what a wrong one does.
_NO_HASH = hashlib.sha256(b"no such key").hexdigest()


class KeyExists(Exception):
    """A key of that name exists already (revoked keys keep their name)."""


class NoSuchKey(Exception):
    """No key has that name."""


@dataclass(frozen=True)
class Caller:
    """The holder of a valid key, as views use it."""

    key_id: int
    name: str
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        """Return the seller's name in audit trails (``seller:shop-backend``)."""
        return f"seller:{self.name}"


def create_key(
    session: Session, *, name: str, scopes: list[str], now: dt.datetime
) -> tuple[ApiKey, str]:
    """Create a key; return it and its full text, which nothing keeps and cannot be shown again.

    Raises:
        ValueError: the name or a scope is not valid, or no scope is given.
        KeyExists: the name is taken.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError("a key's name is 1-64 of a-z, 0-9, '.', '_', '-', starting with a-z/0-9")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes are some of: {', '.join(SCOPES)}")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=" ".join(s for s in SCOPES if s in scopes),
        created_at=now,
    )
    session.add(key)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as e:
        raise KeyExists(name) from e
    return key, f"rbk_{prefix}_{secret}"


def list_keys(session: Session) -> list[ApiKey]:
    """Return every key, revoked ones too, by name."""
    return list(session.execute(select(ApiKey).order_by(ApiKey.name)).scalars())


def revoke_key(session: Session, *, name: str, now: dt.datetime) -> tuple[ApiKey, bool]:
    """Revoke the key named ``name``; return it and whether it was active until now.

    Raises:
        NoSuchKey: there is none.
    """
    key: ApiKey | None = session.execute(
        select(ApiKey).where(ApiKey.name == name)
    ).scalar_one_or_none()
    if key is None:
        raise NoSuchKey(name)
    if key.revoked_at is not None:
        return key, False
    key.revoked_at = now
    return key, True


def authenticate(session: Session, *, token: str) -> Caller | None:
    """Return who holds ``token``, or ``None`` for a malformed, unknown or revoked key."""
    match = _KEY.fullmatch(token)
    key: ApiKey | None = None
    if match is not None:
        key = session.execute(
            select(ApiKey).where(ApiKey.prefix == match.group(1))
        ).scalar_one_or_none()
    given = _hash(match.group(2) if match else token)
    expected = key.secret_hash if key is not None else _NO_HASH
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return None
    if key is None or key.revoked_at is not None:
        return None
    return Caller(key_id=int(key.id), name=str(key.name), scopes=frozenset(key.scopes.split()))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
