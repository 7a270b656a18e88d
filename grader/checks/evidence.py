"""What the checks of one task are given: the static description, probe results, the forecast evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.static.description import ModelDescription


@dataclass(frozen=True)
class Evidence:
    """What is known about one task's file when the checks run.

    ``probe`` is the worker's answer for model tasks::

        {"outputs": 1, "runs": [{"input_shape": [3, 12, 3], "output_shape": [3, 12, 2],
                                 "finite": true, "min": -0.4, "max": 0.7,
                                 "row_sum_error": 0.0}, ...]}

    or, for q6, ``{"cases": [{"h_error": 0.0, "c_error": 0.0, "batch": 4, ...}]}``.
    ``source`` is the static description of a Python task file
    (``{"functions": {"lstm_step": {"positional": 6, "defaults": 0, "varargs": False}}}``).
    ``forecast`` is the evaluation dict from ``grader.forecast.metrics``.
    """

    description: ModelDescription | None = None
    probe: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    forecast: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)
