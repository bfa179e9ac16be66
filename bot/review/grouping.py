"""Grouping similar messages: tf-idf over character n-grams, then a greedy cosine threshold.

Deterministic (no random state, no iteration order but the input's): each message joins the
first group whose first message it resembles at least ``threshold``, else starts a group.
Digits are folded to ``0`` first, so two order numbers do not make two messages look different.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Cosine similarity from which two messages are "the same kind of message".
SIMILAR = 0.5

_DIGITS = re.compile(r"\d+")


def fold(text: str) -> str:
    """Return ``text`` lowercased, digit runs as ``0`` and whitespace collapsed."""
    return " ".join(_DIGITS.sub("0", text.lower()).split())


def group_similar(texts: Sequence[str], *, threshold: float = SIMILAR) -> list[list[int]]:
    """Return groups of indexes of ``texts``, largest first, then by their first member."""
    if not texts:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit_transform(
        [fold(t) or "?" for t in texts]
    )
    groups: list[list[int]] = []
    leaders: list[int] = []
    for i in range(len(texts)):
        joined = None
        if leaders:
            # Rows are L2-normalised, so the dot product is the cosine.
            scores = (vectors[leaders] @ vectors[i].T).toarray().ravel()
            joined = next((g for g, score in enumerate(scores) if score >= threshold), None)
        if joined is None:
            leaders.append(i)
            groups.append([i])
        else:
            groups[joined].append(i)
    return sorted(groups, key=lambda g: (-len(g), g[0]))
