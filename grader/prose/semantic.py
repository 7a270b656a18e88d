"""The semantic signal: how close an answer's sentences come to each key point, by sentence embeddings.

It is the second opinion beside the rubric matcher (:mod:`grader.prose.scoring`)
and shares none of its word lists. Every key point is represented by
exemplars: its model wording, the rubric's ``examples`` (the same idea in
other words) and the sentences of the reference answer that are closest to it.
Every contradiction (a known-wrong statement) is represented the same way.

Each sentence of the answer, and each pair of neighbouring sentences, is
embedded (:mod:`grader.prose.embedding`) and compared with every exemplar by
cosine similarity. A key point's similarity is its best match anywhere in the
answer; :data:`FLOOR` and :data:`CEILING` map it to a share of the point
(nothing below the floor, all of it above the ceiling). A sentence states a
contradiction when it is closer to a wrong statement than to any right one by
:data:`CONTRADICTION_MARGIN`. Because an embedding of this kind is close to a
bag of words, it cannot tell "A is X" from "X is A" or see a negation: that is
the rubric matcher's job, and the reason the two must agree before an answer
is accepted without review.

The floor and ceiling are calibrated on the tuning sets (:mod:`grader.prose.calibration`),
never on the held-out set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grader.core.bank import Question
from grader.prose.embedding import embed
from grader.prose.text import Unit, split_units

if TYPE_CHECKING:
    import numpy as np

from grader.prose.calibration import SEMANTIC_CEILING as CEILING
from grader.prose.calibration import SEMANTIC_FLOOR as FLOOR

# A reference sentence serves as an exemplar of the key point it is closest to, if at least this close.
REFERENCE_ASSIGN = 0.45
# A sentence states a known-wrong statement when it is at least this close to it ...
CONTRADICTION_FLOOR = 0.70
# ... and closer to it than to any exemplar of a key point by this margin.
CONTRADICTION_MARGIN = 0.08
# Sentences longer than this many characters are cut: the model averages tokens, and a
# run-on paragraph would match everything a little.
MAX_WINDOW_CHARS = 600


@dataclass(frozen=True)
class SemanticItem:
    """One rubric item as the semantic signal sees it: best similarity, share earned, closest sentence."""

    id: str
    similarity: float
    share: float
    evidence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "similarity": round(self.similarity, 3), "share": round(self.share, 3),
                "evidence": self.evidence}


@dataclass(frozen=True)
class SemanticScore:
    """The semantic signal's verdict: ``fraction`` of the prose credit, per key point and contradiction."""

    fraction: float
    points: tuple[SemanticItem, ...]
    contradictions: tuple[SemanticItem, ...]

    def point(self, point_id: str) -> SemanticItem:
        """The key point ``point_id``; KeyError naming the known ones otherwise."""
        for item in self.points:
            if item.id == point_id:
                return item
        raise KeyError(f"no key point {point_id!r} (known: {', '.join(p.id for p in self.points)})")

    def to_dict(self) -> dict[str, Any]:
        return {"fraction": round(self.fraction, 4), "points": [p.to_dict() for p in self.points],
                "contradictions": [c.to_dict() for c in self.contradictions if c.share > 0]}


@dataclass(frozen=True)
class _Exemplars:
    vectors: "np.ndarray"          # one unit row per exemplar
    owner: tuple[int, ...]         # index of the key point (or contradiction) each row stands for
    wrong_vectors: "np.ndarray"
    wrong_owner: tuple[int, ...]


_EXEMPLARS: dict[Question, _Exemplars] = {}


def _statements(items: tuple) -> tuple[list[str], list[int]]:
    """Every item's wording and examples, with the index of the item each one states."""
    texts: list[str] = []
    owner: list[int] = []
    for index, item in enumerate(items):
        for text in (item.text, *item.examples):
            texts.append(text)
            owner.append(index)
    return texts, owner


def _exemplars(question: Question) -> _Exemplars:
    """The question's exemplar vectors, built once per question definition."""
    import numpy as np

    if question in _EXEMPLARS:
        return _EXEMPLARS[question]
    texts, owner = _statements(question.key_points)
    vectors = embed(texts)
    # Each sentence of the reference answer joins the key point it is closest to.
    reference = [text for text, is_code in split_units(question.answer) if not is_code and len(text.split()) >= 4]
    if reference and texts:
        ref_vectors = embed(reference)
        sims = ref_vectors @ vectors.T
        keep = []
        for row in range(len(reference)):
            best = int(np.argmax(sims[row]))
            if sims[row, best] >= REFERENCE_ASSIGN:
                keep.append(row)
                owner.append(owner[best])
        vectors = np.vstack([vectors, ref_vectors[keep]]) if keep else vectors
    wrong_texts, wrong_owner = _statements(question.contradictions)
    built = _Exemplars(vectors, tuple(owner), embed(wrong_texts), tuple(wrong_owner))
    _EXEMPLARS[question] = built
    return built


def _windows(units: list[Unit]) -> tuple[list[str], "np.ndarray"]:
    """Each unit's text and vector, then each pair of neighbours (a claim may run over two sentences).

    A pair's vector is the normalised sum of its two sentences' vectors: the model pools
    token vectors, so this is the pair's own embedding up to the two sentences' weights.
    """
    import numpy as np

    texts = [" ".join(u.text.split())[:MAX_WINDOW_CHARS] for u in units]
    vectors = embed(texts)
    if len(texts) > 1:
        sums = vectors[:-1] + vectors[1:]
        sums /= np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)
        vectors = np.vstack([vectors, sums])
        texts = texts + [f"{a} {b}" for a, b in zip(texts, texts[1:])]
    return texts, vectors


def share(similarity: float, floor: float = FLOOR, ceiling: float = CEILING) -> float:
    """The share of a key point a best similarity earns: none at ``floor``, all at ``ceiling``."""
    return min(1.0, max(0.0, (similarity - floor) / (ceiling - floor)))


def semantic_fraction(question: Question, similarities: list[float], contradiction_shares: list[float],
                      floor: float = FLOOR, ceiling: float = CEILING) -> float:
    """The fraction from per-point best similarities and per-contradiction shares (for calibration too)."""
    weights = [p.weight for p in question.key_points]
    fraction = sum(w * share(s, floor, ceiling) for w, s in zip(weights, similarities)) / (sum(weights) or 1.0)
    fraction -= sum(c.penalty * s for c, s in zip(question.contradictions, contradiction_shares))
    return round(min(1.0, max(0.0, fraction)), 4)


def _evidence(text: str) -> str:
    return text if len(text) <= 240 else text[:237] + "..."


def semantic_score(question: Question, units: list[Unit]) -> SemanticScore:
    """The semantic signal for an answer already split into ``units`` (see the module docstring)."""
    import numpy as np

    exemplars = _exemplars(question)
    if not units:
        points = tuple(SemanticItem(p.id, 0.0, 0.0) for p in question.key_points)
        return SemanticScore(0.0, points, ())
    windows, vectors = _windows(units)
    sims = vectors @ exemplars.vectors.T                     # windows x exemplars
    owner = np.asarray(exemplars.owner)
    points = []
    for index, point in enumerate(question.key_points):
        columns = sims[:, owner == index]
        row, _ = np.unravel_index(int(np.argmax(columns)), columns.shape)
        best = float(columns[row].max())
        points.append(SemanticItem(point.id, best, share(best), _evidence(windows[row])))
    right_best = sims.max(axis=1)                            # per window: its closest right exemplar
    contradictions = []
    if len(exemplars.wrong_owner):
        wrong = vectors @ exemplars.wrong_vectors.T
        wrong_owner = np.asarray(exemplars.wrong_owner)
        for index, item in enumerate(question.contradictions):
            columns = wrong[:, wrong_owner == index]
            per_window = columns.max(axis=1)
            stated = (per_window >= CONTRADICTION_FLOOR) & (per_window - right_best >= CONTRADICTION_MARGIN)
            row = int(np.argmax(np.where(stated, per_window, -1.0)))
            stated_share = 1.0 if stated[row] else 0.0
            contradictions.append(SemanticItem(item.id, float(per_window.max()), stated_share,
                                               _evidence(windows[row]) if stated_share else ""))
    fraction = semantic_fraction(question, [p.similarity for p in points], [c.share for c in contradictions])
    return SemanticScore(fraction, tuple(points), tuple(contradictions))
