"""Fixtures of the shop API tests: the real gateway app on each database backend, and keys.

``db_url`` is the shared one (tests/conftest.py): SQLite, and PostgreSQL when configured.
"""

from __future__ import annotations

from tests.api.receiver import receiver
from tests.api.worker import http
from tests.gateway.doubles import gateway, rasa, settings

__all__ = ["gateway", "http", "rasa", "receiver", "settings"]
