"""The text of each language other than English, read once from ``languages/<code>/``.

English is the source: Python-made sentences in :data:`bot.messages.MESSAGES`, Rasa's responses
in ``domain.yml``. Every other language of :data:`bot.languages.LANGUAGES` has two catalogues
in ``languages/<code>/`` (its NLU data is in ``data/nlu/<code>/``): ``messages.yml`` (the same
keys as ``MESSAGES``, the same placeholders) and ``responses.yml`` (the same responses as the
domain, with the same buttons' payloads and conditions). ``tests/i18n`` fails when one of them
drifts from the English source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.languages import DEFAULT, LANGUAGES

#: The folder of the languages' data and catalogues, beside the ``bot`` package.
LANGUAGES_DIR = Path(__file__).resolve().parent.parent / "languages"

#: A Rasa response: its variations, each a mapping (``text``, ``buttons``, ``condition``, …).
Responses = dict[str, list[dict[str, Any]]]


def translations() -> tuple[str, ...]:
    """Return the languages with catalogues of their own: every language but the default."""
    return tuple(code for code in LANGUAGES if code != DEFAULT)


def _read(language: str, name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((LANGUAGES_DIR / language / name).read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"languages/{language}/{name} is not a mapping")
    return loaded


def messages(language: str) -> dict[str, str]:
    """Return ``language``'s sentences for Python-made text (``languages/<code>/messages.yml``)."""
    found = _read(language, "messages.yml")
    wrong = sorted(str(key) for key, value in found.items() if not isinstance(value, str))
    if wrong:
        raise ValueError(f"languages/{language}/messages.yml: not a sentence: {wrong}")
    return {str(key): value for key, value in found.items()}


def responses(language: str) -> Responses:
    """Return ``language``'s Rasa responses (``languages/<code>/responses.yml``'s ``responses``)."""
    found = _read(language, "responses.yml").get("responses")
    if not isinstance(found, dict):
        raise ValueError(f"languages/{language}/responses.yml has no responses")
    return {str(name): list(variations) for name, variations in found.items()}
