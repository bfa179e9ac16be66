"""The console and a Spanish conversation: its language shown, notices in it, canned replies."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from bot import messages
from tests.console.agents import Console, client_of
from tests.gateway.doubles import RasaDouble
from tests.gateway.webchat_client import bot_text, frame


async def test_a_spanish_conversation_is_shown_and_answered_in_spanish(
    server: TestServer, rasa: RasaDouble, ana: Console
) -> None:
    buyer = await client_of(server)
    ws = await buyer.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "language": "es-ES"})
    conversation_id = (await frame(ws, "welcome"))["session"].rpartition(".")[0]
    # The console is open (someone is online), so the buyer is told the expected wait.
    events = await ana.client.ws_connect("/console/ws")
    await events.send_str('{"type":"ping"}')
    await frame(events, "pong")

    await ws.send_json({"type": "message", "text": "human", "client_id": "m1"})
    assert (await bot_text(ws))["text"] == "Okay, I'll bring in a person from our support team."
    wait = messages.text("handoff.minutes.many", minutes=3, language="es")
    queued = await bot_text(ws)
    assert queued["text"] == messages.text("handoff.queued", wait=wait, language="es")
    assert rasa.requests[0]["metadata"]["language"] == "es"

    [waiting] = (await ana.get("/console/api/conversations"))["queue"]
    assert (waiting["id"], waiting["language"]) == (conversation_id, "es")
    await ws.send_json(
        {"type": "message", "text": "¿Hay alguien ahí? Necesito ayuda", "client_id": "m2"}
    )
    while (await frame(ws, "message"))["message"]["direction"] != "in":
        pass  # until the buyer's message is recorded (its echo)
    detail = await ana.get(f"/console/api/conversations/{conversation_id}")
    assert detail["language"] == "es"
    assert detail["messages"][-1]["text"] == "¿Hay alguien ahí? Necesito ayuda"

    await ana.ok(f"/console/api/conversations/{conversation_id}/claim")
    joined = await bot_text(ws)
    assert joined["text"] == messages.text("handoff.agent_joined", agent="Ana", language="es")
    await ana.ok(f"/console/api/conversations/{conversation_id}/handback", {"slots": {}})
    left = await bot_text(ws)
    assert left["text"] == messages.text("handoff.agent_left", agent="Ana", language="es")
    await events.close()
    await ws.close()
    await buyer.close()


async def test_canned_replies_of_the_conversations_language_come_first(ana: Console) -> None:
    await ana.ok("/console/api/canned", {"title": "Thanks", "text": "Thanks!", "language": "en"})
    await ana.ok("/console/api/canned", {"title": "Gracias", "text": "¡Gracias!", "language": "es"})
    await ana.ok("/console/api/canned", {"title": "Order link", "text": "https://shop.example"})
    refused = await ana.post("/console/api/canned", {"title": "X", "text": "x", "language": "xx"})
    assert refused.status == 400

    spanish = await ana.get("/console/api/canned?language=es")
    # The Spanish ones and those for every language (the stock replies too) first, by title.
    fits = [c["language"] in ("es", None) for c in spanish]
    assert fits == sorted(fits, reverse=True)
    titles = [c["title"] for c in spanish]
    assert titles.index("Gracias") < titles.index("Order link") < titles.index("Thanks")
    assert titles[-1] == "Thanks"
    every = [c["title"] for c in await ana.get("/console/api/canned")]
    assert every == sorted(every)


async def test_the_survey_after_an_agent_closes_asks_in_the_conversations_language(
    server: TestServer, rasa: RasaDouble, ana: Console
) -> None:
    buyer = await client_of(server)
    ws = await buyer.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "language": "ru"})
    conversation_id = (await frame(ws, "welcome"))["session"].rpartition(".")[0]
    await ws.send_json({"type": "message", "text": "human", "client_id": "m1"})
    await bot_text(ws)  # the bot brings in a person
    await bot_text(ws)  # when to expect them
    base = f"/console/api/conversations/{conversation_id}"
    await ana.ok(f"{base}/claim")
    await ana.ok(f"{base}/close")

    question = await bot_text(ws)
    while question["text"] != messages.text("survey.ask.closed", language="ru"):
        question = await bot_text(ws)  # the agent's joining and leaving come first
    assert [b["title"] for b in question["buttons"]] == [
        messages.text("survey.button", rating=n, language="ru") for n in range(1, 6)
    ]
    await ws.send_json(
        {"type": "button", "message_id": question["id"], "index": 4, "client_id": "rate"}
    )
    assert (await bot_text(ws))["text"] == messages.text("survey.thanks", language="ru")
    await ws.close()
    await buyer.close()
