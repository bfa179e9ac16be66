"""Every Rasa response renders with the values it can see: no ``{placeholder}`` reaches a buyer.

A response's placeholders are filled from the slots and from the keyword arguments of the
``utter_message(response=...)`` call that sends it. The actions are read as code (their calls),
and rules and stories send responses with slots only; a response with a placeholder that no
caller provides would show the buyer the brace itself (Rasa leaves it in and logs a KeyError).
"""

from __future__ import annotations

import ast
import string
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
SLOTS = set(DOMAIN["slots"])
#: Keywords of utter_message that are not template values; refuse() takes a few more.
NOT_VALUES = {"response", "buttons", "json_message", "text"}
NOT_REFUSAL_VALUES = NOT_VALUES | {"field", "hint", "clear", "policy", "message"}


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def response_calls() -> dict[str, list[set[str]]]:
    """Return, per response name, the keyword sets of each call that sends it from an action."""
    calls: dict[str, list[set[str]]] = defaultdict(list)
    for path in sorted((ROOT / "actions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            sends = (isinstance(func, ast.Attribute) and func.attr == "utter_message") or (
                isinstance(func, ast.Name) and func.id == "refuse"
            )
            if not sends:
                continue
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            response = keywords.get("response")
            if isinstance(response, ast.Constant) and isinstance(response.value, str):
                refusal = isinstance(func, ast.Name)
                given = set(keywords) - (NOT_REFUSAL_VALUES if refusal else NOT_VALUES)
                if any(k.arg is None for k in node.keywords):
                    given.add("**")
                calls[response.value].append(given)
    return calls


def sent_by_rules() -> set[str]:
    """Return the responses rules and stories send directly (with slots only)."""
    sent: set[str] = set()
    for path in [*(ROOT / "data").rglob("*.yml"), ROOT / "tests" / "test_stories.yml"]:
        for block in ("rules", "stories"):
            for item in yaml.safe_load(path.read_text()).get(block) or []:
                sent |= {
                    step["action"]
                    for step in item.get("steps", [])
                    if str(step.get("action", "")).startswith("utter_")
                }
    return sent


def test_every_placeholder_of_a_response_has_a_value_wherever_it_is_sent() -> None:
    calls = response_calls()
    by_rules = sent_by_rules()
    missing = []
    for name, variants in DOMAIN["responses"].items():
        needed = set().union(*(placeholders(v.get("text", "")) for v in variants)) - SLOTS
        if not needed:
            continue
        if name in by_rules or name.startswith("utter_ask_"):
            missing.append(f"{name}: sent with slots only, needs {sorted(needed)}")
        missing += [
            f"{name}: an action sends it without {sorted(needed - given)}"
            for given in calls.get(name, [])
            if "**" not in given and needed - given
        ]
    assert missing == []
