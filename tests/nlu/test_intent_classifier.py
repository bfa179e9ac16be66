"""The intent classifier of config.yml's pipeline, trained, stored and read back through Rasa."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import hstack

from bot.nlu.intent_classifier import TfidfIntentClassifier, normalised

EXAMPLES = {
    "request_refund": ["i want a refund", "refund me please", "give me my money back",
                       "refund order 8041235566701234", "i need a refund for the lamp"],
    "check_order_status": ["where is my order", "has my parcel shipped", "where is order 9000",
                           "track my package", "when will my order arrive"],
    "greet": ["hi", "hello there", "good morning", "hey", "hello"],
}  # fmt: skip


def training_data() -> TrainingData:
    return TrainingData(
        [
            Message(data={"text": text, "intent": intent})
            for intent, texts in EXAMPLES.items()
            for text in texts
        ]
    )


def trained(tmp_path: Path, name: str = "classifier") -> tuple[TfidfIntentClassifier, Any]:
    (tmp_path / name).mkdir()
    storage = LocalModelStorage(tmp_path / name)
    resource = Resource(name)
    context = ExecutionContext(GraphSchema({}), "model")
    classifier = TfidfIntentClassifier.create({}, storage, resource, context)
    classifier.train(training_data())
    return classifier, (storage, resource, context)


def parse(classifier: TfidfIntentClassifier, text: str) -> Message:
    message = Message(data={"text": text})
    classifier.process([message])
    return message


def test_it_reads_unseen_wordings_with_typos(tmp_path: Path) -> None:
    classifier, _ = trained(tmp_path)
    assert parse(classifier, "refnud pls, the lamp is broken").get("intent")["name"] == (
        "request_refund"
    )
    assert parse(classifier, "wheres my ordr 8172004563329981").get("intent")["name"] == (
        "check_order_status"
    )
    ranking = parse(classifier, "helo").get("intent_ranking")
    assert ranking[0]["name"] == "greet"
    assert [r["confidence"] for r in ranking] == sorted(
        (r["confidence"] for r in ranking), reverse=True
    )
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_numbers_are_read_as_numbers() -> None:
    assert normalised("Order 8041235566701234 for $12.50") == "order 0 for $0.0"


def test_the_same_data_trains_the_same_model(tmp_path: Path) -> None:
    first, _ = trained(tmp_path, "first")
    second, _ = trained(tmp_path, "second")
    for text in ("refund", "where is it", "hi there", "blorp"):
        assert parse(first, text).get("intent_ranking") == parse(second, text).get("intent_ranking")


def test_a_stored_classifier_reads_as_the_trained_one(tmp_path: Path) -> None:
    classifier, (storage, resource, context) = trained(tmp_path)
    loaded = TfidfIntentClassifier.load({}, storage, resource, context)
    for text in ("i want my money back", "where is my parcel", "hello", "zzz"):
        a = parse(classifier, text).get("intent_ranking")
        b = parse(loaded, text).get("intent_ranking")
        assert [r["name"] for r in a] == [r["name"] for r in b]
        assert np.allclose([r["confidence"] for r in a], [r["confidence"] for r in b])


def test_nothing_stored_loads_an_untrained_classifier_that_sets_nothing(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path / "empty")
    context = ExecutionContext(GraphSchema({}), "model")
    loaded = TfidfIntentClassifier.load({}, storage, Resource("missing"), context)
    assert parse(loaded, "i want a refund").get("intent") is None


def sklearn_probabilities(classifier: TfidfIntentClassifier, text: str) -> Any:
    """The probabilities as scikit-learn's own vectorizers and a matrix product give them."""
    assert classifier._vectorizers is not None
    assert classifier._weights is not None
    words, letters = classifier._vectorizers
    features = hstack([words.transform([text]), letters.transform([text])]).tocsr()
    scores = np.asarray(features @ classifier._weights.T) + classifier._intercepts
    exp = np.exp(scores - scores.max())
    return (exp / exp.sum())[0]


@pytest.mark.parametrize("stored", [False, True], ids=["trained", "read back"])
def test_scores_are_scikit_learns_without_its_matrices(tmp_path: Path, stored: bool) -> None:
    classifier, (storage, resource, context) = trained(tmp_path)
    if stored:
        classifier = TfidfIntentClassifier.load({}, storage, resource, context)
    texts = [
        *(t for texts in EXAMPLES.values() for t in texts),
        normalised("Refund refund REFUND for order 8041235566701234, $12.50 please!!"),
        "",
        "ÿÿÿ ÿÿÿ",  # no n-gram the classifier knows
        "hello hello hello",  # counts above one: 1 + log(count)
    ]
    for text in texts:
        assert np.allclose(
            classifier._probabilities([text])[0], sklearn_probabilities(classifier, text),
            rtol=0, atol=1e-12,
        ), text  # fmt: skip
