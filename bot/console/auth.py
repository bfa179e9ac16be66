"""Agents, passwords and console sessions.

Passwords are hashed with scrypt (stdlib ``hashlib.scrypt``) and a random salt per agent. A
session is a random token in an ``HttpOnly``, ``SameSite=Strict`` cookie; the table keeps only its
SHA-256, so a leaked database holds no usable session. Each session has its own CSRF token, which
every state-changing request must echo (compared with :func:`hmac.compare_digest`).

Functions take a ``session`` (keyword-only arguments) and never commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.console.models import Agent, AgentSession, Role

# scrypt cost: 2**15 * 8 * 128 bytes = 32 MiB of memory and ~0.1 s per check on a small machine.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD_CHARS = 10
# Longer passwords are refused rather than hashed: the sign-in form accepts no more.
MAX_PASSWORD_CHARS = 1024
MAX_NAME_CHARS = 64
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class AgentExists(Exception):
    """An agent of that name is already registered."""


class BadCredentials(Exception):
    """Unknown agent, wrong password or a deactivated agent (never said which)."""


class NoSuchAgent(Exception):
    """No agent has that name."""


@dataclass(frozen=True)
class AgentInfo:
    """An agent as views use it."""

    id: int
    name: str
    display_name: str
    role: Role
    active: bool = True

    @property
    def actor(self) -> str:
        """Return the agent's name in audit trails (``agent:ana``)."""
        return f"agent:{self.name}"

    def to_json(self) -> dict[str, object]:
        """Return the form the console reads."""
        return {
            "id": self.id,
            "name": self.name,
            "display_name": self.display_name,
            "role": self.role.value,
        }


@dataclass(frozen=True)
class SessionInfo:
    """A valid console session."""

    agent: AgentInfo
    csrf_token: str
    expires_at: dt.datetime


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """Return ``scrypt$N$r$p$salt$hash`` for ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Return whether ``password`` matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(computed, bytes.fromhex(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32
    )


@functools.cache
def _dummy_hash() -> str:
    # A hash of a random password: checking a wrong name costs as much as a wrong password.
    return hash_password(secrets.token_urlsafe(16))


def create_agent(
    session: Session,
    *,
    name: str,
    password: str,
    role: Role,
    now: dt.datetime,
    display_name: str | None = None,
) -> AgentInfo:
    """Register an agent.

    Raises:
        ValueError: the name or password is not acceptable.
        AgentExists: the name is taken.
    """
    name = name.strip().lower()
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError("names are 1-64 of a-z, 0-9, '.', '_' and '-', starting with a letter")
    check_new_password(password)
    if session.execute(select(Agent.id).where(Agent.name == name)).first() is not None:
        raise AgentExists(name)
    agent = Agent(
        name=name,
        display_name=(display_name or name.split(".")[0]).strip().title()[:100],
        role=role.value,
        password_hash=hash_password(password),
        active=True,
        created_at=now,
    )
    session.add(agent)
    session.flush()
    return agent_info(agent)


def check_new_password(password: str) -> None:
    """Refuse a password an agent could not type into the sign-in form.

    Raises:
        ValueError: too short, too long, or holding a NUL or a lone surrogate.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"passwords need at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"passwords have at most {MAX_PASSWORD_CHARS} characters")
    if not typeable(password):
        raise ValueError("passwords cannot hold NUL characters or lone surrogates")


def typeable(value: str) -> bool:
    """Return whether ``value`` has no NUL and no lone surrogate (PostgreSQL and UTF-8 refuse)."""
    return "\x00" not in value and not any("\ud800" <= c <= "\udfff" for c in value)


def list_agents(session: Session) -> list[AgentInfo]:
    """Return every agent, active or not, by name."""
    rows = session.execute(select(Agent).order_by(Agent.name))
    return [agent_info(a) for a in rows.scalars()]


def set_active(session: Session, *, name: str, active: bool) -> tuple[AgentInfo, bool]:
    """Activate or deactivate an agent; a deactivated agent's sessions end at once.

    Returns the agent and whether anything changed.

    Raises:
        NoSuchAgent: nobody has that name.
    """
    agent = _agent_named(session, name)
    changed = agent.active != active
    agent.active = active
    if not active:
        end_agent_sessions(session, agent_id=agent.id)
    return agent_info(agent), changed


def set_password(session: Session, *, name: str, password: str) -> AgentInfo:
    """Give an agent a new password and end every session they had.

    Raises:
        NoSuchAgent: nobody has that name.
        ValueError: the password is not acceptable.
    """
    agent = _agent_named(session, name)
    check_new_password(password)
    agent.password_hash = hash_password(password)
    end_agent_sessions(session, agent_id=agent.id)
    return agent_info(agent)


def end_agent_sessions(session: Session, *, agent_id: int) -> None:
    """Sign an agent out everywhere."""
    session.execute(delete(AgentSession).where(AgentSession.agent_id == agent_id))


def find_agent(session: Session, *, name: str) -> AgentInfo:
    """Return the agent of that name, active or not.

    Raises:
        NoSuchAgent: nobody has that name.
    """
    return agent_info(_agent_named(session, name))


def _agent_named(session: Session, name: str) -> Agent:
    name = name.strip().lower()
    agent: Agent | None = None
    if NAME_PATTERN.fullmatch(name):
        agent = session.execute(select(Agent).where(Agent.name == name)).scalar_one_or_none()
    if agent is None:
        raise NoSuchAgent(name)
    return agent


def authenticate(session: Session, *, name: str, password: str) -> AgentInfo:
    """Return the agent whose name and password these are.

    Raises:
        BadCredentials: anything is wrong.
    """
    agent: Agent | None = session.execute(
        select(Agent).where(Agent.name == name.strip().lower())
    ).scalar_one_or_none()
    stored = agent.password_hash if agent is not None else _dummy_hash()
    if not verify_password(password, stored) or agent is None or not agent.active:
        raise BadCredentials()
    return agent_info(agent)


def start_session(
    session: Session, *, agent: AgentInfo, now: dt.datetime, ttl_seconds: int
) -> tuple[str, SessionInfo]:
    """Open a session; return the cookie's token (shown once, never stored) and the session."""
    token = secrets.token_urlsafe(32)
    row = AgentSession(
        token_hash=_token_hash(token),
        agent_id=agent.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl_seconds),
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return token, SessionInfo(agent=agent, csrf_token=row.csrf_token, expires_at=row.expires_at)


def lookup_session(
    session: Session, *, token: str, now: dt.datetime, touch_after_seconds: int = 15
) -> SessionInfo | None:
    """Return the live session of a cookie token and note the agent as seen, or ``None``."""
    if not token or len(token) > 128:
        return None
    found = session.execute(
        select(AgentSession, Agent)
        .join(Agent, Agent.id == AgentSession.agent_id)
        .where(AgentSession.token_hash == _token_hash(token))
    ).first()
    if found is None:
        return None
    row, agent = found
    if row.expires_at <= now or not agent.active:
        return None
    if (now - row.last_seen_at).total_seconds() >= touch_after_seconds:
        row.last_seen_at = now
    return SessionInfo(
        agent=agent_info(agent), csrf_token=row.csrf_token, expires_at=row.expires_at
    )


def live_tokens(session: Session, *, tokens: Collection[str], now: dt.datetime) -> set[str]:
    """Return the cookie tokens among ``tokens`` whose sessions are live.

    A live session is not ended (signed out, its agent deactivated or given a new password) and
    not expired.
    """
    by_hash = {_token_hash(token): token for token in tokens if token and len(token) <= 128}
    if not by_hash:
        return set()
    found = session.execute(
        select(AgentSession.token_hash)
        .join(Agent, Agent.id == AgentSession.agent_id)
        .where(
            AgentSession.token_hash.in_(by_hash),
            AgentSession.expires_at > now,
            Agent.active.is_(True),
        )
    ).scalars()
    return {by_hash[token_hash] for token_hash in found}


def end_session(session: Session, *, token: str) -> None:
    """Sign out: forget the session of ``token``."""
    session.execute(delete(AgentSession).where(AgentSession.token_hash == _token_hash(token)))


def purge_expired(session: Session, *, now: dt.datetime) -> None:
    """Delete sessions past their expiry."""
    session.execute(delete(AgentSession).where(AgentSession.expires_at <= now))


def online_agents(session: Session, *, now: dt.datetime, within_seconds: int) -> int:
    """Return how many agents had a console open within the last ``within_seconds``."""
    since = now - dt.timedelta(seconds=within_seconds)
    count = session.execute(
        select(func.count(func.distinct(AgentSession.agent_id))).where(
            AgentSession.last_seen_at >= since, AgentSession.expires_at > now
        )
    ).scalar_one()
    return int(count)


def csrf_ok(expected: str, given: str | None) -> bool:
    """Return whether the request's CSRF token is the session's.

    A header's bytes that are not UTF-8 arrive as lone surrogates: compared, never an error.
    """
    return bool(given) and hmac.compare_digest(
        expected.encode(), (given or "").encode("utf-8", "surrogatepass")
    )


def agent_info(agent: Agent) -> AgentInfo:
    """Return the plain form of an agent row."""
    return AgentInfo(
        id=agent.id,
        name=agent.name,
        display_name=agent.display_name,
        role=Role(agent.role),
        active=bool(agent.active),
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
