"""The one way a message reaches a buyer: record it, then deliver it, then tell the observers.

Every sender goes through :meth:`Outbound.send`: the bot's replies (the router), an agent's reply
and the handoff notices (:mod:`bot.handoff`), status changes (the notifier), the gateway's own
notices and acknowledgements. The message is written to the transcript first (so it has an id,
and nothing said is lost if the process stops), in the same unit of work as whatever made it
(the buyer's message marked answered, the notifier's cursor moved); then its channel shows it
and the observers (the agent console) see it. A buyer's own message takes the same way out to
their other open views (:meth:`Outbound.taken_in`).

With several gateways (:mod:`bot.gateway.fanout`), the gateway that recorded a message delivers
it and tells its observers, then shares its ids; every other gateway shows it on the sockets it
holds (:meth:`Outbound.shown_elsewhere`): web-chat tabs and the viewers (console pages). A
channel that is an HTTP call (Telegram) is delivered to once, by the gateway that recorded it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import conversations, transcript
from bot.gateway.conversations import ConversationInfo
from bot.gateway.models import Channel, SenderKind
from bot.gateway.transcript import Button, Message

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

#: Sends a small event (ids, no content) to the other gateways.
Share = Callable[[dict[str, Any]], Awaitable[None]]


async def _no_share(_: dict[str, Any]) -> None:
    return None


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

    def __init__(
        self,
        *,
        sessions: sessionmaker,
        observers: Sequence[Observer] = (),
        viewers: Sequence[Observer] = (),
        share: Share = _no_share,
    ) -> None:
        """Record with ``sessions``; tell ``observers`` here and ``viewers`` on every gateway.

        ``share`` reaches the other gateways (a no-op with one gateway).
        """
        self._sessions = sessions
        self._observers = tuple(viewers) + tuple(observers)
        self._viewers = tuple(viewers)
        self._share = share
        self._channels: dict[Channel, ChannelAdapter] = {}
        self._everywhere: set[Channel] = set()

    def register(self, adapter: ChannelAdapter, *, every_gateway: bool = False) -> None:
        """Deliver messages of ``adapter``'s channel through it.

        ``every_gateway``: the buyer's connections may be held by any gateway (web-chat
        sockets), so a message recorded on another gateway is delivered through it too.
        """
        self._channels[adapter.channel] = adapter
        if every_gateway:
            self._everywhere.add(adapter.channel)
        else:
            self._everywhere.discard(adapter.channel)

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
                    known[draft.conversation_id] = conversations.get_conversation(
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

        # In the background of a buyer's turn (Rasa's answer) or the notifier's pass: worth
        # waiting for the database through a restart rather than losing what is said.
        recorded = await transcript.run_in_session(
            self._sessions, record, reconnect_seconds=transcript.ROUTE_RECONNECT_SECONDS
        )
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
        await self._echo(conversation, message)
        await self._share(_event("taken_in", message))

    async def shown_elsewhere(self, event: dict[str, Any]) -> None:
        """Show on this gateway's sockets what another gateway sent or took in (its ``share``)."""
        kind, conversation_id = event.get("kind"), event.get("conversation_id")
        if not isinstance(conversation_id, str):
            return
        if kind == "typing":
            adapter = self._adapter_everywhere(event.get("channel"))
            if adapter is not None:
                conversation = await transcript.run_in_session(
                    self._sessions, lambda s: conversations.get_conversation(s, conversation_id)
                )
                if conversation is not None:
                    await self._typing(adapter, conversation, event.get("on") is True)
            return
        message_id = event.get("message_id")
        if kind not in ("sent", "taken_in") or not isinstance(message_id, int):
            return

        def read(session: Session) -> tuple[ConversationInfo | None, Message | None]:
            found = transcript.get_message(session, message_id=message_id)
            return conversations.get_conversation(session, conversation_id), found

        conversation, message = await transcript.run_in_session(self._sessions, read)
        # Another deployment's event on the same Redis names a message of another database.
        if conversation is None or message is None or message.conversation_id != conversation.id:
            return
        await self._observe(message, self._viewers)
        if self._adapter_everywhere(message.channel.value) is None:
            return
        if kind == "sent":
            await self._deliver(conversation, message)
        else:
            await self._echo(conversation, message)

    async def typing(self, conversation: ConversationInfo, channel: Channel, on: bool) -> None:
        """Show or hide the typing indicator on ``channel``."""
        adapter = self._channels.get(channel)
        if adapter is None:
            return
        await self._typing(adapter, conversation, on)
        if channel in self._everywhere:
            event = {"kind": "typing", "conversation_id": conversation.id, "on": on}
            await self._share({**event, "channel": channel.value})

    async def _typing(
        self, adapter: ChannelAdapter, conversation: ConversationInfo, on: bool
    ) -> None:
        try:
            await adapter.typing(conversation, on)
        except Exception:
            log.warning("typing indicator failed for %s", conversation.id, exc_info=True)

    async def _publish(self, conversation: ConversationInfo, message: Message) -> None:
        await self._observe(message)
        await self._deliver(conversation, message)
        await self._share(_event("sent", message))

    async def _deliver(self, conversation: ConversationInfo, message: Message) -> None:
        adapter = self._channels.get(message.channel)
        if adapter is None:
            log.warning("no %s channel to deliver message %d", message.channel.value, message.id)
            return
        try:
            await adapter.deliver(conversation, message)
        except Exception:
            log.exception("delivering message %d to %s failed", message.id, conversation.id)

    async def _echo(self, conversation: ConversationInfo, message: Message) -> None:
        adapter = self._channels.get(message.channel)
        if adapter is None:
            return
        try:
            await adapter.echo(conversation, message)
        except Exception:
            log.exception("echoing message %d to %s failed", message.id, conversation.id)

    def _adapter_everywhere(self, channel: object) -> ChannelAdapter | None:
        known = {c.value: c for c in self._everywhere}
        return self._channels.get(known[channel]) if channel in known else None

    async def _observe(self, message: Message, observers: Sequence[Observer] | None = None) -> None:
        for observer in self._observers if observers is None else observers:
            try:
                await observer(message)
            except Exception:
                log.exception("observer of message %d failed", message.id)


def _event(kind: str, message: Message) -> dict[str, Any]:
    return {"kind": kind, "conversation_id": message.conversation_id, "message_id": message.id}
