"""Forecast accuracy of a submitted forecaster on the course's held-out windows.

Glue between the pure forecasting module, the course's reference manifest and
the sandboxed prober: the model predicts every held-out window inside a worker,
the predictions are scored here beside the naive, seasonal-naive and reference
forecasters on exactly the same windows, and credit is linear between the
task's zero-credit and full-credit anchors.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from grader.core.bank import Task
from grader.core.contract import HORIZON
from grader.core.course import Course
from grader.static.description import ModelDescription
from grader.forecast.metrics import (ForecastError, accuracy_fraction, evaluate, held_out_windows,
                                normalise_predictions)
from grader.forecast.baselines import task_baselines
from grader.forecast.manifest import read_manifest
from grader.forecast.series import Series, series_from_config


class UnavailableEvaluator:
    """Stands in for a :class:`ForecastEvaluator` that could not be built: every forecast is a grader error."""

    def __init__(self, reason: str):
        self.reason = reason

    def __call__(self, task: Task, path: Path, description: ModelDescription, prober: Any) -> dict[str, Any]:
        return {"grader_error": self.reason}


class ForecastEvaluator:
    """Callable ``(task, path, description, prober) -> evidence dict`` for the forecast_accuracy check."""

    def __init__(self, course: Course):
        self.course = course
        self.series: Series = series_from_config(course.series, course.root)
        self.default_window = course.series.window
        self.manifest = read_manifest(course)
        self._windows = lru_cache(maxsize=8)(self._make_windows)

    def _make_windows(self, window: int):
        return held_out_windows(self.series, self.course.series, window)

    def window_for(self, description: ModelDescription) -> int:
        """The model's declared window length, or the course default when its time axis is None."""
        shape = description.input_shape
        if shape is not None and len(shape) == 3 and isinstance(shape[1], int):
            return shape[1]
        return self.default_window

    def anchor_mae(self, task: Task, anchor: str, evaluation: Any) -> float:
        if anchor == "seasonal_naive":
            return evaluation.seasonal_naive.mae
        if anchor == "naive":
            return evaluation.naive.mae
        entry = self.manifest.get("tasks", {}).get(task.id, {})
        if "mae" not in entry:
            raise ForecastError(f"the reference forecaster for {task.id} is not built: run 'grader reference build'")
        return float(entry["mae"])

    def __call__(self, task: Task, path: Path, description: ModelDescription, prober: Any) -> dict[str, Any]:
        window = self.window_for(description)
        try:
            windows = self._windows(window)
        except ForecastError as exc:
            return {"error": f"a window of {window} days does not fit before the held-out period: {exc}"}
        from grader.sandbox.prober import PredictFailed

        groups = forward_pass_groups(windows.origins, windows.inputs.shape[1] + HORIZON)
        try:
            raw = np.asarray(prober.predict(path, windows.inputs, groups=groups))
        except PredictFailed as exc:
            return {"error": f"the model could not forecast the held-out windows: {exc}"}
        probe = {"outputs": 1, "runs": [{"input_shape": list(windows.inputs.shape), "output_shape": list(raw.shape),
                                         "finite": bool(np.isfinite(raw).all())}]}
        try:
            evaluation = evaluate(np.asarray(raw), self.series, self.course.series, window, name=task.id)
        except ForecastError as exc:
            return {"error": str(exc), "probe": probe}
        try:
            full = self.anchor_mae(task, task.full_credit_at, evaluation)
            zero = self.anchor_mae(task, task.zero_credit_at, evaluation)
        except ForecastError as exc:
            return {"grader_error": str(exc), "probe": probe}
        forecast = normalise_predictions(np.asarray(raw), evaluation.n_windows) * self.series.scale
        origins = windows.origins
        picks = sorted({0, len(origins) // 3, (2 * len(origins)) // 3, len(origins) - 1})
        samples = [{"index": int(i), "origin": str(self.series.dates[int(origins[i])]),
                    "forecast": [round(float(v), 1) for v in forecast[i]]} for i in picks]
        return {
            "fraction": accuracy_fraction(evaluation.forecast.mae, full, zero),
            "mae": evaluation.forecast.mae,
            "rmse": evaluation.forecast.rmse,
            "mase": evaluation.forecast.mase,
            "mae_per_horizon": list(evaluation.forecast.mae_per_horizon),
            "windows": evaluation.n_windows,
            "window": window,
            "full_credit_mae": full,
            "zero_credit_mae": zero,
            "baselines": task_baselines(self.manifest, task.id, evaluation),
            "test_start": evaluation.test_start,
            "test_end": evaluation.test_end,
            "samples": samples,
            "probe": probe,
        }


def forward_pass_groups(origins: Any, span: int) -> list[list[int]]:
    """Windows (by index) that may share one forward pass: in a group, origins lie ``span`` days
    (input days + horizon) or more apart, so no window's inputs hold another's targets.

    A model can read across the rows of its batch with legal layers (``keras.ops.roll`` over
    axis 0); given consecutive windows it would read each window's answers off the next ones.
    Greedy in origin order: daily origins give ``span`` groups of every ``span``-th window.
    """
    groups: list[list[int]] = []
    last: list[int] = []
    for index in np.argsort(np.asarray(origins), kind="stable"):
        origin = int(origins[index])
        for slot, previous in enumerate(last):
            if origin - previous >= span:
                groups[slot].append(int(index))
                last[slot] = origin
                break
        else:
            groups.append([int(index)])
            last.append(origin)
    return groups
