"""A catalogue for every language, for tests that check which language the gateway writes in.

Where a language's catalogue is not written yet, :func:`catalogues` stands in the English one
with each sentence marked ``[es] …``; a test comparing with ``messages.text(key, language=...)``
then shows which language was asked for, whatever the translation says.
"""

from __future__ import annotations

import pytest

from bot import messages
from bot.languages import LANGUAGES


@pytest.fixture
def catalogues(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every language a catalogue: its own, or the English one marked with its code."""
    for code in LANGUAGES:
        if code not in messages.CATALOGUES:
            marked = {key: f"[{code}] {said}" for key, said in messages.MESSAGES.items()}
            monkeypatch.setitem(messages.CATALOGUES, code, marked)
