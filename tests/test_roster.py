"""Gradebook formats: importing the class list (Canvas, a simple CSV) and the Canvas and Moodle grade files.

The gradebook content is built by hand (Gradebook.add_submission + record_results), never by grading,
so these tests run in seconds. The fixtures are laid out as each platform writes and reads them:

**Canvas gradebook export** (Grades > Export > "Export Entire Gradebook"), as Canvas writes it:
- UTF-8 with a byte-order mark, comma-separated, fields with a comma in double quotes;
- row 1, the header: ``Student,ID,SIS User ID,SIS Login ID,Section``, then one column per assignment
  headed ``<name> (<assignment id>)`` ("Assignment 7 (12345)"), then the calculated, read-only
  columns (``Current Points``, ``Final Points``, ``Current Score``, ``Unposted Current Score``,
  ``Final Score``, ``Unposted Final Score``; assignment-group columns like ``Assignments Current
  Score``). The SIS columns appear only for users who may see SIS data;
- row 2: ``    Points Possible`` (the first cell starts with spaces), the identity cells blank, each
  assignment's points, ``(read only)`` under the calculated columns;
- a row per student: ``Student`` is the sortable name ("Last, First"), ``ID`` Canvas's numeric user
  id, ``SIS Login ID`` the login (what instructors usually name submission folders by), ``Section``
  the section name; blank cells for assignments not graded;
- Canvas's own ``Student, Test`` (created by Student View) may be among them.

**Canvas's gradebook import** reads the same layout back: it finds each student by ``ID`` (then
the SIS columns), matches an assignment column by its header exactly (an unknown header makes a
new assignment), skips a ``Points Possible`` row and ignores the calculated columns; a BOM is
fine (it is its own export's).

**Moodle "Import grades from CSV"** (Grades > Import > CSV file): a header row, then one row per
student; on its mapping page "Map from" names the identifier column (``Email address`` or ``ID
number``, as Moodle's own CSV export heads them) and "Map to" the user field (email address,
ID number), and each other column is mapped to a grade item. A row whose user is not found stops
the whole import; a blank grade sets "no grade".
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.cli import cli
from grader.core.course import CourseError, init_course, open_course
from grader.core.errors import GraderError
from grader.core.results import CheckResult
from grader.core.roster import Roster, RosterError
from grader.grading.roster import import_roster, load_roster, parse_roster
from grader.report.exports import export_canvas, export_csv, export_moodle
from grader.report.render import ReportError
from grader.store.gradebook import Gradebook

CANVAS_HEADER = ("Student,ID,SIS User ID,SIS Login ID,Section,Assignment 7 (12345),Quiz 1 (12346),"
                 "Current Points,Final Points,Current Score,Unposted Current Score,Final Score,Unposted Final Score")
CANVAS_EXPORT = "\ufeff" + "\r\n".join([
    CANVAS_HEADER,
    "    Points Possible,,,,,80.00,10.00,(read only),(read only),(read only),(read only),(read only),(read only)",
    '"Doe, Jane",1001,S001,jdoe,RNN Section A,,8.00,8.00,8.00,80.00,80.00,8.89,8.89',
    '"Núñez, José",1002,S002,jnunez,RNN Section A,,9.50,9.50,9.50,95.00,95.00,10.56,10.56',
    '"Ørsted, Åse",1003,S003,aorsted,RNN Section B,,,0.00,0.00,,,0.00,0.00',
    '"Student, Test",1099,,,RNN Section A,,,0.00,0.00,,,0.00,0.00',
    '"李, 小龙",1004,S004,xli,RNN Section B,,7.00,7.00,7.00,70.00,70.00,7.78,7.78',
]) + "\r\n"
SIMPLE_CSV = ("id,name,email,section,sis_id\n"
              "jdoe,Jane Doe,jane.doe@example.edu,A,S001\n"
              "jnunez,José Núñez,jose.nunez@example.edu,A,S002\n"
              "aorsted,Åse Ørsted,,B,S003\n")


def canvas_bytes(text: str = CANVAS_EXPORT) -> bytes:
    return text.encode("utf-8")


def grade(course, scores: dict[str, float | None]) -> None:
    """A submission per student; a score is recorded as q1_prose (4 points) plus q4_forecaster (76 of 7 points,
    so any total up to 80 fits), None leaves the submission ungraded."""
    with Gradebook(course.db_url) as book:
        run = book.start_run("grade", "test", {}, {})
        for number, (student, total) in enumerate(scores.items()):
            submission = book.add_submission(student, {}, f"{number:064x}", "", f"{student}.zip")
            if total is not None:
                prose = min(total, 4.0)
                book.record_results(submission, run, [
                    CheckResult("q1_prose", "rubric", "passed", prose, 4.0, "ok"),
                    CheckResult("q4_forecaster", "forecast_accuracy", "failed", round(total - prose, 4), 76.0, "")])
        book.finish_run(run)


@pytest.fixture
def course(tmp_path):
    return init_course(tmp_path / "course")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"GRADER_COURSE": None, "GRADER_DB": None})


def read_canvas(path) -> list[list[str]]:
    """The file as Canvas's importer reads it: UTF-8 with an optional BOM, RFC 4180 CSV."""
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "Canvas's own export (and so what it re-imports) starts with a BOM"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --------------------------------------------------------------------------- import

def test_a_canvas_export_is_told_by_its_header_and_read_with_its_bom():
    result = parse_roster(canvas_bytes(), "grades.csv")
    roster = result.roster
    assert (roster.format, roster.match, roster.match_column) == ("canvas", "login", "SIS Login ID")
    assert [s.student_id for s in roster.students] == ["jdoe", "jnunez", "aorsted", "xli"]
    jose = roster.by_id()["jnunez"]
    assert (jose.name, jose.id, jose.sis_id, jose.section) == ("Núñez, José", "1002", "S002", "RNN Section A")
    assert roster.columns == ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
    assert [(a.header, a.name, a.points_possible) for a in roster.assignments] == [
        ("Assignment 7 (12345)", "Assignment 7", 80.0), ("Quiz 1 (12346)", "Quiz 1", 10.0)]
    assert result.problems == ()
    assert result.notes == ("row 6: Canvas's Test Student, left out",)


@pytest.mark.parametrize("match, ids", [("sis", ["S001", "S002", "S003", "S004"]),
                                        ("id", ["1001", "1002", "1003", "1004"]),
                                        ("name", ["Doe, Jane", "Núñez, José", "Ørsted, Åse", "李, 小龙"])])
def test_the_match_column_is_chosen_and_recorded(match, ids):
    roster = parse_roster(canvas_bytes(), "grades.csv", match).roster
    assert [s.student_id for s in roster.students] == ids
    assert Roster.from_dict(json.loads(json.dumps(roster.to_dict()))).match == match


def test_a_canvas_export_without_sis_columns_names_the_columns_it_can_match():
    rows = list(csv.reader(io.StringIO(CANVAS_EXPORT.lstrip("\ufeff"), newline="")))
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(row[:2] + row[4:] for row in rows)
    text = "\ufeff" + out.getvalue()
    assert text.startswith("\ufeffStudent,ID,Section,Assignment 7 (12345),")
    assert parse_roster(canvas_bytes(text), "grades.csv", "id").roster.columns == ("Student", "ID", "Section")
    with pytest.raises(RosterError) as caught:
        parse_roster(canvas_bytes(text), "grades.csv")
    message = str(caught.value)
    assert "SIS" in message and "--match id, name" in message and "\n" not in message


def test_a_simple_csv_roster_defaults_to_its_id_column():
    result = parse_roster(SIMPLE_CSV.encode("utf-8"), "class.csv")
    roster = result.roster
    assert (roster.format, roster.match) == ("csv", "id")
    assert roster.columns == ("id", "name", "email", "section", "sis_id")
    assert roster.by_id()["jnunez"].email == "jose.nunez@example.edu"
    by_email = parse_roster(SIMPLE_CSV.encode("utf-8"), "class.csv", "email")
    assert [s.student_id for s in by_email.roster.students] == ["jane.doe@example.edu", "jose.nunez@example.edu"]
    assert by_email.problems == ("row 4 (Åse Ørsted): the email cell is blank; fill it in, or take ids from "
                                 "another column with --match",)


def test_a_spreadsheet_saved_in_windows_1252_with_semicolons_is_read_and_the_guess_noted():
    data = "Student ID;Name;E-mail\r\nzoe;Zoë Ärger;zoe@example.edu\r\nfrancois;François;f@example.edu\r\n"
    result = parse_roster(data.encode("cp1252"), "class.csv")
    assert [s.name for s in result.roster.students] == ["Zoë Ärger", "François"]
    assert any("windows-1252" in note for note in result.notes)


def test_every_bad_row_is_one_line_naming_the_row_and_the_fix():
    text = SIMPLE_CSV + "a/b,Slash,,,\n,Nobody,,,\n.hidden,Dot,,,\njdoe,Jane Again,,,\n"
    result = parse_roster(text.encode("utf-8"), "class.csv")
    assert [s.student_id for s in result.roster.students] == ["jdoe", "jnunez", "aorsted"]
    assert len(result.problems) == 4
    for problem, row in zip(result.problems, (5, 6, 7, 8)):
        assert problem.startswith(f"row {row} (") and "\n" not in problem
    assert "path separator" in result.problems[0] and "--match" in result.problems[0]
    assert "blank" in result.problems[1]
    assert "starts with a dot" in result.problems[2]
    assert "row 2's too" in result.problems[3]


def _spliced(base: bytes, junk: bytes, at: int, cut: int) -> bytes:
    at %= len(base) + 1
    return base[:at] + junk + base[at + cut:]


roster_bytes = st.one_of(
    st.binary(max_size=300),
    st.builds(_spliced, st.sampled_from([canvas_bytes(), SIMPLE_CSV.encode("utf-8"), SIMPLE_CSV.encode("utf-16")]),
              st.one_of(st.binary(max_size=6), st.sampled_from([b",", b";", b'"', b"\n", b"\r", b"/", b"\t", b" "])),
              st.integers(0, 2000), st.integers(0, 40)),
    st.lists(st.lists(st.text(max_size=8), max_size=6), max_size=6).map(
        lambda rows: "\n".join(",".join(row) for row in [["Student", "ID", "SIS Login ID"]] + rows).encode()),
)


# Derandomized under CI (as tests/test_fuzz.py): a red build means the code changed, not an unlucky draw.
@settings(max_examples=300, deadline=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.too_slow])
@given(data=roster_bytes, match=st.sampled_from([None, "login", "sis", "id", "email", "name"]))
def test_any_file_gives_a_roster_or_one_line(data, match):
    try:
        result = parse_roster(data, "in.csv", match)
    except GraderError as exc:
        assert isinstance(exc, RosterError) and str(exc).splitlines() == [str(exc)], repr(str(exc))
        return
    for line in result.problems + result.notes:
        assert line.splitlines() == [line], repr(line)
    roster = result.roster
    assert Roster.from_dict(json.loads(json.dumps(roster.to_dict(), ensure_ascii=False))) == roster
    assert len({s.student_id for s in roster.students}) == len(roster.students)


@pytest.mark.parametrize("data, says", [
    (b"", "no header row"),
    (b"foo,bar\n1,2\n", "neither a Canvas gradebook export"),
    (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4, "not text"),
    (b"id,name\n", "no student"),
])
def test_unusable_files_are_one_line(course, tmp_path, data, says):
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    with pytest.raises(RosterError) as caught:
        import_roster(course, path)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert not course.roster_path.exists()


def test_import_writes_roster_json_privately_and_never_replaces_it_with_nothing(course, tmp_path):
    good, bad = tmp_path / "grades.csv", tmp_path / "bad.csv"
    good.write_bytes(canvas_bytes())
    import_roster(course, good)
    assert stat.S_IMODE(os.stat(course.roster_path).st_mode) == 0o600
    assert [name for name in os.listdir(course.root) if name.startswith(".roster-")] == []
    bad.write_text("id,name\n,Nobody\n", encoding="utf-8")
    with pytest.raises(RosterError, match="unchanged: 1 row"):
        import_roster(course, bad)
    assert len(load_roster(course).students) == 4


def test_a_damaged_or_missing_roster_json_says_to_import_again(course):
    with pytest.raises(RosterError, match="grader roster import"):
        load_roster(course)
    course.roster_path.write_text('{"version": 1, "format": "canvas", "match": "login", "source": "x", '
                                  '"columns": [], "students": [{"student_id": "../x"}]}')
    with pytest.raises(RosterError, match="cannot be a student id.*grader roster import"):
        load_roster(course)
    course.roster_path.write_text("{")
    with pytest.raises(RosterError, match="damaged"):
        load_roster(course)


def test_roster_import_command_counts_and_lists_problems(course, tmp_path):
    path = tmp_path / "grades.csv"
    path.write_bytes(canvas_bytes(CANVAS_EXPORT.replace(",aorsted,", ",,")))
    result = invoke("roster", "import", str(path), "--course", str(course.root))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("imported 3 students from ") and "ids from the SIS Login ID column" in result.stdout
    assert "Test Student" in result.stdout
    assert result.stderr.splitlines() == [
        "1 rows not imported:",
        "  row 5 (Ørsted, Åse): the SIS Login ID cell is blank; fill it in, or take ids from another column "
        "with --match"]
    missing = invoke("roster", "import", str(tmp_path / "nope.csv"), "--course", str(course.root))
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: cannot read the roster file")
    assert len(missing.stderr.splitlines()) == 1


# --------------------------------------------------------------------------- Canvas export

@pytest.fixture
def graded_course(course, tmp_path):
    """The Canvas roster; jdoe 50, jnunez 61.5 (then overridden on Q1 prose to 2), aorsted submitted and not
    graded, xli nothing submitted, 'stray' graded but not on the roster."""
    path = tmp_path / "grades.csv"
    path.write_bytes(canvas_bytes())
    import_roster(course, path)
    grade(course, {"jdoe": 50.0, "jnunez": 61.5, "aorsted": None, "stray": 12.0})
    with Gradebook(course.db_url) as book:
        book.set_override("jnunez", "q1_prose", 2.0, "late", "ta")
    return course


def test_the_canvas_file_reimports_as_canvas_reads_it(graded_course, tmp_path):
    out = tmp_path / "canvas.csv"
    result = invoke("export", "--format", "canvas", "--out", str(out), "--course", str(graded_course.root))
    assert result.exit_code == 0, result.output
    rows = read_canvas(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Assignment 7 (12345)"]
    assert not {"total", "max", "Current Score", "Final Score"} & set(rows[0])
    assert all("Points Possible" not in row[0] for row in rows)
    # The override counts: 61.5 - 4 + 2. Only students with a grade are written (a blank cell is never sent).
    assert rows[1:] == [["Doe, Jane", "1001", "S001", "jdoe", "RNN Section A", "50"],
                        ["Núñez, José", "1002", "S002", "jnunez", "RNN Section A", "59.5"]]
    assert result.stdout == f"wrote {out}: 2 students, column 'Assignment 7 (12345)'\n"
    assert result.stderr.splitlines() == [
        "left out, 1 submitted but not on the roster (import a fresh roster, or check the --match column): stray",
        "left out, 1 on the roster with no submission: xli",
        "left out, 1 on the roster, submitted, not graded yet (run 'grader batch'): aorsted"]


def snapshot_of(course, bank):
    with Gradebook(course.db_url) as book:
        return book.snapshot(bank)


def test_the_canvas_total_is_the_csv_exports_total(graded_course, bank):
    snapshot = snapshot_of(graded_course, bank)
    totals = {row[0]: row[-2] for row in csv.reader(io.StringIO(export_csv(snapshot, bank))) if row[0] != "student_id"}
    canvas = export_canvas(snapshot, bank, load_roster(graded_course), "Assignment 7")
    rows = list(csv.reader(io.StringIO(canvas.text)))[1:]
    assert {row[3]: float(row[-1]) for row in rows} == {sid: float(totals[sid]) for sid in ("jdoe", "jnunez")}


def test_the_canvas_column_is_the_configured_assignment_by_name_or_header(graded_course, bank):
    roster, snapshot = load_roster(graded_course), snapshot_of(graded_course, bank)
    assert export_canvas(snapshot, bank, roster, "Quiz 1 (12346)").column == "Quiz 1 (12346)"
    quiz = export_canvas(snapshot, bank, roster, "Quiz 1")
    assert quiz.column == "Quiz 1 (12346)"
    assert any("worth 10 points" in note and "out of 80" in note for note in quiz.notes)
    new = export_canvas(snapshot, bank, roster, "Assignment 8")
    assert new.text.splitlines()[0].endswith(",Assignment 8")
    assert any("create a new assignment" in note for note in new.notes)


def test_two_canvas_assignments_of_one_name_ask_for_the_full_header(bank):
    text = CANVAS_EXPORT.replace("Quiz 1 (12346)", "Assignment 7 (12399)")
    roster = parse_roster(canvas_bytes(text), "grades.csv").roster
    with Gradebook("sqlite://") as book:
        snapshot = book.snapshot(bank)
    with pytest.raises(ReportError, match="full header"):
        export_canvas(snapshot, bank, roster, "Assignment 7")


def test_canvas_needs_a_roster_from_canvas(course, tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(SIMPLE_CSV, encoding="utf-8")
    import_roster(course, path)
    grade(course, {"jdoe": 10.0})
    result = invoke("export", "--format", "canvas", "--course", str(course.root))
    assert result.exit_code == 1 and "Canvas finds students by its own user ids" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_export_without_a_roster_says_how_to_import_one(course):
    grade(course, {"jdoe": 10.0})
    for fmt in ("canvas", "moodle"):
        result = invoke("export", "--format", fmt, "--course", str(course.root))
        assert result.exit_code == 1 and "grader roster import" in result.stderr


# --------------------------------------------------------------------------- Moodle export

def test_the_moodle_file_has_the_identifier_column_and_one_grade_column(course, tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(SIMPLE_CSV, encoding="utf-8")
    import_roster(course, path)
    grade(course, {"jdoe": 50.0, "jnunez": 61.25, "aorsted": 30.0, "stray": 5.0})
    out = tmp_path / "moodle.csv"
    result = invoke("export", "--format", "moodle", "--out", str(out), "--course", str(course.root))
    assert result.exit_code == 0, result.output
    assert not out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert rows == [["Email address", "Assignment 7"], ["jane.doe@example.edu", "50"],
                    ["jose.nunez@example.edu", "61.25"]]
    # aorsted has no email: a row without the identifier would stop Moodle's whole import, so it is left out.
    assert "without the Moodle identifier the file needs: aorsted" in result.stderr
    assert "submitted but not on the roster" in result.stderr and "stray" in result.stderr


def test_moodle_by_id_number_uses_the_sis_id_and_needs_the_column(graded_course, bank):
    roster, snapshot = load_roster(graded_course), snapshot_of(graded_course, bank)
    moodle = export_moodle(snapshot, bank, roster, "idnumber", "RNN assignment 7")
    assert moodle.text.splitlines() == ["ID number,RNN assignment 7", "S001,50", "S002,59.5"]
    with pytest.raises(ReportError, match='moodle_key = "idnumber"'):
        export_moodle(snapshot, bank, roster, "email", "A7")


def test_the_moodle_key_and_item_come_from_course_toml(graded_course):
    (graded_course.root / "course.toml").write_text('[export]\nmoodle_key = "idnumber"\nmoodle_item = "Lab 7"\n')
    result = invoke("export", "--format", "moodle", "--course", str(graded_course.root))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["ID number,Lab 7", "S001,50", "S002,59.5"]


@pytest.mark.parametrize("table, key", [('moodle_key = "username"', "moodle_key"),
                                        ('canvas_assignment = ""', "canvas_assignment"),
                                        ('moodle_item = "a\\nb"', "moodle_item"),
                                        ("canvas_assignment = 7", "canvas_assignment")])
def test_the_export_table_is_validated_naming_the_key(tmp_path, table, key):
    (tmp_path / "course.toml").write_text(f"[export]\n{table}\n")
    with pytest.raises(CourseError, match=rf"\[export\] {key} must be"):
        open_course(tmp_path)


def test_the_default_config_has_the_export_table(course):
    assert course.config.export.canvas_assignment == "Assignment 7"
    assert (course.config.export.moodle_key, course.config.export.moodle_item) == ("email", "Assignment 7")
