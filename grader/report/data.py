"""What the pages are made from: a gradebook snapshot paired with the course, the bank and the references.

Reports never read the gradebook: the caller takes a
:class:`~grader.core.records.ClassSnapshot` (``gradebook.snapshot(bank)``) and
:func:`load_class` adds what else the pages need. The course series (for
plots) is read here too, and a report still renders without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from grader.core.bank import Bank
from grader.core.course import Course
from grader.core.records import ClassSnapshot
from grader.report.render import ReportError, trim

if TYPE_CHECKING:
    from grader.forecast.series import Series


@dataclass(frozen=True)
class ClassData:
    """A :class:`ClassSnapshot` with the course, the bank and the reference manifest it is rendered for.

    ``summaries``, ``results``, ``overrides``, ``runs`` and ``graded`` are the
    snapshot's (see :class:`~grader.core.records.ClassSnapshot` for their
    shapes); ``manifest`` is the course's reference manifest (``reference/manifest.json``).
    """

    course: Course
    bank: Bank
    snapshot: ClassSnapshot
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def summaries(self) -> list[dict[str, Any]]:
        return self.snapshot.summaries

    @property
    def results(self) -> dict[str, list[dict[str, Any]]]:
        return self.snapshot.results

    @property
    def overrides(self) -> dict[str, list[dict[str, Any]]]:
        return self.snapshot.overrides

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.snapshot.runs

    @property
    def graded(self) -> list[dict[str, Any]]:
        return self.snapshot.graded

    def summary(self, student_id: str) -> dict[str, Any]:
        """The student's summary; :class:`ReportError` for a student not in the gradebook."""
        row = self.snapshot.summary(student_id)
        if row is None:
            raise ReportError(f"no student {student_id!r} in the gradebook")
        return row

    def result(self, student_id: str, task: str, check: str) -> dict[str, Any] | None:
        """The student's current result of one check, or None."""
        return self.snapshot.result(student_id, task, check)


def load_class(course: Course, bank: Bank, snapshot: ClassSnapshot) -> ClassData:
    """``snapshot`` paired with ``course``, ``bank`` and the course's reference manifest."""
    from grader.forecast.manifest import read_manifest

    return ClassData(course, bank, snapshot, read_manifest(course))


def class_data(course: Course, bank: Bank, data: ClassData | ClassSnapshot) -> ClassData:
    """``data`` ready to render for ``course``.

    A snapshot is loaded with :func:`load_class`; data already loaded (shared by
    many pages) is kept, rendered for ``course`` (its name and ``[release]``
    settings, e.g. after a config change) when that is another course object.
    """
    if isinstance(data, ClassSnapshot):
        return load_class(course, bank, data)
    return data if data.course is course else replace(data, course=course)


def check_positions(bank: Bank) -> dict[tuple[str, str], int]:
    """(task, check) -> the check's position in its task, for listing checks in bank order."""
    return {(task.id, name): i for task in bank.tasks for i, (name, _) in enumerate(task.checks)}


def load_series(course: Course) -> tuple[Series | None, str]:
    """The course series, or None and why not (a report still renders without its plots)."""
    from grader.forecast.series import SeriesError, series_from_config

    try:
        return series_from_config(course.series, course.root), ""
    except (SeriesError, OSError, ValueError) as exc:
        return None, f"the course series cannot be read ({trim(str(exc), 120)}), so no window plots"


def window_values(series: Series, origin: str, before: int) -> dict[str, Any] | None:
    """Actual values around a window origin: ``before`` input days up to it and the 7 days after."""
    import numpy as np

    from grader.forecast.metrics import HORIZON, naive_forecast, seasonal_naive_forecast
    from grader.forecast.series import SeriesError

    try:
        index = series.index_of(origin)
    except SeriesError:
        return None
    if index + HORIZON >= len(series) or index - before + 1 < 0 or index < HORIZON:
        return None
    values = series.values
    origins = np.array([index])
    return {"history": [float(v) for v in values[index - before + 1:index + 1]],
            "actual": [float(v) for v in values[index + 1:index + 1 + HORIZON]],
            "naive": [float(v) for v in naive_forecast(values, origins)[0]],
            "seasonal naive": [float(v) for v in seasonal_naive_forecast(values, origins)[0]]}
