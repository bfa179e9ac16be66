"""The web chat widget's channel: a WebSocket per open tab, uploads over HTTP.

Frames are JSON objects with a ``type``. The client says ``hello`` (with the shop's ``token``, the
``session`` it was given before and the ``language`` the page or browser suggests, all optional)
and gets ``welcome`` with the conversation's history from the transcript and its ``language``
(each ``message`` frame repeats it: the buyer's messages may change it); then it sends
``message`` (``text``, ``client_id``) and ``button`` (``message_id``, ``index``, ``client_id``)
frames. The server sends ``message``, ``typing``, ``ack``
and ``error`` frames. A frame that cannot be taken (not JSON, text with a NUL or a lone surrogate,
an id out of range, too many messages too fast) gets an ``error`` carrying the frame's
``client_id`` whenever the frame has one, and the socket stays open: no frame can close it. A
message is taken once per ``client_id``, so a client may resend what it is unsure of after a
reconnect, and drops from its outbox a frame an ``error`` names.

With ``REFUNDBOT_ALLOWED_ORIGINS`` set, only pages of those origins (and the gateway's own) may
open the socket or upload; requests without an ``Origin`` (programs, not browsers) are let in,
as they prove who the buyer is with the signed token like any other.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from sqlalchemy.orm import Session, sessionmaker

from bot import language_choice
from bot.gateway import addresses, conversations, evidence, forms, identity, inputs, transcript
from bot.gateway.conversations import ConversationInfo
from bot.gateway.inputs import InvalidInput
from bot.gateway.models import Channel
from bot.gateway.outbound import Outbound
from bot.gateway.ratelimit import RateLimits
from bot.gateway.router import Router
from bot.gateway.transcript import Inbound, Message
from bot.languages import DEFAULT, answered_in
from bot.messages import text
from bot.observability import logs
from bot.refunds.models import Customer
from bot.settings import Settings, normal_origin

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_PURPOSE = "webchat-session"
# Frames bigger than this close the socket (RFC 6455 1009); below it, long texts get a clear error.
MAX_FRAME_BYTES = 256 * 1024
#: The longest client id kept (the widget's are UUIDs).
MAX_CLIENT_ID = 64
#: Where a socket keeps its client's address.
ADDRESS = "client_address"


class WebChat:
    """Channel adapter of the web widget: knows every open socket of every conversation."""

    channel = Channel.WEBCHAT

    def __init__(
        self,
        *,
        settings: Settings,
        shop_secret: str,
        sessions: sessionmaker,
        read_sessions: sessionmaker,
        router: Router,
        outbound: Outbound,
        limits: RateLimits,
    ) -> None:
        self._settings = settings
        self._limits = limits
        self._secret = shop_secret
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._router = router
        self._outbound = outbound
        self._trusted = addresses.networks(settings.gateway.trusted_proxies)
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        # The latest message with buttons sent to each open conversation: a press of one of
        # its buttons (most presses) needs no trip to the database.
        self._buttons: dict[str, Message] = {}

    async def deliver(self, conversation: ConversationInfo, message: Message) -> None:
        """Send ``message`` to every open tab of the conversation."""
        if message.buttons and conversation.id in self._sockets:
            self._buttons[conversation.id] = message
        await self._broadcast(
            conversation.id,
            {"type": "message", "message": message.to_json(), "language": conversation.language},
        )

    async def echo(self, conversation: ConversationInfo, message: Message) -> None:
        """Show the buyer's own message in every open tab (the one that sent it included)."""
        await self._broadcast(
            conversation.id,
            {"type": "message", "message": message.to_json(), "language": conversation.language},
        )

    async def typing(self, conversation: ConversationInfo, on: bool) -> None:
        """Show or hide the typing indicator in every open tab."""
        await self._broadcast(conversation.id, {"type": "typing", "on": on})

    async def close(self) -> None:
        """Close every socket (the app is stopping)."""
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutdown")

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """Serve one widget tab."""
        if self._cors(request) is None:
            return web.json_response({"error": text("origin.refused")}, status=403)
        if not inputs.readable_handshake(request):
            return web.json_response({"error": text("webchat.bad_handshake")}, status=400)
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        ws[ADDRESS] = addresses.client_address(request, self._trusted)
        conversation: ConversationInfo | None = None
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    conversation = await self._on_text(ws, conversation, frame.data)
                    logs.CONVERSATION_ID.set(None if conversation is None else conversation.id)
                elif frame.type is WSMsgType.BINARY:
                    said = text("webchat.not_text", language=_language(conversation))
                    await _error(ws, "bad_frame", said)
                elif frame.type is WSMsgType.ERROR:
                    log.info("widget socket error: %s", ws.exception())
        finally:
            if conversation is not None:
                self._forget(conversation.id, ws)
        return ws

    def _forget(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is None:
            return
        sockets.discard(ws)
        if not sockets:
            del self._sockets[conversation_id]
            self._buttons.pop(conversation_id, None)

    async def upload(self, request: web.Request) -> web.Response:
        """Take an evidence file (multipart ``session`` + ``file``) for a widget conversation."""
        settings = self._settings
        limit = settings.gateway.upload_max_bytes
        cors = self._cors(request)
        if cors is None:
            return _upload_error(403, text("origin.refused"), {})
        try:
            form = await forms.read_form(request, file_field="file", file_max_bytes=limit)
        except InvalidInput as e:
            return _upload_error(e.status, str(e), cors)
        session_token, data, filename = form.fields.get("session"), form.data, form.filename
        client_id = form.fields.get("client_id", "")[:MAX_CLIENT_ID] or None
        # The widget says which language it shows, for what is refused before the
        # conversation is read.
        language = answered_in(form.fields.get("language"))
        if client_id is not None and not inputs.storable(client_id):
            return _upload_error(400, text("upload.malformed", language=language), cors)
        if session_token is None or data is None:
            return _upload_error(400, text("upload.incomplete", language=language), cors)
        try:
            conversation_id = identity.unsign_value(self._secret, SESSION_PURPOSE, session_token)
        except identity.InvalidToken:
            return _upload_error(403, text("upload.bad_session", language=language), cors)
        address = addresses.client_address(request, self._trusted)
        if not (await self._limits.take(conversation_id, address)).allowed:
            return _upload_error(429, text("rate_limited", language=language), cors)
        evidence_dir = settings.var_dir / "evidence"

        def store(session: Session) -> tuple[ConversationInfo, evidence.StoredEvidence] | None:
            conversation = conversations.get_conversation(session, conversation_id)
            if conversation is None:
                return None
            stored = evidence.store_evidence(
                session,
                evidence_dir=evidence_dir,
                conversation_id=conversation_id,
                filename=filename,
                data=data,
                max_bytes=limit,
                language=conversation.language,
            )
            return conversation, stored

        try:
            kept = await transcript.run_in_session(self._sessions, store)
        except evidence.EvidenceRejected as e:
            return _upload_error(413 if e.too_big else 415, str(e), cors)
        if kept is None:
            return _upload_error(403, text("upload.bad_session", language=language), cors)
        conversation, stored = kept
        message = await self._router.receive(
            Inbound(
                conversation_id=conversation_id,
                channel=Channel.WEBCHAT,
                text=f"📎 {stored.filename}",
                client_id=client_id,
                attachments=(stored.to_json(),),
                client_address=address,
            ),
            route=False,
        )
        if message is not None:
            said = evidence.acknowledgement(stored, language=conversation.language)
            await self._outbound.say(conversation_id, said)
        return web.json_response({"ok": True, "evidence": stored.to_json()}, headers=cors)

    async def upload_preflight(self, request: web.Request) -> web.Response:
        """Answer a CORS preflight for uploads from the shop's pages."""
        cors = self._cors(request)
        if cors is None:
            return web.Response(status=403, headers={"Vary": "Origin"})
        return web.Response(
            status=204,
            headers={
                **cors,
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Max-Age": "600",
            },
        )

    def _cors(self, request: web.Request) -> dict[str, str] | None:
        """Return the CORS headers for the request's page, or ``None`` when it may not come.

        The widget runs on the shop's pages, another origin. Its socket and uploads carry their
        own credential (the signed token and session), never cookies, so without an allow-list
        any page may use them and read the answers.
        """
        allowed = self._settings.gateway.allowed_origins
        if not allowed:
            return {"Access-Control-Allow-Origin": "*"}
        origin = request.headers.get("Origin")
        if origin is None:
            return {"Vary": "Origin"}
        normal = normal_origin(origin)
        own = normal_origin(f"{request.scheme}://{request.host}")
        if normal is None or (normal not in allowed and normal != own):
            return None
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    async def _on_text(
        self, ws: web.WebSocketResponse, conversation: ConversationInfo | None, data: str
    ) -> ConversationInfo | None:
        language = _language(conversation)
        try:
            frame = inputs.loads(data)
        except InvalidInput:
            await _error(ws, "bad_frame", text("webchat.not_json", language=language))
            return conversation
        client_id = _client_id(frame)
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await _error(ws, "bad_frame", text("webchat.no_type", language=language), client_id)
            return conversation
        try:
            return await self._dispatch(ws, conversation, frame, client_id)
        except asyncio.CancelledError:
            raise
        except InvalidInput as e:
            await _error(ws, e.code, str(e), client_id)
        except Exception:
            # Whatever went wrong with one frame, the tab keeps its socket.
            log.exception("widget frame of type %r failed", frame["type"][:40])
            await _error(ws, "failed", text("webchat.failed", language=language), client_id)
        return conversation

    async def _dispatch(
        self,
        ws: web.WebSocketResponse,
        conversation: ConversationInfo | None,
        frame: dict[str, Any],
        client_id: str | None,
    ) -> ConversationInfo | None:
        kind = frame["type"]
        if kind == "ping":
            await _send(ws, {"type": "pong"})
        elif kind == "hello":
            joined = await self._hello(ws, frame)
            if conversation is not None and conversation.id != joined.id:
                self._forget(conversation.id, ws)
            return joined
        elif conversation is None:
            await _error(ws, "no_hello", text("webchat.hello_first"), client_id)
        elif client_id is not None and (
            len(client_id) > MAX_CLIENT_ID or not inputs.storable(client_id)
        ):
            said = text("input.bad_id", language=conversation.language)
            await _error(ws, "bad_frame", said, client_id)
        elif kind == "message":
            await self._message(ws, conversation, frame, client_id)
        elif kind == "button":
            await self._button(ws, conversation, frame, client_id)
        else:
            said = text(
                "webchat.unknown_type", kind=repr(kind[:40]), language=conversation.language
            )
            await _error(ws, "bad_frame", said, client_id)
        return conversation

    async def _hello(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> ConversationInfo:
        secret = self._secret
        customer_id: str | None = None
        rejected = False
        token = frame.get("token")
        if isinstance(token, str) and token:
            try:
                customer_id = identity.verify_token(secret, token)
            except identity.InvalidToken as e:
                log.info("widget token rejected: %s", e)
                rejected = True
        previous: str | None = None
        session_token = frame.get("session")
        if isinstance(session_token, str) and session_token:
            try:
                previous = identity.unsign_value(secret, SESSION_PURPOSE, session_token)
            except identity.InvalidToken:
                previous = None

        def resolve(
            session: Session,
        ) -> tuple[ConversationInfo, list[Message], str | None]:
            conversation = None
            if previous is not None:
                conversation = conversations.get_conversation(session, previous)
                if conversation is not None and (
                    conversation.channel is not Channel.WEBCHAT
                    or conversation.customer_id != customer_id
                ):
                    conversation = None
            if conversation is None and customer_id is not None:
                conversation = conversations.latest_conversation_of(
                    session, customer_id=customer_id, channel=Channel.WEBCHAT
                )
            if conversation is None:
                conversation = conversations.ensure_conversation(
                    session,
                    conversation_id=f"web-{uuid.uuid4().hex}",
                    channel=Channel.WEBCHAT,
                    customer_id=customer_id,
                    language=language_choice.starting(frame.get("language")),
                )
            customer = None if customer_id is None else session.get(Customer, customer_id)
            name = None if customer is None else (customer.name or customer.id)
            return (
                conversation,
                transcript.history(session, conversation_id=conversation.id),
                name,
            )

        conversation, messages, name = await transcript.run_in_session(self._sessions, resolve)
        if rejected:
            # Told in the language of the conversation the buyer goes on in, as a guest.
            said = text("webchat.token_expired", language=conversation.language)
            await _error(ws, "invalid_token", said)
        self._sockets.setdefault(conversation.id, set()).add(ws)
        settings = self._settings
        await _send(
            ws,
            {
                "type": "welcome",
                "session": identity.sign_value(secret, SESSION_PURPOSE, conversation.id),
                "customer": None if customer_id is None else {"id": customer_id, "name": name},
                "history": [m.to_json() for m in messages],
                "language": conversation.language,
                "limits": {
                    "message_max_chars": settings.gateway.message_max_chars,
                    "upload_max_bytes": settings.gateway.upload_max_bytes,
                    "upload_types": sorted(evidence.ALLOWED_TYPES),
                },
            },
        )
        return conversation

    async def _message(
        self,
        ws: web.WebSocketResponse,
        conversation: ConversationInfo,
        frame: dict[str, Any],
        client_id: str | None,
    ) -> None:
        said = inputs.check_text(
            frame.get("text"),
            max_chars=self._settings.gateway.message_max_chars,
            language=conversation.language,
        )
        inbound = Inbound.typed(
            conversation_id=conversation.id,
            channel=Channel.WEBCHAT,
            text=said,
            client_id=client_id,
        )
        await self._take(ws, inbound, conversation.language)

    async def _button(
        self,
        ws: web.WebSocketResponse,
        conversation: ConversationInfo,
        frame: dict[str, Any],
        client_id: str | None,
    ) -> None:
        raw_id, index = frame.get("message_id"), frame.get("index")
        if not isinstance(raw_id, int) or isinstance(index, bool) or not isinstance(index, int):
            said = text("webchat.bad_button_frame", language=conversation.language)
            await _error(ws, "bad_frame", said, client_id)
            return
        gone = text("webchat.no_such_button", language=conversation.language)
        try:
            message_id = inputs.check_id(raw_id)
        except InvalidInput:
            await _error(ws, "bad_button", gone, client_id)
            return
        found = self._buttons.get(conversation.id)
        if found is None or found.id != message_id:
            found = await transcript.run_in_session(
                self._read_sessions,
                lambda s: transcript.get_message(s, message_id=message_id),
            )
        button = None
        if found is not None and found.conversation_id == conversation.id:
            button = transcript.button_of(found, index)
        if button is None:
            await _error(ws, "bad_button", gone, client_id)
            return
        inbound = Inbound(
            conversation_id=conversation.id,
            channel=Channel.WEBCHAT,
            text=button.title,
            payload=button.payload,
            client_id=client_id,
        )
        await self._take(ws, inbound, conversation.language)

    async def _take(self, ws: web.WebSocketResponse, inbound: Inbound, language: str) -> None:
        address = ws.get(ADDRESS)
        if not (await self._limits.take(inbound.conversation_id, address)).allowed:
            said = text("rate_limited", language=language)
            await _error(ws, "rate_limited", said, inbound.client_id)
            return
        message = await self._router.receive(replace(inbound, client_address=address))
        if message is None:
            # Already taken (a resend after a reconnect): confirm it again, do not double it.
            await _send(ws, {"type": "ack", "client_id": inbound.client_id, "duplicate": True})

    async def _broadcast(self, conversation_id: str, frame: dict[str, Any]) -> None:
        for ws in list(self._sockets.get(conversation_id, ())):
            await _send(ws, frame)


def _client_id(frame: object) -> str | None:
    """Return the frame's client id as sent, so that an error names it as the client knows it."""
    value = frame.get("client_id") if isinstance(frame, dict) else None
    return value if isinstance(value, str) and value else None


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    if ws.closed:
        return
    try:
        await ws.send_json(frame)
    except ConnectionError:
        log.info("widget socket went away while sending")


async def _error(
    ws: web.WebSocketResponse, code: str, message: str, client_id: str | None = None
) -> None:
    await _send(ws, {"type": "error", "code": code, "message": message, "client_id": client_id})


def _language(conversation: ConversationInfo | None) -> str:
    """Return the language a tab is told its errors in: its conversation's, once it has one."""
    return DEFAULT if conversation is None else conversation.language


def _upload_error(status: int, message: str, cors: dict[str, str]) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status, headers=cors)
