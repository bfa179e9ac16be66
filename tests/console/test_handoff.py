"""Handoff through the real gateway app: widget and Telegram buyers, a Rasa double, agents."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot import contract
from bot.console.models import ConversationNote
from bot.gateway import keys
from bot.gateway.app import create_app
from bot.gateway.identity import make_start_parameter, make_token
from bot.gateway.models import Conversation, TranscriptMessage
from bot.handoff.models import Handoff
from bot.refunds.db import get_sessionmaker
from bot.settings import ConsoleSettings, Settings
from tests.console.agents import Console, add_agent, client_of
from tests.factories import make_customer, make_order
from tests.gateway.doubles import (
    SHOP_SECRET,
    BotApiDouble,
    RasaDouble,
    text_update,
    wait_until,
)
from tests.gateway.webchat_client import bot_text, frame

ORDER = "3000012345678901"


def seed(settings: Settings) -> None:
    with get_sessionmaker(settings.database_url).begin() as session:
        customer = make_customer(session, id="c-1001", name="Ada Buyer")
        make_order(session, customer=customer, id=ORDER)


async def widget(
    client: TestClient,
) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    ws = await client.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "token": make_token(SHOP_SECRET, "c-1001")})
    welcome = await frame(ws, "welcome")
    return ws, welcome["session"].rpartition(".")[0]


async def say(ws: aiohttp.ClientWebSocketResponse, text: str, client_id: str) -> None:
    await ws.send_json({"type": "message", "text": text, "client_id": client_id})


async def message_with(ws: aiohttp.ClientWebSocketResponse, text: str) -> dict[str, Any]:
    """Return the next console frame about a message with ``text``."""
    while True:
        data = await frame(ws, "message")
        if data["message"]["text"] == text:
            return dict(data)


def handler_of(settings: Settings, conversation_id: str) -> str:
    with get_sessionmaker(settings.database_url).begin() as session:
        return str(session.get(Conversation, conversation_id).handler)


async def test_widget_buyer_asks_for_a_person_and_the_bot_resumes_the_form(
    server: TestServer, rasa: RasaDouble, settings: Settings, ana: Console
) -> None:
    seed(settings)
    buyer = await client_of(server)
    ws, conversation_id = await widget(buyer)
    events = await ana.client.ws_connect("/console/ws")
    await events.send_str('{"type":"ping"}')
    await frame(events, "pong")

    await say(ws, "I want a refund", "m1")
    assert (await bot_text(ws))["text"] == "Sure. What is the order number?"
    rasa.active_loop[conversation_id] = "refund_form"
    await say(ws, "I want to talk to a person", "m2")
    assert (await bot_text(ws))["text"] == "Okay, I'll bring in a person from our support team."
    notice = await bot_text(ws)
    # Ana's console is open, so someone is online: the buyer is told the expected wait.
    assert notice["sender"] == "system"
    assert "Expected wait: about 3 minutes" in notice["text"]
    assert handler_of(settings, conversation_id) == "human"
    await wait_until(lambda: conversation_id in rasa.tracker_events, what="the pause")
    assert rasa.tracker_events[conversation_id] == [{"event": "pause"}]
    assert (await frame(events, "queue"))["type"] == "queue"

    queue = await ana.get("/console/api/conversations")
    [waiting] = queue["queue"]
    assert waiting["id"] == conversation_id
    assert waiting["channel"] == "webchat"
    assert waiting["customer"] == {"id": "c-1001", "name": "Ada Buyer"}
    assert waiting["handoff"]["reason"] == "buyer_asked"
    assert waiting["handoff"]["agent"] is None

    # While people own it, the buyer's messages reach the console, never Rasa.
    sent_to_rasa = len(rasa.requests)
    await say(ws, "it is the lamp order", "m3")
    live = await message_with(events, "it is the lamp order")
    assert live["conversation_id"] == conversation_id
    assert live["message"]["sender"] == "buyer"
    await server.app[keys.ROUTER].idle()
    assert len(rasa.requests) == sent_to_rasa

    context = await ana.get(f"/console/api/conversations/{conversation_id}")
    assert context["customer_context"]["orders"][0]["id"] == ORDER
    assert context["bot"]["active_form"] == "refund_form"
    assert context["bot"]["paused"] is True
    assert context["bot"]["intents"][0]["text"] == "I want to talk to a person"
    assert [m["text"] for m in context["messages"]][-1] == "it is the lamp order"

    await ana.ok(f"/console/api/conversations/{conversation_id}/claim")
    joined = await bot_text(ws)
    assert (joined["sender"], joined["text"]) == (
        "system",
        "Ana from support joined the conversation.",
    )
    await ana.ok(f"/console/api/conversations/{conversation_id}/notes", {"text": "VIP buyer"})
    await ana.ok(
        f"/console/api/conversations/{conversation_id}/reply",
        {"text": "Hi Ada, which order is it?"},
    )
    answer = await bot_text(ws)
    assert (answer["sender"], answer["author"], answer["text"]) == (
        "agent",
        "Ana",
        "Hi Ada, which order is it?",
    )

    said = await ana.ok(
        f"/console/api/conversations/{conversation_id}/handback", {"slots": {"order_id": ORDER}}
    )
    left = await bot_text(ws)
    assert (
        left["text"]
        == "Ana from support left the conversation. The assistant will continue from here."
    )
    resumed = await bot_text(ws)
    assert resumed["text"] == f"Order {ORDER}: how would you like your money back?"
    assert said["bot_said"] == [resumed["text"]]
    assert rasa.tracker_events[conversation_id] == [
        {"event": "pause"},
        {"event": "resume"},
        {"event": "slot", "name": "order_id", "value": ORDER},
        {"event": "loop_interrupted", "is_interrupted": True},
        {"event": "action", "name": "action_listen"},
    ]
    # The agent's values are checked by the form's validators, then the form asks what is next.
    assert rasa.executed == [
        (conversation_id, contract.HAND_BACK_ACTION),
        (conversation_id, "refund_form"),
    ]
    assert set(rasa.tokens) == {(settings.var_dir / "rasa-token").read_text().strip()}
    assert handler_of(settings, conversation_id) == "bot"

    # The bot has the conversation again; the private note never reached the buyer.
    await say(ws, "thanks", "m4")
    assert (await bot_text(ws))["text"] == "You said: thanks"
    with get_sessionmaker(settings.database_url).begin() as session:
        texts = session.execute(select(TranscriptMessage.text)).scalars().all()
        assert "VIP buyer" not in texts
        assert session.execute(select(ConversationNote.text)).scalar_one() == "VIP buyer"
        handoff = session.execute(select(Handoff)).scalar_one()
        assert handoff.outcome == "handed_back"
    await events.close()
    await ws.close()
    await buyer.close()


async def test_the_buyer_hears_a_person_comes_before_an_agent_can_say_they_joined(
    server: TestServer, rasa: RasaDouble, settings: Settings, ana: Console
) -> None:
    buyer = await client_of(server)
    ws, conversation_id = await widget(buyer)

    async def claim_at_once(paused: str) -> None:
        # The quickest agent: Ana takes the conversation as soon as it is in the queue, while
        # the gateway is still pausing Rasa.
        rasa.on_append = None
        await ana.ok(f"/console/api/conversations/{paused}/claim")

    rasa.on_append = claim_at_once
    await say(ws, "I want to talk to a person", "m1")
    said = [(await bot_text(ws))["text"] for _ in range(3)]
    assert said[0] == "Okay, I'll bring in a person from our support team."
    assert said[1].startswith("I'm passing you to a person from our support team.")
    assert said[2] == "Ana from support joined the conversation."
    assert handler_of(settings, conversation_id) == "human"
    await ws.close()
    await buyer.close()


async def test_a_second_agent_needs_an_explicit_take_over(
    server: TestServer, rasa: RasaDouble, settings: Settings, ana: Console, ben: Console
) -> None:
    seed(settings)
    buyer = await client_of(server)
    ws, conversation_id = await widget(buyer)
    await say(ws, "human please", "m1")
    await wait_until(lambda: handler_of(settings, conversation_id) == "human")
    base = f"/console/api/conversations/{conversation_id}"
    await ana.ok(f"{base}/claim")

    refused = await ben.post(f"{base}/claim")
    assert refused.status == 409
    assert "Ana has this conversation" in await refused.text()
    for path, body in [
        ("reply", {"text": "hello from Ben"}),
        ("handback", {}),
        ("close", {}),
    ]:
        response = await ben.post(f"{base}/{path}", body)
        assert response.status == 409, path
    await ben.ok(f"{base}/claim", {"take_over": True})
    assert (await ana.post(f"{base}/reply", {"text": "still me"})).status == 409
    await ben.ok(f"{base}/reply", {"text": "Ben here"})
    await ben.ok(f"{base}/close")

    with get_sessionmaker(settings.database_url).begin() as session:
        sent = (
            session.execute(
                select(TranscriptMessage.text).where(TranscriptMessage.sender == "agent")
            )
            .scalars()
            .all()
        )
    assert sent == ["Ben here"]
    assert handler_of(settings, conversation_id) == "bot"
    # Closing ends the form: the bot answers the next message afresh.
    assert rasa.tracker_events[conversation_id][-2:] == [
        {"event": "resume"},
        {"event": "action", "name": "action_listen"},
    ]
    assert rasa.executed == [(conversation_id, contract.CLOSED_ACTION)]
    await ws.close()
    await buyer.close()


async def test_an_agent_takes_a_conversation_from_the_bot(
    server: TestServer, rasa: RasaDouble, settings: Settings, ana: Console
) -> None:
    seed(settings)
    buyer = await client_of(server)
    ws, conversation_id = await widget(buyer)
    await say(ws, "hello", "m1")
    assert (await bot_text(ws))["text"] == "You said: hello"
    recent = (await ana.get("/console/api/conversations"))["recent"]
    assert [c["id"] for c in recent] == [conversation_id]
    await ana.ok(f"/console/api/conversations/{conversation_id}/claim")
    assert (await bot_text(ws))["text"] == "Ana from support joined the conversation."
    assert rasa.tracker_events[conversation_id] == [{"event": "pause"}]
    with get_sessionmaker(settings.database_url).begin() as session:
        assert session.execute(select(Handoff.reason)).scalar_one() == "agent_took_over"
    await ws.close()
    await buyer.close()


async def test_nobody_online_or_outside_hours_the_message_stays_in_the_queue(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    rasa: RasaDouble,
    settings: Settings,
) -> None:
    seed(settings)
    client = await aiohttp_client(create_app(settings))
    ws, conversation_id = await widget(client)
    await say(ws, "talk to a person", "m1")
    await bot_text(ws)
    notice = await bot_text(ws)
    assert "nobody is online right now" in notice["text"]
    assert "stays in the queue" in notice["text"]
    await ws.close()
    await client.close()

    closed = dataclasses.replace(
        settings,
        console=ConsoleSettings(support_hours="00:00-00:00", support_days=(0, 1, 2, 3, 4)),
    )
    client = await aiohttp_client(create_app(closed))
    ws = await client.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello"})
    await frame(ws, "welcome")
    await say(ws, "a human please", "m1")
    await bot_text(ws)
    notice = await bot_text(ws)
    assert "support hours: Mon–Fri 00:00–00:00 (UTC)" in notice["text"]
    await say(ws, "my lamp arrived broken, please call me back", "m2")
    await frame(ws, "message")
    with get_sessionmaker(settings.database_url).begin() as session:
        waiting = (
            session.execute(
                select(Handoff).where(Handoff.ended_at.is_(None), Handoff.agent_id.is_(None))
            )
            .scalars()
            .all()
        )
    assert len(waiting) == 2
    await ws.close()


async def test_telegram_buyer_sees_who_joined_and_left(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    rasa: RasaDouble,
    bot_api: BotApiDouble,
    settings: Settings,
) -> None:
    from tests.channels.telegram_buyer import HOOK_SECRET, telegram_settings

    seed(settings)
    add_agent(settings, "ana")
    tg = telegram_settings(settings, bot_api, "webhook")
    server = await aiohttp_server(create_app(tg), host="127.0.0.1")
    agent = Console(await client_of(server))
    assert await agent.sign_in("ana") == 302
    chat = 7070
    hook = await client_of(server)

    async def send(text: str) -> None:
        response = await hook.post(
            "/telegram/webhook",
            json=text_update(chat, text),
            headers={"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET},
        )
        assert response.status == 200

    def texts() -> list[str]:
        return bot_api.texts(chat)

    await send(f"/start {make_start_parameter(SHOP_SECRET, 'c-1001')}")
    await wait_until(lambda: len(texts()) >= 2, what="the greeting")
    await send("I need a human")
    await wait_until(lambda: any("Expected wait" in t for t in texts()), what="the notice")
    conversation_id = f"tg-{chat}"
    await agent.ok(f"/console/api/conversations/{conversation_id}/claim")
    await agent.ok(f"/console/api/conversations/{conversation_id}/reply", {"text": "Hello!"})
    await agent.ok(f"/console/api/conversations/{conversation_id}/handback")
    await wait_until(lambda: any("left the conversation" in t for t in texts()), what="left")
    joined = [t for t in texts() if "joined" in t]
    assert joined == ["Ana from support joined the conversation\\."]
    assert "Ana \\(support\\): Hello\\!" in texts()
    # The bot's question after the handoff marker was never sent.
    assert texts().count("Sure\\. What is the order number?") == 0
    await agent.client.close()
    await hook.close()


async def test_two_agents_claiming_at_once_get_one_owner(
    server: TestServer, rasa: RasaDouble, settings: Settings, ana: Console, ben: Console
) -> None:
    seed(settings)
    buyer = await client_of(server)
    ws, conversation_id = await widget(buyer)
    await say(ws, "human please", "m1")
    await wait_until(lambda: handler_of(settings, conversation_id) == "human")
    path = f"/console/api/conversations/{conversation_id}/claim"
    first, second = await asyncio.gather(ana.post(path), ben.post(path))
    assert sorted([first.status, second.status]) == [200, 409]
    with get_sessionmaker(settings.database_url).begin() as session:
        assert session.execute(select(Handoff.agent_id)).scalar_one() is not None
        joined = (
            session.execute(
                select(TranscriptMessage.text).where(TranscriptMessage.text.like("%joined%"))
            )
            .scalars()
            .all()
        )
    assert len(joined) == 1
    await ws.close()
    await buyer.close()
