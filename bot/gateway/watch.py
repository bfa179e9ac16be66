"""The router's turn watch: what sees each buyer message before Rasa, and the turn after it."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from bot.gateway.conversations import ConversationInfo
from bot.gateway.transcript import Message


class TurnWatch(Protocol):
    """Sees each buyer message before it goes to Rasa, and the turn after Rasa answered it.

    The satisfaction survey (:mod:`bot.survey`) is one: it takes the answers to its question
    before Rasa would, and asks its question after a turn that filed an application. Its
    looks run inside the router's own units of work where they can (:meth:`look`,
    :meth:`settle`), so that a turn costs no unit of work of its own.
    """

    def look(
        self, session: Session, conversation: ConversationInfo, message: Message
    ) -> int | None:
        """In the unit of work that records ``message``: its mark when it answers nothing here.

        ``None`` leaves it to :meth:`before`, which then runs before the message goes to Rasa.
        """

    async def before(self, conversation: ConversationInfo, message: Message) -> int | None:
        """Return ``None`` when the gateway answered ``message`` itself (it is marked done).

        Otherwise return a mark, for :meth:`settle`.
        """

    def settle(self, session: Session, conversation: ConversationInfo, mark: int) -> int | None:
        """In the unit of work that records Rasa's answer: what :meth:`after` is given."""

    async def after(
        self, conversation: ConversationInfo, message: Message, settled: int | None
    ) -> None:
        """See the turn Rasa has just answered (not called when it handed over to people)."""


class NoWatch:
    """Watches nothing: every message goes to Rasa, and nothing is seen after."""

    def look(
        self, session: Session, conversation: ConversationInfo, message: Message
    ) -> int | None:
        """Mark every message 0: it goes to Rasa."""
        return 0

    async def before(self, conversation: ConversationInfo, message: Message) -> int | None:
        """Mark every message 0: it goes to Rasa."""
        return 0

    def settle(self, session: Session, conversation: ConversationInfo, mark: int) -> int | None:
        """Settle nothing."""
        return None

    async def after(
        self, conversation: ConversationInfo, message: Message, settled: int | None
    ) -> None:
        """See nothing."""
