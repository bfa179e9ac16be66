"""Moving conversations between the bot and people, telling the buyer and the consoles.

A conversation goes to people when Rasa says so (the actions' handoff request: the buyer asked,
or the bot failed twice), when a merchant asks the buyer a question, or when an agent takes it
from the console. While people own it the router records the buyer's messages without sending
them to Rasa, and Rasa's tracker is paused. Handing back resumes the tracker, sets the slots the
agent learned, and runs the active form again with its validation skipped (a
``loop_interrupted`` event), so it asks the question it was on; an ``action_listen`` event after
it lets the buyer's next answer be validated as usual (checked against Rasa 3.6).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from bot import contract, messages
from bot.clock import utcnow
from bot.console import auth
from bot.console.auth import AgentInfo
from bot.contract import HandoffReason
from bot.gateway import conversations, transcript
from bot.gateway.models import SenderKind
from bot.gateway.outbound import Outbound, Outgoing
from bot.gateway.rasa import BotReply, RasaClient, RasaUnavailable
from bot.gateway.transcript import Message
from bot.handoff import queue
from bot.handoff.hours import describe_hours, in_support_hours
from bot.handoff.queue import HandoffInfo
from bot.languages import DEFAULT
from bot.settings import ConsoleSettings

log = logging.getLogger(__name__)

#: Tells the open console pages what changed (a JSON frame).
Publish = Callable[[dict[str, Any]], Awaitable[None]]


#: Called with the reason and the seconds waited when an agent takes a waiting buyer (metrics).
ClaimHook = Callable[[str, float], object]

#: Called with the conversation and the agent's id after an agent closed it (the survey).
CloseHook = Callable[[str, int], Awaitable[object]]


async def _no_publish(_: dict[str, Any]) -> None:
    return None


def _no_claim(_reason: str, _waited_seconds: float) -> None:
    return None


async def _no_close(_conversation_id: str, _agent_id: int) -> None:
    return None


class Handoffs:
    """Moves conversations between the bot and people, telling the buyer and the consoles."""

    def __init__(
        self,
        *,
        sessions: sessionmaker,
        rasa: RasaClient,
        outbound: Outbound,
        settings: ConsoleSettings,
        publish: Publish = _no_publish,
        clock: Callable[[], dt.datetime] = utcnow,
        on_claim: ClaimHook = _no_claim,
        on_close: CloseHook = _no_close,
    ) -> None:
        self._sessions = sessions
        self._rasa = rasa
        self._outbound = outbound
        self._settings = settings
        self._publish = publish
        self._clock = clock
        self._on_claim = on_claim
        self._on_close = on_close

    async def request(
        self,
        conversation_id: str,
        reason: HandoffReason,
        detail: str | None = None,
        *,
        notify: bool = True,
    ) -> HandoffInfo:
        """Queue the conversation for people, tell the buyer what to expect, and pause Rasa.

        ``notify=False`` queues silently (the buyer has just been asked a question to answer).
        The notice is recorded in the unit of work that queues the conversation, so no agent
        can take it, and say they joined, before the buyer has been told a person comes.
        """
        now = self._clock()
        settings = self._settings
        queued: list[tuple[HandoffInfo, bool]] = []

        def enqueue(session: Session) -> list[Outgoing]:
            info, created = queue.request_handoff(
                session, conversation_id=conversation_id, reason=reason, now=now, detail=detail
            )
            queued[:] = [(info, created)]  # a unit of work run again replaces its first try
            if not created or not notify:
                return []
            online = auth.online_agents(
                session, now=now, within_seconds=settings.agent_online_seconds
            )
            wait = queue.expected_wait_minutes(
                session, now=now, online=online, default_minutes=settings.default_wait_minutes
            )
            conversation = conversations.get_conversation(session, conversation_id)
            language = DEFAULT if conversation is None else conversation.language
            return [Outgoing(conversation_id, self._queued_notice(now, online, wait, language))]

        await self._outbound.send(enqueue)
        [(info, created)] = queued
        if created:
            await self._pause(conversation_id)
            await self._publish({"type": "queue"})
        return info

    def _queued_notice(self, now: dt.datetime, online: int, wait: int, language: str) -> str:
        """Return what a buyer just queued for people is told: the wait, or when people work."""
        settings = self._settings
        if in_support_hours(settings, now) and online > 0:
            minutes = (
                messages.text("handoff.minutes.one", language=language)
                if wait == 1
                else messages.text("handoff.minutes.many", minutes=wait, language=language)
            )
            return messages.text("handoff.queued", wait=minutes, language=language)
        if in_support_hours(settings, now):
            return messages.text("handoff.nobody_online", language=language)
        hours = describe_hours(settings)
        return messages.text("handoff.closed_hours", hours=hours, language=language)

    async def claim(
        self, conversation_id: str, agent: AgentInfo, *, take_over: bool = False
    ) -> HandoffInfo:
        """Give the conversation to ``agent`` and tell the buyer who joined.

        Raises:
            NotFound, ClaimedByOther: see :func:`bot.handoff.queue.claim`.
        """
        now = self._clock()
        info, joined, from_bot = await transcript.run_in_session(
            self._sessions,
            lambda s: queue.claim(
                s, conversation_id=conversation_id, agent=agent, now=now, take_over=take_over
            ),
        )
        if from_bot:
            await self._pause(conversation_id)
        if joined and not from_bot and not take_over:
            # A take-over moves a buyer between agents: their wait ended at the first claim.
            self._on_claim(info.reason.value, (now - info.requested_at).total_seconds())
        if joined:
            language = await self._language(conversation_id)
            joined_notice = messages.text(
                "handoff.agent_joined", agent=agent.display_name, language=language
            )
            await self._outbound.say(conversation_id, joined_notice)
            await self._publish({"type": "queue"})
        return info

    async def reply(self, conversation_id: str, agent: AgentInfo, text: str) -> Message:
        """Send the agent's reply to the buyer's channel.

        Raises:
            NotFound, NotYours: the agent must have claimed the conversation.
        """

        def owned(session: Session) -> list[Outgoing]:
            queue.require_owner(session, conversation_id=conversation_id, agent=agent)
            return [
                Outgoing(
                    conversation_id,
                    text,
                    sender=SenderKind.AGENT,
                    custom={"agent": agent.display_name},
                )
            ]

        (message,) = await self._outbound.send(owned)
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
            lambda s: queue.end_handoff(
                s,
                conversation_id=conversation_id,
                agent=agent,
                outcome="closed" if close else "handed_back",
                now=now,
            ),
        )
        name, language = agent.display_name, await self._language(conversation_id)
        notice = (
            messages.text("handoff.agent_closed", agent=name, language=language)
            if close
            else messages.text("handoff.agent_left", agent=name, language=language)
        )
        await self._outbound.say(conversation_id, notice)
        await self._publish({"type": "queue"})
        events: list[dict[str, Any]] = [{"event": "resume"}]
        events += [
            {"event": "slot", "name": name, "value": value}
            for name, value in (slots or {}).items()
            if name in contract.AGENT_SLOTS and value
        ]
        listen = [{"event": "action", "name": "action_listen"}]
        try:
            await self._rasa.append_events(conversation_id, events)
            if close:
                # Closing ends any open form: the buyer's next message starts afresh.
                await self._rasa.execute(conversation_id, contract.CLOSED_ACTION)
                await self._rasa.append_events(conversation_id, listen)
                # With the form ended and the bot in charge again: the buyer may rate the help.
                await self._on_close(conversation_id, agent.id)
                return []
            # The agent's values go through the form's validators; with no form open the bot
            # says what it can do next.
            replies = await self._rasa.execute(conversation_id, contract.HAND_BACK_ACTION)
            tracker = await self._rasa.tracker(conversation_id)
            loop = (tracker.get("active_loop") or {}).get("name")
            if loop:
                # Skip the form's validation of the last buyer message (the handoff request):
                # it asks for the slot it was on, or the next one the agent's values left.
                await self._rasa.append_events(
                    conversation_id, [{"event": "loop_interrupted", "is_interrupted": True}]
                )
                replies += await self._rasa.execute(conversation_id, loop)
            await self._rasa.append_events(conversation_id, listen)
        except RasaUnavailable:
            log.warning("Rasa could not resume %s; it answers the next message", conversation_id)
            return []
        return await self._bot_says(conversation_id, replies)

    async def _bot_says(self, conversation_id: str, replies: list[BotReply]) -> list[Message]:
        drafts = [
            Outgoing(
                conversation_id,
                reply.text,
                sender=SenderKind.BOT,
                buttons=reply.buttons,
                image=reply.image,
            )
            for reply in replies
            if reply.handoff is None
        ]
        return await self._outbound.send(lambda _: drafts)

    async def _language(self, conversation_id: str) -> str:
        """Return the language the conversation's buyer is answered in."""
        found = await transcript.run_in_session(
            self._sessions, lambda s: conversations.get_conversation(s, conversation_id)
        )
        return DEFAULT if found is None else found.language

    async def _pause(self, conversation_id: str) -> None:
        try:
            await self._rasa.append_events(conversation_id, [{"event": "pause"}])
        except RasaUnavailable:
            # The router keeps the buyer's messages from Rasa anyway; the pause only keeps
            # Rasa's own view consistent.
            log.warning("could not pause Rasa's tracker of %s", conversation_id, exc_info=True)


#: Where the gateway app keeps its :class:`Handoffs`.
HANDOFFS = web.AppKey("handoffs", Handoffs)
