"""The reference manifest of a course: which reference models are built, for which series, how good.

``<course>/reference/manifest.json`` is written by :func:`grader.forecast.references.build_references`
(through :func:`write_manifest`); everything that only *reads* it (grading, the evaluation, reports)
uses this module, which imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from grader.core.course import Course, CourseError
from grader.forecast.series import Series

MANIFEST = "manifest.json"
# Temporary files of write_atomically start with this; one left by a killed build is removed by the next.
PARTIAL_PREFIX = ".partial-"


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


def write_manifest(course: Course, manifest: dict[str, Any]) -> None:
    """Replace ``manifest.json`` in one step: a reader, or a build resumed after an interruption,
    sees the previous manifest or the new one, never part of one."""
    text = json.dumps(manifest, indent=2, sort_keys=True)
    write_atomically(course.reference_dir / MANIFEST, lambda temp: temp.write_text(text, encoding="utf-8"))


def write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a temporary file beside ``target``, then rename it over ``target``.

    A rename within one folder is atomic, so ``target`` is either absent, the old file or the
    whole new one. The temporary file keeps ``target``'s suffix because Keras chooses the file
    format from it; it is removed if ``write`` fails or is interrupted.
    """
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=PARTIAL_PREFIX, suffix=target.suffix)
    os.close(handle)
    temp = Path(name)
    try:
        write(temp)
        with open(temp, "rb") as written:     # on disk before the rename, so a crash cannot leave an empty target
            os.fsync(written.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def remove_partial_files(folder: Path) -> None:
    """Delete temporary files a killed build left in ``folder`` (an interrupted one removes its own)."""
    for leftover in folder.glob(f"{PARTIAL_PREFIX}*"):
        leftover.unlink(missing_ok=True)


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
