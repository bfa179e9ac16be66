"""The message catalogue: every sentence the code asks for exists, with the values it needs."""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator

import pytest

from bot import messages
from bot.messages import MESSAGES, placeholders
from bot.settings import PROJECT_ROOT

#: Keys made at run time from a value of the store (``method.<method>``): each family's
#: sentences take the same placeholders.
FAMILIES = ("method.", "state.", "category.", "why_not.", "status.")
CATALOGUE_CALLS = {"text", "message_text"}


def catalogue_calls() -> Iterator[tuple[str, int, ast.Call]]:
    for root in (PROJECT_ROOT / "bot", PROJECT_ROOT / "actions", PROJECT_ROOT / "bench"):
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in CATALOGUE_CALLS:
                    yield str(path.relative_to(PROJECT_ROOT)), node.lineno, node


def literal_key(call: ast.Call) -> str | None:
    first = call.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def test_every_literal_key_exists_and_gets_exactly_its_placeholders() -> None:
    problems = []
    for where, line, call in catalogue_calls():
        key = literal_key(call)
        if key is None:
            continue
        if key not in MESSAGES:
            problems.append(f"{where}:{line}: no message {key!r}")
            continue
        # ``language`` chooses the catalogue; it is not a placeholder.
        given = {kw.arg for kw in call.keywords if kw.arg not in (None, "language")}
        spread = any(kw.arg is None for kw in call.keywords)
        wanted = placeholders(key)
        if not wanted <= given and not spread:
            problems.append(f"{where}:{line}: {key!r} needs {sorted(wanted - given)}")
        if given - wanted:
            problems.append(f"{where}:{line}: {key!r} does not use {sorted(given - wanted)}")
    assert problems == []


def test_keys_made_at_run_time_come_from_a_family() -> None:
    dynamic = [
        (where, line)
        for where, line, call in catalogue_calls()
        if literal_key(call) is None
        and not (
            isinstance(call.args[0], ast.JoinedStr)
            and isinstance(call.args[0].values[0], ast.Constant)
            and str(call.args[0].values[0].value).startswith(FAMILIES)
        )
        and not isinstance(call.args[0], ast.Name)
    ]
    assert dynamic == []


@pytest.mark.parametrize("family", FAMILIES)
def test_a_familys_sentences_take_compatible_placeholders(family: str) -> None:
    members = [key for key in MESSAGES if key.startswith(family)]
    assert members
    if family != "status.":
        assert {placeholders(key) for key in members if key != "why_not.window_closed"} == {
            frozenset()
        }


def test_every_message_is_used() -> None:
    literal = {literal_key(call) for _, _, call in catalogue_calls()}
    unused = [k for k in MESSAGES if k not in literal and not k.startswith(FAMILIES)]
    assert unused == []


def test_placeholders_are_names() -> None:
    for key, template in MESSAGES.items():
        for _, name, spec, conversion in string.Formatter().parse(template):
            if name is not None:
                assert name.isidentifier(), key
                assert not spec, key
                assert not conversion, key


def test_a_missing_value_is_an_error_not_a_placeholder_shown_to_a_buyer() -> None:
    with pytest.raises(KeyError):
        messages.text("order.line", name="x")


def test_sizes_and_money_read_naturally() -> None:
    assert messages.size(10 * 1024 * 1024) == "10 MB"
    assert messages.size(1536 * 1024) == "1.5 MB"
    assert messages.size(2048) == "2 KB"
    assert messages.money("12.50", "USD") == "12.50 USD"


def test_the_catalogue_is_read_by_the_check() -> None:
    """The check sees the product's calls (a guard against it silently checking nothing)."""
    assert sum(1 for _ in catalogue_calls()) > 50
