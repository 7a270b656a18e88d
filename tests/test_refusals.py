"""Refused is never missing: a file over ``[limits] file_mb`` is reported as refused, with its size and
the limit, by intake, the checks, the gradebook, the report, the feedback page and the commands that
take submissions; a file that is not there at all is still "missing". No TensorFlow: the course's
limit is 1 MiB and the refused file 2 MB."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.core.course import Course, init_course, open_course
from grader.grading.intake import (DEFAULT_INTAKE_LIMITS, IntakeLimits, SubmissionStore, read_submission,
                                   size_text)
from grader.grading.refusals import SIZE, Refusal

MiB = 1 << 20
BIG = 2_000_000                     # 1.9 MiB: over a 1 MiB limit
REFUSED = ("q8_video_classifier.keras was refused (too large): it is 1.9 MiB, over the per-file limit of 1 MiB")
MISSING = "q7_conv_rnn.keras is missing"


def small_course(root: Path) -> Course:
    """A course folder whose course.toml says ``[limits] file_mb = 1``."""
    init_course(root)
    config = root / "course.toml"
    text = config.read_text(encoding="utf-8")
    assert "\nfile_mb = 256\n" in text
    config.write_text(text.replace("\nfile_mb = 256\n", "\nfile_mb = 1\n"), encoding="utf-8")
    return open_course(root)


def submission(root: Path) -> Path:
    """A folder with a 2 MB q8 file (refused at 1 MiB), a small q6 cell, and no q7 file or answers.md."""
    root.mkdir(parents=True)
    (root / "q8_video_classifier.keras").write_bytes(os.urandom(BIG))
    (root / "q6_lstm_cell.py").write_text("import numpy as np\n")
    return root


def by_task(tests: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for test in tests:
        grouped.setdefault(test["task"], []).append(test)
    return grouped


# --------------------------------------------------------------------------- the limit

def test_the_per_file_limit_is_the_courses_file_mb(tmp_path):
    from grader.grading.checking import inspection_limits

    course = small_course(tmp_path / "course")
    assert course.limits.file_mb == 1
    limits = IntakeLimits.from_course(course.limits)
    assert (limits.max_file_bytes, limits.max_total_bytes) == (1 * MiB, 2 * MiB)
    assert inspection_limits(course.limits).file_mb == 1        # static inspection takes what intake takes
    # The default is large enough for a pretrained CNN inside TimeDistributed (an 89 MB q8), and a
    # whole submission has room for one file at the limit beside the others.
    assert DEFAULT_INTAKE_LIMITS == IntakeLimits.from_course({})
    assert DEFAULT_INTAKE_LIMITS.max_file_bytes == 256 * MiB > 89_000_000
    assert DEFAULT_INTAKE_LIMITS.max_total_bytes == 512 * MiB


def test_contract_prints_the_courses_limit(tmp_path):
    small_course(tmp_path / "course")
    runner = CliRunner()
    shown = runner.invoke(cli, ["contract", "--course", str(tmp_path / "course")])
    assert shown.exit_code == 0, shown.output
    assert "Each file may be at most 1 MiB ([limits] file_mb), the whole submission 2 MiB" in shown.output
    markdown = runner.invoke(cli, ["contract", "--markdown", "--course", str(tmp_path / "course")])
    assert "| `q8_video_classifier` |" in markdown.output and "at most 1 MiB ([limits] file_mb)" in markdown.output
    default = runner.invoke(cli, ["contract", "--course", str(tmp_path / "no-course-here")])
    assert default.exit_code == 0 and "at most 256 MiB ([limits] file_mb)" in default.output


# --------------------------------------------------------------------------- intake

@pytest.mark.parametrize("packed", ["folder", "zip"])
def test_intake_refuses_by_size_with_the_size_and_the_limit(tmp_path, packed):
    folder = submission(tmp_path / "alice")
    source = folder
    if packed == "zip":   # stored, so the 2 MB are real bytes; under a top folder, which is stripped
        source = tmp_path / "alice.zip"
        with zipfile.ZipFile(source, "w", zipfile.ZIP_STORED) as archive:
            for path in sorted(folder.iterdir()):
                archive.write(path, f"alice/{path.name}")
    sub = read_submission(source, limits=IntakeLimits(max_file_bytes=1 * MiB, max_total_bytes=2 * MiB))
    assert set(sub.files) == {"q6_lstm_cell.py"}
    [refusal] = sub.refused
    assert refusal == Refusal("q8_video_classifier.keras", SIZE, "it is 1.9 MiB, over the per-file limit of 1 MiB",
                              BIG, 1 * MiB)
    assert refusal.message.startswith(REFUSED) and "missing" not in refusal.message
    assert sub.problems == [f"{source.name}: refused 'q8_video_classifier.keras': {refusal.reason}"]


def test_a_refusal_is_part_of_the_submission_and_kept_in_the_store(tmp_path):
    limits = IntakeLimits(max_file_bytes=1 * MiB, max_total_bytes=2 * MiB)
    refused = read_submission(submission(tmp_path / "alice"), limits=limits)
    absent = tmp_path / "bob"
    absent.mkdir()
    (absent / "q6_lstm_cell.py").write_text("import numpy as np\n")
    missing = read_submission(absent, limits=limits)
    assert refused.files == missing.files and refused.content_hash != missing.content_hash

    store = SubmissionStore(tmp_path / "store")
    store.store(refused)
    store.store(missing)
    assert store.load_refusals(refused.content_hash) == refused.refused
    assert store.load_refusals(missing.content_hash) == ()
    assert set(store.load_manifest(refused.content_hash)) == {"q6_lstm_cell.py"}


def test_size_text_reads_as_a_student_expects():
    assert [size_text(n) for n in (1000, MiB, 64 * MiB, BIG, 89_000_000)] == \
        ["1000 bytes", "1 MiB", "64 MiB", "1.9 MiB", "84.9 MiB"]


# --------------------------------------------------------------------------- the commands

def test_check_reports_refused_not_missing_and_warns_at_once(tmp_path):
    small_course(tmp_path / "course")
    folder = submission(tmp_path / "alice")
    result = CliRunner().invoke(cli, ["check", str(folder), "--static-only", "--json",
                                      "--course", str(tmp_path / "course")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    tasks = by_task(report["tests"])
    [q8] = tasks["q8_video_classifier"]
    assert q8["status"] == "error" and q8["score"] == 0 and q8["output"].startswith(REFUSED)
    assert "missing" not in q8["output"]
    assert q8["details"]["refused"] == {"name": "q8_video_classifier.keras", "kind": SIZE, "size": BIG,
                                        "limit": 1 * MiB, "reason": "it is 1.9 MiB, over the per-file limit of 1 MiB"}
    assert tasks["q7_conv_rnn"][0]["output"].startswith(MISSING)       # absent is still missing
    assert [r["name"] for r in report["refused"]] == ["q8_video_classifier.keras"]
    assert any(note.startswith("answers.md is missing") for note in report["notes"])
    # The warning goes to stderr, one line, so --json's output stays one JSON object.
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {report['refused'][0]['message']}"]


def test_check_text_output_warns_before_the_results(tmp_path):
    small_course(tmp_path / "course")
    folder = submission(tmp_path / "alice")
    result = CliRunner().invoke(cli, ["check", str(folder), "--static-only", "--course", str(tmp_path / "course")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    warning = next(i for i, line in enumerate(lines) if line.startswith("warning: "))
    assert lines[warning].startswith(f"warning: {REFUSED}")
    assert warning < next(i for i, line in enumerate(lines) if line.startswith("q1_seq2seq"))
    assert sum(REFUSED in line for line in lines) == 2         # the warning, then q8's own result
    assert any(MISSING in line for line in lines)


def test_submit_warns_once_per_refused_file(tmp_path):
    small_course(tmp_path / "course")
    folder = submission(tmp_path / "alice")
    args = ["submit", "--course", str(tmp_path / "course"), "--student", "alice", str(folder)]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    warnings = [line for line in first.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: {REFUSED}")
    assert "submission 1 of alice recorded" in first.stdout
    again = CliRunner().invoke(cli, args)
    assert "identical to the latest submission" in again.stdout and REFUSED in again.stderr


# --------------------------------------------------------------------------- gradebook, report, feedback

def test_grading_records_the_refusal_and_pages_show_it(tmp_path, bank):
    from grader.grading.grader import Grader
    from grader.report.class_report import write_report
    from grader.report.feedback import render_feedback
    from grader.store.gradebook import Gradebook

    course = small_course(tmp_path / "course")
    folder = submission(tmp_path / "alice")
    with Gradebook(course.db_url) as gradebook:
        grader = Grader(course, bank, gradebook)
        receipt = grader.submit(folder, "alice")
        assert [r.name for r in receipt.refused] == ["q8_video_classifier.keras"] and receipt.new
        run = gradebook.start_run("grade", "test", bank.versions, {})
        grader.grade(receipt.submission_id, run, prober=None)     # static checks only: no sandbox needed
        gradebook.finish_run(run)
        rows = by_task(gradebook.current_results(receipt.submission_id))
        snapshot = gradebook.snapshot(bank)

    [q8] = rows["q8_video_classifier"]
    assert q8["status"] == "error" and q8["output"].startswith(REFUSED)
    assert q8["details"]["refused"]["size"] == BIG and q8["details"]["refused"]["limit"] == 1 * MiB
    assert rows["q7_conv_rnn"][0]["output"].startswith(MISSING)
    assert rows["q1_prose"][0]["output"].startswith("answers.md is missing")

    page = render_feedback(course, bank, "alice", snapshot)
    q8_section = page[page.index('id="task-q8_video_classifier"'):]
    q8_section = q8_section[:q8_section.index("</div>")]
    assert REFUSED in q8_section and "missing" not in q8_section
    assert MISSING in page

    out = tmp_path / "report" / "report.html"
    write_report(course, bank, out, snapshot)
    errors = out.read_text(encoding="utf-8")
    errors = errors[errors.index('id="error-table"'):]
    assert REFUSED in errors and MISSING in errors
