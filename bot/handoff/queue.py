"""The handoff queue as table functions: who owns a conversation, and since when.

While people own a conversation (``conversations.handler == "human"``) it has an open handoff:
waiting for an agent, then claimed by one, until it is handed back to the bot or closed.
Functions take a ``session`` (keyword-only) and never commit; :mod:`bot.handoff.service` owns
the units of work.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console import auth
from bot.console.auth import AgentInfo
from bot.console.models import Agent
from bot.contract import HandoffReason
from bot.gateway.models import Conversation
from bot.handoff.models import Handoff
from bot.refunds import outbox

HUMAN = "human"
BOT = "bot"


class NotFound(Exception):
    """No such conversation."""


class ClaimedByOther(Exception):
    """Another agent has the conversation; taking it needs an explicit take-over."""

    def __init__(self, agent_name: str) -> None:
        super().__init__(f"claimed by {agent_name}")
        self.agent_name = agent_name


class NotYours(Exception):
    """The agent does not own the conversation (claim it first)."""


@dataclass(frozen=True)
class HandoffInfo:
    """An open handoff as the console and the notices use it."""

    id: int
    conversation_id: str
    reason: HandoffReason
    detail: str | None
    requested_at: dt.datetime
    agent: AgentInfo | None
    claimed_at: dt.datetime | None

    def to_json(self, now: dt.datetime) -> dict[str, Any]:
        """Return the form the console reads."""
        return {
            "id": self.id,
            "reason": self.reason.value,
            "detail": self.detail,
            "requested_at": self.requested_at.isoformat(),
            "waiting_seconds": int((now - self.requested_at).total_seconds())
            if self.claimed_at is None
            else int((self.claimed_at - self.requested_at).total_seconds()),
            "agent": None if self.agent is None else self.agent.to_json(),
            "claimed_at": None if self.claimed_at is None else self.claimed_at.isoformat(),
        }


def open_handoff(session: Session, *, conversation_id: str) -> HandoffInfo | None:
    """Return the conversation's open handoff, or ``None`` when the bot has it."""
    row = _open_row(session, conversation_id)
    return None if row is None else _info(session, row)


def request_handoff(
    session: Session,
    *,
    conversation_id: str,
    reason: HandoffReason,
    now: dt.datetime,
    detail: str | None = None,
) -> tuple[HandoffInfo, bool]:
    """Put the conversation in the queue; return the handoff and whether it is new.

    Raises:
        NotFound: no such conversation.
    """
    conversation = _conversation(session, conversation_id, lock=True)
    existing = _open_row(session, conversation_id)
    if existing is not None:
        return _info(session, existing), False
    row = Handoff(conversation_id=conversation_id, reason=reason.value, detail=detail)
    row.requested_at = now
    session.add(row)
    conversation.handler = HUMAN
    conversation.updated_at = now
    session.flush()
    _announce(session, conversation, row)
    return _info(session, row), True


def claim(
    session: Session,
    *,
    conversation_id: str,
    agent: AgentInfo,
    now: dt.datetime,
    take_over: bool = False,
) -> tuple[HandoffInfo, bool, bool]:
    """Give the conversation to ``agent``.

    Returns:
        The handoff, whether the agent is new on it, and whether it was taken from the bot
        (so Rasa must be paused).

    Raises:
        NotFound: no such conversation.
        ClaimedByOther: another agent has it and ``take_over`` is not set.
    """
    conversation = _conversation(session, conversation_id, lock=True)
    row = _open_row(session, conversation_id)
    from_bot = row is None
    if row is None:
        row = Handoff(
            conversation_id=conversation_id,
            reason=HandoffReason.AGENT_TOOK_OVER.value,
            requested_at=now,
        )
        session.add(row)
        conversation.handler = HUMAN
    elif row.agent_id == agent.id:
        return _info(session, row), False, False
    elif row.agent_id is not None and not take_over:
        holder = session.get(Agent, row.agent_id)
        raise ClaimedByOther(holder.display_name if holder is not None else "another agent")
    row.agent_id = agent.id
    row.claimed_at = now
    conversation.updated_at = now
    session.flush()
    if from_bot:
        _announce(session, conversation, row)
    return _info(session, row), True, from_bot


def _announce(session: Session, conversation: Conversation, row: Handoff) -> None:
    """Write the ``handoff.requested`` webhook event in the handoff's own unit of work."""
    outbox.emit(
        session,
        type=outbox.HANDOFF_REQUESTED,
        now=row.requested_at,
        data={
            "conversation_id": conversation.id,
            "reason": row.reason,
            "detail": row.detail,
            "customer_id": conversation.customer_id,
            "channel": conversation.channel,
            "requested_at": row.requested_at.astimezone(dt.timezone.utc)
            .isoformat()
            .replace("+00:00", "Z"),
        },
    )


def end_handoff(
    session: Session,
    *,
    conversation_id: str,
    agent: AgentInfo,
    outcome: str,
    now: dt.datetime,
) -> HandoffInfo:
    """Give the conversation back to the bot; only the agent who has it may.

    Raises:
        NotFound: no such conversation.
        NotYours: the agent does not have the conversation.
    """
    conversation = _conversation(session, conversation_id, lock=True)
    row = _open_row(session, conversation_id)
    if row is None or row.agent_id != agent.id:
        raise NotYours()
    info = _info(session, row)
    row.ended_at = now
    row.outcome = outcome
    conversation.handler = BOT
    conversation.updated_at = now
    return info


def require_owner(session: Session, *, conversation_id: str, agent: AgentInfo) -> HandoffInfo:
    """Return the open handoff when ``agent`` has it.

    Raises:
        NotFound: no such conversation.
        NotYours: the agent does not have the conversation.
    """
    _conversation(session, conversation_id)
    row = _open_row(session, conversation_id)
    if row is None or row.agent_id != agent.id:
        raise NotYours()
    return _info(session, row)


def open_handoffs(session: Session) -> list[HandoffInfo]:
    """Return every open handoff, longest waiting first."""
    rows = session.execute(
        select(Handoff).where(Handoff.ended_at.is_(None)).order_by(Handoff.requested_at)
    ).scalars()
    return [_info(session, row) for row in rows]


def expected_wait_minutes(
    session: Session, *, now: dt.datetime, online: int, default_minutes: int
) -> int:
    """Estimate a new buyer's wait: recent claim times, the queue ahead, the agents online."""
    recent = session.execute(
        select(Handoff.requested_at, Handoff.claimed_at)
        .where(Handoff.claimed_at.is_not(None))
        .order_by(Handoff.claimed_at.desc())
        .limit(20)
    ).all()
    waits = [(claimed - requested).total_seconds() / 60 for requested, claimed in recent]
    per_buyer = sum(waits) / len(waits) if waits else float(default_minutes)
    waiting = session.execute(
        select(Handoff.id).where(Handoff.ended_at.is_(None), Handoff.agent_id.is_(None))
    ).all()
    ahead = max(len(waiting) - 1, 0)
    return max(1, math.ceil(per_buyer * (ahead + 1) / max(online, 1)))


def _conversation(session: Session, conversation_id: str, *, lock: bool = False) -> Conversation:
    query = select(Conversation).where(Conversation.id == conversation_id)
    if lock:
        query = query.with_for_update()
    row: Conversation | None = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound(conversation_id)
    return row


def _open_row(session: Session, conversation_id: str) -> Handoff | None:
    row: Handoff | None = session.execute(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.ended_at.is_(None))
        .order_by(Handoff.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return row


def _info(session: Session, row: Handoff) -> HandoffInfo:
    agent = None if row.agent_id is None else session.get(Agent, row.agent_id)
    return HandoffInfo(
        id=row.id,
        conversation_id=row.conversation_id,
        reason=HandoffReason(row.reason),
        detail=row.detail,
        requested_at=row.requested_at,
        agent=None if agent is None else auth.agent_info(agent),
        claimed_at=row.claimed_at,
    )
