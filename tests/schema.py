"""Comparing the models with the schema the migrations build (Alembic autogenerate diffs)."""

from __future__ import annotations


def table_of(diff: object) -> str | None:
    """The table an Alembic autogenerate diff is about, or None when it names none."""
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:] if isinstance(item, tuple) else ():
        table = getattr(part, "table", None)
        name = getattr(table, "name", None) or getattr(part, "name", None)
        if isinstance(name, str):
            return name
    return None
