"""Every language says everything English says, with the same placeholders and buttons.

English is the source (``bot/messages.py``'s ``MESSAGES``, ``domain.yml``'s responses); each
other language's ``languages/<code>/messages.yml`` and ``responses.yml`` must have exactly its
keys and responses. A sentence missing in one language, present only in a translation, or with
a placeholder the code does not fill (or fills but the translation drops), a button whose
payload differs or a variation whose condition or channel differs, fails here by name.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
import yaml

from bot import catalogue
from bot.languages import DEFAULT, LANGUAGES
from bot.messages import CATALOGUES, MESSAGES
from bot.settings import PROJECT_ROOT

DOMAIN_RESPONSES: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (PROJECT_ROOT / "domain.yml").read_text()
)["responses"]
TRANSLATIONS = [code for code in LANGUAGES if code != DEFAULT]
#: What a response's variation may hold besides its words (text, button titles).
KNOWN_PARTS = {"text", "buttons", "condition", "channel", "custom", "image"}


def names(template: str) -> list[str]:
    """Return a template's placeholders in order (repeats kept: the buyer sees each one)."""
    return sorted(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def message_differences(english: dict[str, str], translated: dict[str, str]) -> list[str]:
    """Return how a catalogue of Python-made text differs from English's, one line each."""
    problems = [f"missing {key!r}" for key in english if key not in translated]
    problems += [f"only in the translation: {key!r}" for key in translated if key not in english]
    problems += [
        f"{key!r}: placeholders {names(translated[key])}, English has {names(template)}"
        for key, template in english.items()
        if key in translated and names(translated[key]) != names(template)
    ]
    return problems


def shape(variation: dict[str, Any]) -> dict[str, Any]:
    """Return what a variation must keep in every language: everything but its words."""
    buttons = variation.get("buttons") or []
    return {
        "parts": sorted(variation),
        "placeholders": names(str(variation.get("text", ""))),
        "condition": variation.get("condition"),
        "channel": variation.get("channel"),
        "custom": variation.get("custom"),
        "image": variation.get("image"),
        "payloads": [button.get("payload") for button in buttons],
        "titles": [names(str(button.get("title", ""))) for button in buttons],
    }


def response_differences(
    english: dict[str, list[dict[str, Any]]], translated: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """Return how a language's Rasa responses differ from the domain's, one line each."""
    problems = [f"missing {name}" for name in english if name not in translated]
    problems += [f"only in the translation: {name}" for name in translated if name not in english]
    for name, variations in english.items():
        if name not in translated:
            continue
        theirs = translated[name]
        if len(theirs) != len(variations):
            problems.append(f"{name}: {len(theirs)} variations, English has {len(variations)}")
            continue
        for index, (ours, translation) in enumerate(zip(variations, theirs, strict=True)):
            if not translation.get("text"):
                problems.append(f"{name}[{index}]: no text")
            if shape(translation) != shape(ours):
                problems.append(f"{name}[{index}]: {shape(translation)} != {shape(ours)}")
    return problems


def test_every_language_but_the_source_has_catalogues() -> None:
    assert DEFAULT == "en"
    assert set(CATALOGUES) == set(LANGUAGES)
    for code in TRANSLATIONS:
        assert (catalogue.LANGUAGES_DIR / code / "messages.yml").is_file()
        assert (catalogue.LANGUAGES_DIR / code / "responses.yml").is_file()


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_python_made_text_is_complete_with_the_same_placeholders(language: str) -> None:
    assert message_differences(MESSAGES, CATALOGUES[language]) == []


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_python_made_text_is_translated(language: str) -> None:
    """Sentences with words are not English left in place (names and symbols may repeat)."""
    same = [
        key
        for key, template in MESSAGES.items()
        if CATALOGUES[language][key] == template
        and any(word.isalpha() and len(word) > 3 for word in template.split())
    ]
    assert same == []


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_rasa_responses_are_complete_with_the_same_shape(language: str) -> None:
    assert response_differences(DOMAIN_RESPONSES, catalogue.responses(language)) == []


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_rasa_responses_are_translated(language: str) -> None:
    translated = catalogue.responses(language)
    same = [
        name
        for name, variations in DOMAIN_RESPONSES.items()
        for ours, theirs in zip(variations, translated[name], strict=True)
        if ours.get("text") == theirs.get("text")
        or any(
            a.get("title") == b.get("title")
            for a, b in zip(ours.get("buttons", []), theirs.get("buttons", []), strict=True)
        )
    ]
    assert same == []


def test_responses_hold_only_what_the_check_compares() -> None:
    """A new kind of part in the domain (e.g. ``quick_replies``) must be added to the check."""
    parts = {part for variations in DOMAIN_RESPONSES.values() for v in variations for part in v}
    assert parts <= KNOWN_PARTS


def test_the_check_finds_each_kind_of_drift() -> None:
    """The comparisons report what they are for (a guard against a check that passes always)."""
    english = {"a": "Order {order_id}.", "b": "Hi."}
    assert message_differences(english, {"a": "Pedido {order}.", "c": "Hola."}) == [
        "missing 'b'",
        "only in the translation: 'c'",
        "'a': placeholders ['order'], English has ['order_id']",
    ]
    yes = {"title": "Yes", "payload": "/affirm"}
    domain = {"utter_x": [{"text": "Sure, {name}?", "buttons": [yes]}], "utter_y": [{"text": "y"}]}
    assert response_differences(
        domain, {"utter_x": [{"text": "¿Seguro, {name}?", "buttons": [yes]}], "utter_z": []}
    ) == ["missing utter_y", "only in the translation: utter_z"]
    drifts = [
        [{"text": "¿Seguro, {nombre}?", "buttons": [{"title": "Sí", "payload": "/affirm"}]}],
        [{"text": "¿Seguro, {name}?", "buttons": [{"title": "Sí", "payload": "/deny"}]}],
        [{"text": "¿Seguro, {name}?", "buttons": []}],
        [{"text": "¿Seguro, {name}?"}],
        [{"text": "¿Seguro, {name}?", "buttons": [yes], "channel": "telegram"}],
        [{"text": "¿Seguro, {name}?", "buttons": [{"title": "Sí {name}", "payload": "/affirm"}]}],
    ]
    for drift in drifts:
        found = response_differences({"utter_x": domain["utter_x"]}, {"utter_x": drift})
        assert len(found) == 1
        assert found[0].startswith("utter_x[0]: ")
    assert response_differences({"utter_x": domain["utter_x"]}, {"utter_x": drift * 2}) == [
        "utter_x: 2 variations, English has 1"
    ]
