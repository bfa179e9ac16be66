"""The languages the assistant speaks with buyers.

Adding a language is its data and catalogues under ``languages/<code>/`` and its code here.
"""

from __future__ import annotations

#: Every language buyers are answered in (ISO 639-1), the default first.
LANGUAGES: tuple[str, ...] = ("en", "es", "ru")
#: The language of a conversation nothing has told apart yet, and of every catalogue's source.
DEFAULT = "en"


def answered_in(language: object) -> str:
    """Return the language a conversation said to be in ``language`` is answered in.

    One we speak is answered in itself; anything else (unknown, missing) in the default.
    """
    return language if isinstance(language, str) and language in LANGUAGES else DEFAULT
