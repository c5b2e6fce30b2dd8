"""What one article reports that another does not: its sentences without a counterpart.

Alignment (`compare.align`) shows where two articles agree; this shows where coverage
diverges. A sentence has no counterpart when no sentence of the other article reaches the
encoder's alignment threshold — read off the similarity matrix the pair was scored with,
so nothing is encoded again. The sentences shown are those farthest from anything on the
other side, kept in the order the article tells them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_UNMATCHED = 5  # sentences shown per side; the total says how many there are


@dataclass(frozen=True)
class UnmatchedSentence:
    """A sentence with no counterpart on the other side."""

    text: str
    position: int  # its index among the article's sentences
    closest: float  # its highest similarity to any sentence of the other side


@dataclass(frozen=True)
class Unmatched:
    """One side's sentences without a counterpart: the most distinct few, and how many in all."""

    language: str = ""
    sentences: list[UnmatchedSentence] = field(default_factory=list)
    total: int = 0

    def caption(self) -> str:
        """E.g. "7 sentences without a counterpart on the other side, the 5 farthest shown"."""
        noun = "sentence" if self.total == 1 else "sentences"
        shown = len(self.sentences)
        tail = "" if shown == self.total else f", the {shown} farthest shown"
        return f"{self.total} {noun} without a counterpart on the other side{tail}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by `storylink compare --json` and the API."""
        return {
            "language": self.language,
            "total": self.total,
            "sentences": [
                {"text": s.text, "position": s.position, "closest": round(s.closest, 3)}
                for s in self.sentences
            ],
        }


def unmatched(
    similarity: np.ndarray,
    sentences: Sequence[str],
    threshold: float,
    language: str = "",
    limit: int = MAX_UNMATCHED,
) -> Unmatched:
    """Sentences of the rows of `similarity` (rows: `sentences`; columns: the other side's
    sentences) whose best similarity stays below `threshold`; the `limit` farthest, in order."""
    # nothing on the other side (no sentences): every sentence is its own
    empty = similarity.shape[1] == 0
    closest = np.full(len(sentences), -1.0) if empty else similarity.max(axis=1)
    lonely = np.flatnonzero(closest < threshold)
    farthest = lonely[np.argsort(closest[lonely], kind="stable")[:limit]]
    shown = [UnmatchedSentence(sentences[i], int(i), float(closest[i])) for i in sorted(farthest)]
    return Unmatched(language, shown, len(lonely))


def both_sides(
    similarity: np.ndarray,
    sentences_a: Sequence[str],
    sentences_b: Sequence[str],
    threshold: float,
    languages: tuple[str, str] = ("", ""),
) -> tuple[Unmatched, Unmatched]:
    """What only A reports and what only B reports, from one A×B similarity matrix."""
    return (
        unmatched(similarity, sentences_a, threshold, languages[0]),
        unmatched(similarity.T, sentences_b, threshold, languages[1]),
    )
