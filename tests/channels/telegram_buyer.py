"""A buyer on Telegram for gateway tests: updates by webhook or getUpdates to the Bot API double.

The double, the update builders and the webhook secret are :mod:`bench.telegram`'s (the corpus's
:class:`~bench.telegram.TelegramBuyer` plays whole conversations the same way).
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from bench.telegram import HOOK_SECRET, reply_of
from bot.channels.telegram import SECRET_HEADER
from bot.settings import Settings
from tests.gateway.doubles import (
    TELEGRAM_TOKEN,
    BotApiDouble,
    callback_update,
    text_update,
    wait_until,
    with_gateway,
)

CHAT = 4242


def telegram_settings(settings: Settings, bot_api: BotApiDouble, mode: str) -> Settings:
    return with_gateway(
        settings,
        telegram_token=TELEGRAM_TOKEN,
        telegram_api_url=bot_api.url,
        telegram_mode=mode,
        telegram_webhook_url="https://shop.example/refundbot" if mode == "webhook" else "",
        telegram_webhook_secret=HOOK_SECRET,
    )


__all__ = ["CHAT", "HOOK_SECRET", "Buyer", "telegram_settings"]


class Buyer:
    """Sends updates the way Telegram would, by webhook or through getUpdates."""

    def __init__(self, bot_api: BotApiDouble, client: TestClient | None) -> None:
        self.bot_api = bot_api
        self.client = client

    async def send(self, update: dict[str, Any], secret: str = HOOK_SECRET) -> int:
        if self.client is None:
            self.bot_api.queue_update(update)
            return 200
        response = await self.client.post(
            "/telegram/webhook", json=update, headers={SECRET_HEADER: secret}
        )
        return response.status

    async def says(self, text: str) -> None:
        before = len(self.bot_api.texts(CHAT))
        assert await self.send(text_update(CHAT, text)) == 200
        await wait_until(
            lambda: len(self.bot_api.texts(CHAT)) > before, what=f"a reply to {text!r}"
        )

    def last_keyboard(self) -> list[dict[str, Any]]:
        reply = reply_of(self.bot_api.called("sendMessage")[-1])
        return [
            {"text": title, "callback_data": data}
            for title, data in zip(reply.buttons, reply.payloads, strict=True)
        ]

    async def presses(self, title: str) -> None:
        button = next(b for b in self.last_keyboard() if b["text"] == title)
        before = len(self.bot_api.texts(CHAT))
        await self.send(callback_update(CHAT, button["callback_data"]))
        await wait_until(
            lambda: len(self.bot_api.texts(CHAT)) > before, what=f"a reply to {title!r}"
        )
