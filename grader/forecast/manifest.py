"""The reference manifest of a course: which reference models are built, for which series, how good.

``<course>/reference/manifest.json`` is written by :func:`grader.forecast.references.build_references`;
everything that only *reads* it (grading, the evaluation, reports) uses this module,
which imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from grader.core.course import Course, CourseError
from grader.forecast.series import Series

MANIFEST = "manifest.json"


class ReferencesMissing(CourseError):
    """Reference models are missing; the message says which command fixes it."""


def series_key(series: Series) -> str:
    """A digest of the series' dates, values and scale: forecasters are keyed by it."""
    digest = hashlib.sha256()
    digest.update(np.asarray(series.dates, dtype="datetime64[D]").astype("int64").tobytes())
    digest.update(np.asarray(series.values, dtype="float64").tobytes())
    digest.update(repr(float(series.scale)).encode())
    return digest.hexdigest()[:16]


def read_manifest(course: Course) -> dict[str, Any]:
    path = course.reference_dir / MANIFEST
    if not path.exists():
        return {"tasks": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def reference_versions(course: Course) -> dict[str, str]:
    """Task id → the version string of the reference used (builder version, and series key for forecasters)."""
    return {task: entry["version_key"] for task, entry in read_manifest(course).get("tasks", {}).items()}


def require_built(course: Course) -> None:
    """Raise :class:`ReferencesMissing` unless the references grading scores against (the forecasters) are built."""
    from reference_models import FORECAST_TASKS

    built = read_manifest(course).get("tasks", {})
    missing = [task for task in FORECAST_TASKS if "mae" not in built.get(task, {})]
    if missing:
        raise ReferencesMissing(f"the reference models are not built ({', '.join(missing)} missing): run "
                                f"'grader reference build --course {course.root}'")
