"""The web chat widget's channel: a WebSocket per open tab, uploads over HTTP.

Frames are JSON objects with a ``type``. The client says ``hello`` (with the shop's ``token`` and
the ``session`` it was given before, both optional) and gets ``welcome`` with the conversation's
history from the transcript; then it sends ``message`` (``text``, ``client_id``) and ``button``
(``message_id``, ``index``, ``client_id``) frames. The server sends ``message``, ``typing``, ``ack``
and ``error`` frames; a bad frame gets an ``error`` and the socket stays open. A message is taken
once per ``client_id``, so a client may resend what it is unsure of after a reconnect.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web
from sqlalchemy.orm import Session, sessionmaker

from bot import messages
from bot.gateway import addresses, evidence, identity, transcript
from bot.gateway.models import Channel
from bot.gateway.outbound import Outbound
from bot.gateway.router import Router
from bot.gateway.transcript import ConversationInfo, Inbound, Message
from bot.messages import text
from bot.refunds.models import Customer
from bot.settings import Settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_PURPOSE = "webchat-session"
# Frames bigger than this close the socket (RFC 6455 1009); below it, long texts get a clear error.
MAX_FRAME_BYTES = 256 * 1024
# The widget runs on the shop's pages, another origin; uploads carry their own credential (the
# signed session in the form), never cookies, so any origin may read the answer.
CORS = {"Access-Control-Allow-Origin": "*"}
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
    ) -> None:
        self._settings = settings
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
        await self._broadcast(conversation.id, {"type": "message", "message": message.to_json()})

    async def echo(self, conversation: ConversationInfo, message: Message) -> None:
        """Show the buyer's own message in every open tab (the one that sent it included)."""
        await self._broadcast(conversation.id, {"type": "message", "message": message.to_json()})

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
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        ws[ADDRESS] = addresses.client_address(request, self._trusted)
        conversation: ConversationInfo | None = None
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    conversation = await self._on_text(ws, conversation, frame.data)
                elif frame.type is WSMsgType.BINARY:
                    await _error(ws, "bad_frame", text("webchat.not_text"))
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
        if request.content_length is not None and request.content_length > limit + 64 * 1024:
            return _upload_error(413, _too_big(limit))
        if not request.content_type.startswith("multipart/"):
            return _upload_error(400, text("upload.not_multipart"))
        reader = await request.multipart()
        session_token: str | None = None
        client_id: str | None = None
        filename = ""
        data: bytes | None = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "session":
                session_token = (await part.text())[:512]
            elif part.name == "client_id":
                client_id = (await part.text())[:64] or None
            elif part.name == "file":
                filename = part.filename or ""
                chunks: list[bytes] = []
                size = 0
                while chunk := await part.read_chunk(64 * 1024):
                    size += len(chunk)
                    if size > limit:
                        return _upload_error(413, _too_big(limit))
                    chunks.append(chunk)
                data = b"".join(chunks)
        if session_token is None or data is None:
            return _upload_error(400, text("upload.incomplete"))
        try:
            conversation_id = identity.unsign_value(self._secret, SESSION_PURPOSE, session_token)
        except identity.InvalidToken:
            return _upload_error(403, text("upload.bad_session"))
        evidence_dir = settings.var_dir / "evidence"

        def store(session: Session) -> tuple[ConversationInfo, evidence.StoredEvidence] | None:
            conversation = transcript.get_conversation(session, conversation_id)
            if conversation is None:
                return None
            stored = evidence.store_evidence(
                session,
                evidence_dir=evidence_dir,
                conversation_id=conversation_id,
                filename=filename,
                data=data,
                max_bytes=limit,
            )
            return conversation, stored

        try:
            kept = await transcript.run_in_session(self._sessions, store)
        except evidence.EvidenceRejected as e:
            return _upload_error(413 if e.too_big else 415, str(e))
        if kept is None:
            return _upload_error(403, text("upload.bad_session"))
        _, stored = kept
        message = await self._router.receive(
            Inbound(
                conversation_id=conversation_id,
                channel=Channel.WEBCHAT,
                text=f"📎 {stored.filename}",
                client_id=client_id,
                attachments=(stored.to_json(),),
                client_address=addresses.client_address(request, self._trusted),
            ),
            route=False,
        )
        if message is not None:
            await self._outbound.say(conversation_id, evidence.acknowledgement(stored))
        return web.json_response({"ok": True, "evidence": stored.to_json()}, headers=CORS)

    async def upload_preflight(self, _: web.Request) -> web.Response:
        """Answer a CORS preflight for uploads from the shop's pages."""
        return web.Response(
            status=204,
            headers={
                **CORS,
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Max-Age": "600",
            },
        )

    async def _on_text(
        self, ws: web.WebSocketResponse, conversation: ConversationInfo | None, data: str
    ) -> ConversationInfo | None:
        try:
            frame = json.loads(data)
        except ValueError:
            await _error(ws, "bad_frame", text("webchat.not_json"))
            return conversation
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await _error(ws, "bad_frame", text("webchat.no_type"))
            return conversation
        kind = frame["type"]
        if kind == "ping":
            await _send(ws, {"type": "pong"})
        elif kind == "hello":
            if conversation is not None:
                self._forget(conversation.id, ws)
            return await self._hello(ws, frame)
        elif conversation is None:
            await _error(ws, "no_hello", text("webchat.hello_first"))
        elif kind == "message":
            await self._message(ws, conversation, frame)
        elif kind == "button":
            await self._button(ws, conversation, frame)
        else:
            await _error(ws, "bad_frame", text("webchat.unknown_type", kind=repr(kind[:40])))
        return conversation

    async def _hello(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> ConversationInfo:
        secret = self._secret
        customer_id: str | None = None
        token = frame.get("token")
        if isinstance(token, str) and token:
            try:
                customer_id = identity.verify_token(secret, token)
            except identity.InvalidToken as e:
                log.info("widget token rejected: %s", e)
                await _error(ws, "invalid_token", text("webchat.token_expired"))
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
                conversation = transcript.get_conversation(session, previous)
                if conversation is not None and (
                    conversation.channel is not Channel.WEBCHAT
                    or conversation.customer_id != customer_id
                ):
                    conversation = None
            if conversation is None and customer_id is not None:
                conversation = transcript.latest_conversation_of(
                    session, customer_id=customer_id, channel=Channel.WEBCHAT
                )
            if conversation is None:
                conversation = transcript.ensure_conversation(
                    session,
                    conversation_id=f"web-{uuid.uuid4().hex}",
                    channel=Channel.WEBCHAT,
                    customer_id=customer_id,
                )
            customer = None if customer_id is None else session.get(Customer, customer_id)
            name = None if customer is None else (customer.name or customer.id)
            return (
                conversation,
                transcript.history(session, conversation_id=conversation.id),
                name,
            )

        conversation, messages, name = await transcript.run_in_session(self._sessions, resolve)
        self._sockets.setdefault(conversation.id, set()).add(ws)
        settings = self._settings
        await _send(
            ws,
            {
                "type": "welcome",
                "session": identity.sign_value(secret, SESSION_PURPOSE, conversation.id),
                "customer": None if customer_id is None else {"id": customer_id, "name": name},
                "history": [m.to_json() for m in messages],
                "limits": {
                    "message_max_chars": settings.gateway.message_max_chars,
                    "upload_max_bytes": settings.gateway.upload_max_bytes,
                    "upload_types": sorted(evidence.ALLOWED_TYPES),
                },
            },
        )
        return conversation

    async def _message(
        self, ws: web.WebSocketResponse, conversation: ConversationInfo, frame: dict[str, Any]
    ) -> None:
        client_id = _client_id(frame)
        said = frame.get("text")
        if not isinstance(said, str) or not said.strip():
            await _error(ws, "bad_frame", text("webchat.empty"), client_id)
            return
        limit = self._settings.gateway.message_max_chars
        if len(said) > limit:
            await _error(ws, "too_long", text("webchat.too_long", limit=limit), client_id)
            return
        inbound = Inbound.typed(
            conversation_id=conversation.id,
            channel=Channel.WEBCHAT,
            text=said,
            client_id=client_id,
        )
        await self._take(ws, inbound)

    async def _button(
        self, ws: web.WebSocketResponse, conversation: ConversationInfo, frame: dict[str, Any]
    ) -> None:
        client_id = _client_id(frame)
        message_id, index = frame.get("message_id"), frame.get("index")
        if not isinstance(message_id, int) or not isinstance(index, int):
            await _error(ws, "bad_frame", text("webchat.bad_button_frame"), client_id)
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
            await _error(ws, "bad_button", text("webchat.no_such_button"), client_id)
            return
        inbound = Inbound(
            conversation_id=conversation.id,
            channel=Channel.WEBCHAT,
            text=button.title,
            payload=button.payload,
            client_id=client_id,
        )
        await self._take(ws, inbound)

    async def _take(self, ws: web.WebSocketResponse, inbound: Inbound) -> None:
        message = await self._router.receive(replace(inbound, client_address=ws.get(ADDRESS)))
        if message is None:
            # Already taken (a resend after a reconnect): confirm it again, do not double it.
            await _send(ws, {"type": "ack", "client_id": inbound.client_id, "duplicate": True})

    async def _broadcast(self, conversation_id: str, frame: dict[str, Any]) -> None:
        for ws in list(self._sockets.get(conversation_id, ())):
            await _send(ws, frame)


def _client_id(frame: dict[str, Any]) -> str | None:
    value = frame.get("client_id")
    return value[:64] if isinstance(value, str) and value else None


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


def _too_big(limit: int) -> str:
    return text("upload.too_big", limit=messages.size(limit))


def _upload_error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status, headers=CORS)
