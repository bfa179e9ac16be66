"""Spanish and Russian NLU data, read the way Rasa reads it.

data/nlu/<lang>/ holds the buyer messages of each language beside English's data/nlu/*.yml; one
model learns them all. tests/nlu_heldout_<lang>.yml measures it and is never trained on.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import read_yaml_file

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("es", "ru")
MIN_TRAINING = 40
MIN_HELD_OUT = 15
#: Entities whose value is one of a fixed set (the English data's and the domain's buttons').
CANONICAL = ("refund_method", "refund_reason_category", "change_field")
#: Letters that only the language's own messages have: if the English data had any, it would
#: have been read together with these files.
OWN_LETTERS = {"es": re.compile(r"[ñáéíóú¿¡]", re.I), "ru": re.compile(r"[а-яё]", re.I)}
ORDER_ID = re.compile(r"\d{12,19}")
PathOf = Callable[[str], Path]


def training_path(language: str) -> Path:
    return PROJECT_ROOT / "data" / "nlu" / language


def held_out_path(language: str) -> Path:
    return PROJECT_ROOT / "tests" / f"nlu_heldout_{language}.yml"


@functools.cache
def load(path: Path) -> TrainingData:
    return load_data(str(path))


@functools.cache
def domain() -> dict[str, Any]:
    loaded: dict[str, Any] = read_yaml_file(PROJECT_ROOT / "domain.yml")
    return loaded


def english_files() -> list[Path]:
    """Return the English data: data/ less the other languages' folders."""
    others = [PROJECT_ROOT / "data" / "nlu" / language for language in LANGUAGES]
    return [
        path
        for path in sorted((PROJECT_ROOT / "data").rglob("*.yml"))
        if not any(path.is_relative_to(other) for other in others)
    ]


@functools.cache
def english() -> TrainingData:
    nlu = PROJECT_ROOT / "data" / "nlu"
    return TrainingData().merge(*(load(path) for path in english_files() if path.parent == nlu))


def normalised(text: str) -> str:
    """Return ``text`` lowercased, without punctuation or whitespace (emoji stay)."""
    return "".join(
        c for c in text.lower() if not c.isspace() and not unicodedata.category(c).startswith("P")
    )


def examples(data: TrainingData) -> list[Message]:
    return [m for m in data.intent_examples if m.get("text")]


def canonical_values() -> dict[str, set[str]]:
    """Return the values each canonical entity takes in English: data/nlu and the buttons."""
    values: dict[str, set[str]] = defaultdict(set)
    for message in english().training_examples:
        for entity in message.get("entities") or []:
            values[entity["entity"]].add(entity["value"])
    values["refund_method"] |= set(english().entity_synonyms.values())
    for variants in domain()["responses"].values():
        for variant in variants:
            for button in variant.get("buttons") or []:
                for name, value in re.findall(r'"(\w+)":"(\w+)"', button["payload"]):
                    values[name].add(value)
    return {name: values[name] for name in CANONICAL}


def test_english_canonical_values_are_the_refund_form_s() -> None:
    values = canonical_values()
    assert values["refund_method"] == {"immediate_refund", "no_return_refund", "return_and_refund"}
    assert "wrong_item" in values["refund_reason_category"]
    assert "refund_amount" in values["change_field"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("path_of", "minimum"), [(training_path, MIN_TRAINING), (held_out_path, MIN_HELD_OUT)]
)
def test_every_domain_intent_has_enough_distinct_examples(
    language: str, path_of: PathOf, minimum: int
) -> None:
    wordings = {
        (m.get("intent"), normalised(m.get("text"))) for m in examples(load(path_of(language)))
    }
    distinct = Counter(intent for intent, _ in wordings)
    assert {
        intent: distinct[intent] for intent in domain()["intents"] if distinct[intent] < minimum
    } == {}
    assert set(distinct) <= set(domain()["intents"])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path_of", [training_path, held_out_path])
def test_entities_are_the_domain_s_with_english_values(language: str, path_of: PathOf) -> None:
    data = load(path_of(language))
    allowed = canonical_values()
    found: Counter[str] = Counter()
    for message in data.training_examples:
        for entity in message.get("entities") or []:
            found[entity["entity"]] += 1
            assert entity["entity"] in domain()["entities"], message.get("text")
            if entity["entity"] in allowed:
                assert entity["value"] in allowed[entity["entity"]], message.get("text")
    assert min(found[name] for name in ("order_id", "amount", "refund_method")) > 0
    every_value = set().union(*allowed.values())
    assert set(data.entity_synonyms.values()) <= every_value


@pytest.mark.parametrize("language", LANGUAGES)
def test_synonyms_are_the_language_s_own_words(language: str) -> None:
    synonyms = load(training_path(language)).entity_synonyms
    assert len(set(synonyms) - set(english().entity_synonyms)) >= 20
    assert set(synonyms.values()) == {"immediate_refund", "no_return_refund", "return_and_refund"}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path_of", [training_path, held_out_path])
def test_entity_spans_are_whole_tokens(language: str, path_of: PathOf) -> None:
    # The tokenizer of config.yml: an annotation that does not start and end on its tokens is
    # "misaligned" to DIET, which then learns a wrong span or none.
    config = read_yaml_file(PROJECT_ROOT / "config.yml")
    settings = next(c for c in config["pipeline"] if c["name"] == "WhitespaceTokenizer")
    tokenizer = WhitespaceTokenizer({**WhitespaceTokenizer.get_default_config(), **settings})
    misaligned = []
    for message in load(path_of(language)).training_examples:
        tokens = tokenizer.tokenize(message, "text")
        starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
        for entity in message.get("entities") or []:
            if entity["start"] not in starts or entity["end"] not in ends:
                misaligned.append((message.get("text"), entity["value"]))
    assert misaligned == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_held_out_sentences_are_never_trained_on(language: str) -> None:
    trained = {normalised(m.get("text")) for m in examples(load(training_path(language)))}
    trained |= {normalised(m.get("text")) for m in examples(english())}
    held_out = [m.get("text") for m in examples(load(held_out_path(language)))]
    assert [text for text in held_out if normalised(text) in trained] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_wording_has_two_intents(language: str) -> None:
    intents: dict[str, set[str]] = defaultdict(set)
    for path in (training_path(language), held_out_path(language)):
        for message in examples(load(path)):
            intents[normalised(message.get("text"))].add(message.get("intent"))
    assert {text: found for text, found in intents.items() if len(found) > 1} == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_order_numbers_are_the_language_s_own(language: str) -> None:
    def order_ids(data: TrainingData) -> set[str]:
        return {
            entity["value"]
            for message in data.training_examples
            for entity in message.get("entities") or []
            if entity["entity"] == "order_id"
        }

    trained = order_ids(load(training_path(language)))
    held_out = order_ids(load(held_out_path(language)))
    assert all(ORDER_ID.fullmatch(value) for value in trained | held_out)
    english_text = (PROJECT_ROOT / "tests" / "nlu_heldout.yml").read_text() + "".join(
        path.read_text() for path in english_files()
    )
    assert (trained | held_out) & set(ORDER_ID.findall(english_text)) == set()
    assert trained & held_out == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_model_reads_it_and_never_the_held_out_set(language: str) -> None:
    data_dir = (PROJECT_ROOT / "data").resolve()
    assert training_path(language).resolve().is_relative_to(data_dir)
    assert not held_out_path(language).resolve().is_relative_to(data_dir)
    assert not any(path.is_symlink() for path in data_dir.rglob("*"))
    own = OWN_LETTERS[language]
    in_language = [m for m in examples(load(training_path(language))) if own.search(m.get("text"))]
    assert len(in_language) > 20
    assert [m.get("text") for m in examples(english()) if own.search(m.get("text"))] == []
