"""Telegram through python-telegram-bot: webhook inside the gateway, or long polling.

Every update is taken once (its ``update_id`` is recorded first), turned into the channel-neutral
:class:`~bot.gateway.transcript.Inbound` and handed to the router. Rasa buttons become inline
keyboards whose callback data names the transcript message and the button's index, so a payload
the buyer did not get from the bot can never reach Rasa.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.helpers import escape_markdown

from bot import language_choice
from bot.channels import polling
from bot.channels.splitting import split_text
from bot.channels.telegram_updates import (
    CONVERSATION_PREFIX,
    client_id_of,
    conversation_id_of,
    hint_of,
    inbound_of,
)
from bot.clock import utcnow
from bot.gateway import conversations, evidence, identity, inputs, transcript
from bot.gateway.conversations import ConversationInfo
from bot.gateway.models import Channel, TelegramUpdate
from bot.gateway.outbound import Outbound
from bot.gateway.ratelimit import RateLimits
from bot.gateway.router import Router
from bot.gateway.transcript import Inbound, Message
from bot.messages import text
from bot.refunds.models import Customer
from bot.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The payload Rasa gets when a chat starts (the contract's greeting intent).
START_PAYLOAD = "/greet"
#: Callback data of an inline button: ``b:<transcript message id>:<button index>``.
BUTTON_DATA = r"^b:(\d{1,18}):(\d{1,3})$"
TYPING_REFRESH_SECONDS = 4.5
#: Telegram keeps an update it could not deliver for 24 hours: an update id older than this
#: cannot come again, so the record that it was taken in is forgotten.
KEEP_UPDATE_IDS = dt.timedelta(days=2)
#: How often (at most) taking in an update also forgets the old ones.
FORGET_EVERY_SECONDS = 3600.0
MAX_UPDATE_BYTES = 1024 * 1024  # the largest webhook body taken: an update is a few KB


def webhook_secret(settings: Settings, shop_secret: str) -> str:
    """Return the secret Telegram must echo in every webhook call."""
    return (
        settings.gateway.telegram_webhook_secret
        or identity.derived_secret(shop_secret, "telegram-webhook")[:64]
    )


def forget_update_ids(session: Session, *, before: dt.datetime) -> int:
    """Delete the records of updates taken in before ``before``; return how many there were."""
    result = session.execute(
        delete(TelegramUpdate)
        .where(TelegramUpdate.received_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


class TelegramChannel:
    """Channel adapter of Telegram, holding the python-telegram-bot ``Application``."""

    channel = Channel.TELEGRAM

    def __init__(
        self,
        *,
        settings: Settings,
        shop_secret: str,
        router: Router,
        outbound: Outbound,
        sessions: sessionmaker,
        limits: RateLimits,
    ) -> None:
        gateway = settings.gateway
        api = gateway.telegram_api_url
        builder = (
            Application.builder()
            .token(gateway.telegram_token)
            .base_url(f"{api}/bot")
            .base_file_url(f"{api}/file/bot")
        )
        if gateway.telegram_mode == "webhook":
            builder = builder.updater(None)
        self.application = builder.build()
        self._settings = settings
        self._shop_secret = shop_secret
        self._router = router
        self._outbound = outbound
        self._sessions = sessions
        self._limits = limits
        self.secret = webhook_secret(settings, shop_secret)
        self.failed = False
        self._typing: dict[int, asyncio.Task[None]] = {}
        self._forget_due = 0.0  # the first update taken in forgets the old ones
        private = filters.ChatType.PRIVATE
        new = filters.UpdateType.MESSAGE
        app = self.application
        app.add_handler(TypeHandler(Update, self._once), group=-1)
        app.add_handler(CommandHandler("start", self._start, filters=private & new))
        app.add_handler(MessageHandler(private & new & filters.TEXT, self._text))
        app.add_handler(
            MessageHandler(private & new & (filters.PHOTO | filters.Document.ALL), self._file)
        )
        app.add_handler(CallbackQueryHandler(self._button, pattern=BUTTON_DATA))
        app.add_handler(CallbackQueryHandler(self._not_a_button))
        app.add_handler(MessageHandler(filters.UpdateType.EDITED, self._edited))
        app.add_error_handler(self._error)

    async def run(self) -> AsyncIterator[None]:
        """Run the bot (webhook registration or polling) for the app's lifetime.

        When the Bot API cannot be reached or refuses the token, the error is logged and the
        gateway runs on without Telegram (``/health`` reports it) rather than not at all.
        """
        app, started = self.application, False
        try:
            async with app:
                try:
                    await self._register_webhook()
                    await app.start()
                    started = True
                    async with polling.turn_of(app.updater, self._settings):
                        yield
                finally:
                    await self._stop()
        except TelegramError:
            if started:
                raise
            log.exception("Telegram could not be started; running without it")
            self.failed = True
            yield

    async def _register_webhook(self) -> None:
        gateway = self._settings.gateway
        if gateway.telegram_mode != "webhook":
            return
        if not gateway.telegram_webhook_url:
            log.info(
                "Telegram webhook mode without REFUNDBOT_TELEGRAM_WEBHOOK_URL: register %s "
                "yourself, or set REFUNDBOT_TELEGRAM_MODE=polling",
                WEBHOOK_PATH,
            )
            return
        await self.application.bot.set_webhook(
            url=gateway.telegram_webhook_url.rstrip("/") + WEBHOOK_PATH,
            secret_token=self.secret,
            allowed_updates=Update.ALL_TYPES,
        )

    async def _stop(self) -> None:
        for task in self._typing.values():
            task.cancel()
        self._typing.clear()
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()

    @property
    def username(self) -> str | None:
        """Return the bot's @username once initialised (for deep links)."""
        try:
            return str(self.application.bot.username)
        except RuntimeError:
            return None

    async def webhook(self, request: web.Request) -> web.Response:
        """Take one update from Telegram; reject calls without the right secret."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(errors="surrogateescape"), self.secret.encode()):
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            data = await inputs.read_json(request, max_bytes=MAX_UPDATE_BYTES)
        except inputs.InvalidInput as e:
            return web.json_response({"ok": False, "error": str(e)}, status=e.status)
        try:
            update = Update.de_json(data, self.application.bot) if isinstance(data, dict) else None
        except Exception:  # whatever python-telegram-bot cannot make an update of is not one
            update = None
        if update is None or not inputs.integers_fit(data):  # ids are 64-bit in the Bot API
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        await self.application.update_queue.put(update)
        return web.json_response({"ok": True})

    async def deliver(self, conversation: ConversationInfo, message: Message) -> None:
        """Send a message to the chat: text in pieces, buttons on the last piece, image."""
        bot = self.application.bot
        chat_id = self._chat_id(conversation)
        if message.image:
            await bot.send_photo(chat_id=chat_id, photo=message.image)
        said = message.text
        if not said and not message.buttons:
            return
        if said and message.author:
            said = text(
                "telegram.agent_prefix",
                agent=message.author,
                text=said,
                language=conversation.language,
            )
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(b.title, callback_data=f"b:{message.id}:{i}")]
                    for i, b in enumerate(message.buttons)
                ]
            )
        pieces = split_text(said or "…")
        for i, piece in enumerate(pieces):
            await bot.send_message(
                chat_id=chat_id,
                text=escape_markdown(piece, version=2),
                parse_mode=ParseMode.MARKDOWN_V2,
                reply_markup=markup if i == len(pieces) - 1 else None,
            )

    async def echo(self, conversation: ConversationInfo, message: Message) -> None:
        """Do nothing: the chat already shows what the buyer sent."""

    async def typing(self, conversation: ConversationInfo, on: bool) -> None:
        """Show "typing…" in the chat until ``on`` is false (Telegram drops it after 5 s)."""
        chat_id = self._chat_id(conversation)
        previous = self._typing.pop(chat_id, None)
        if previous is not None:
            previous.cancel()
        if on:
            await self.application.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
            self._typing[chat_id] = asyncio.create_task(self._keep_typing(chat_id))

    async def _keep_typing(self, chat_id: int) -> None:
        while True:
            await asyncio.sleep(TYPING_REFRESH_SECONDS)
            try:
                await self.application.bot.send_chat_action(
                    chat_id=chat_id, action=ChatAction.TYPING
                )
            except TelegramError:
                return

    async def _once(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop an update taken in before, or of a chat over its rate limit (told once a window)."""
        if (chat := update.effective_chat) is not None and chat.type == "private":
            verdict = await self._limits.take(conversation_id_of(chat.id))
            if not verdict.allowed:
                if verdict.tell:
                    language = (await self._conversation(chat.id, update)).language
                    await self._say(chat.id, text("rate_limited", language=language))
                raise ApplicationHandlerStop
        now = utcnow()
        forget = time.monotonic() >= self._forget_due
        if forget:
            self._forget_due = time.monotonic() + FORGET_EVERY_SECONDS

        def record(session: Session) -> None:
            session.add(TelegramUpdate(update_id=update.update_id, received_at=now))
            session.flush()
            if forget:
                forget_update_ids(session, before=now - KEEP_UPDATE_IDS)

        try:
            await transcript.run_in_session(self._sessions, record)
        except IntegrityError:
            log.info("duplicate Telegram update %d ignored", update.update_id)
            raise ApplicationHandlerStop from None

    async def _start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Bind the chat to the customer a signed deep link names, then greet."""
        chat = update.effective_chat
        if chat is None:
            return
        conversation_id = conversation_id_of(chat.id)
        bad_link = False
        customer_id: str | None = None
        if context.args:
            try:
                customer_id = identity.verify_start_parameter(self._shop_secret, context.args[0])
            except identity.InvalidToken as e:
                log.info("Telegram start parameter rejected: %s", e)
                bad_link = True

        def bind(session: Session) -> tuple[str | None, str]:
            conversation = conversations.ensure_conversation(
                session,
                conversation_id=conversation_id,
                channel=Channel.TELEGRAM,
                customer_id=customer_id,
                telegram_chat_id=chat.id,
                bind_customer=customer_id is not None,
                language=language_choice.starting(hint_of(update)),
            )
            if customer_id is None:
                return None, conversation.language
            customer = session.get(Customer, customer_id)
            name = customer_id if customer is None else (customer.name or customer_id)
            return name, conversation.language

        name, language = await transcript.run_in_session(self._sessions, bind)
        if name is not None:
            await self._say(chat.id, text("telegram.signed_in", name=name, language=language))
        elif bad_link:
            await self._say(chat.id, text("telegram.bad_link", language=language))
        await self._router.receive(
            inbound_of(update, chat.id, text="/start", payload=START_PAYLOAD)
        )

    async def _text(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Hand a typed message to the router."""
        message = update.message
        if message is not None and message.text is not None:
            await self._typed(update, message.chat_id, message.text, client_id_of(update))

    async def _typed(self, update: Update, chat_id: int, said: str, client_id: str) -> None:
        try:
            said = inputs.check_text(said, max_chars=self._settings.gateway.message_max_chars)
        except inputs.InvalidInput as e:
            await self._outbound.say((await self._conversation(chat_id, update)).id, str(e))
            return
        await self._router.receive(
            Inbound.typed(
                conversation_id=conversation_id_of(chat_id),
                channel=Channel.TELEGRAM,
                text=said,
                client_id=client_id,
                language_hint=hint_of(update),
            )
        )

    async def _button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a button press and send the button's payload on."""
        query = update.callback_query
        chat = update.effective_chat
        if query is None:
            return
        button = None
        match = context.match
        if chat is not None and match is not None and query.data:  # no data "matches" as True
            message_id, index = int(match.group(1)), int(match.group(2))
            found = await transcript.run_in_session(
                self._sessions, lambda s: transcript.get_message(s, message_id=message_id)
            )
            if found is not None and found.conversation_id == conversation_id_of(chat.id):
                button = transcript.button_of(found, index)
        if button is None or chat is None:
            gone = text("telegram.button_gone", language=await self._language(update))
            await query.answer(text=gone)
            return
        await query.answer()
        try:
            # The question is answered: take its keyboard away so it is not pressed twice.
            await query.edit_message_reply_markup(reply_markup=None)
        except TelegramError:
            log.info("could not remove the keyboard of an answered question", exc_info=True)
        await self._router.receive(
            inbound_of(update, chat.id, text=button.title, payload=button.payload)
        )

    async def _not_a_button(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a press whose data no button of ours carries (an old or forged keyboard)."""
        if update.callback_query is not None:
            gone = text("telegram.button_gone", language=await self._language(update))
            await update.callback_query.answer(text=gone)

    async def _file(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Keep a photo or document as evidence and tell the buyer where it went."""
        message = update.message
        if message is None:
            return
        limit = self._settings.gateway.upload_max_bytes
        if message.photo:
            photo = message.photo[-1]
            file_id, size = photo.file_id, photo.file_size
            filename = f"photo-{message.message_id}.jpg"
        else:
            document = message.document
            if document is None:
                return
            file_id, size = document.file_id, document.file_size
            filename = document.file_name or f"document-{message.message_id}"
        conversation = await self._conversation(message.chat_id, update)
        conversation_id, language = conversation.id, conversation.language
        try:
            evidence.check_size(size, limit, language=language)
            telegram_file = await self.application.bot.get_file(file_id)
            evidence.check_size(telegram_file.file_size, limit, language=language)
            data = bytes(await telegram_file.download_as_bytearray())
            stored = await transcript.run_in_session(
                self._sessions,
                lambda s: evidence.store_evidence(
                    s,
                    evidence_dir=self._settings.var_dir / "evidence",
                    conversation_id=conversation_id,
                    filename=filename,
                    data=data,
                    max_bytes=limit,
                    language=language,
                ),
            )
        except evidence.EvidenceRejected as e:
            await self._router.receive(
                inbound_of(update, message.chat_id, text=f"📎 {filename}"), route=False
            )
            await self._outbound.say(conversation_id, str(e))
            return
        await self._router.receive(
            inbound_of(
                update,
                message.chat_id,
                text=f"📎 {stored.filename}",
                attachments=(stored.to_json(),),
            ),
            route=False,
        )
        await self._outbound.say(
            conversation_id, evidence.acknowledgement(stored, language=language)
        )
        if message.caption:
            await self._typed(update, message.chat_id, message.caption, f"{client_id_of(update)}c")

    async def _edited(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Tell the buyer that edits are not read (rather than acting on them twice)."""
        message = update.edited_message
        if message is not None and message.chat.type == "private":
            language = (await self._conversation(message.chat_id, update)).language
            await self._say(message.chat_id, text("telegram.edits_not_read", language=language))

    async def _say(self, chat_id: int, said: str) -> None:
        """Tell the chat ``said`` (its conversation exists: see :meth:`_conversation`)."""
        await self._outbound.say(conversation_id_of(chat_id), said)

    async def _conversation(self, chat_id: int, update: Update) -> ConversationInfo:
        """Return the chat's conversation, starting it if this is its first word."""
        return await transcript.run_in_session(
            self._sessions,
            lambda s: conversations.ensure_conversation(
                s,
                conversation_id=conversation_id_of(chat_id),
                channel=Channel.TELEGRAM,
                telegram_chat_id=chat_id,
                language=language_choice.starting(hint_of(update)),
            ),
        )

    async def _language(self, update: Update) -> str:
        """Return the chat's conversation's language, else a new one's (starting none)."""
        chat = update.effective_chat
        conversation_id = None if chat is None else conversation_id_of(chat.id)
        found = await transcript.run_in_session(
            self._sessions,
            lambda s: (
                conversations.get_conversation(s, conversation_id) if conversation_id else None
            ),
        )
        return found.language if found is not None else language_choice.starting(hint_of(update))[0]

    async def _error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log an error of a handler."""
        log.error("Telegram update %r failed", update, exc_info=context.error)

    @staticmethod
    def _chat_id(conversation: ConversationInfo) -> int:
        if conversation.telegram_chat_id is not None:
            return conversation.telegram_chat_id
        return int(conversation.id.removeprefix(CONVERSATION_PREFIX))
