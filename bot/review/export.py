"""Reviewed messages as Rasa NLU training data (YAML, ``version: "3.1"``) to merge into data/.

What leaves the store, and what does not:

* only messages a reviewer gave a domain intent (ignored ones never), each once;
* never a message whose wording is in the held-out test set (tests/nlu_heldout.yml), nor one
  already among the examples in data/nlu: wordings are compared folded (lowercase, whitespace
  collapsed, every digit run as ``0``), so "where is 8041…" with another order number is the
  same wording;
* the buyer's text only, masked: an e-mail address becomes ``buyer@example.com`` and every run
  of 7 or more digits (order numbers, phone and card numbers, tracking codes) becomes other
  digits of the same length, not derived from the number (:class:`Mask`), so an example keeps
  its shape (an order number still looks like one to the regex features) and no real number
  goes into the repository;
* the entities Rasa found (``[text](entity)``, ``{"entity": …, "value": …}`` for a synonym),
  kept when they are domain entities and do not overlap: an order number left unannotated would
  teach the model that it is not one. Brackets of the buyer's own become parentheses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.review.grouping import fold
from bot.review.models import NluReview

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
LONG_DIGITS = re.compile(r"\d{7,}")
MASKED_EMAIL = "buyer@example.com"


class Mask:
    """Masks one message: e-mail addresses, and each long digit run by digits of its own.

    The replacement digits come from a hash of the message's source event and the run's place
    in it, never from the number itself (a short number's hash could be searched back); the
    same number in one message gets the same replacement, so an entity and its value agree.
    """

    def __init__(self, text: str, *, seed: str) -> None:
        runs = dict.fromkeys(LONG_DIGITS.findall(text))
        self._seed = seed
        self._runs = {run: self._digits(str(i), len(run)) for i, run in enumerate(runs)}

    def _digits(self, key: str, length: int) -> str:
        digest = hashlib.sha256(f"{self._seed}:{key}".encode()).hexdigest() * 2
        digits = "".join(str(int(c, 16) % 10) for c in digest)
        # An order number never starts with 0 in the data; keep the masked one alike.
        return (str(int(digits[0]) % 9 + 1) + digits[1:])[:length]

    def __call__(self, text: str) -> str:
        """Return ``text`` (all or part of the message) masked."""

        def digits(found: re.Match[str]) -> str:
            run = found.group()
            return self._runs.get(run) or self._digits(f"part:{len(run)}", len(run))

        return LONG_DIGITS.sub(digits, EMAIL.sub(MASKED_EMAIL, text))


def annotate(
    text: str, entities: Iterable[dict[str, Any]], *, known: Sequence[str], seed: str
) -> str:
    """Return the masked example of ``text``, on one line, with its entities annotated."""
    mask = Mask(text, seed=seed)

    def segment(part: str) -> str:
        # Brackets of the buyer's own would read as an annotation.
        return mask(part).replace("[", "(").replace("]", ")")

    spans: list[dict[str, Any]] = []
    for e in sorted(
        (e for e in entities if _usable(e, text, known)), key=lambda e: (e["start"], e["end"])
    ):
        if not spans or e["start"] >= spans[-1]["end"]:
            spans.append(e)
    parts, position = [], 0
    for e in spans:
        start, end = e["start"], e["end"]
        parts.append(segment(text[position:start]))
        shown, value = segment(text[start:end]), e.get("value")
        if value is None or str(value) == text[start:end]:
            parts.append(f"[{shown}]({e['entity']})")
        else:
            attrs = {"entity": e["entity"], "value": mask(str(value))}
            parts.append(f"[{shown}]{json.dumps(attrs)}")
        position = end
    parts.append(segment(text[position:]))
    return " ".join("".join(parts).split())


def _usable(e: dict[str, Any], text: str, known: Sequence[str]) -> bool:
    start, end = e.get("start"), e.get("end")
    return (
        e.get("entity") in known
        and isinstance(start, int)
        and isinstance(end, int)
        and 0 <= start < end <= len(text)
        and bool(text[start:end].strip())
    )


@dataclass
class Export:
    """The examples to write per intent, and what was left out and why."""

    examples: dict[str, list[str]] = field(default_factory=dict)
    held_out: int = 0
    already_known: int = 0

    @property
    def written(self) -> int:
        """Return how many examples the file holds."""
        return sum(len(v) for v in self.examples.values())


def collect(
    reviews: Iterable[NluReview],
    *,
    intents: Sequence[str],
    entities: Sequence[str],
    held_out: Iterable[str],
    known: Iterable[str],
) -> Export:
    """Return the examples the reviews give, less held-out wordings and known examples."""
    held = {fold(t) for t in held_out}
    seen = {fold(t) for t in known}
    export = Export()
    for review in reviews:
        if review.intent not in intents:
            continue
        plain = fold(annotate(review.text, (), known=(), seed=""))
        if not plain:
            continue
        if plain in held or fold(review.text) in held:
            export.held_out += 1
            continue
        if plain in seen:
            export.already_known += 1
            continue
        seen.add(plain)
        seed = f"{review.sender_id}:{review.event_id}"
        example = annotate(review.text, review.entities or (), known=entities, seed=seed)
        export.examples.setdefault(str(review.intent), []).append(example)
    return export


def to_yaml(export: Export, *, intents: Sequence[str], now: dt.datetime) -> str:
    """Return the examples as a Rasa NLU YAML file, intents in the domain's order."""
    lines = [
        'version: "3.1"',
        "",
        f"# Reviewed buyer messages, exported {now:%Y-%m-%d %H:%M} UTC by `refundbot nlu",
        "# export-reviewed`. E-mail addresses and long numbers are masked.",
        "nlu:",
    ]
    for intent in intents:
        examples = export.examples.get(intent)
        if not examples:
            continue
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {example}" for example in examples]
    if lines[-1] == "nlu:":
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"


def example_texts(path: Path, *, leaving_out: Path | None = None) -> list[str]:
    """Return the plain text of every intent example in an NLU file or a directory of them.

    ``leaving_out`` is a file not to read: the export's own output, rewritten whole each time.
    """
    from rasa.shared.nlu.training_data.loading import load_data

    files = sorted(path.rglob("*.yml")) if path.is_dir() else [path]
    skip = leaving_out.resolve() if leaving_out is not None else None
    return [
        str(m.get("text"))
        for file in files
        if file.resolve() != skip
        for m in load_data(str(file)).intent_examples
    ]
