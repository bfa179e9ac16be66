"""Human handoff: the queue of conversations people own, and moving them between bot and people.

A conversation goes to people when Rasa says so (a ``{"handoff": {"reason": ...}}`` custom
message: the buyer asked, or the bot failed twice) or when an agent takes it from the console.
While people own it (``conversations.handler == "human"``) the router records the buyer's messages
without sending them to Rasa, and Rasa's tracker is paused. Handing back resumes the tracker, sets
the slots the agent learned, and runs the active form again with its validation skipped (a
``loop_interrupted`` event), so it asks the question it was on; an ``action_listen`` event after
it lets the buyer's next answer be validated as usual (checked against Rasa 3.6).

The table functions take a ``session`` (keyword-only) and never commit; :class:`Handoffs` owns
the units of work, Rasa calls and buyer notices.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import zoneinfo
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.console import auth
from bot.console.auth import AgentInfo
from bot.console.models import Agent, Handoff, HandoffReason
from bot.gateway import transcript
from bot.gateway.models import Conversation, SenderKind
from bot.gateway.rasa import BotReply, RasaClient, RasaUnavailable
from bot.gateway.router import Router
from bot.gateway.transcript import Message
from bot.settings import WEEKDAYS, ConsoleSettings, parse_hours

log = logging.getLogger(__name__)

HUMAN = "human"
BOT = "bot"
#: Slots an agent may fill on hand-back (what the refund form asks).
AGENT_SLOTS = frozenset({"order_id", "refund_method", "refund_amount", "refund_reason"})


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


# --- the table ---------------------------------------------------------------------------------


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
    return _info(session, row), True, from_bot


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


def in_support_hours(settings: ConsoleSettings, now: dt.datetime) -> bool:
    """Return whether people answer at ``now`` (always, when no hours are set)."""
    local = now.astimezone(zoneinfo.ZoneInfo(settings.support_timezone))
    if local.weekday() not in settings.support_days:
        return False
    if not settings.support_hours:
        return True
    opens, closes = parse_hours(settings.support_hours)
    return opens <= local.time() < closes


def describe_hours(settings: ConsoleSettings) -> str:
    """Return the support hours in words (``Mon–Fri 09:00–17:00 UTC``)."""
    days = settings.support_days
    names = [WEEKDAYS[d].title() for d in days]
    if len(days) == 7:
        when = "every day"
    elif list(days) == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        when = f"{names[0]}–{names[-1]}"
    else:
        when = ", ".join(names)
    hours = settings.support_hours.replace("-", "–") if settings.support_hours else "all day"
    return f"{when} {hours} ({settings.support_timezone})"


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


# --- the service -------------------------------------------------------------------------------


def reason_of(custom: Any) -> HandoffReason | None:
    """Return the handoff reason in a Rasa custom message, or ``None`` when it asks none."""
    if not isinstance(custom, Mapping) or not isinstance(custom.get("handoff"), Mapping):
        return None
    raw = custom["handoff"].get("reason")
    try:
        return HandoffReason(raw)
    except ValueError:
        return HandoffReason.BUYER_ASKED


Publish = Callable[[dict[str, Any]], Awaitable[None]]


async def _no_publish(_: dict[str, Any]) -> None:
    return None


class Handoffs:
    """Moves conversations between the bot and people, telling the buyer and the consoles."""

    def __init__(
        self,
        *,
        sessions: sessionmaker,
        rasa: RasaClient,
        router: Router,
        settings: ConsoleSettings,
        clock: Callable[[], dt.datetime] = transcript.utcnow,
    ) -> None:
        self._sessions = sessions
        self._rasa = rasa
        self._router = router
        self._settings = settings
        self._clock = clock
        self.publish: Publish = _no_publish

    async def request(
        self,
        conversation_id: str,
        reason: HandoffReason,
        detail: str | None = None,
        *,
        notify: bool = True,
    ) -> HandoffInfo:
        """Queue the conversation for people, pause Rasa, and tell the buyer what to expect.

        ``notify=False`` queues silently (the buyer has just been asked a question to answer).
        """
        now = self._clock()
        settings = self._settings

        def queue(session: Session) -> tuple[HandoffInfo, bool, int, int]:
            info, created = request_handoff(
                session, conversation_id=conversation_id, reason=reason, now=now, detail=detail
            )
            online = auth.online_agents(
                session, now=now, within_seconds=settings.agent_online_seconds
            )
            wait = expected_wait_minutes(
                session, now=now, online=online, default_minutes=settings.default_wait_minutes
            )
            return info, created, online, wait

        info, created, online, wait = await transcript.run_in_session(self._sessions, queue)
        if not created:
            return info
        await self._pause(conversation_id)
        await self.publish({"type": "queue"})
        if not notify:
            return info
        if in_support_hours(settings, now) and online > 0:
            minutes = "1 minute" if wait == 1 else f"{wait} minutes"
            notice = (
                "I'm passing you to a person from our support team. Expected wait: about "
                f"{minutes}. You can keep writing here in the meantime."
            )
        elif in_support_hours(settings, now):
            notice = (
                "I've asked for a person from our support team, but nobody is online right now. "
                "Leave your message here: it stays in the queue and they will answer it as "
                "soon as they're back."
            )
        else:
            notice = (
                "Our support team is not available right now (support hours: "
                f"{describe_hours(settings)}). Leave your message here: it stays in the queue "
                "and a person will answer it as soon as they're back."
            )
        await self._router.say(conversation_id, notice)
        return info

    async def claim(
        self, conversation_id: str, agent: AgentInfo, *, take_over: bool = False
    ) -> HandoffInfo:
        """Give the conversation to ``agent`` and tell the buyer who joined.

        Raises:
            NotFound, ClaimedByOther: see :func:`claim`.
        """
        now = self._clock()
        info, joined, from_bot = await transcript.run_in_session(
            self._sessions,
            lambda s: claim(
                s, conversation_id=conversation_id, agent=agent, now=now, take_over=take_over
            ),
        )
        if from_bot:
            await self._pause(conversation_id)
        if joined:
            await self._router.say(
                conversation_id, f"{agent.display_name} from support joined the conversation."
            )
            await self.publish({"type": "queue"})
        return info

    async def reply(self, conversation_id: str, agent: AgentInfo, text: str) -> Message:
        """Send the agent's reply to the buyer's channel.

        Raises:
            NotFound, NotYours: the agent must have claimed the conversation.
        """

        def record(session: Session) -> tuple[transcript.ConversationInfo, Message]:
            require_owner(session, conversation_id=conversation_id, agent=agent)
            conversation = transcript.get_conversation(session, conversation_id)
            assert conversation is not None  # require_owner found it
            message = transcript.record_outbound(
                session,
                conversation_id=conversation_id,
                channel=conversation.last_channel,
                sender=SenderKind.AGENT,
                text=text,
                custom={"agent": agent.display_name},
            )
            return conversation, message

        conversation, message = await transcript.run_in_session(self._sessions, record)
        await self._router.deliver(conversation, message)
        return message

    async def hand_back(
        self,
        conversation_id: str,
        agent: AgentInfo,
        *,
        slots: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> list[Message]:
        """Return the conversation to the bot; unless closing, the bot's form carries on.

        Returns:
            What the bot said on taking over again.

        Raises:
            NotFound, NotYours: only the agent who has the conversation may hand it back.
        """
        now = self._clock()
        await transcript.run_in_session(
            self._sessions,
            lambda s: end_handoff(
                s,
                conversation_id=conversation_id,
                agent=agent,
                outcome="closed" if close else "handed_back",
                now=now,
            ),
        )
        follow = (
            "If you need anything else, just write here."
            if close
            else "The assistant will continue from here."
        )
        await self._router.say(
            conversation_id, f"{agent.display_name} from support left the conversation. {follow}"
        )
        await self.publish({"type": "queue"})
        events: list[dict[str, Any]] = [{"event": "resume"}]
        events += [
            {"event": "slot", "name": name, "value": value}
            for name, value in (slots or {}).items()
            if name in AGENT_SLOTS and value
        ]
        try:
            if close:
                await self._rasa.append_events(conversation_id, events)
                return []
            tracker = await self._rasa.tracker(conversation_id)
            loop = (tracker.get("active_loop") or {}).get("name")
            if not loop:
                await self._rasa.append_events(conversation_id, events)
                return []
            # Skip the form's validation of the last buyer message (the handoff request):
            # it asks again for the slot it was on, or the next one the agent's slots left.
            events.append({"event": "loop_interrupted", "is_interrupted": True})
            await self._rasa.append_events(conversation_id, events)
            replies = await self._rasa.execute(conversation_id, loop)
            await self._rasa.append_events(
                conversation_id, [{"event": "action", "name": "action_listen"}]
            )
        except RasaUnavailable:
            log.warning("Rasa could not resume %s; it answers the next message", conversation_id)
            return []
        return await self._bot_says(conversation_id, replies)

    async def _bot_says(self, conversation_id: str, replies: list[BotReply]) -> list[Message]:
        def record(session: Session) -> tuple[transcript.ConversationInfo, list[Message]] | None:
            conversation = transcript.get_conversation(session, conversation_id)
            if conversation is None:
                return None
            return conversation, [
                transcript.record_outbound(
                    session,
                    conversation_id=conversation_id,
                    channel=conversation.last_channel,
                    sender=SenderKind.BOT,
                    text=reply.text,
                    buttons=reply.buttons,
                    image=reply.image,
                )
                for reply in replies
                if reason_of(reply.custom) is None
            ]

        recorded = await transcript.run_in_session(self._sessions, record)
        if recorded is None:
            return []
        conversation, messages = recorded
        for message in messages:
            await self._router.deliver(conversation, message)
        return messages

    async def _pause(self, conversation_id: str) -> None:
        try:
            await self._rasa.append_events(conversation_id, [{"event": "pause"}])
        except RasaUnavailable:
            # The router keeps the buyer's messages from Rasa anyway; the pause only keeps
            # Rasa's own view consistent.
            log.warning("could not pause Rasa's tracker of %s", conversation_id, exc_info=True)
