"""Importing the class list (``grader roster import``) from a Canvas gradebook export or a simple CSV file.

The format is told by the header. A **Canvas gradebook export** (Grades > Export) starts
``Student,ID,SIS User ID,SIS Login ID,Section`` (the SIS columns only for users who may see SIS
data), then one column per assignment headed ``Name (assignment id)`` and Canvas's calculated
columns (``Current Score`` ...); its second row is ``    Points Possible`` and it may hold
Canvas's ``Student, Test``. It is UTF-8 with a byte-order mark. A **simple roster** has a header
naming some of ``id, name, email, section, sis_id`` (a few other spellings are understood).

The file is decoded by the same rules as ``answers.md`` (:func:`grader.prose.decoding.decode_text`:
byte-order mark, UTF-8, then charset-normalizer's guess, which is noted). Our student ids are
taken from one column (``--match``: Canvas's SIS Login ID by default, a simple roster's id), each
through the one rule of :func:`grader.core.identity.student_id`. A row that cannot be imported
costs that row only and is one line naming the row and the fix; ``roster.json`` is replaced in
one step (:func:`write_roster`), and never by a roster without students.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.core.course import Course
from grader.core.identity import StudentIdError, student_id
from grader.core.roster import (CANVAS_COLUMNS, DEFAULT_MATCH, MATCH_FIELDS, CanvasAssignment, Roster, RosterError,
                                RosterStudent)
from grader.core.terminal import printable
from grader.prose.decoding import UndecodableText, decode_text, encoding_label

MAX_ROSTER_MB = 16
# A Canvas assignment column: its name, then Canvas's assignment id in brackets.
_ASSIGNMENT = re.compile(r"(.*?\S)\s*\((\d+)\)")
# Canvas's own student, added by "Student View" (Canvas writes the sortable name).
TEST_STUDENT_NAMES = ("Student, Test", "Test Student")
# A simple roster's header, lower-cased with runs of spaces, '_' and '-' made one space -> field.
_CSV_ALIASES = {
    "id": "id", "student id": "id", "studentid": "id",
    "name": "name", "student name": "name", "full name": "name",
    "email": "email", "e mail": "email", "email address": "email",
    "section": "section",
    "sis id": "sis_id", "sis user id": "sis_id", "sisid": "sis_id",
}
# How messages name a field's column in a simple roster.
_CSV_NAMES = {"id": "id", "name": "name", "email": "email", "section": "section", "sis_id": "sis_id", "login": "login"}


@dataclass(frozen=True)
class RosterImport:
    """What an import read: the roster, the rows it could not import (one line each, with the
    fix) and neutral notes (Canvas's Test Student left out, an encoding that was guessed)."""

    roster: Roster
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "Canvas gradebook export" if self.roster.format == "canvas" else "CSV roster"


def import_roster(course: Course, path: Path, match: str | None = None) -> RosterImport:
    """Read ``path`` (:func:`parse_roster`) and make it the course's ``roster.json``.

    :class:`RosterError` when the file cannot be read or holds no student that could be
    imported; the course's roster is then left as it was.
    """
    shown = printable(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ROSTER_MB * 2**20 + 1)
    except (OSError, ValueError) as exc:        # missing, a folder, no permission; ValueError: a NUL in the name
        raise RosterError(f"cannot read the roster file {shown}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(data) > MAX_ROSTER_MB * 2**20:
        raise RosterError(f"{shown} is larger than {MAX_ROSTER_MB} MiB, too large for a class list; "
                          "export the gradebook or roster as CSV and import that")
    result = parse_roster(data, shown, match)
    if not result.roster.students:
        detail = (f"{len(result.problems)} row(s) could not be imported, the first: {result.problems[0]}"
                  if result.problems else "it has a header but no student rows")
        raise RosterError(f"no student imported from {shown}, so the course's roster is unchanged: {detail}")
    write_roster(course.roster_path, result.roster)
    return result


def parse_roster(data: bytes, source: str, match: str | None = None) -> RosterImport:
    """The roster in ``data`` (a Canvas gradebook export or a simple CSV roster, told by its header).

    ``match`` (a key of :data:`grader.core.roster.MATCH_FIELDS`) names the column our student ids
    come from; by default the SIS Login ID for Canvas and the id for a simple roster.
    """
    try:
        decoded = decode_text(data, source)
    except UndecodableText:
        raise RosterError(f"{source} is not text in any encoding the grader can tell (a spreadsheet saved as "
                          ".xlsx gives this); save or export it as CSV (UTF-8) and import it again") from None
    notes = []
    if decoded.guessed:
        notes.append(f"{source} is not UTF-8; it was read as {encoding_label(decoded.encoding)} (a guess): if "
                     "names look wrong, save it as CSV UTF-8 and import it again")
    records = _records(decoded.text, source)
    if not records or not any(cell.strip() for cell in records[0]):
        raise RosterError(f"{source} has no header row; its first row must name the columns (a Canvas gradebook "
                          "export, or id, name, email, section, sis_id)")
    header = [cell.strip() for cell in records[0]]
    if header[:2] == ["Student", "ID"]:
        return _canvas(header, records[1:], source, match or DEFAULT_MATCH["canvas"], notes)
    fields = _csv_fields(header)
    if fields:
        return _simple(header, fields, records[1:], source, match or DEFAULT_MATCH["csv"], notes)
    shown = ", ".join(printable(cell)[:30] for cell in header[:6]) + (", ..." if len(header) > 6 else "")
    raise RosterError(f"{source}: the header ({shown}) is neither a Canvas gradebook export's (Student, ID, SIS User "
                      "ID, SIS Login ID, Section, ...) nor a roster's (id, name, email, section, sis_id); export the "
                      "gradebook from Canvas, or give the CSV such a header row")


def load_roster(course: Course) -> Roster:
    """The course's ``roster.json``; :class:`RosterError` saying how to import one when there is none."""
    path = course.roster_path
    shown = printable(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RosterError(f"no roster in {printable(course.root)}: import the class list first with 'grader roster "
                          "import FILE' (a Canvas gradebook export, or a CSV of id, name, email, section, sis_id)"
                          ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read {shown} ({getattr(exc, 'strerror', None) or exc}); import the class list "
                          "again with 'grader roster import FILE'") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RosterError(f"{shown} is damaged ({exc.msg} at line {exc.lineno}); import the class list again with "
                          "'grader roster import FILE'") from None
    return Roster.from_dict(data, shown)


def write_roster(path: Path, roster: Roster) -> None:
    """Replace ``path`` with ``roster`` in one step: a reader sees the old roster or the new one, never part
    of one. The file is private to its owner (it holds names and emails)."""
    text = json.dumps(roster.to_dict(), indent=2, ensure_ascii=False) + "\n"
    try:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=".roster-", suffix=".json")     # mode 0600
    except OSError as exc:
        raise RosterError(f"cannot write {printable(path)}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())       # on disk before the rename, so a crash cannot leave an empty roster
        os.replace(name, path)
    except BaseException as exc:
        Path(name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RosterError(f"cannot write {printable(path)}: {exc.strerror or exc}") from None
        raise


# --------------------------------------------------------------------------- the two layouts

def _records(text: str, source: str) -> list[list[str]]:
    """The CSV records of ``text``; the delimiter is the one of ',', ';' and tab the header uses most
    (a spreadsheet saved in a locale whose decimal mark is a comma writes ';')."""
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise RosterError(f"{source} is not a readable CSV file ({exc}); export it again as CSV") from None


def _canvas(header: list[str], rows: list[list[str]], source: str, match: str, notes: list[str]) -> RosterImport:
    columns = [column for column in CANVAS_COLUMNS if column in header]
    columns.sort(key=header.index)
    field = MATCH_FIELDS[match]
    by_field = {CANVAS_COLUMNS[column]: column for column in columns}
    if field not in by_field:
        options = ", ".join(name for name, f in MATCH_FIELDS.items() if f in by_field)
        why = (" (Canvas leaves the SIS columns out for users who may not see SIS data)"
               if field in ("sis_id", "login") else "")
        raise RosterError(f"{source}: --match {match} takes ids from a column this Canvas export does not have{why}; "
                          f"choose --match {options}")
    assignments = [(at, cell, found.group(1)) for at, cell in enumerate(header)
                   if (found := _ASSIGNMENT.fullmatch(cell))]
    points: dict[int, float] = {}
    entries = []
    for number, row in enumerate(rows, start=2):
        cells = row + [""] * (len(header) - len(row))
        if cells[0].strip() == "Points Possible":
            points = {at: value for at, _, _ in assignments if (value := _number(cells[at])) is not None}
            continue
        values = {CANVAS_COLUMNS[column]: cells[header.index(column)].strip() for column in columns}
        if not any(values.values()):           # Canvas's marker rows ("Manual Posting"), blank lines
            continue
        if values.get("name") in TEST_STUDENT_NAMES:
            notes.append(f"row {number}: Canvas's Test Student, left out")
            continue
        entries.append((number, values))
    students, problems = _students(entries, field, by_field[field])
    roster = Roster("canvas", match, source, tuple(columns), students,
                    tuple(CanvasAssignment(cell, name, points.get(at)) for at, cell, name in assignments))
    return RosterImport(roster, problems, tuple(notes))


def _csv_fields(header: list[str]) -> dict[str, int]:
    """Field -> column index of a simple roster's header (the first column of each field wins)."""
    fields: dict[str, int] = {}
    for at, cell in enumerate(header):
        field = _CSV_ALIASES.get(re.sub(r"[\s_-]+", " ", cell.lower()).strip())
        if field and field not in fields:
            fields[field] = at
    return fields


def _simple(header: list[str], fields: dict[str, int], rows: list[list[str]], source: str, match: str,
            notes: list[str]) -> RosterImport:
    field = MATCH_FIELDS[match]
    if field not in fields:
        options = ", ".join(name for name, f in MATCH_FIELDS.items() if f in fields)
        raise RosterError(f"{source}: --match {match} takes ids from a {_CSV_NAMES[field]!r} column, which the header "
                          f"does not have; add one, or choose --match {options}")
    ignored = [printable(cell) for at, cell in enumerate(header) if cell and at not in fields.values()]
    if ignored:
        notes.append(f"columns not used: {', '.join(ignored)}")
    entries = []
    for number, row in enumerate(rows, start=2):
        values = {f: row[at].strip() if at < len(row) else "" for f, at in fields.items()}
        if any(values.values()):
            entries.append((number, values))
    students, problems = _students(entries, field, header[fields[field]])
    columns = tuple(sorted(fields, key=fields.get))
    return RosterImport(Roster("csv", match, source, columns, students), problems, tuple(notes))


def _students(entries: list[tuple[int, dict[str, str]]], field: str,
              column: str) -> tuple[tuple[RosterStudent, ...], tuple[str, ...]]:
    """A student per row whose ``field`` is a good, new student id; one problem line per other row."""
    students, problems, first_row = [], [], {}
    fix = "correct it in the file, or take ids from another column with --match"
    for number, values in entries:
        who = values.get("name") or values.get("id") or values.get("email") or "no name"
        where = f"row {number} ({printable(who)[:40]})"
        raw = values.get(field, "")
        if not raw:
            problems.append(f"{where}: the {printable(column)} cell is blank; fill it in, or take ids from another "
                            "column with --match")
            continue
        try:
            sid = student_id(raw)
        except StudentIdError as exc:
            problems.append(f"{where}: {printable(column)} {exc}; {fix}")
            continue
        if sid in first_row:
            problems.append(f"{where}: {printable(column)} {sid!r} is row {first_row[sid]}'s too; only row "
                            f"{first_row[sid]} was imported; keep one row per student")
            continue
        first_row[sid] = number
        students.append(RosterStudent(sid, **values))
    return tuple(students), tuple(problems)


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
