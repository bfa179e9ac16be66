"""Typed keys of everything the gateway app holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from sqlalchemy.orm import sessionmaker

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel
    from bot.channels.webchat import WebChat
    from bot.console.hub import ConsoleHub
    from bot.gateway.handoff import Handoffs
    from bot.gateway.rasa import RasaClient
    from bot.gateway.router import Router

SETTINGS = web.AppKey("settings", Settings)
SHOP_SECRET = web.AppKey("shop_secret", str)
SESSIONS = web.AppKey("sessions", sessionmaker)
#: Units of work that only read (see :mod:`bot.refunds.db`).
READ_SESSIONS = web.AppKey("read_sessions", sessionmaker)
HTTP = web.AppKey("http", aiohttp.ClientSession)
RASA: web.AppKey[RasaClient] = web.AppKey("rasa")
ROUTER: web.AppKey[Router] = web.AppKey("router")
WEBCHAT: web.AppKey[WebChat] = web.AppKey("webchat")
TELEGRAM: web.AppKey[TelegramChannel | None] = web.AppKey("telegram")
HANDOFFS: web.AppKey[Handoffs] = web.AppKey("handoffs")
#: Failed console sign-ins by (address, name): their times, for throttling.
LOGIN_FAILURES: web.AppKey[dict[tuple[str, str], list[float]]] = web.AppKey("login_failures")
CONSOLE_HUB: web.AppKey[ConsoleHub] = web.AppKey("console_hub")
