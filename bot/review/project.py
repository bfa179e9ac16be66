"""What the review takes from the Rasa project: the fallback threshold, intents and entities."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.settings import PROJECT_ROOT

#: Rasa's FallbackClassifier threshold when config.yml does not set one.
RASA_DEFAULT_FALLBACK_THRESHOLD = 0.3


@dataclass(frozen=True)
class NluProject:
    """The parts of config.yml and domain.yml the review needs."""

    fallback_threshold: float
    """Below this confidence Rasa's FallbackClassifier answers ``nlu_fallback``."""
    intents: tuple[str, ...]
    entities: tuple[str, ...]


@functools.lru_cache(maxsize=4)
def load_project(root: Path = PROJECT_ROOT) -> NluProject:
    """Read config.yml's FallbackClassifier threshold and domain.yml's intents and entities.

    Read once per process, on first use: the files change only with a new release.
    """
    config = _yaml(root / "config.yml")
    threshold = RASA_DEFAULT_FALLBACK_THRESHOLD
    for component in config.get("pipeline") or ():
        if isinstance(component, dict) and component.get("name") == "FallbackClassifier":
            threshold = float(component.get("threshold", threshold))
    domain = _yaml(root / "domain.yml")
    return NluProject(
        fallback_threshold=threshold,
        intents=tuple(_names(domain.get("intents"))),
        entities=tuple(_names(domain.get("entities"))),
    )


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _names(items: Any) -> list[str]:
    """Return the names of a domain list, whose entries are names or ``{name: options}``."""
    names = []
    for item in items or ():
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            names.append(str(next(iter(item))))
    return names
