"""The one way a message reaches a buyer: record it, then deliver it, then tell the observers.

Every sender goes through :meth:`Outbound.send`: the bot's replies (the router), an agent's reply
and the handoff notices (:mod:`bot.handoff`), status changes (the notifier), the gateway's own
notices and acknowledgements. The message is written to the transcript first (so it has an id,
and nothing said is lost if the process stops), in the same unit of work as whatever made it
(the buyer's message marked answered, the notifier's cursor moved); then its channel shows it
and the observers (the agent console) see it. A buyer's own message takes the same way out to
their other open views (:meth:`Outbound.taken_in`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import transcript
from bot.gateway.models import Channel, SenderKind
from bot.gateway.transcript import Button, ConversationInfo, Message

log = logging.getLogger(__name__)


class ChannelAdapter(Protocol):
    """What a channel does for the outbound path."""

    channel: Channel

    async def deliver(self, conversation: ConversationInfo, message: Message) -> None:
        """Show ``message`` to the buyer of ``conversation``."""

    async def echo(self, conversation: ConversationInfo, message: Message) -> None:
        """Show the buyer's own ``message`` in their other open views of the conversation."""

    async def typing(self, conversation: ConversationInfo, on: bool) -> None:
        """Show or hide that the bot is typing."""


Observer = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Outgoing:
    """A message to a buyer, before it is recorded."""

    conversation_id: str
    text: str | None
    sender: SenderKind = SenderKind.SYSTEM
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    custom: Any = None
    channel: Channel | None = None
    """Where to deliver it; ``None`` is the channel the buyer used last."""


#: Runs inside the unit of work that records the messages it returns.
Prepare = Callable[[Session], Sequence[Outgoing]]


class Outbound:
    """Records and delivers every message to buyers; knows the channels and the observers."""

    def __init__(self, *, sessions: sessionmaker, observers: Sequence[Observer] = ()) -> None:
        self._sessions = sessions
        self._observers = tuple(observers)
        self._channels: dict[Channel, ChannelAdapter] = {}

    def register(self, adapter: ChannelAdapter) -> None:
        """Deliver messages of ``adapter``'s channel through it."""
        self._channels[adapter.channel] = adapter

    def unregister(self, adapter: ChannelAdapter) -> None:
        """Stop delivering through ``adapter`` (its channel could not start)."""
        if self._channels.get(adapter.channel) is adapter:
            del self._channels[adapter.channel]

    async def send(
        self, prepare: Prepare, *, conversation: ConversationInfo | None = None
    ) -> list[Message]:
        """Record what ``prepare`` returns in its own unit of work, then deliver it in order.

        ``conversation`` is one the caller has just read (it is not read again). Messages to a
        conversation that does not exist are dropped.
        """

        def record(session: Session) -> list[tuple[ConversationInfo, Message]]:
            known: dict[str, ConversationInfo | None] = {}
            if conversation is not None:
                known[conversation.id] = conversation
            recorded = []
            for draft in prepare(session):
                if draft.conversation_id not in known:
                    known[draft.conversation_id] = transcript.get_conversation(
                        session, draft.conversation_id
                    )
                target = known[draft.conversation_id]
                if target is None:
                    continue
                message = transcript.record_outbound(
                    session,
                    conversation_id=target.id,
                    channel=draft.channel or target.last_channel,
                    sender=draft.sender,
                    text=draft.text,
                    buttons=draft.buttons,
                    image=draft.image,
                    custom=draft.custom,
                )
                recorded.append((target, message))
            return recorded

        recorded = await transcript.run_in_session(self._sessions, record)
        for target, message in recorded:
            await self._publish(target, message)
        return [message for _, message in recorded]

    async def say(
        self,
        conversation_id: str,
        text: str,
        *,
        sender: SenderKind = SenderKind.SYSTEM,
        buttons: Sequence[Button] = (),
    ) -> Message | None:
        """Record and deliver one message on the channel the buyer last used."""
        draft = Outgoing(conversation_id, text, sender=sender, buttons=tuple(buttons))
        sent = await self.send(lambda _: [draft])
        return sent[0] if sent else None

    async def taken_in(self, conversation: ConversationInfo, message: Message) -> None:
        """Show a buyer's message, just recorded, in their other views and to the observers."""
        await self._observe(message)
        adapter = self._channels.get(message.channel)
        if adapter is None:
            return
        try:
            await adapter.echo(conversation, message)
        except Exception:
            log.exception("echoing message %d to %s failed", message.id, conversation.id)

    async def typing(self, conversation: ConversationInfo, channel: Channel, on: bool) -> None:
        """Show or hide the typing indicator on ``channel``."""
        adapter = self._channels.get(channel)
        if adapter is None:
            return
        try:
            await adapter.typing(conversation, on)
        except Exception:
            log.warning("typing indicator failed for %s", conversation.id, exc_info=True)

    async def _publish(self, conversation: ConversationInfo, message: Message) -> None:
        await self._observe(message)
        adapter = self._channels.get(message.channel)
        if adapter is None:
            log.warning("no %s channel to deliver message %d", message.channel.value, message.id)
            return
        try:
            await adapter.deliver(conversation, message)
        except Exception:
            log.exception("delivering message %d to %s failed", message.id, conversation.id)

    async def _observe(self, message: Message) -> None:
        for observer in self._observers:
            try:
                await observer(message)
            except Exception:
                log.exception("observer of message %d failed", message.id)
