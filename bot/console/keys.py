"""Typed keys of what the agent console keeps in the gateway app."""

from __future__ import annotations

from aiohttp import web

from bot.console.hub import ConsoleHub

HUB = web.AppKey("console_hub", ConsoleHub)
#: Failed console sign-ins by (address, name): their times, for throttling.
LOGIN_FAILURES: web.AppKey[dict[tuple[str, str], list[float]]] = web.AppKey("login_failures")
