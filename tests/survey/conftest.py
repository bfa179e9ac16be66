"""Fixtures of the survey tests: the real gateway app with a Rasa double, on each backend.

``db_url`` is the shared one (tests/conftest.py): SQLite, and PostgreSQL when configured.
"""

from __future__ import annotations

from tests.gateway.doubles import bot_api, gateway, rasa, settings

__all__ = ["bot_api", "gateway", "rasa", "settings"]
