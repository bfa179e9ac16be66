"""The satisfaction survey through the real gateway: its triggers, its rules and the answers.

A widget or Telegram buyer talks to the real app with a Rasa double; applications are filed and
moved through the real store, agents act through the console's API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from telegram.helpers import escape_markdown

from bot.console.models import Role
from bot.gateway import keys
from bot.gateway.app import create_app
from bot.gateway.identity import make_start_parameter, make_token
from bot.gateway.models import TranscriptMessage
from bot.messages import text
from bot.refunds.db import get_sessionmaker
from bot.refunds.enums import RefundStatus
from bot.settings import Settings
from bot.survey.models import SatisfactionSurvey, SurveyEvent
from bot.survey.service import SURVEY
from tests.channels.telegram_buyer import CHAT, Buyer, telegram_settings
from tests.console.agents import Console, add_agent, client_of
from tests.factories import move, submit
from tests.gateway.doubles import (
    SHOP_SECRET,
    BotApiDouble,
    RasaDouble,
    scripted_reply,
    wait_until,
)
from tests.gateway.webchat_client import bot_text, frame

Socket = aiohttp.ClientWebSocketResponse
ASK_SUBMITTED = text("survey.ask.submitted")
STARS = [text("survey.button", rating=n) for n in range(1, 6)]


async def widget(
    client: TestClient, customer: str = "c-1001", language: str | None = None
) -> tuple[Socket, str]:
    ws = await client.ws_connect("/webchat/ws")
    token = make_token(SHOP_SECRET, customer)
    await ws.send_json({"type": "hello", "token": token, "language": language})
    welcome = await frame(ws, "welcome")
    return ws, str(welcome["session"].rpartition(".")[0])


async def say(ws: Socket, said: str, client_id: str) -> None:
    await ws.send_json({"type": "message", "text": said, "client_id": client_id})


async def press(ws: Socket, message: dict[str, Any], title: str, client_id: str) -> None:
    index = [b["title"] for b in message["buttons"]].index(title)
    await ws.send_json(
        {"type": "button", "message_id": message["id"], "index": index, "client_id": client_id}
    )


def surveys(settings: Settings) -> list[dict[str, Any]]:
    with get_sessionmaker(settings.database_url).begin() as session:
        rows = session.execute(select(SatisfactionSurvey).order_by(SatisfactionSurvey.id))
        return [
            {
                column: getattr(row, column)
                for column in (
                    "conversation_id",
                    "customer_id",
                    "event",
                    "channel",
                    "application_id",
                    "agent_id",
                    "rating",
                    "comment",
                    "outcome",
                )
            }
            for row in rows.scalars()
        ]


def age_surveys(settings: Settings, by: dt.timedelta) -> None:
    """Move every survey's times back by ``by``, as if it had been asked that long ago."""
    with get_sessionmaker(settings.database_url).begin() as session:
        for row in session.execute(select(SatisfactionSurvey)).scalars():
            row.asked_at -= by
            if row.rated_at is not None:
                row.rated_at -= by


def filing(rasa: RasaDouble, settings: Settings) -> Callable[[dict[str, Any]], Any]:
    """The double's dialogue, where confirming files an application as the action would."""

    def reply(body: dict[str, Any]) -> list[dict[str, Any]]:
        if body["message"] == "/affirm":
            submit(settings, body["sender"], key=f"{body['sender']}:{len(rasa.requests)}")
        return scripted_reply(body)

    return reply


async def submitted(client: TestClient, rasa: RasaDouble, ws: Socket) -> dict[str, Any]:
    """Confirm the draft; the double files the application; return the survey's question."""
    rasa.reply = filing(rasa, client.app[keys.SETTINGS])
    await say(ws, "I need a refund", "ask")
    await bot_text(ws)
    await say(ws, "3000012345678901", "order")
    await press(ws, await bot_text(ws), "Refund without return", "method")
    await press(ws, await bot_text(ws), "Yes, submit", "confirm")
    assert (await bot_text(ws))["text"].startswith("Submitted.")
    question = await bot_text(ws)
    assert question["text"] == ASK_SUBMITTED
    assert [b["title"] for b in question["buttons"]] == STARS
    return question


async def test_a_submission_asks_and_a_button_rates_then_the_comment_is_kept(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, conversation_id = await widget(gateway)
    question = await submitted(gateway, rasa, ws)
    await press(ws, question, STARS[3], "rate")
    thanks = await bot_text(ws)
    assert thanks["text"] == text("survey.thanks")
    assert [b["title"] for b in thanks["buttons"]] == [text("survey.no_comment")]
    await say(ws, "Quick and clear, well done.", "comment")
    assert (await bot_text(ws))["text"] == text("survey.comment_thanks")

    # Neither the rating nor the comment reached Rasa; both are in the transcript.
    assert rasa.messages[-1] == "/affirm"
    (survey,) = surveys(settings)
    assert survey["conversation_id"] == conversation_id
    assert survey["customer_id"] == "c-1001"
    assert (survey["event"], survey["channel"]) == ("submitted", "webchat")
    assert survey["application_id"] is not None
    assert (survey["rating"], survey["comment"], survey["outcome"]) == (
        4,
        "Quick and clear, well done.",
        "rated",
    )
    with get_sessionmaker(settings.database_url).begin() as session:
        said = session.execute(
            select(TranscriptMessage.text, TranscriptMessage.status).where(
                TranscriptMessage.direction == "in"
            )
        ).all()
    assert [tuple(row) for row in said][-2:] == [
        (STARS[3], "done"),
        ("Quick and clear, well done.", "done"),
    ]
    await ws.close()


async def test_a_typed_rating_then_no_comment(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, _ = await widget(gateway)
    await submitted(gateway, rasa, ws)
    await say(ws, "4/5", "rate")
    thanks = await bot_text(ws)
    assert thanks["text"] == text("survey.thanks")
    await press(ws, thanks, text("survey.no_comment"), "none")
    assert (await bot_text(ws))["text"] == text("survey.no_comment_thanks")
    # The survey is over: what the buyer writes next is Rasa's again.
    await say(ws, "great", "after")
    assert (await bot_text(ws))["text"] == "You said: great"
    assert rasa.messages[-2:] == ["/affirm", "great"]
    (survey,) = surveys(settings)
    assert (survey["rating"], survey["comment"], survey["outcome"]) == (4, None, "rated")
    await ws.close()


async def test_a_message_that_is_not_an_answer_goes_to_rasa_untouched(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, _ = await widget(gateway)
    await submitted(gateway, rasa, ws)
    await say(ws, "where is my other parcel", "other")
    assert (await bot_text(ws))["text"] == "You said: where is my other parcel"
    # The survey closed: a number now is an ordinary message.
    await say(ws, "4", "late")
    assert (await bot_text(ws))["text"] == "You said: 4"
    assert rasa.messages[-3:] == ["/affirm", "where is my other parcel", "4"]
    (survey,) = surveys(settings)
    assert (survey["rating"], survey["outcome"]) == (None, "unanswered")
    await ws.close()


async def test_a_new_request_after_the_rating_is_not_taken_as_the_comment(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, _ = await widget(gateway)
    await submitted(gateway, rasa, ws)
    await say(ws, "five stars", "rate")
    assert (await bot_text(ws))["text"] == text("survey.thanks")
    await say(ws, "I want a refund for 3000098765432101 too", "next")
    assert (await bot_text(ws))["text"] == "Sure. What is the order number?"
    assert rasa.messages[-1] == "I want a refund for 3000098765432101 too"
    (survey,) = surveys(settings)
    assert (survey["rating"], survey["comment"], survey["outcome"]) == (5, None, "rated")
    await ws.close()


@pytest.mark.parametrize(
    ("language", "rating", "comment", "next_request"),
    [
        ("es", ("¡Muy bien, gracias!", 5), "Rápido y claro", "quiero devolver otro pedido"),
        ("ru", ("на 4", 4), "Всё быстро, спасибо", "хочу вернуть ещё один товар"),
    ],
)
async def test_a_buyer_rates_and_comments_in_their_language(
    gateway: TestClient,
    rasa: RasaDouble,
    settings: Settings,
    language: str,
    rating: tuple[str, int],
    comment: str,
    next_request: str,
) -> None:
    ws, _ = await widget(gateway, language=language)
    rasa.reply = filing(rasa, settings)
    # Only numbers and buttons: nothing here tells the conversation's language apart.
    await say(ws, "3000012345678901", "order")
    await press(ws, await bot_text(ws), "Refund without return", "method")
    await press(ws, await bot_text(ws), "Yes, submit", "confirm")
    assert (await bot_text(ws))["text"].startswith("Submitted.")
    assert (await bot_text(ws))["text"] == text("survey.ask.submitted", language=language)
    said, stars = rating
    await say(ws, said, "rate")
    assert (await bot_text(ws))["text"] == text("survey.thanks", language=language)
    await say(ws, comment, "comment")
    assert (await bot_text(ws))["text"] == text("survey.comment_thanks", language=language)
    (survey,) = surveys(settings)
    assert (survey["rating"], survey["comment"], survey["outcome"]) == (stars, comment, "rated")
    # The survey is over; a new request in the buyer's words is Rasa's.
    await say(ws, next_request, "next")
    assert (await bot_text(ws))["text"] == f"You said: {next_request}"
    assert rasa.messages[-2:] == ["/affirm", next_request]
    await ws.close()


async def test_a_request_in_the_buyers_language_after_the_rating_is_not_the_comment(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, _ = await widget(gateway, language="es")
    rasa.reply = filing(rasa, settings)
    await say(ws, "3000012345678901", "order")
    await press(ws, await bot_text(ws), "Refund without return", "method")
    await press(ws, await bot_text(ws), "Yes, submit", "confirm")
    assert (await bot_text(ws))["text"].startswith("Submitted.")
    assert (await bot_text(ws))["text"] == text("survey.ask.submitted", language="es")
    await say(ws, "cinco estrellas", "rate")
    assert (await bot_text(ws))["text"] == text("survey.thanks", language="es")
    await say(ws, "necesito cancelar otro pedido", "next")
    assert (await bot_text(ws))["text"] == "You said: necesito cancelar otro pedido"
    (survey,) = surveys(settings)
    assert (survey["rating"], survey["comment"]) == (5, None)
    await ws.close()


async def test_an_open_question_expires(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, _ = await widget(gateway)
    await submitted(gateway, rasa, ws)
    age_surveys(settings, dt.timedelta(minutes=31))
    await say(ws, "4", "late")
    assert (await bot_text(ws))["text"] == "You said: 4"
    (survey,) = surveys(settings)
    assert (survey["rating"], survey["outcome"]) == (None, "unanswered")
    await ws.close()


async def test_no_question_while_a_form_is_open(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    ws, conversation_id = await widget(gateway)
    rasa.active_loop[conversation_id] = "refund_form"
    rasa.reply = filing(rasa, settings)
    await say(ws, "3000012345678901", "order")
    await press(ws, await bot_text(ws), "Refund without return", "method")
    await press(ws, await bot_text(ws), "Yes, submit", "confirm")
    assert (await bot_text(ws))["text"].startswith("Submitted.")
    await gateway.app[keys.ROUTER].idle()
    assert surveys(settings) == []
    # Nor when Rasa cannot say whether one is open.
    rasa.active_loop.clear()
    rasa.down = True
    await gateway.app[SURVEY].offer(conversation_id, SurveyEvent.CLOSED)
    assert surveys(settings) == []
    await ws.close()


async def test_an_agent_closing_asks_about_their_help_never_while_they_have_it(
    aiohttp_server: Callable[..., Awaitable[TestServer]], rasa: RasaDouble, settings: Settings
) -> None:
    server = await aiohttp_server(create_app(settings), host="127.0.0.1")
    ana_info = add_agent(settings, "ana", Role.AGENT)
    ana = Console(await client_of(server))
    assert await ana.sign_in("ana") == 302
    buyer = await client_of(server)
    ws, conversation_id = await widget(buyer)
    survey = server.app[SURVEY]
    await say(ws, "human please", "m1")
    # The agent claims once the buyer has been told a person comes, as a real one would.
    queued = text("handoff.queued", wait="\0").partition("\0")[0]
    await message_starting(ws, queued)
    base = f"/console/api/conversations/{conversation_id}"
    await ana.ok(f"{base}/claim")
    # While a person has the conversation nothing is asked, whatever happens.
    assert not await survey.offer(conversation_id, SurveyEvent.PAID_OUT)
    await ana.ok(f"{base}/reply", {"text": "Done, your parcel is on its way."})
    await ana.ok(f"{base}/close")

    await wait_until(lambda: bool(surveys(settings)), what="the survey", timeout=20)
    question = await message_with_text(ws, text("survey.ask.closed"))
    await press(ws, question, STARS[1], "rate")
    assert (await bot_text(ws))["text"] == text("survey.thanks")
    await say(ws, "Too slow to answer.", "comment")
    assert (await bot_text(ws))["text"] == text("survey.comment_thanks")
    (row,) = surveys(settings)
    assert (row["event"], row["agent_id"], row["rating"]) == ("closed", ana_info.id, 2)
    assert row["comment"] == "Too slow to answer."
    assert "Too slow to answer." not in rasa.messages
    # The agent console shows the rating with the conversation.
    detail = await ana.get(base)
    assert [(s["event"], s["rating"], s["comment"]) for s in detail["satisfaction"]] == [
        ("closed", 2, "Too slow to answer.")
    ]
    await ws.close()
    await buyer.close()
    await ana.client.close()


async def message_with_text(ws: Socket, said: str) -> dict[str, Any]:
    while True:
        message = await bot_text(ws)
        if message["text"] == said:
            return message


async def message_starting(ws: Socket, start: str) -> dict[str, Any]:
    while True:
        message = await bot_text(ws)
        if message["text"].startswith(start):
            return message


async def test_the_buyer_is_asked_once_per_event_and_not_twice_in_a_day(
    gateway: TestClient, rasa: RasaDouble, settings: Settings
) -> None:
    survey = gateway.app[SURVEY]
    ws, first = await widget(gateway)
    await submitted(gateway, rasa, ws)
    await say(ws, "5", "rate")
    assert (await bot_text(ws))["text"] == text("survey.thanks")
    # The same buyer, in this conversation or another of theirs, is left alone for 24 hours.
    assert not await survey.offer(first, SurveyEvent.PAID_OUT)
    other_ws, other = await widget(gateway)
    assert not await survey.offer(other, SurveyEvent.CLOSED)
    # Another buyer is not.
    anonymous = await gateway.ws_connect("/webchat/ws")
    await anonymous.send_json({"type": "hello"})
    stranger = str((await frame(anonymous, "welcome"))["session"]).rpartition(".")[0]
    assert await survey.offer(stranger, SurveyEvent.CLOSED)

    age_surveys(settings, dt.timedelta(hours=25))
    # A day later: each event still once per conversation, another event may be asked.
    assert not await survey.offer(first, SurveyEvent.SUBMITTED)
    assert await survey.offer(first, SurveyEvent.PAID_OUT)
    assert [(s["conversation_id"], s["event"]) for s in surveys(settings)] == [
        (first, "submitted"),
        (stranger, "closed"),
        (first, "paid_out"),
    ]
    for socket in (ws, other_ws, anonymous):
        await socket.close()


async def test_a_telegram_buyer_told_of_the_payout_rates_it_with_a_button(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    rasa: RasaDouble,
    bot_api: BotApiDouble,
    settings: Settings,
) -> None:
    tg = telegram_settings(settings, bot_api, "webhook")
    client = await aiohttp_client(create_app(tg))
    buyer = Buyer(bot_api, client)
    await buyer.says(f"/start {make_start_parameter(SHOP_SECRET, 'c-1001')}")
    greeting = escape_markdown("Hi! I can help you with refunds.", version=2)
    await wait_until(lambda: greeting in bot_api.texts(CHAT), what="the greeting", timeout=20)
    # The greeting's turn is over (it would take the application below as filed in it).
    await client.app[keys.ROUTER].idle()
    conversation_id = f"tg-{CHAT}"
    application_id = submit(settings, conversation_id)
    move(
        settings,
        application_id,
        RefundStatus.APPROVED,
        RefundStatus.RETURN_RECEIVED,
        RefundStatus.REFUNDED,
    )
    ask = escape_markdown(text("survey.ask.paid_out"), version=2)
    await wait_until(lambda: ask in bot_api.texts(CHAT), what="the survey", timeout=20)
    assert [b["text"] for b in buyer.last_keyboard()] == STARS
    await buyer.presses(STARS[4])
    thanks = escape_markdown(text("survey.thanks"), version=2)
    assert bot_api.texts(CHAT)[-1] == thanks
    await buyer.presses(text("survey.no_comment"))
    (row,) = surveys(settings)
    assert (row["event"], row["channel"], row["application_id"]) == (
        "paid_out",
        "telegram",
        application_id,
    )
    assert (row["rating"], row["outcome"]) == (5, "rated")
    assert not any(m.startswith("/survey") for m in rasa.messages)
    await client.close()
