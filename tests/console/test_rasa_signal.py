"""The agreed signal from the actions to the gateway: ``{"handoff": {"reason": ...}}``."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestServer
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.common import refuse
from actions.conversation import ActionRequestHuman
from bot.contract import handoff_reason
from bot.handoff.models import Handoff
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.console.agents import client_of
from tests.gateway.doubles import RasaDouble, wait_until
from tests.gateway.webchat_client import bot_text, frame


def tracker(slots: dict[str, Any]) -> Tracker:
    return Tracker(
        sender_id="web-1",
        slots=slots,
        latest_message={"text": "x", "intent": {"name": "inform"}},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": "refund_form"},
        latest_action_name="action_listen",
    )


async def test_asking_for_a_person_signals_the_gateway() -> None:
    dispatcher = CollectingDispatcher()
    assert await ActionRequestHuman().run(dispatcher, tracker({}), {}) == []
    assert [m.get("response") for m in dispatcher.messages] == ["utter_human_requested", None]
    assert handoff_reason(dispatcher.messages[1]["custom"]).value == "buyer_asked"  # type: ignore[union-attr]


def test_the_second_failure_signals_the_gateway() -> None:
    dispatcher = CollectingDispatcher()
    first = refuse(
        dispatcher,
        tracker({}),
        "refund_amount",
        response="utter_amount_not_a_number",
        field="amount",
        hint="Say 12.50.",
    )
    assert [m.get("custom") or None for m in dispatcher.messages] == [None]
    second = refuse(
        dispatcher,
        tracker({"failed_slot": "refund_amount", **first}),
        "refund_amount",
        response="utter_amount_not_a_number",
        field="a",
        hint="h",
    )
    assert second["failed_count"] == 2
    assert [m.get("custom") or None for m in dispatcher.messages] == [
        None,
        None,
        None,
        {"handoff": {"reason": "repeated_failure"}},
    ]


async def test_repeated_failure_reaches_the_queue_with_its_reason(
    server: TestServer, rasa: RasaDouble, settings: Settings
) -> None:
    def reply(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"text": "I'm having trouble with the amount."},
            {"custom": {"handoff": {"reason": "repeated_failure"}}},
        ]

    rasa.reply = reply
    buyer = await client_of(server)
    ws = await buyer.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello"})
    await frame(ws, "welcome")
    await ws.send_json({"type": "message", "text": "lots", "client_id": "m1"})
    assert (await bot_text(ws))["text"] == "I'm having trouble with the amount."
    assert "nobody is online" in (await bot_text(ws))["text"]

    def reason() -> str | None:
        with get_sessionmaker(settings.database_url).begin() as session:
            return session.execute(select(Handoff.reason)).scalar_one_or_none()

    await wait_until(lambda: reason() == "repeated_failure")
    await ws.close()
    await buyer.close()
