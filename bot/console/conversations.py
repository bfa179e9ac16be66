"""The console's conversations: the queue, one conversation, and what agents do in it.

Claiming, replying, notes, handing back and closing; canned replies; the buyer's evidence
files; and the live updates of open console pages (one WebSocket each).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from aiohttp import WSMsgType, web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import contract
from bot.clock import utcnow
from bot.console import auth, keys, queries
from bot.console.hub import SESSION_ENDED, message_json
from bot.console.models import Role
from bot.console.session import COOKIE, current_agent, session_of
from bot.gateway import inputs, transcript
from bot.gateway import keys as gateway_keys
from bot.gateway.rasa import RasaUnavailable
from bot.handoff import queue
from bot.handoff.service import HANDOFFS
from bot.languages import LANGUAGES
from bot.messages import text

MAX_TEXT = 4000
#: The largest JSON body an agent's page sends (a reply, a note, slots).
MAX_BODY_BYTES = 64 * 1024


async def websocket(request: web.Request) -> web.StreamResponse:
    """Stream queue changes and transcript messages to one console page."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        return web.json_response({"error": "cross-origin socket refused"}, status=403)
    if not inputs.readable_handshake(request):
        return web.json_response({"error": "not a WebSocket handshake"}, status=400)
    hub = request.app[keys.HUB]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    # The guard let the request in, so its cookie is a live session's.
    hub.add(ws, request.cookies.get(COOKIE, ""))
    try:
        async for frame in ws:
            if frame.type is WSMsgType.TEXT and frame.data == '{"type":"ping"}':
                # A page that is open keeps its agent "online" for the expected-wait notice.
                alive = await session_of(request)
                if alive is None:
                    await ws.close(code=SESSION_ENDED, message=b"session ended")
                    break
                if not ws.closed:
                    await ws.send_json({"type": "pong"})
    finally:
        hub.discard(ws)
    await hub.closed(ws)
    return ws


async def me(request: web.Request) -> web.Response:
    """Return the signed-in agent."""
    return web.json_response(current_agent(request).to_json())


async def conversations(request: web.Request) -> web.Response:
    """Return the queue (waiting and claimed conversations) and recent bot conversations."""
    now = utcnow()
    within = request.app[gateway_keys.SETTINGS].console.agent_online_seconds

    def load(session: Session) -> dict[str, Any]:
        online = auth.online_agents(session, now=now, within_seconds=within)
        return queries.inbox(session, now=now) | {"agents_online": online}

    sessions = request.app[gateway_keys.SESSIONS]
    return web.json_response(await transcript.run_in_session(sessions, load))


async def conversation(request: web.Request) -> web.Response:
    """Return one conversation: transcript, notes, handoff and the context package."""
    conversation_id = request.match_info["id"]
    now = utcnow()
    data = await transcript.run_in_session(
        request.app[gateway_keys.SESSIONS],
        lambda s: queries.conversation_detail(s, conversation_id=conversation_id, now=now),
    )
    if data is None:
        raise web.HTTPNotFound(text="no such conversation")
    data["bot"] = await _bot_context(request, conversation_id)
    return web.json_response(data)


async def _bot_context(request: web.Request, conversation_id: str) -> dict[str, Any]:
    """Return what Rasa knows: the form, its slots and the last intents (best effort)."""
    try:
        tracker = await request.app[gateway_keys.RASA].tracker(conversation_id)
    except RasaUnavailable:
        return {"available": False}
    slots = tracker.get("slots") or {}
    intents = [
        {
            "text": event.get("text"),
            "intent": ((event.get("parse_data") or {}).get("intent") or {}).get("name"),
            "confidence": ((event.get("parse_data") or {}).get("intent") or {}).get("confidence"),
        }
        for event in tracker.get("events") or ()
        if isinstance(event, dict) and event.get("event") == "user"
    ][-5:]
    wanted = sorted(contract.AGENT_SLOTS | {"refund_reason_category", "requested_slot"})
    return {
        "available": True,
        "active_form": (tracker.get("active_loop") or {}).get("name"),
        "paused": bool(tracker.get("paused")),
        "slots": {name: slots.get(name) for name in wanted},
        "intents": list(reversed(intents)),
    }


async def json_body(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object (read with a bound); a 400 or 413 for anything else."""
    try:
        body = await inputs.read_json(request, max_bytes=MAX_BODY_BYTES)
    except inputs.InvalidInput as e:
        if e.status == 413:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_BODY_BYTES, actual_size=request.content_length or MAX_BODY_BYTES + 1
            ) from e
        raise web.HTTPBadRequest(text=f"send a JSON object ({e})") from e
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="send a JSON object")
    return body


def text_of(body: dict[str, Any], key: str = "text", *, max_chars: int = MAX_TEXT) -> str:
    """Return the text field ``key`` of a body, stripped; a 400 when it is not text to keep."""
    try:
        return inputs.check_text(body.get(key), max_chars=max_chars)
    except inputs.InvalidInput as e:
        raise web.HTTPBadRequest(text=f"{key}: {e}") from e


def _conflict(e: Exception) -> web.HTTPException:
    if isinstance(e, queue.NotFound):
        return web.HTTPNotFound(text="no such conversation")
    if isinstance(e, queue.ClaimedByOther):
        return web.HTTPConflict(
            text=f"{e.agent_name} has this conversation; take it over explicitly to answer"
        )
    return web.HTTPConflict(text="claim this conversation first")


async def claim(request: web.Request) -> web.Response:
    """Claim a waiting conversation, take one from the bot, or (explicitly) from a colleague."""
    body = await json_body(request) if request.can_read_body else {}
    take_over = body.get("take_over") is True
    try:
        info = await request.app[HANDOFFS].claim(
            request.match_info["id"], current_agent(request), take_over=take_over
        )
    except (queue.NotFound, queue.ClaimedByOther) as e:
        raise _conflict(e) from e
    return web.json_response({"handoff": info.to_json(utcnow())})


async def reply(request: web.Request) -> web.Response:
    """Send the agent's reply to the buyer's channel."""
    said = text_of(await json_body(request))
    try:
        message = await request.app[HANDOFFS].reply(
            request.match_info["id"], current_agent(request), said
        )
    except (queue.NotFound, queue.NotYours) as e:
        raise _conflict(e) from e
    return web.json_response({"message": message_json(message)})


async def add_note(request: web.Request) -> web.Response:
    """Keep a private note on the conversation (never sent to the buyer)."""
    said = text_of(await json_body(request))
    conversation_id = request.match_info["id"]
    agent = current_agent(request)
    note = await transcript.run_in_session(
        request.app[gateway_keys.SESSIONS],
        lambda s: queries.add_note(
            s, conversation_id=conversation_id, agent_id=agent.id, text=said
        ),
    )
    if note is None:
        raise web.HTTPNotFound(text="no such conversation")
    await request.app[keys.HUB].publish(
        {"type": "note", "conversation_id": conversation_id, "note": note}
    )
    return web.json_response({"note": note})


async def hand_back(request: web.Request) -> web.Response:
    """Return the conversation to the bot, with the slots the agent learned."""
    body = await json_body(request) if request.can_read_body else {}
    raw = body.get("slots") or {}
    if not isinstance(raw, dict):
        raise web.HTTPBadRequest(text="slots must be an object")
    slots = {
        str(k): str(v).strip()[:500]
        for k, v in raw.items()
        if k in contract.AGENT_SLOTS and isinstance(v, str | int | float) and str(v).strip()
    }
    if not all(inputs.storable(value) for value in slots.values()):
        raise web.HTTPBadRequest(text=f"slots: {text('input.bad_characters')}")
    try:
        said = await request.app[HANDOFFS].hand_back(
            request.match_info["id"], current_agent(request), slots=slots
        )
    except (queue.NotFound, queue.NotYours) as e:
        raise _conflict(e) from e
    return web.json_response({"bot_said": [m.text for m in said]})


async def close(request: web.Request) -> web.Response:
    """End the conversation with people; the bot answers whatever the buyer writes next."""
    try:
        await request.app[HANDOFFS].hand_back(
            request.match_info["id"], current_agent(request), close=True
        )
    except (queue.NotFound, queue.NotYours) as e:
        raise _conflict(e) from e
    return web.json_response({"ok": True})


async def canned(request: web.Request) -> web.Response:
    """Return the canned replies; ``?language=es`` puts those in Spanish (and any) first."""
    sessions = request.app[gateway_keys.SESSIONS]
    language = request.query.get("language")
    language = language if language in LANGUAGES else None
    return web.json_response(
        await transcript.run_in_session(
            sessions, lambda s: queries.canned_replies(s, language=language)
        )
    )


async def add_canned(request: web.Request) -> web.Response:
    """Add a canned reply (admins only)."""
    if current_agent(request).role is not Role.ADMIN:
        raise web.HTTPForbidden(text="only admins manage canned replies")
    body = await json_body(request)
    title, said = text_of(body, "title")[:100], text_of(body)
    language = body.get("language")
    if language is not None and language not in LANGUAGES:
        raise web.HTTPBadRequest(text=f"language must be one of {', '.join(LANGUAGES)} or null")
    try:
        saved = await transcript.run_in_session(
            request.app[gateway_keys.SESSIONS],
            lambda s: queries.add_canned_reply(s, title=title, text=said, language=language),
        )
    except IntegrityError as e:
        raise web.HTTPConflict(text="a canned reply with that title exists") from e
    return web.json_response(saved, status=201)


async def evidence_file(request: web.Request) -> web.FileResponse:
    """Serve a buyer's evidence file to an agent: images inline, PDFs as downloads."""
    evidence_id = inputs.parse_id(request.match_info["id"])
    if evidence_id is None:
        raise web.HTTPNotFound()
    evidence_dir = request.app[gateway_keys.SETTINGS].var_dir / "evidence"
    found = await transcript.run_in_session(
        request.app[gateway_keys.SESSIONS],
        lambda s: queries.evidence_file(s, evidence_id=evidence_id, evidence_dir=evidence_dir),
    )
    if found is None:
        raise web.HTTPNotFound()
    path, content_type, filename = found
    disposition = "inline" if content_type.startswith("image/") else "attachment"
    quoted = urllib.parse.quote(filename)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quoted}",
            "Cache-Control": "private, no-store",
        },
    )
