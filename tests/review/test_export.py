"""``refundbot nlu export-reviewed``: reviewed messages as NLU data Rasa reads and validates."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from sqlalchemy.orm import sessionmaker

from bot.cli import main
from bot.review import store
from bot.review.export import annotate, collect, example_texts, to_yaml
from bot.review.models import NluReview
from bot.review.project import load_project
from bot.review.tracker import UserMessage
from bot.settings import PROJECT_ROOT
from tests.review.tracker import EMAIL_MESSAGE, ORDER, order_entity

UTC = dt.timezone.utc
EARLY = dt.datetime(2026, 11, 1, tzinfo=UTC)
LATER = dt.datetime(2026, 11, 10, tzinfo=UTC)
ids = iter(range(1, 1000))


def message(text: str, sender: str = "web-a", entities: tuple[dict, ...] = ()) -> UserMessage:
    return UserMessage(
        event_id=next(ids),
        sender_id=sender,
        at=EARLY,
        text=text,
        intent="nlu_fallback",
        confidence=0.5,
        ranking=(),
        entities=entities,
    )


@pytest.fixture
def reviewed(session_factory: sessionmaker) -> None:
    verdicts = [
        # The held-out set has "what's the status of order 81447390012673": same wording.
        (message("What's the status of order  8041235566709876"), "check_order_status", LATER),
        # data/nlu already has "i want a refund".
        (message("I want a refund"), "request_refund", LATER),
        (message(EMAIL_MESSAGE, entities=(order_entity(EMAIL_MESSAGE),)), "request_refund", LATER),
        # The same message in another conversation is written once.
        (message(EMAIL_MESSAGE, "tg-2", (order_entity(EMAIL_MESSAGE),)), "request_refund", LATER),
        (message("my phone is 0612345678,\ncall me"), "human_handoff", LATER),
        (message("gimme da cash back [now](amount)"), "request_refund", LATER),
        (message("blorp my thingy"), None, LATER),
        # Reviewed before --since.
        (message("parcel never came mate"), "check_order_status", EARLY),
    ]
    with session_factory.begin() as session:
        for said, intent, at in verdicts:
            store.record_verdict(session, message=said, intent=intent, agent_id=None, now=at)


@pytest.mark.usefixtures("reviewed")
def test_the_export_is_nlu_data_rasa_accepts_without_held_out_or_known_examples(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REFUNDBOT_DATABASE_URL", db_url)
    out = tmp_path / "data" / "nlu" / "reviewed.yml"
    out.parent.mkdir(parents=True)

    assert main(["nlu", "export-reviewed", "--out", str(out), "--since", "2026-11-02"]) == 0

    assert "3 examples written; left out: 1 in the held-out set, 2 already" in (
        capsys.readouterr().err
    )
    data = RasaYAMLReader().read(out)
    examples = {m.get("text"): m for m in data.intent_examples}
    masked = {re.sub(r"\d{7,}", lambda m: f"<{len(m.group())}>", t): t for t in examples}
    assert set(masked) == {
        "my email is buyer@example.com, refund order <16>",
        "my phone is <10>, call me",
        "gimme da cash back (now)(amount)",
    }
    refund = examples[masked["my email is buyer@example.com, refund order <16>"]]
    assert refund.get("intent") == "request_refund"
    [order] = refund.get("entities")
    assert order["entity"] == "order_id"
    assert order["value"] != ORDER
    assert refund.get("text").endswith(order["value"])
    written = out.read_text()
    assert "ana@example.com" not in written
    assert "0612345678" not in written
    assert ORDER not in written


@pytest.mark.usefixtures("reviewed")
def test_without_the_held_out_set_nothing_is_exported(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REFUNDBOT_DATABASE_URL", db_url)
    out = tmp_path / "reviewed.yml"

    code = main(["nlu", "export-reviewed", "--out", str(out), "--held-out", str(tmp_path / "no")])

    assert code == 2
    assert "the held-out test set is not at" in capsys.readouterr().err
    assert not out.exists()


def test_a_synonym_keeps_its_value_and_overlaps_are_dropped() -> None:
    text = "use no return refund please"
    entities = [
        {"entity": "refund_method", "start": 4, "end": 20, "value": "no_return_refund"},
        {"entity": "refund_method", "start": 7, "end": 13, "value": "return"},
        {"entity": "not_in_domain", "start": 21, "end": 27, "value": "please"},
    ]

    example = annotate(text, entities, known=("refund_method",), seed="web-a:1")

    assert example == (
        'use [no return refund]{"entity": "refund_method", "value": "no_return_refund"} please'
    )


@pytest.mark.usefixtures("reviewed")
def test_exporting_again_into_the_data_rewrites_the_file_whole(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFUNDBOT_DATABASE_URL", db_url)
    data = tmp_path / "nlu"
    shutil.copytree(PROJECT_ROOT / "data" / "nlu", data)
    out = data / "reviewed.yml"
    export = ["nlu", "export-reviewed", "--data", str(data), "--out", str(out)]

    assert main(export) == 0
    first = RasaYAMLReader().read(out).intent_examples
    assert main(export) == 0
    again = RasaYAMLReader().read(out).intent_examples

    # Its own examples are not "already in the data": nothing is lost by exporting again.
    assert [m.get("text") for m in again] == [m.get("text") for m in first]
    assert len(first) == 4


def test_the_same_number_masks_alike_within_a_message_and_differently_elsewhere() -> None:
    text = f"order {ORDER}, I said {ORDER}, call 0612345678"
    entities = [order_entity(text)]

    first = annotate(text, entities, known=("order_id",), seed="web-a:1")
    other = annotate(text, entities, known=("order_id",), seed="web-b:7")

    numbers = re.findall(r"\d{7,}", first)
    assert len(numbers) == 3
    assert numbers[0] == numbers[1] != numbers[2]
    assert ORDER not in numbers
    assert first.startswith(f"order [{numbers[0]}](order_id), I said {numbers[0]}")
    assert re.findall(r"\d{7,}", other)[0] != numbers[0]
    assert annotate(text, entities, known=("order_id",), seed="web-a:1") == first


def test_rasa_data_validate_accepts_the_project_with_an_export_merged_in(tmp_path: Path) -> None:
    project = load_project()
    text = EMAIL_MESSAGE
    reviews = [
        NluReview(
            sender_id="web-a",
            event_id=1,
            text=text,
            entities=[order_entity(text)],
            intent="request_refund",
        ),
        NluReview(
            sender_id="web-a",
            event_id=2,
            text="use no return refund please",
            entities=[
                {"entity": "refund_method", "start": 4, "end": 20, "value": "no_return_refund"}
            ],
            intent="inform",
        ),
        NluReview(sender_id="tg-b", event_id=3, text="gimme [da] cash", intent="request_refund"),
        NluReview(sender_id="tg-b", event_id=4, text="yo wassup dude", intent="greet"),
    ]
    result = collect(
        reviews,
        intents=project.intents,
        entities=project.entities,
        held_out=example_texts(PROJECT_ROOT / "tests" / "nlu_heldout.yml"),
        known=example_texts(PROJECT_ROOT / "data" / "nlu"),
    )
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "data", tmp_path / "data")
    exported = to_yaml(result, intents=project.intents, now=LATER)
    (tmp_path / "data" / "nlu" / "reviewed.yml").write_text(exported)

    validate = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "data", "validate", "--fail-on-warnings"],
        cwd=tmp_path,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert result.written == 4
    assert "[no return refund]{" in exported
