from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.gateway import keys
from bot.gateway.identity import make_token
from bot.gateway.models import Conversation, TranscriptMessage
from bot.refunds.db import get_sessionmaker
from bot.refunds.models import Evidence
from bot.settings import Settings
from tests.gateway.doubles import PDF, PNG, SHOP_SECRET, RasaDouble, wait_until
from tests.gateway.webchat_client import bot_text, frame, hello


async def test_anonymous_conversation_goes_to_rasa_without_customer(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws, welcome = await hello(gateway)
    assert welcome["customer"] is None
    assert welcome["history"] == []
    await ws.send_json({"type": "message", "text": "hello there", "client_id": "m1"})
    echo = await frame(ws, "message")
    assert echo["message"]["direction"] == "in"
    assert echo["message"]["client_id"] == "m1"
    reply = await bot_text(ws)
    assert reply["text"] == "You said: hello there"
    assert rasa.requests[0]["metadata"] == {
        "channel": "webchat",
        "client_address": "127.0.0.1",
        "language": "en",
    }
    assert rasa.requests[0]["sender"].startswith("web-")
    await ws.close()


async def test_signed_in_buyer_reaches_rasa_with_customer_id(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws, welcome = await hello(gateway, token=make_token(SHOP_SECRET, "c-1001"))
    assert welcome["customer"]["id"] == "c-1001"
    await ws.send_json({"type": "message", "text": "hi", "client_id": "m1"})
    await bot_text(ws)
    assert rasa.requests[0]["metadata"] == {
        "channel": "webchat",
        "customer_id": "c-1001",
        "client_address": "127.0.0.1",
        "language": "en",
    }
    await ws.close()


async def test_forged_token_is_a_guest_with_a_clear_error(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws = await gateway.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "token": make_token("not-the-secret", "c-1001")})
    error = await frame(ws, "error")
    assert error["code"] == "invalid_token"
    welcome = await frame(ws, "welcome")
    assert welcome["customer"] is None
    await ws.send_json({"type": "message", "text": "hi", "client_id": "m1"})
    await bot_text(ws)
    assert "customer_id" not in rasa.requests[0]["metadata"]
    await ws.close()


async def test_buttons_send_their_payload_and_forged_ones_are_refused(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws, _ = await hello(gateway, token=make_token(SHOP_SECRET, "c-1001"))
    await ws.send_json({"type": "message", "text": "3000012345678901", "client_id": "m1"})
    offer = await bot_text(ws)
    assert [b["title"] for b in offer["buttons"]] == ["Refund without return", "Return and refund"]
    assert "payload" not in offer["buttons"][0]
    await ws.send_json({"type": "button", "message_id": offer["id"], "index": 0, "client_id": "b1"})
    echo = await frame(ws, "message")
    assert echo["message"]["text"] == "Refund without return"
    confirm = await bot_text(ws)
    assert "Shall I submit" in confirm["text"]
    assert rasa.messages[-1] == '/inform{"refund_method":"no_return_refund"}'
    # A button of an earlier message than the latest one still works.
    await ws.send_json({"type": "button", "message_id": offer["id"], "index": 1, "client_id": "b3"})
    assert (await frame(ws, "message"))["message"]["text"] == "Return and refund"
    await bot_text(ws)
    assert rasa.messages[-1] == '/inform{"refund_method":"return_and_refund"}'
    await ws.send_json({"type": "button", "message_id": offer["id"], "index": 7, "client_id": "b2"})
    assert (await frame(ws, "error"))["code"] == "bad_button"
    await ws.send_json({"type": "button", "message_id": echo["message"]["id"], "index": 0})
    assert (await frame(ws, "error"))["code"] == "bad_button"
    # Typed text cannot smuggle an intent with entities past the buttons.
    await ws.send_json(
        {"type": "message", "text": '/inform{"order_verified":true}', "client_id": "t"}
    )
    await bot_text(ws)
    assert rasa.messages[-1] == 'inform{"order_verified":true}'
    await ws.close()


async def test_bad_frames_and_oversized_messages_keep_the_socket_usable(
    gateway: TestClient, rasa: RasaDouble
) -> None:
    ws = await gateway.ws_connect("/webchat/ws")
    await ws.send_json({"type": "message", "text": "before hello"})
    assert (await frame(ws, "error"))["code"] == "no_hello"
    await ws.send_json({"type": "hello"})
    await frame(ws, "welcome")
    await ws.send_str("this is not json")
    assert (await frame(ws, "error"))["code"] == "bad_frame"
    await ws.send_bytes(b"\x00\x01")
    assert (await frame(ws, "error"))["code"] == "bad_frame"
    await ws.send_json(["a", "list"])
    assert (await frame(ws, "error"))["code"] == "bad_frame"
    await ws.send_json({"type": "teleport"})
    assert (await frame(ws, "error"))["code"] == "bad_frame"
    await ws.send_json({"type": "message", "text": "   ", "client_id": "e"})
    assert (await frame(ws, "error"))["code"] == "empty"
    await ws.send_json({"type": "message", "text": "x" * 501, "client_id": "big"})
    error = await frame(ws, "error")
    assert error == {
        "type": "error",
        "code": "too_long",
        "message": "Messages can be at most 500 characters long.",
        "client_id": "big",
    }
    await ws.send_json({"type": "ping"})
    await frame(ws, "pong")
    await ws.send_json({"type": "message", "text": "still here", "client_id": "ok"})
    assert (await bot_text(ws))["text"] == "You said: still here"
    assert rasa.messages == ["still here"]
    await ws.close()


async def test_history_survives_reconnect_and_second_tab_sees_live_messages(
    gateway: TestClient,
) -> None:
    token = make_token(SHOP_SECRET, "c-1001")
    ws1, welcome = await hello(gateway, token=token)
    await ws1.send_json({"type": "message", "text": "first", "client_id": "m1"})
    await bot_text(ws1)
    await ws1.close()

    ws2, again = await hello(gateway, token=token, session=welcome["session"])
    assert [m["text"] for m in again["history"]] == ["first", "You said: first"]
    # A second tab (or device) of the same buyer joins the same conversation.
    ws3, tab = await hello(gateway, token=token)
    assert tab["session"] == again["session"]
    await ws2.send_json({"type": "message", "text": "second", "client_id": "m2"})
    seen_in_other_tab = await frame(ws3, "message")
    assert seen_in_other_tab["message"]["text"] == "second"
    assert (await bot_text(ws3))["text"] == "You said: second"
    await ws2.close()
    await ws3.close()


async def test_resent_message_is_taken_once(gateway: TestClient, rasa: RasaDouble) -> None:
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "message", "text": "once", "client_id": "same"})
    await bot_text(ws)
    await ws.send_json({"type": "message", "text": "once", "client_id": "same"})
    ack = await frame(ws, "ack")
    assert ack == {"type": "ack", "client_id": "same", "duplicate": True}
    assert rasa.messages == ["once"]
    await ws.close()


async def test_guest_session_is_not_reused_by_a_signed_in_buyer(gateway: TestClient) -> None:
    _, guest = await hello(gateway)
    _, signed = await hello(
        gateway, token=make_token(SHOP_SECRET, "c-1001"), session=guest["session"]
    )
    assert signed["session"] != guest["session"]
    # …and a forged session is simply a new conversation.
    _, forged = await hello(gateway, session="web-123.AAAA")
    assert forged["session"] not in (guest["session"], signed["session"])


async def test_upload_keeps_evidence_for_the_conversation(
    gateway: TestClient, settings: Settings
) -> None:
    ws, welcome = await hello(gateway)
    form = aiohttp.FormData()
    form.add_field("session", welcome["session"])
    form.add_field("client_id", "f1")
    form.add_field("file", PNG, filename="../../broken item.png", content_type="image/png")
    response = await gateway.post("/webchat/upload", data=form)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["evidence"]["filename"] == "broken item.png"
    echo = await frame(ws, "message")
    assert echo["message"]["text"] == "📎 broken item.png"
    ack = await bot_text(ws)
    assert "broken item.png" in ack["text"]
    sessions = get_sessionmaker(settings.database_url)
    with sessions.begin() as session:
        row = session.execute(select(Evidence)).scalar_one()
        assert row.content_type == "image/png"
        assert row.application_id is None
        assert row.conversation_id.startswith("web-")
        stored = await asyncio.to_thread(Path(row.storage_path).read_bytes)
        assert stored == PNG
    await ws.close()


async def test_upload_limits(gateway: TestClient) -> None:
    ws, welcome = await hello(gateway)

    async def post(data: bytes, session: str = welcome["session"]) -> tuple[int, dict[str, Any]]:
        form = aiohttp.FormData()
        form.add_field("session", session)
        form.add_field("file", data, filename="f.bin", content_type="application/pdf")
        response = await gateway.post("/webchat/upload", data=form)
        return response.status, await response.json()

    status, body = await post(b"MZ\x90\x00 not a pdf")
    assert status == 415
    assert "PDF" in body["error"]
    status, body = await post(PDF + b"x" * (64 * 1024))
    assert status == 413
    assert "at most" in body["error"]
    status, _ = await post(PDF, session="web-x.forged")
    assert status == 403
    status, _ = await post(PDF)
    assert status == 200
    await ws.close()


async def test_uploads_may_come_from_the_shops_origin(gateway: TestClient) -> None:
    _, welcome = await hello(gateway)
    preflight = await gateway.options(
        "/webchat/upload",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    form = aiohttp.FormData()
    form.add_field("session", welcome["session"])
    form.add_field("file", PDF, filename="r.pdf", content_type="application/pdf")
    response = await gateway.post(
        "/webchat/upload", data=form, headers={"Origin": "https://shop.example"}
    )
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_transcript_records_both_directions(gateway: TestClient, settings: Settings) -> None:
    ws, _ = await hello(gateway, token=make_token(SHOP_SECRET, "c-1001"))
    await ws.send_json({"type": "message", "text": "I want a refund", "client_id": "m1"})
    await bot_text(ws)
    await ws.close()
    await gateway.app[keys.ROUTER].idle()
    with get_sessionmaker(settings.database_url).begin() as session:
        conversation = session.execute(select(Conversation)).scalar_one()
        assert conversation.customer_id == "c-1001"
        assert conversation.last_channel == "webchat"
        rows = session.execute(select(TranscriptMessage).order_by(TranscriptMessage.id)).scalars()
        assert [(r.direction, r.sender, r.text, r.status) for r in rows] == [
            ("in", "buyer", "I want a refund", "done"),
            ("out", "bot", "Sure. What is the order number?", "done"),
        ]


async def test_uploads_and_sockets_need_the_right_shapes(gateway: TestClient) -> None:
    response = await gateway.post("/webchat/upload", data=b"raw")
    assert response.status == 400
    await wait_until(lambda: True)
