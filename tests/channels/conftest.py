"""Fixtures of the channel tests: the Bot API double, a Rasa double, on each database backend."""

from __future__ import annotations

from tests.gateway.doubles import bot_api, gateway, rasa, settings

__all__ = ["bot_api", "gateway", "rasa", "settings"]
