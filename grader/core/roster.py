"""The class list: who is enrolled on Canvas or Moodle, and which of the gradebook's student ids each one is.

``grader roster import`` (:mod:`grader.grading.roster`) reads it from a Canvas gradebook export
or a simple CSV file into ``<course>/roster.json``; the Canvas and Moodle exports
(:mod:`grader.report.exports`) read it back as a :class:`Roster`. Shape of ``roster.json``::

    {"version": 1,
     "format": "canvas",                 # or "csv" (a simple roster: id, name, email, section, sis_id)
     "match": "login",                   # the column our student ids were taken from (see MATCH_FIELDS)
     "source": "2026-05-01T1200_Grades-RNN.csv",
     "columns": ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"],   # as in the file, in its order
     "assignments": [{"header": "Assignment 7 (12345)", "name": "Assignment 7", "points_possible": 10.0}],
     "students": [{"student_id": "jdoe", "name": "Doe, Jane", "id": "12345", "sis_id": "S001",
                   "login": "jdoe", "email": "", "section": "Section A"}]}

``columns`` are the identity columns the imported file had (a Canvas export leaves out the SIS
columns for users who may not see SIS data); ``assignments`` are a Canvas export's assignment
columns, their headers exactly as written. Every ``student_id`` has passed
:func:`grader.core.identity.student_id`, on import and again whenever the file is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grader.core.errors import GraderError
from grader.core.identity import StudentIdError, student_id

ROSTER_VERSION = 1
FORMATS = ("canvas", "csv")
FIELDS = ("name", "id", "sis_id", "login", "email", "section")
# --match NAME -> the field our student ids are taken from.
MATCH_FIELDS = {"login": "login", "sis": "sis_id", "id": "id", "email": "email", "name": "name"}
DEFAULT_MATCH = {"canvas": "login", "csv": "id"}
# A Canvas gradebook export's identity columns, in Canvas's order, and the field each fills.
CANVAS_COLUMNS = {"Student": "name", "ID": "id", "SIS User ID": "sis_id", "SIS Login ID": "login",
                  "Section": "section"}
# A simple roster's columns as this module names them (the reader also takes a few spellings of each).
CSV_COLUMNS = {"id": "id", "name": "name", "email": "email", "section": "section", "sis_id": "sis_id"}


class RosterError(GraderError, ValueError):
    """A roster file or ``roster.json`` cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class RosterStudent:
    """One enrolled student: our id, and the platform's fields as the imported file wrote them ("" if absent)."""

    student_id: str
    name: str = ""
    id: str = ""
    sis_id: str = ""
    login: str = ""
    email: str = ""
    section: str = ""

    def value(self, field: str) -> str:
        return getattr(self, field) if field in FIELDS else ""

    def to_dict(self) -> dict[str, str]:
        return {"student_id": self.student_id, **{field: getattr(self, field) for field in FIELDS}}


@dataclass(frozen=True)
class CanvasAssignment:
    """An assignment column of a Canvas export: ``header`` exactly as written ("Assignment 7 (12345)")."""

    header: str
    name: str
    points_possible: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"header": self.header, "name": self.name, "points_possible": self.points_possible}


@dataclass(frozen=True)
class Roster:
    """A whole ``roster.json`` (shape in the module docstring)."""

    format: str
    match: str
    source: str
    columns: tuple[str, ...]
    students: tuple[RosterStudent, ...]
    assignments: tuple[CanvasAssignment, ...] = ()

    def by_id(self) -> dict[str, RosterStudent]:
        return {student.student_id: student for student in self.students}

    @property
    def match_column(self) -> str:
        """The column our student ids were taken from, as the imported file names it."""
        field = MATCH_FIELDS[self.match]
        if self.format == "canvas":
            return next((column for column, f in CANVAS_COLUMNS.items() if f == field), field)
        return field

    def has_field(self, field: str) -> bool:
        """Whether the imported file had a column for ``field``."""
        if self.format == "canvas":
            return any(CANVAS_COLUMNS[column] == field for column in self.columns if column in CANVAS_COLUMNS)
        return field in self.columns

    def to_dict(self) -> dict[str, Any]:
        return {"version": ROSTER_VERSION, "format": self.format, "match": self.match, "source": self.source,
                "columns": list(self.columns), "assignments": [a.to_dict() for a in self.assignments],
                "students": [s.to_dict() for s in self.students]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "roster.json") -> "Roster":
        """The roster in ``data`` (parsed ``roster.json``), or :class:`RosterError` naming ``where``."""
        def bad(what: str) -> RosterError:
            return RosterError(f"{where}: {what}; import the class list again with 'grader roster import FILE'")

        if not isinstance(data, Mapping) or data.get("version") != ROSTER_VERSION:
            raise bad(f"not a version-{ROSTER_VERSION} roster")
        if data.get("format") not in FORMATS or data.get("match") not in MATCH_FIELDS:
            raise bad("its format or match column is not one this grader knows")
        if not isinstance(data.get("source"), str) or not _texts(data.get("columns")):
            raise bad("its source or columns are not text")
        students, seen = [], set()
        for entry in data.get("students") if isinstance(data.get("students"), list) else [None]:
            if not isinstance(entry, Mapping) or not all(isinstance(entry.get(f, ""), str) for f in FIELDS):
                raise bad("a student entry is not a table of texts")
            try:
                sid = student_id(entry.get("student_id"))
            except StudentIdError as exc:
                raise bad(str(exc)) from None
            if sid in seen:
                raise bad(f"the student {sid!r} is listed twice")
            seen.add(sid)
            students.append(RosterStudent(sid, **{field: entry.get(field, "") for field in FIELDS}))
        assignments = []
        for entry in data.get("assignments", []) if isinstance(data.get("assignments", []), list) else [None]:
            points = entry.get("points_possible") if isinstance(entry, Mapping) else None
            if (not isinstance(entry, Mapping) or not isinstance(entry.get("header"), str)
                    or not isinstance(entry.get("name"), str)
                    or not (points is None or (isinstance(points, (int, float)) and not isinstance(points, bool)))):
                raise bad("an assignment entry is not a header, a name and its points")
            assignments.append(CanvasAssignment(entry["header"], entry["name"],
                                                None if points is None else float(points)))
        return cls(data["format"], data["match"], data["source"], tuple(data["columns"]), tuple(students),
                   tuple(assignments))


def _texts(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(item, str) for item in items)
