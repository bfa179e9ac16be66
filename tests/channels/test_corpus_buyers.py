"""The corpus's buyers and agent on the real gateway app, with the Rasa and Bot API doubles.

A scripted conversation is played through :class:`bench.telegram.TelegramBuyer` (updates posted
to the gateway's webhook, answers read from the double's ``sendMessage`` calls) and through the
widget's WebSocket, with a support agent taking it over and handing it back in the console.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from bench.accounts import Account
from bench.agent import ConsoleAgent
from bench.client import Buyer, WidgetBuyer
from bench.scripted import load_scripts, play
from bench.telegram import TelegramBuyer
from bot import contract
from bot.gateway.app import create_app
from bot.gateway.identity import make_start_parameter, make_token
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.channels.telegram_buyer import telegram_settings
from tests.factories import make_customer
from tests.gateway.doubles import SHOP_SECRET, BotApiDouble, RasaDouble

SCRIPT = """
- name: refund_then_a_person_then_back_to_the_bot
  covers: [hand_back]
  turns:
    - say: "I want a refund"
      expect: "order number"
    - say: "3000012345678901"
      expect: "Order 3000012345678901"
      buttons: ["Refund without return"]
    - press: "Refund without return"
      expect: "12.00 USD"
      buttons: ["Yes, submit"]
    - say: "I'd like a person"
      expect: "person from our support team"
    - say: "hello?"
      silent: true
    - agent: take
      expect: "Sam from support joined"
    - agent: say
      text: "Hi, Sam here."
      expect: "Sam here"
    - agent: hand_back
      slots: {order_id: "{LAMP}"}
      expect: ["The assistant will continue", "Order {LAMP}"]
    - rejoin: true
    - say: "I want another refund"
      expect: "order number"
  store: []
"""


async def play_both_ways(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
    tmp_path: Path,
) -> dict[str, str]:
    settings = telegram_settings(settings, bot_api, "webhook")
    server = await aiohttp_server(create_app(settings), host="127.0.0.1")
    gateway_url = str(server.make_url("")).rstrip("/")
    sessions = get_sessionmaker(settings.database_url)
    with sessions.begin() as session:
        make_customer(session, id="c-1001", name="Ada Buyer")
    (tmp_path / "s.yml").write_text(SCRIPT)
    [script] = load_scripts([tmp_path / "s.yml"])
    account = Account("c-1001", "c-1001@example.com", {"LAMP": "3000012345678902"})
    agent = ConsoleAgent(gateway_url, sessions)
    problems: dict[str, str] = {}
    async with aiohttp.ClientSession() as http:
        # A turn ends at a quiet second: the handoff's notice follows the bot's reply of the same
        # turn after the gateway has queued the conversation, later than 0.3 s on a busy machine.
        buyers: list[Buyer] = [
            await TelegramBuyer.start(
                http,
                gateway_url=gateway_url,
                api=bot_api,
                chat_id=4343,
                start_parameter=make_start_parameter(SHOP_SECRET, "c-1001"),
                quiet_seconds=1.0,
            ),
            await WidgetBuyer.connect(
                http,
                f"{gateway_url.replace('http', 'ws')}/webchat/ws",
                token=make_token(SHOP_SECRET, "c-1001"),
                quiet_seconds=1.0,
            ),
        ]
        for buyer in buyers:
            # The bot was in its refund form when the person came: it goes on with it.
            rasa.active_loop[buyer.conversation_id] = "refund_form"
            outcome = await play(script, buyer, account, agent)
            await buyer.close()
            problems[buyer.path] = outcome.describe()
    await agent.close()
    return problems


async def test_a_script_with_an_agent_plays_on_telegram_and_in_the_widget(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
    tmp_path: Path,
) -> None:
    problems = await play_both_ways(aiohttp_server, settings, bot_api, rasa, tmp_path)
    name = "refund_then_a_person_then_back_to_the_bot"
    assert problems == {"telegram": f"{name}: passed", "gateway": f"{name}: passed"}
    # The Telegram buyer signed in by the shop's deep link, and read MarkdownV2 as plain text.
    assert "You're signed in as Ada Buyer\\." in bot_api.texts(4343)
    assert any(m.startswith("Sam \\(support\\): Hi, Sam here\\.") for m in bot_api.texts(4343))
    # Handing back checked the agent's values, then ran the form again, in both conversations.
    assert [name for _, name in rasa.executed] == [contract.HAND_BACK_ACTION, "refund_form"] * 2
    assert ("tg-4343", "refund_form") in rasa.executed
