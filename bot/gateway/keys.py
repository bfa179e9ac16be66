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
    from bot.gateway.rasa import RasaClient
    from bot.gateway.router import Router

SETTINGS = web.AppKey("settings", Settings)
SHOP_SECRET = web.AppKey("shop_secret", str)
SESSIONS = web.AppKey("sessions", sessionmaker)
HTTP = web.AppKey("http", aiohttp.ClientSession)
RASA: web.AppKey[RasaClient] = web.AppKey("rasa")
ROUTER: web.AppKey[Router] = web.AppKey("router")
WEBCHAT: web.AppKey[WebChat] = web.AppKey("webchat")
TELEGRAM: web.AppKey[TelegramChannel | None] = web.AppKey("telegram")
