"""The router: records every inbound message, then hands it to Rasa (or leaves it to a human).

Each conversation has at most one worker draining its queue, so one buyer's messages reach Rasa in
the order they came and never overlap (Rasa's lock store is not relied upon). A message stays
``pending`` in the transcript until Rasa has answered it, so a stop or a Rasa outage loses nothing:
pending messages are queued again on start, and a message no Rasa server takes in is retried
with back-off. Each message goes to Rasa under its own name (:func:`turn_name`): one that Rasa
had answered when the gateway stopped, before the answer was recorded, is answered again with
what was said then, not made a second time (:mod:`bot.rasa_server`). So a message a Rasa
server took in and then failed on (a crash, an error, no answer in time: it may have made the
turn) is sent again, and so is one whose routing failed for another reason, a few times each,
before the buyer is asked to send it again.
While PostgreSQL restarts, recording a message, reading it and recording Rasa's answer wait for
it (up to :data:`~bot.gateway.transcript.ROUTE_RECONNECT_SECONDS`), so the answer Rasa gave is
recorded and delivered once, not lost and not asked for again.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import contract, language_choice, messages, tasks
from bot.contract import HandoffReason
from bot.gateway import conversations, transcript
from bot.gateway.conversations import ConversationInfo
from bot.gateway.models import MessageStatus, SenderKind
from bot.gateway.outbound import Outbound, Outgoing
from bot.gateway.rasa import BotReply, RasaClient, RasaNotReached, RasaOutcomeUnknown
from bot.gateway.transcript import (
    ROUTE_RECONNECT_SECONDS,
    Button,
    Inbound,
    Message,
)
from bot.gateway.watch import NoWatch, TurnWatch
from bot.language_choice import Choice
from bot.observability import logs
from bot.refunds.db import connection_lost

log = logging.getLogger(__name__)

#: Tries of a message whose routing failed (not Rasa being unreachable: that is waited out),
#: with back-off between them, before the buyer is told it may be unanswered.
ROUTE_ATTEMPTS = 4

#: Sends of a message that a Rasa server took in and then failed on (under its name, so a turn
#: Rasa had made is only answered again), before the buyer is told it may be unanswered.
FAILED_TURN_TRIES = 3

#: The payload of a "talk to a person" button: Rasa's intent to bring in a person.
HANDOFF_PAYLOAD = "/human_handoff"

#: Called with the conversation id and the reason when Rasa asks to bring in a person.
HandoffHook = Callable[[str, HandoffReason], Awaitable[object]]
#: Called with the channel, the outcome and the seconds of each turn (the metrics).
TurnHook = Callable[[str, str, float], object]


async def _no_handoff(_conversation_id: str, _reason: HandoffReason) -> None:
    log.warning("a handoff was asked for, but nobody takes handoffs in this gateway")


def _no_turn(_channel: str, _outcome: str, _seconds: float) -> None:
    return None


#: A message as the unit of work that recorded it left it: its conversation, and the watch's
#: mark when :meth:`TurnWatch.look` could give one.
Fresh = tuple[Message, ConversationInfo, "int | None"]


class Router:
    """Routes buyers' messages to Rasa in order; replies go out through the outbound path."""

    def __init__(
        self,
        *,
        sessions: sessionmaker,
        rasa: RasaClient,
        outbound: Outbound,
        on_handoff: HandoffHook = _no_handoff,
        slow_notice_seconds: float = 5.0,
        retry_max_seconds: float = 30.0,
        on_turn: TurnHook = _no_turn,
        watch: TurnWatch | None = None,
    ) -> None:
        self._sessions = sessions
        self._rasa = rasa
        self._outbound = outbound
        self._on_handoff = on_handoff
        self._slow_notice = slow_notice_seconds
        self._retry_max = retry_max_seconds
        self._on_turn = on_turn
        self._watch: TurnWatch = watch or NoWatch()
        self._queues: dict[str, collections.deque[int]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._fresh: dict[int, Fresh] = {}
        self._closed = False

    async def start(self) -> None:
        """Load the language detector's models, then queue what a previous run left unanswered.

        The models take seconds to load (once per process): the first buyer does not wait.
        """
        await asyncio.to_thread(language_choice.detector().warm)
        pending = await transcript.run_in_session(self._sessions, transcript.pending_inbound)
        for message in pending:
            self._enqueue(message.conversation_id, message.id)
        if pending:
            log.info("re-queued %d unanswered message(s)", len(pending))

    async def close(self) -> None:
        """Stop every worker; their messages stay pending for the next start."""
        self._closed = True
        await tasks.stop(*self._workers.values())

    async def idle(self) -> None:
        """Wait until every queued message has been handled (for tests and orderly stops)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def receive(self, inbound: Inbound, *, route: bool = True) -> Message | None:
        """Record a buyer's message and queue it for Rasa.

        Args:
            inbound: The message, normalised by its channel.
            route: ``False`` for messages the gateway handles itself (an uploaded file).

        Returns:
            The recorded message, or ``None`` when it is a duplicate of one already taken in.
        """
        choice: Choice | None = None

        def record(session: Session) -> Fresh:
            nonlocal choice
            conversation = conversations.ensure_conversation(
                session,
                conversation_id=inbound.conversation_id,
                channel=inbound.channel,
                language=language_choice.starting(inbound.language_hint),
            )
            conversation, choice = _choose_language(session, conversation, inbound, route)
            routed = route and not (choice is not None and choice.answered_by_gateway)
            status = MessageStatus.PENDING if routed else MessageStatus.DONE
            message = transcript.record_inbound(session, inbound=inbound, status=status)
            if not routed:
                return message, conversation, None
            looked = self._within(session, "look", self._watch.look, conversation, message)
            return message, conversation, looked

        try:
            recorded = await transcript.run_in_session(
                self._sessions, record, reconnect_seconds=ROUTE_RECONNECT_SECONDS
            )
        except IntegrityError:
            # Its client id was taken in already: a resend after a reconnect, another tab.
            return None
        message, conversation, _ = recorded
        await self._outbound.taken_in(conversation, message)
        if choice is not None and choice.answered_by_gateway:
            await self._answer_language(conversation, choice)
        elif route:
            self._enqueue(message.conversation_id, message.id, fresh=recorded)
        return message

    async def _answer_language(self, conversation: ConversationInfo, choice: Choice) -> None:
        """Confirm the language the buyer asked for, or say which languages we speak."""
        if choice.asked:
            await self._outbound.say(
                conversation.id, messages.text("language.switched", language=choice.language)
            )
            return
        # In English: the buyer's language is one we have no words in.
        person = Button(messages.text("language.talk_to_person"), HANDOFF_PAYLOAD)
        await self._outbound.say(
            conversation.id,
            messages.text("language.unsupported", languages=language_choice.spoken()),
            buttons=[person],
        )

    def _within(
        self, session: Session, what: str, look: Callable[..., int | None], *args: Any
    ) -> int | None:
        """Run one of the watch's looks inside a unit of work of the router's; ``None`` if it fails.

        It runs in a savepoint: a look that fails (logged) leaves the unit's own writes, the
        buyer's message or Rasa's answer, to be committed. A lost connection to the database is
        not the look's failure but the unit's: it goes up, and the unit runs again
        (:func:`transcript.run_in_session`), the look with it.
        """
        try:
            with session.begin_nested():
                return look(session, *args)
        except Exception as e:
            if connection_lost(e):
                raise
            log.exception("the turn watch's %s failed", what)
            return None

    def _enqueue(
        self,
        conversation_id: str,
        message_id: int,
        *,
        fresh: Fresh | None = None,
    ) -> None:
        """Queue a message for Rasa.

        ``fresh`` is the message and its conversation as the transaction that recorded it left
        them, with the watch's mark. They are used instead of reading again only when nothing
        is queued ahead: a message that waits may find the conversation changed (handed to a
        person by the answer to the one before it), or a survey asked.
        """
        if self._closed:
            return
        queue = self._queues.setdefault(conversation_id, collections.deque())
        queue.append(message_id)
        if conversation_id not in self._workers:
            if fresh is not None:
                self._fresh[message_id] = fresh
            self._workers[conversation_id] = asyncio.create_task(
                self._work(conversation_id), name=f"route-{conversation_id}"
            )

    async def _work(self, conversation_id: str) -> None:
        logs.CONVERSATION_ID.set(conversation_id)  # this task's log lines (its own context)
        queue = self._queues[conversation_id]
        try:
            while queue:
                await self._route(queue[0])
                queue.popleft()
        finally:
            # No await between the emptiness check above and here, so no message can slip in.
            for message_id in queue:
                self._fresh.pop(message_id, None)
            self._queues.pop(conversation_id, None)
            self._workers.pop(conversation_id, None)

    async def _route(self, message_id: int) -> None:
        """Route one message; when that fails, try again with back-off, then tell the buyer.

        A try that failed after Rasa made the turn is safe to repeat: Rasa knows the message by
        its name and answers with what it said (:func:`turn_name`). The conversation's later
        messages wait, so they still reach Rasa after this one.
        """
        delay = min(1.0, self._retry_max)
        for attempt in range(1, ROUTE_ATTEMPTS + 1):
            try:
                await self._process(message_id)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "routing message %d failed (try %d of %d)", message_id, attempt, ROUTE_ATTEMPTS
                )
            if attempt < ROUTE_ATTEMPTS:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

        await self._ask_to_resend(message_id)

    async def _ask_to_resend(self, message_id: int) -> None:
        """Mark a message answered that could not be, and ask the buyer to send it again.

        Not when another gateway or an earlier try answered it meanwhile. When it cannot be
        marked, it stays pending for the next start.
        """

        def give_up(session: Session) -> ConversationInfo | None:
            message = transcript.pending_message(session, message_id=message_id)
            if message is None or not transcript.mark_done(session, message_id=message_id):
                return None
            return conversations.get_conversation(session, message.conversation_id)

        try:
            conversation = await transcript.run_in_session(
                self._sessions, give_up, reconnect_seconds=ROUTE_RECONNECT_SECONDS
            )
            if conversation is not None:
                said = messages.text("maybe_unanswered", language=conversation.language)
                await self._outbound.say(conversation.id, said)
        except Exception:
            log.exception("giving up on message %d failed", message_id)

    async def _process(self, message_id: int) -> None:
        def load(session: Session) -> Fresh | None:
            # Not one answered since it was queued (on another gateway, or by an earlier try).
            message = transcript.pending_message(session, message_id=message_id)
            if message is None:
                return None
            conversation = conversations.get_conversation(session, message.conversation_id)
            return None if conversation is None else (message, conversation, None)

        loaded = self._fresh.pop(message_id, None)
        if loaded is None:
            loaded = await transcript.run_in_session(
                self._sessions, load, reconnect_seconds=ROUTE_RECONNECT_SECONDS
            )
        if loaded is None:
            return
        message, conversation, looked = loaded
        if conversation.handler != "bot":
            # A human has the conversation; the agent console shows it from the transcript.
            await transcript.run_in_session(
                self._sessions,
                lambda s: transcript.mark_done(s, message_id=message_id),
                reconnect_seconds=ROUTE_RECONNECT_SECONDS,
            )
            return
        mark = looked if looked is not None else await self._watch.before(conversation, message)
        if mark is None:
            return  # an answer to the gateway's own question (the survey)
        metadata: dict[str, Any] = {
            contract.CHANNEL: message.channel.value,
            contract.LANGUAGE: conversation.language,
        }
        if conversation.customer_id:
            metadata[contract.CUSTOMER_ID] = conversation.customer_id
        if message.client_address:
            metadata[contract.CLIENT_ADDRESS] = message.client_address
        text = message.payload if message.payload is not None else (message.text or "")
        await self._outbound.typing(conversation, message.channel, True)
        handoff: HandoffReason | None = None
        settled: int | None = None
        started, outcome = time.monotonic(), "failed"
        try:
            try:
                replies = await self._ask_rasa(conversation, text, metadata, turn_name(message))
            except RasaOutcomeUnknown as e:
                log.warning("Rasa failed on message %d each time it was sent: %s", message_id, e)
                await self._ask_to_resend(message_id)
                return
            asked = next((i for i, reply in enumerate(replies) if reply.handoff), None)
            if asked is not None:
                # What the bot would say after handing off (the form asking again) is not said:
                # a person answers next.
                handoff = replies[asked].handoff
                replies = replies[:asked]

            def answered(session: Session) -> list[Outgoing]:
                nonlocal settled
                if handoff is None:
                    settled = self._within(
                        session, "settle", self._watch.settle, conversation, mark
                    )
                if not transcript.mark_done(session, message_id=message_id):
                    # A first try of this unit of work was committed as the connection to the
                    # database broke (it is run again then): its replies are recorded.
                    return []
                return [
                    Outgoing(
                        conversation.id,
                        reply.text,
                        sender=SenderKind.BOT,
                        buttons=reply.buttons,
                        image=reply.image,
                        custom=reply.custom,
                        channel=message.channel,
                    )
                    for reply in replies
                ]

            await self._outbound.send(answered, conversation=conversation)
            outcome = "answered" if handoff is None else "handoff"
        finally:
            await self._outbound.typing(conversation, message.channel, False)
            self._on_turn(message.channel.value, outcome, time.monotonic() - started)
        if handoff is not None:
            await self._on_handoff(conversation.id, handoff)
        else:
            await self._watch.after(conversation, message, settled)

    async def _ask_rasa(
        self, conversation: ConversationInfo, text: str, metadata: dict[str, Any], name: str
    ) -> list[BotReply]:
        delay = min(1.0, self._retry_max)
        told_unavailable = told_slow = False
        failed = 0
        while True:
            request = asyncio.ensure_future(
                self._rasa.send(conversation.id, text, metadata, message_id=name)
            )
            try:
                done, _ = await asyncio.wait({request}, timeout=self._slow_notice)
                if not done and not told_slow:
                    told_slow = True
                    await self._outbound.say(
                        conversation.id, messages.text("one_moment", language=conversation.language)
                    )
                return await request
            except RasaOutcomeUnknown as e:
                # Safe to send again: a turn the server made is answered, not made again.
                failed += 1
                if failed >= FAILED_TURN_TRIES:
                    raise
                log.warning("Rasa failed on %s after taking it in: %s", conversation.id, e)
            except RasaNotReached as e:
                log.warning("Rasa unavailable for %s: %s", conversation.id, e)
                if not told_unavailable:
                    told_unavailable = True
                    await self._outbound.say(
                        conversation.id,
                        messages.text("unavailable", language=conversation.language),
                    )
            finally:
                if not request.done():
                    # A turn stopped mid-request (the gateway closing): the request ends here,
                    # so its connection is back in the pool before the HTTP session closes.
                    request.cancel()
                    await asyncio.wait({request})
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max)


def turn_name(message: Message) -> str:
    """Return the name Rasa knows the buyer's message by, the same each time it is sent.

    Its transcript id, and when it was recorded: a tracker that outlived its gateway's database
    (a demo database made again) never mistakes a new message for an old one of the same id.
    """
    return f"{message.id}-{message.created_at:%Y%m%d%H%M%S%f}"


def _choose_language(
    session: Session, conversation: ConversationInfo, inbound: Inbound, route: bool
) -> tuple[ConversationInfo, Choice | None]:
    """Return the conversation with the language the buyer's typed message leaves it in.

    Button presses and files say nothing about the language. While people have the
    conversation its language still follows the buyer, but they answer, not the gateway.
    """
    if not route or inbound.payload is not None:
        return conversation, None
    choice = language_choice.choose(
        conversation.language,
        conversation.language_source,
        text=inbound.text,
        position=lambda: transcript.buyer_texts(session, conversation_id=conversation.id) + 1,
    )
    if (choice.language, choice.source) != (conversation.language, conversation.language_source):
        conversations.set_language(
            session,
            conversation_id=conversation.id,
            language=choice.language,
            source=choice.source,
        )
        conversation = dataclasses.replace(
            conversation, language=choice.language, language_source=choice.source
        )
    if conversation.handler != "bot":
        return conversation, None
    return conversation, choice
