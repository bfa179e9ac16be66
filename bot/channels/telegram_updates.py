"""Telegram updates in the channel-neutral form: conversation ids, client ids, language hints."""

from __future__ import annotations

from telegram import Update

from bot.gateway.models import Channel
from bot.gateway.transcript import Inbound

CONVERSATION_PREFIX = "tg-"


def conversation_id_of(chat_id: int) -> str:
    """Return the conversation (Rasa sender) id of a Telegram chat."""
    return f"{CONVERSATION_PREFIX}{chat_id}"


def client_id_of(update: Update) -> str:
    """Return the transcript's client id of an update: a redelivered update is taken once."""
    return f"u{update.update_id}"


def hint_of(update: Update) -> str | None:
    """Return the language the buyer's Telegram app is set to, the conversation's first guess."""
    user = update.effective_user
    return None if user is None else user.language_code


def inbound_of(
    update: Update,
    chat_id: int,
    *,
    text: str,
    payload: str | None = None,
    attachments: tuple[dict[str, object], ...] = (),
) -> Inbound:
    """Return the channel-neutral form of an update of chat ``chat_id``."""
    return Inbound(
        conversation_id=conversation_id_of(chat_id),
        channel=Channel.TELEGRAM,
        text=text,
        payload=payload,
        client_id=client_id_of(update),
        attachments=attachments,
        language_hint=hint_of(update),
    )
