"""Typed keys of what the agent console keeps in the gateway app."""

from __future__ import annotations

from aiohttp import web

from bot.console.hub import ConsoleHub

HUB = web.AppKey("console_hub", ConsoleHub)
