"""Fixtures of the gateway tests: a Rasa double and the app, on each database backend.

``db_url`` is the shared one (tests/conftest.py): SQLite, and PostgreSQL when configured.
"""

from __future__ import annotations

from tests.gateway.doubles import bot_api, gateway, rasa, settings

__all__ = ["bot_api", "gateway", "rasa", "settings"]
