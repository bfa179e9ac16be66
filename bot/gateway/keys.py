"""Typed keys of what the gateway app holds (the console and the handoff have their own)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from sqlalchemy.orm import sessionmaker

from bot.gateway.ratelimit import RateLimits
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel
    from bot.channels.webchat import WebChat
    from bot.gateway.fanout import FanOut
    from bot.gateway.outbound import Outbound
    from bot.gateway.rasa import RasaClient
    from bot.gateway.router import Router

SETTINGS = web.AppKey("settings", Settings)
SHOP_SECRET = web.AppKey("shop_secret", str)
SESSIONS = web.AppKey("sessions", sessionmaker)
#: Units of work that only read (see :mod:`bot.refunds.db`).
READ_SESSIONS = web.AppKey("read_sessions", sessionmaker)
HTTP = web.AppKey("http", aiohttp.ClientSession)
RASA: web.AppKey[RasaClient] = web.AppKey("rasa")
OUTBOUND: web.AppKey[Outbound] = web.AppKey("outbound")
ROUTER: web.AppKey[Router] = web.AppKey("router")
WEBCHAT: web.AppKey[WebChat] = web.AppKey("webchat")
TELEGRAM: web.AppKey[TelegramChannel | None] = web.AppKey("telegram")
LIMITS = web.AppKey("limits", RateLimits)
#: The link to the other gateways; ``None`` without Redis (one gateway).
FANOUT: web.AppKey[FanOut | None] = web.AppKey("fanout")
