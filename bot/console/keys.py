"""Typed keys of what the agent console keeps in the gateway app."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.engine import Engine

from bot.console.hub import ConsoleHub

HUB = web.AppKey("console_hub", ConsoleHub)
#: A read-only engine on Rasa's tracker store (the NLU review page and the Insights page).
TRACKER = web.AppKey("console_tracker", Engine)
