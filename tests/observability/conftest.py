"""The gateway's fixtures (a Rasa double and the app on a migrated database)."""

from __future__ import annotations

from tests.gateway.doubles import gateway, rasa, settings

__all__ = ["gateway", "rasa", "settings"]
