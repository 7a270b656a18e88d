"""Measuring the prose scorer against instructor labels (``bench/bench_prose.py``).

Scores are compared as the nearest of the five grades instructors label with;
:func:`agreement` reports quadratic weighted kappa, mean absolute error and how
often, and how well, answers are accepted without review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GRADES = (0.0, 0.25, 0.5, 0.75, 1.0)


def nearest_grade(fraction: float) -> float:
    """The nearest of 0, 0.25, 0.5, 0.75, 1 (the grades instructors label with)."""
    return min(GRADES, key=lambda grade: (abs(grade - fraction), grade))


def quadratic_weighted_kappa(labels: list[float], predictions: list[float]) -> float:
    """Cohen's kappa with quadratic weights over the five ordinal grades.

    1 is perfect agreement, 0 is chance level. When both raters use a single
    grade throughout, agreement is perfect exactly when they coincide.
    """
    import numpy as np

    k = len(GRADES)
    truth = np.array([GRADES.index(nearest_grade(x)) for x in labels])
    guess = np.array([GRADES.index(nearest_grade(x)) for x in predictions])
    if truth.size == 0:
        return float("nan")
    observed = np.zeros((k, k))
    np.add.at(observed, (truth, guess), 1.0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / truth.size
    grid = np.arange(k)
    weights = (grid[:, None] - grid[None, :]) ** 2 / (k - 1) ** 2
    denominator = float((weights * expected).sum())
    if denominator == 0:
        return 1.0 if bool((truth == guess).all()) else 0.0
    return 1.0 - float((weights * observed).sum()) / denominator


@dataclass(frozen=True)
class Agreement:
    """How a set of automatic scores agrees with instructor labels."""

    n: int
    qwk: float
    mae: float
    within_quarter: float
    auto_share: float
    auto_within_quarter: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def agreement(labels: list[float], fractions: list[float], needs_review: list[bool]) -> Agreement:
    """QWK, mean absolute error, share within 0.25, auto-accepted share and its accuracy.

    ``fractions`` are mapped to the nearest grade first, as a grade book would.
    """
    grades = [nearest_grade(f) for f in fractions]
    n = len(labels)
    errors = [abs(g - y) for g, y in zip(grades, labels)]
    auto = [e for e, review in zip(errors, needs_review) if not review]
    return Agreement(
        n=n,
        qwk=quadratic_weighted_kappa(labels, grades),
        mae=sum(errors) / n if n else float("nan"),
        within_quarter=sum(e <= 0.25 + 1e-9 for e in errors) / n if n else float("nan"),
        auto_share=len(auto) / n if n else float("nan"),
        auto_within_quarter=sum(e <= 0.25 + 1e-9 for e in auto) / len(auto) if auto else float("nan"),
    )
