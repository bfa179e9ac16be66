"""Reading the assistant's replies in conversation tests."""

from __future__ import annotations


def buttons(replies: list[dict]) -> dict[str, str]:
    """Return every button of ``replies`` as title → payload."""
    return {b["title"]: b["payload"] for m in replies for b in m.get("buttons") or []}
