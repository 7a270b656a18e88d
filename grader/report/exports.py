"""Grade exports: one CSV for the class, Gradescope ``results.json`` per submission, and the
gradebook imports of Canvas and Moodle.

All read a :class:`~grader.core.records.ClassSnapshot` of the gradebook and
its effective scores (a manual override wins over the auto score). The
Gradescope shape follows its autograder specification: a top-level ``score``,
``execution_time``, ``output`` and a ``tests`` list of ``name``, ``number``,
``score``, ``max_score``, ``status`` (passed / failed), ``output`` and
``visibility``; hidden checks are ``after_published``.

The Canvas and Moodle files (:func:`export_canvas`, :func:`export_moodle`) hold one total per
student of the course's roster (:mod:`grader.core.roster`) and nothing else, laid out as each
platform's grade import reads them:

- **Canvas** ("Import" in the Gradebook) reads a file shaped like its own gradebook export: UTF-8
  with a byte-order mark, the identity columns ``Student, ID, SIS User ID, SIS Login ID, Section``
  (those the imported export had, as it wrote them; Canvas finds the student by ``ID``) and one
  column per assignment, matched by its header exactly (``Assignment 7 (12345)``). A header
  naming no assignment makes a new one, so the header is taken from the imported export.
- **Moodle** ("Import grades from CSV") reads a header row and one row per student; on its
  import page the identifier column (``Email address`` or ``ID number``) is mapped to the user
  field and the grade column to a grade item. A row whose user Moodle cannot find stops the
  whole import, and a blank grade removes one, so only roster students with a grade are written.

Students with no grade (nothing submitted, or not graded yet) and students with a submission the roster
does not hold are left out of the file and listed in :class:`PlatformExport`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.core.bank import Bank
from grader.core.identity import file_stem
from grader.core.records import ClassSnapshot
from grader.core.roster import CANVAS_COLUMNS, Roster
from grader.report.render import ReportError

# [export] moodle_key -> (the roster field, the header Moodle's own export gives that user field).
MOODLE_KEYS = {"email": ("email", "Email address"), "idnumber": ("sis_id", "ID number")}


def total_points(summary: dict[str, Any]) -> float:
    """A student's total as every export writes it: the sum of the effective task scores, to 2 places."""
    return round(summary.get("score", 0.0), 2)


def csv_rows(snapshot: ClassSnapshot, bank: Bank) -> tuple[list[str], list[list[Any]]]:
    """Header and one row per student: id, per-question scores, total, max."""
    questions = [q.id for q in bank.questions]
    header = ["student_id"] + questions + ["total", "max"]
    rows = []
    for summary in snapshot.summaries:
        per_question = summary.get("questions", {})
        row: list[Any] = [summary["student_id"]]
        for qid in questions:
            score = per_question.get(qid, {}).get("score")
            row.append("" if score is None else round(score, 2))
        row += [total_points(summary), round(bank.points, 2)]
        rows.append(row)
    return header, rows


def export_csv(snapshot: ClassSnapshot, bank: Bank) -> str:
    """The class as CSV text: :func:`csv_rows` with its header."""
    header, rows = csv_rows(snapshot, bank)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def gradescope_results(rows: list[dict[str, Any]], bank: Bank, *, execution_time: float = 0.0,
                       output: str = "") -> dict[str, Any]:
    """Gradescope's results.json for one submission's current result rows.

    ``rows`` are result dicts (:mod:`grader.core.records`) or ``CheckResult.to_dict()``;
    their ``score`` is the effective score.
    """
    order = bank.task_order()
    tests = []
    counters: dict[int, int] = {}
    for row in sorted(rows, key=lambda r: (order.get(r["task"], (99, 99)), r.get("id", 0))):
        question = order.get(row["task"], (0, 0))[0]
        counters[question] = counters.get(question, 0) + 1
        score = float(row["score"])
        max_score = float(row["max_score"])
        text = row.get("output") or ""
        if row.get("overridden"):
            text = (text + "\n" if text else "") + "Score set by an instructor."
        tests.append({
            "name": f"{row['task']}: {row['check']}",
            "number": f"{question}.{counters[question]}",
            "score": round(score, 4),
            "max_score": round(max_score, 4),
            "status": "passed" if row["status"] == "passed" else "failed",
            "output": text,
            "visibility": "after_published" if row.get("visibility") == "hidden" else "visible",
        })
    return {
        "score": round(sum(t["score"] for t in tests), 4),
        "execution_time": round(float(execution_time), 3),
        "output": output,
        "tests": tests,
    }


def export_gradescope(snapshot: ClassSnapshot, bank: Bank, out_dir: Path) -> list[Path]:
    """Write ``<out_dir>/<file stem>/results.json`` for every student's latest graded submission.

    The folder is :func:`grader.core.identity.file_stem` of the id, never the raw id.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for summary in snapshot.summaries:
        student, submission = summary["student_id"], summary["submission_id"]
        rows = snapshot.results.get(student, [])
        if submission is None or not rows:
            continue
        results = gradescope_results(rows, bank, output=f"Graded submission {submission} of {student}.")
        target = out_dir / file_stem(student) / "results.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(results, indent=2), encoding="utf-8")
        written.append(target)
    return written


# --------------------------------------------------------------------------- Canvas and Moodle

@dataclass(frozen=True)
class PlatformExport:
    """A grade file for Canvas or Moodle, and who is not in it.

    ``text`` is the file's content, written with ``encoding``; ``written`` the roster ids given a
    total; ``not_on_roster`` students with a submission the roster does not hold; ``no_submission`` and
    ``not_graded`` roster students with nothing submitted or nothing graded yet; ``no_key`` (Moodle)
    roster students without the identifier Moodle needs. Every list but ``written`` is left out
    of the file. ``notes`` are lines for the instructor (an assignment Canvas will create, say).
    """

    platform: str
    text: str
    encoding: str
    column: str
    written: tuple[str, ...]
    not_on_roster: tuple[str, ...] = ()
    no_submission: tuple[str, ...] = ()
    not_graded: tuple[str, ...] = ()
    no_key: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def report_lines(self) -> list[str]:
        """One line per kind of student left out (with their ids), then the notes."""
        kinds = [(self.not_on_roster, "submitted but not on the roster (import a fresh roster, or check "
                                      "the --match column)"),
                 (self.no_submission, "on the roster with no submission"),
                 (self.not_graded, "on the roster, submitted, not graded yet (run 'grader batch')"),
                 (self.no_key, f"on the roster without the {self.platform} identifier the file needs")]
        lines = [f"left out, {len(ids)} {what}: {', '.join(ids)}" for ids, what in kinds if ids]
        return lines + list(self.notes)


def export_canvas(snapshot: ClassSnapshot, bank: Bank, roster: Roster, assignment: str) -> PlatformExport:
    """Canvas's gradebook import: the roster's identity columns and ``assignment``'s column of totals.

    The roster must come from a Canvas gradebook export (Canvas finds students by its own user
    ids). ``assignment`` ([export] canvas_assignment) is an assignment's name or full header; the
    header is written exactly as the imported export had it.
    """
    if roster.format != "canvas":
        raise ReportError("the roster was imported from a CSV roster, but Canvas finds students by its own user "
                          "ids, which only its gradebook export holds: import that export with 'grader roster "
                          "import FILE', then export again")
    header, notes = _canvas_header(roster, assignment, bank)
    scores, left_out = _scores(snapshot, roster)
    rows = [[student.value(CANVAS_COLUMNS[column]) for column in roster.columns] + [_number(scores[student.student_id])]
            for student in roster.students if student.student_id in scores]
    text = _csv_text(list(roster.columns) + [header], rows)
    return PlatformExport("Canvas", text, "utf-8-sig", header, tuple(scores), **left_out, notes=tuple(notes))


def export_moodle(snapshot: ClassSnapshot, bank: Bank, roster: Roster, key: str, item: str) -> PlatformExport:
    """Moodle's "Import grades from CSV": an identifier column (``key``: "email" or "idnumber", the
    roster's SIS id) and a grade column headed ``item``; one row per roster student with a total."""
    field, identifier = MOODLE_KEYS[key]
    if not roster.has_field(field):
        other = next(name for name in MOODLE_KEYS if name != key)
        source = "Canvas gradebook export" if roster.format == "canvas" else "CSV roster"
        raise ReportError(f"Moodle is to find students by {identifier!r} ([export] moodle_key = \"{key}\"), but the "
                          f"roster's {source} had no such column: set moodle_key = \"{other}\" in course.toml, or "
                          f"import a CSV roster with a {field!r} column")
    scores, left_out = _scores(snapshot, roster)
    no_key = tuple(s.student_id for s in roster.students if s.student_id in scores and not s.value(field))
    rows = [[student.value(field), _number(scores[student.student_id])]
            for student in roster.students if student.student_id in scores and student.value(field)]
    written = tuple(s.student_id for s in roster.students if s.student_id in scores and s.value(field))
    notes = []
    if bank.points:
        notes.append(f"map the {item!r} column to a grade item whose maximum grade is {bank.points:g} (the "
                     "grader's total)")
    return PlatformExport("Moodle", _csv_text([identifier, item], rows), "utf-8", item, written, **left_out,
                          no_key=no_key, notes=tuple(notes))


def _canvas_header(roster: Roster, assignment: str, bank: Bank) -> tuple[str, list[str]]:
    """The column header for ``assignment`` and notes: the imported export's own header when one has that
    header or name; otherwise ``assignment`` itself, which Canvas makes a new assignment of."""
    chosen = [a for a in roster.assignments if a.header == assignment] or \
             [a for a in roster.assignments if a.name == assignment]
    if len(chosen) > 1:
        raise ReportError(f"{len(chosen)} Canvas assignments are named {assignment!r} "
                          f"({', '.join(repr(a.header) for a in chosen)}): set [export] canvas_assignment in "
                          "course.toml to the full header of the one to fill")
    if not chosen:
        known = ", ".join(repr(a.header) for a in roster.assignments) or "none"
        return assignment, [f"{assignment!r} is not an assignment of the Canvas export the roster came from "
                            f"(it has: {known}); Canvas will create a new assignment of that name. To fill an "
                            "existing one, set [export] canvas_assignment in course.toml to its name"]
    notes = []
    found = chosen[0]
    if found.points_possible is not None and round(found.points_possible, 2) != round(bank.points, 2):
        notes.append(f"Canvas's {found.header!r} is worth {found.points_possible:g} points and the grader's "
                     f"totals are out of {bank.points:g}: set the assignment's points to {bank.points:g} in Canvas")
    return found.header, notes


def _scores(snapshot: ClassSnapshot, roster: Roster) -> tuple[dict[str, float], dict[str, tuple[str, ...]]]:
    """Roster id -> total for every roster student with a grade (in roster order), and the ids left out by kind."""
    summaries = {summary["student_id"]: summary for summary in snapshot.summaries}
    on_roster = roster.by_id()
    scores: dict[str, float] = {}
    no_submission, not_graded = [], []
    for student in roster.students:
        summary = summaries.get(student.student_id)
        if summary is None or summary.get("submission_id") is None:
            no_submission.append(student.student_id)
        elif summary.get("graded") or summary.get("overridden"):
            scores[student.student_id] = total_points(summary)
        else:
            not_graded.append(student.student_id)
    not_on_roster = tuple(sid for sid, summary in summaries.items()
                          if sid not in on_roster and summary.get("submission_id") is not None)
    return scores, {"not_on_roster": not_on_roster, "no_submission": tuple(no_submission),
                    "not_graded": tuple(not_graded)}


def _number(value: float) -> str:
    """A score as both platforms read it: a point for decimals, no exponent, no trailing zeros ("61.5", "80")."""
    return f"{value + 0.0:.2f}".rstrip("0").rstrip(".")       # + 0.0: never "-0"


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
