"""The instructor report and the student feedback pages, from a hand-built gradebook (no TensorFlow)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import datetime
from functools import lru_cache
from html.parser import HTMLParser
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from grader.core.bank import Bank
from grader.core.course import Course, init_course, open_course
from grader.store.gradebook import Gradebook
from grader.core.results import CheckResult

SCRIPT_XSS = "<script>alert(1)</script>"
ATTR_XSS = '"><img src=x onerror=alert(1)>'
XSS_STUDENT = 'mallory"><img src=x onerror=alert(1)>'
HIDDEN_MESSAGE_MARK = "SECRET-HELD-OUT-MESSAGE"
REFERENCE_MAE = {"q4_forecaster": 48_000.0, "q5_stable_rnn": 57_000.0, "q7_conv_rnn": 41_000.0}
NAIVE_MAE, SEASONAL_MAE = 224_429.0, 51_959.0
# Student -> MAE offset over the reference for every forecaster (None: the forecast could not be scored).
FORECAST_OFFSETS = {"alice": 0.0, "bob": 6_000.0, "carol": None, "dave": 2_500.0, "erin": 9_000.0,
                    XSS_STUDENT: 4_000.0}


def write_config(root: Path, *, answers: bool = False, forecast_plots: bool = False) -> None:
    text = (root / "course.toml").read_text(encoding="utf-8")
    text = re.sub(r"answers = \w+", f"answers = {str(answers).lower()}", text)
    text = re.sub(r"forecast_plots = \w+", f"forecast_plots = {str(forecast_plots).lower()}", text)
    (root / "course.toml").write_text(text, encoding="utf-8")


def _manifest(root: Path) -> None:
    tasks = {task: {"mae": mae, "mase": mae / 54_000, "rmse": mae * 1.8,
                    "mae_per_horizon": [mae * (0.8 + 0.06 * h) for h in range(7)],
                    "seasonal_naive_mae": SEASONAL_MAE, "naive_mae": NAIVE_MAE, "file": f"{task}.keras",
                    "version_key": "v1-t1-test"} for task, mae in REFERENCE_MAE.items()}
    (root / "reference").mkdir(exist_ok=True)
    (root / "reference" / "manifest.json").write_text(json.dumps({"tasks": tasks}), encoding="utf-8")


@lru_cache(maxsize=2)
def _series_and_windows(series_config: str):
    from grader.forecast.metrics import held_out_windows
    from grader.forecast.series import series_from_config

    config = json.loads(series_config)
    series = series_from_config(config, Path("."))
    return series, held_out_windows(series, config, 56)


def forecast_details(course: Course, task: str, offset: float) -> dict:
    """forecast_accuracy details as grader.forecast.evaluation writes them, with samples near the actual values."""
    series, windows = _series_and_windows(json.dumps(course.series.to_dict(), sort_keys=True))
    n = len(windows.origins)
    picks = sorted({0, n // 3, (2 * n) // 3, n - 1})
    mae = REFERENCE_MAE[task] + offset
    samples = [{"index": i, "origin": str(series.dates[int(windows.origins[i])]),
                "forecast": [round(float(v) * series.scale + offset + 0.3, 1) for v in windows.targets[i]]}
               for i in picks]
    return {"mae": mae, "rmse": mae * 1.7, "mase": mae / 54_000,
            "mae_per_horizon": [mae * (0.71 + 0.1 * h) for h in range(7)], "windows": n, "window": 56,
            "full_credit_mae": REFERENCE_MAE[task], "zero_credit_mae": SEASONAL_MAE,
            "baselines": {"naive": {"mae": NAIVE_MAE, "mase": 4.12},
                          "seasonal_naive": {"mae": SEASONAL_MAE, "mase": 0.954},
                          "reference": {"mae": REFERENCE_MAE[task], "mase": REFERENCE_MAE[task] / 54_000}},
            "test_start": "2019-01-01", "test_end": "2019-12-31", "samples": samples}


def prose_details(points: list[tuple[str, str, str]], contradictions: list[tuple[str, str]] = (),
                  needs_review: bool = False) -> dict:
    return {"fraction": 0.5, "needs_review": needs_review, "review_reasons": [], "flags": [],
            "points": [{"id": pid, "weight": 1.0, "status": status, "evidence": evidence, "note": ""}
                       for pid, status, evidence in points],
            "contradictions": [{"id": cid, "penalty": 0.5, "status": status, "evidence": "", "note": ""}
                               for cid, status in contradictions]}


def student_results(course: Course, bank: Bank, student: str) -> tuple[list[CheckResult], dict[str, bool]]:
    """A full result set: everything passes except what each test student is known for."""
    results: list[CheckResult] = []
    review: dict[str, bool] = {}
    for question in bank.questions:
        for task in question.tasks:
            for check, points in task.checks:
                if check == "forecast_accuracy":
                    offset = FORECAST_OFFSETS[student]
                    if offset is None:
                        results.append(CheckResult(task.id, check, "failed", 0.0, points,
                                                   "Expected forecasts of shape (359, 7); received (359, 1).",
                                                   "hidden", {}))
                        continue
                    details = forecast_details(course, task.id, offset)
                    fraction = 1.0 if offset == 0 else max(0.0, 1 - offset / 4000)
                    results.append(CheckResult(task.id, check, "passed" if fraction >= 1 else "failed",
                                               round(points * fraction, 4), points,
                                               f"held-out MAE {details['mae']:,.0f} {HIDDEN_MESSAGE_MARK}",
                                               "hidden", details))
                    continue
                status, message = "passed", f"{check} ok"
                if task.id == "q3_deep_seq2seq" and check == "seq2seq_return_sequences" and student != "alice":
                    layer = SCRIPT_XSS if student == "bob" else f"lstm_{len(student)}"
                    status, message = "failed", (f"layer 2 '{layer}' (LSTM) has return_sequences=False: in a "
                                                 f"sequence-to-sequence stack every recurrent layer must "
                                                 f"return sequences")
                if task.id == "q8_video_classifier" and check == "probability_output" and student == "dave":
                    results.append(CheckResult(task.id, "run", "error", 0.0, points,
                                               "q8_video_classifier.keras: timed out after 60 s"))
                    continue
                results.append(CheckResult(task.id, check, status, points if status == "passed" else 0.0,
                                           points, message))
        texts = {p.id: p.text for p in question.key_points}
        ids = list(texts)
        if student == XSS_STUDENT:
            details = prose_details([(ids[0], "met", f"I think {ATTR_XSS} and {SCRIPT_XSS} every layer"),
                                     *[(pid, "missed", "") for pid in ids[1:]]])
        elif student == "erin" and question.id == "Q3":
            details = prose_details([(ids[0], "uncertain", "every layer maybe returns sequences"),
                                     *[(pid, "missed", "") for pid in ids[1:]]],
                                    [(question.contradictions[0].id, "present")], needs_review=True)
            review[question.prose_task] = True
        elif student == "dave" and question.id == "Q2":
            details = prose_details([(ids[0], "met", "The input of an RNN layer is 3-D, dave said."),
                                     *[(pid, "missed", "") for pid in ids[1:]]], needs_review=True)
            review[question.prose_task] = True
        else:
            details = prose_details([(pid, "met", f"{student} explains {pid}.") for pid in ids])
            details["fraction"] = 1.0
        share = details["fraction"]
        results.append(CheckResult(question.prose_task, "rubric", "passed" if share >= 1 else "failed",
                                   round(question.prose_points * share, 2), question.prose_points,
                                   "met: ..." if share >= 1 else "missed: some key points", "visible", details))
    return results, review


def build_course(root: Path, bank: Bank, *, answers: bool = False, forecast_plots: bool = False) -> Course:
    """A course folder with a gradebook of six graded students, one without a submission, two runs."""
    course = init_course(root)
    write_config(root, answers=answers, forecast_plots=forecast_plots)
    _manifest(root)
    course = open_course(root)
    with Gradebook(course.db_url) as gb:
        old_run = gb.start_run("batch", "0.0.9", bank.versions, {"q4_forecaster": "v0"})
        gb.finish_run(old_run, "interrupted", notes="stopped early")
        run = gb.start_run("batch", "0.1.0", bank.versions, {"q4_forecaster": "v1-t1-test"})
        stale = gb.add_submission("bob", {}, "0" * 64, "", "bob-first.zip", received_at=datetime(2020, 1, 1))
        gb.record_results(stale, run, [CheckResult("q1_seq2seq", "file", "error", 0.0, 2.0,
                                                   "an old, stale result")])
        for student in FORECAST_OFFSETS:
            gb.add_student(student, name=SCRIPT_XSS if student == XSS_STUDENT else None)
            digest = hashlib.sha256(student.encode()).hexdigest()
            sub = gb.add_submission(student, {}, digest, "", f"{student}.zip")
            results, review = student_results(course, bank, student)
            gb.record_results(sub, run, results, needs_review=review)
        gb.finish_run(run, notes="6 graded, 0 skipped, 0 failed")
        gb.add_student("zoe")
        gb.set_override("bob", "q3_deep_seq2seq", 2.5, f"fair enough {SCRIPT_XSS}", "ta-ann")
        gb.set_override("erin", "q3_prose", 3.0, "right idea, unusual words", "ta-ann")
        gb.set_override("dave", "q1_seq2seq", 0.1, "layer copied from a classmate", "ta-ann", check="input_shape")
    return course


def _snapshot(course: Course, bank: Bank):
    with Gradebook(course.db_url) as gb:
        return gb.snapshot(bank)


@pytest.fixture(scope="module")
def course(tmp_path_factory, bank) -> Course:
    return build_course(tmp_path_factory.mktemp("course"), bank)


@pytest.fixture(scope="module")
def report_html(course, bank) -> str:
    from grader.report.class_report import write_report

    out = course.root / "out" / "report.html"
    write_report(course, bank, out, _snapshot(course, bank))
    return out.read_text(encoding="utf-8")


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}"')
    return html[start:html.index("</section>", start)]


def _row(html: str, marker: str) -> str:
    at = html.index(marker)
    return html[html.rindex("<tr", 0, at):html.index("</tr>", at)]


class _Tree(HTMLParser):
    """Start tags with their open ancestors, for checks like "inside a closed <details>"."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.elements: list[tuple[str, dict[str, str | None], list[tuple[str, dict[str, str | None]]]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), list(self.stack)))
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                break


def check_rows(html: str) -> list[tuple[str, bool, bool]]:
    """Every check row of a page as (status, inside a <details>, inside a closed one)."""
    tree = _Tree()
    tree.feed(html)
    rows = []
    for tag, attrs, ancestors in tree.elements:
        classes = (attrs.get("class") or "").split()
        if tag == "tr" and "check" in classes:
            status = next(c[len("check-"):] for c in classes if c in ("check-passed", "check-failed", "check-error"))
            details = [a for t, a in ancestors if t == "details"]
            rows.append((status, bool(details), any("open" not in a for a in details)))
    return rows


def _feedback(course: Course, bank: Bank, student: str) -> str:
    from grader.report.feedback import render_feedback

    return render_feedback(course, bank, student, _snapshot(course, bank))


# --------------------------------------------------------------------------- the report

def test_report_overview_has_counts_histogram_and_question_stats(report_html):
    overview = _section(report_html, "overview")
    assert re.search(r'<div class="value">6</div><div class="label">students graded \(1 not graded\)', overview)
    scores = _section(report_html, "scores")        # the plots follow the student table
    assert '<figure class="plot-figure" id="histogram">' in scores
    assert '<svg id="plot-histogram" class="plot"' in scores
    assert 'id="question-distribution"' in scores and '<svg id="plot-questions"' in scores
    stats = scores[scores.index('id="question-stats"'):]
    for qid in ("Q1", "Q4", "Q8"):
        assert f"<strong>{qid}</strong>" in stats


def test_report_puts_the_student_table_right_after_the_headline_figures(report_html):
    sections = re.findall(r'<section id="([^"]+)"', report_html)
    assert sections[:3] == ["overview", "students", "scores"], sections
    overview_end = report_html.index("</section>", report_html.index('<section id="overview"'))
    assert report_html.index('<section id="students"') == report_html.index("<section", overview_end)
    table = report_html.index('id="student-table"')
    assert table < report_html.index('class="plot-figure"') and table < report_html.index("<svg")
    # Without the script the table still reads: rows in student-id order, and no promise of sorting.
    students = _section(report_html, "students")
    order = [students.index(f'href="feedback/{s}.html"') for s in ("alice", "bob", "carol", "dave", "erin")]
    assert order == sorted(order) and students.index(">zoe<") > order[-1]
    assert '<span class="needs-js">; click a column header to sort</span>' in students


def test_report_lists_misconceptions_with_counts_and_common_message(report_html):
    section = _section(report_html, "misconceptions")
    row = _row(section, "seq2seq_return_sequences</code>")
    assert "5 of 6" in row
    assert "has return_sequences=False: in a sequence-to-sequence stack" in row
    first = section.index('<tr class="misconception">')
    assert section.index("seq2seq_return_sequences", first) < section.index("forecast_accuracy", first)
    forecast = _row(section, "q4_forecaster</code>: <code>forecast_accuracy")
    assert "5 of 6" in forecast and 'class="tag">hidden' in forecast
    prose = section[section.index('id="prose-misconceptions"'):]
    assert "top_seq2seq_layer_returns_vector" in prose and "contradiction" in prose


def test_report_leaderboard_ranks_students_beside_baselines(report_html):
    section = _section(report_html, "leaderboard")
    for task in ("q4_forecaster", "q5_stable_rnn", "q7_conv_rnn"):
        table = section[section.index(f'id="leaderboard-table-{task}"'):]
        table = table[:table.index("</table>")]
        assert "reference model" in table and "seasonal naive" in table and "naive (last value)" in table
        assert table.index('href="feedback/alice.html"') < table.index('href="feedback/dave.html"') \
            < table.index('href="feedback/bob.html"')
        reference = _row(table, "reference model")
        assert f"{REFERENCE_MAE[task]:,.0f}" in reference
        assert f"{SEASONAL_MAE:,.0f}" in _row(table, "seasonal naive")
    assert "1 could not be scored" in section and 'href="feedback/carol.html">carol</a> (failed)' in section
    assert '<svg id="plot-horizon-mae"' in section
    for task in ("q4_forecaster", "q5_stable_rnn", "q7_conv_rnn"):
        assert f'id="window-plot-{task}"' in section and f'<svg id="plot-window-{task}"' in section


def test_report_student_table_links_and_markers(report_html, course):
    from grader.report.render import feedback_filename

    section = _section(report_html, "students")
    assert 'id="student-table" class="sortable"' in section
    for student in ("alice", "bob", "carol", "dave", "erin"):
        assert f'<a class="feedback-link" href="feedback/{student}.html">{student}</a>' in section
    assert f'href="feedback/{feedback_filename(XSS_STUDENT)}"' in section
    assert "marker-review" not in _row(section, 'href="feedback/erin.html"')  # overridden: no longer pending
    assert "marker-review" in _row(section, 'href="feedback/dave.html"')
    assert "marker-override" in _row(section, 'href="feedback/bob.html"')
    assert "marker-override" in _row(section, 'href="feedback/erin.html"')
    assert "marker-review" not in _row(section, 'href="feedback/alice.html"')
    assert "not graded" in _row(section, ">zoe<")
    out = course.root / "out"
    for href in re.findall(r'href="(feedback/[^"]+)"', section):
        assert (out / unquote(href)).is_file(), href


def test_report_shows_runs_and_grouped_errors(report_html):
    section = _section(report_html, "runs")
    assert "0.1.0" in section and "0.0.9" in section and "interrupted" in section
    assert "Q1 v1" in section and "q4_forecaster v1-t1-test" in section
    assert "6 graded, 0 skipped, 0 failed" in section
    errors = section[section.index('id="errors"'):]
    row = _row(errors, "timed out after 60 s")
    assert 'class="tag">timeout' in row and 'href="feedback/dave.html"' in row


def test_report_uses_each_students_latest_submission_only(report_html):
    assert "an old, stale result" not in report_html


def test_report_is_self_contained(report_html):
    assert "http://" not in report_html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert "https://" not in report_html
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=\"", report_html)
    assert "<style>" in report_html and "Content-Security-Policy" in report_html


def test_plots_carry_no_student_ids(report_html):
    for svg in re.findall(r"<svg.*?</svg>", report_html, flags=re.S):
        for student in FORECAST_OFFSETS:
            assert student not in svg
        assert "mallory" not in svg


def test_summaries_match_the_gradebooks_own(course, bank):
    from grader.core.records import task_questions
    from grader.report.data import load_class

    with Gradebook(course.db_url) as gb:
        data = load_class(course, bank, gb.snapshot(bank))
        assert data.summaries == gb.class_summary(task_questions(bank))
        for row in data.summaries:
            if row["submission_id"] is not None:
                assert data.results[row["student_id"]] == gb.current_results(row["submission_id"])


# --------------------------------------------------------------------------- escaping

def test_untrusted_text_is_escaped_in_report(report_html):
    assert SCRIPT_XSS not in report_html
    assert "<img src=x" not in report_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report_html      # bob's layer name, the student name
    assert "mallory&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in report_html
    assert report_html.count("<script>") == 1                            # only the page's own script


def test_untrusted_text_is_escaped_in_feedback(course, bank):
    page = _feedback(course, bank, XSS_STUDENT)
    assert SCRIPT_XSS not in page and "<img src=x" not in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page           # prose evidence and the id
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    bob = _feedback(course, bank, "bob")
    assert SCRIPT_XSS not in bob
    assert "layer 2 &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; (LSTM)" in bob   # check message
    assert "fair enough &lt;script&gt;" in bob                                     # override comment


def test_script_is_allowed_by_hash_only(report_html):
    import base64

    policy = re.search(r"script-src '(sha256-[^']+)'", report_html).group(1)
    script = re.search(r"<script>(.*?)</script>", report_html, flags=re.S).group(1)
    assert policy == "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


# --------------------------------------------------------------------------- feedback pages

def test_feedback_shows_visible_checks_and_prose_points(course, bank):
    page = _feedback(course, bank, "erin")
    assert "feedback for erin" in page
    assert "layer 2 &#39;lstm_4&#39; (LSTM) has return_sequences=False" in page
    q3 = bank.question("Q3")
    assert q3.key_points[0].label in page and q3.key_points[1].label in page
    assert "point-uncertain" in page and "point-missed" in page
    assert q3.contradictions[0].label in page
    assert "Score set by an instructor: 3 of 4" in page and "right idea, unusual words" in page
    dave = _feedback(course, bank, "dave")
    assert "A person will read this answer" in dave
    assert "Score set by an instructor: 0.1 (automatic: 0.5)" in dave and "layer copied from a classmate" in dave
    assert "timed out after 60 s" in dave


def _fix_rows(page: str) -> list[str]:
    section = _section(page, "what-to-fix")
    return re.findall(r'<tr class="fix .*?</tr>', section, flags=re.S)


def test_feedback_opens_with_what_to_fix(course, bank):
    page = _feedback(course, bank, "dave")
    sections = re.findall(r'<section (?:class="[^"]*" )?id="([^"]+)"', page)
    assert sections[:2] == ["summary", "what-to-fix"], sections      # right after the headline score
    assert page.index('id="what-to-fix"') < page.index('class="question"')
    rows = _fix_rows(page)
    lost = [float(re.search(r'class="num lost">−([\d.]+)', row).group(1)) for row in rows]
    assert lost == sorted(lost, reverse=True)                          # biggest loss first
    q2 = next(row for row in rows if "Q2 written answer" in row)
    assert "−5 <" in q2 and "provisional" in q2
    labels = [p.label for p in bank.question("Q2").key_points[1:]]
    assert all(f"missed: {label}" in q2 for label in labels)
    fixes = _section(page, "what-to-fix")
    seq2seq = _row(fixes, "seq2seq_return_sequences")
    assert "−1.25 <" in seq2seq and "has return_sequences=False" in seq2seq
    assert 'href="#task-q3_deep_seq2seq"' in seq2seq
    assert "timed out after 60 s" in _row(fixes, "<code>run</code>")
    forecast = _row(fixes, "<code>q4_forecaster</code>")            # a hidden check: its visible metrics only
    assert "Held-out MAE 50,500" in forecast and "worse than the reference model (48,000)" in forecast
    assert HIDDEN_MESSAGE_MARK not in page
    assert "layer copied from a classmate" in _row(fixes, "<code>q1_seq2seq</code>")
    alice = _feedback(course, bank, "alice")
    assert _fix_rows(alice) == [] and "Nothing to fix" in _section(alice, "what-to-fix")


def test_what_to_fix_accounts_for_every_lost_point(course, bank):
    from grader.report.data import load_class
    from grader.report.feedback import feedback_context

    data = load_class(course, bank, _snapshot(course, bank))
    for student in data.graded:
        context = feedback_context(data, student["student_id"])
        assert context["lost"] == pytest.approx(bank.points - student["score"], abs=1e-3), student["student_id"]
    bob = feedback_context(data, "bob")
    whole = [item for item in bob["fixes"] if item["label"] == "q3_deep_seq2seq"]
    assert len(whole) == 1 and whole[0]["kind"] == "task" and whole[0]["lost"] == 0.5   # instructor: 2.5 of 3
    assert [n["check"] for n in whole[0]["notes"]] == ["seq2seq_return_sequences"]
    erin = feedback_context(data, "erin")
    prose = next(item for item in erin["fixes"] if item["kind"] == "prose")
    assert prose["lost"] == 1.0 and prose["override"]["comment"] == "right idea, unusual words"
    assert {p["status"] for p in prose["points"]} == {"missed", "uncertain", "contradiction"}
    assert not feedback_context(data, "zoe")["fixes"]                    # not graded: nothing listed


def test_passed_checks_are_folded_and_the_rest_stay_visible(course, bank):
    for student in ("dave", "bob", "carol"):
        rows = check_rows(_feedback(course, bank, student))
        assert any(status == "passed" for status, _, _ in rows)
        for status, in_details, closed in rows:
            if status == "passed":
                assert in_details and closed, student
            else:
                assert not in_details, (student, status)
    page = _feedback(course, bank, "dave")
    assert "<details open" not in page
    assert re.search(r'<details class="passed passed-checks"><summary>✓ 2 checks passed \(1.5 points\)</summary>',
                     page)
    met = page[page.index('<details class="passed passed-points">'):]
    assert met.index('class="point-met"') < met.index("</details>")


def test_feedback_hides_hidden_check_messages_and_held_out_values(course, bank):
    page = _feedback(course, bank, "dave")
    assert HIDDEN_MESSAGE_MARK not in page
    assert "Held-out MAE <strong>50,500</strong>" in page                  # 48,000 + 2,500
    assert "better than the seasonal naive forecast" in page
    assert "worse than the reference model" in page
    assert "<svg" not in page
    details = forecast_details(course, "q4_forecaster", FORECAST_OFFSETS["dave"])
    for sample in details["samples"]:
        assert sample["origin"] not in page
        for value in sample["forecast"][:3]:
            assert str(value) not in page and f"{value:,.0f}" not in page
    for value in details["mae_per_horizon"]:
        assert f"{value:,.0f}" not in page


def test_feedback_forecast_plots_only_when_released(tmp_path, bank):
    released = build_course(tmp_path / "released", bank, forecast_plots=True)
    page = _feedback(released, bank, "dave")
    for task in ("q4_forecaster", "q5_stable_rnn", "q7_conv_rnn"):
        assert f'id="forecast-plot-{task}"' in page and f'<svg id="plot-samples-{task}"' in page
    assert HIDDEN_MESSAGE_MARK not in page
    assert "feedback for carol" in _feedback(released, bank, "carol")      # no samples: no plot, no failure


def test_reference_answer_only_when_released(course, tmp_path, bank):
    answer = bank.question("Q3").answer.strip()
    first_line = answer.splitlines()[0][:60]
    assert "Reference answer" not in _feedback(course, bank, "alice")
    released = build_course(tmp_path / "answers", bank, answers=True)
    page = _feedback(released, bank, "alice")
    assert "Reference answer" in page and first_line in page


def test_key_point_wording_only_when_released(course, tmp_path, bank):
    """The rubric's key points are the model answer in other words: before release, short names only."""
    import html

    q3 = bank.question("Q3")
    wording = [p.text for p in q3.key_points] + [c.text for c in q3.contradictions]
    for student in ("alice", "erin", "dave"):
        page = html.unescape(_feedback(course, bank, student))
        leaked = [text for text in wording if text in page]
        assert not leaked, (student, leaked)
    erin = html.unescape(_feedback(course, bank, "erin"))
    assert q3.key_points[0].label in erin and "missed" in erin
    assert f"missed: {q3.key_points[1].label}" in _section(erin, "what-to-fix")
    released = build_course(tmp_path / "answers", bank, answers=True)
    page = html.unescape(_feedback(released, bank, "erin"))
    assert q3.key_points[0].text in page and q3.key_points[1].text in page
    assert f"missed: {q3.key_points[1].text}" in _section(page, "what-to-fix")


def test_feedback_for_unknown_student_is_a_report_error(course, bank):
    from grader.report.render import ReportError

    with pytest.raises(ReportError, match="no student 'nobody'"):
        _feedback(course, bank, "nobody")


def test_feedback_filename_is_safe_and_unique():
    from grader.report.render import feedback_filename

    assert feedback_filename("alice") == "alice.html"
    assert feedback_filename("a.b@uni-x_1") == "a.b@uni-x_1.html"
    hostile = feedback_filename("../../etc/passwd")
    assert "/" not in hostile and ".." not in hostile and hostile.endswith(".html")
    assert feedback_filename("a b") != feedback_filename("a_b")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.html", feedback_filename(XSS_STUDENT))


# --------------------------------------------------------------------------- templates

def test_course_templates_override_shipped_ones_by_name(tmp_path, bank):
    from grader.report.class_report import render_report

    course = build_course(tmp_path / "custom", bank)
    (course.templates_dir / "partials").mkdir(parents=True)
    (course.templates_dir / "report.html").write_text(
        '{% extends "base.html" %}{% block content %}<p id="custom">CUSTOM REPORT for '
        '{{ overview.graded }} students</p>{% endblock %}', encoding="utf-8")
    (course.templates_dir / "partials" / "score_badge.html").write_text(
        "{% macro score_badge(score, max_score, overridden=False) %}"
        "[{{ score }} of {{ max_score }}]{% endmacro %}",
        encoding="utf-8")
    html = render_report(course, bank, _snapshot(course, bank))
    assert '<p id="custom">CUSTOM REPORT for 6 students</p>' in html
    assert "<style>" in html                                            # the shipped base.html still applies
    page = _feedback(course, bank, "alice")
    assert "[80.0 of 80.0]" in page and "feedback for alice" in page     # shipped feedback.html, course partial


def test_a_broken_course_template_is_a_one_line_report_error(tmp_path, bank):
    from grader.report.class_report import render_report
    from grader.report.render import ReportError

    course = build_course(tmp_path / "broken", bank)
    course.templates_dir.mkdir()
    (course.templates_dir / "report.html").write_text("{% extends 'base.html' %}\n{% block content %}{{ nope }}",
                                                      encoding="utf-8")
    with pytest.raises(ReportError, match=r"report.html, line 2: .*templates/ folder"):
        render_report(course, bank, _snapshot(course, bank))
    (course.templates_dir / "report.html").write_text("{{ no_such_name }}", encoding="utf-8")
    with pytest.raises(ReportError, match="'no_such_name' is undefined"):
        render_report(course, bank, _snapshot(course, bank))


def test_an_empty_gradebook_still_renders(tmp_path, bank):
    from grader.report.class_report import render_report

    course = init_course(tmp_path / "empty")
    html = render_report(course, bank, _snapshot(course, bank))
    assert "0 of 0 students graded" in html and "No graded students yet." in html
    assert "No grading runs recorded." in html


def test_an_unreadable_series_costs_only_the_window_plots(tmp_path, bank):
    from grader.report.class_report import render_report

    course = build_course(tmp_path / "noseries", bank)
    config = course.root / "course.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('source = "synthetic"', 'source = "csv"')
                      .replace('path = ""', 'path = "missing.csv"'), encoding="utf-8")
    html = render_report(open_course(course.root), bank, _snapshot(course, bank))
    assert "the course series cannot be read" in html and "missing.csv" in html
    assert 'id="leaderboard-table-q4_forecaster"' in html and "window-plot-" not in html


def test_message_shape_groups_wordings_that_differ_in_names_and_numbers():
    from grader.report.render import message_shape

    a = message_shape("layer 2 'lstm_1' (LSTM) has return_sequences=False")
    b = message_shape("layer 3 'my_lstm' (LSTM) has return_sequences=False")
    assert a == b
    one_day, seven_days = "output (3, 1) for input (3, 56, 1)", "output (3, 7) for input (3, 8, 1)"
    assert message_shape(one_day) == message_shape(seven_days)


def test_plots_are_deterministic_svg():
    from grader.report import plots

    first = plots.score_histogram([10, 20, 30, 75.5], 80)
    assert first == plots.score_histogram([10, 20, 30, 75.5], 80)
    assert first.startswith('<svg id="plot-histogram" class="plot"') and first.endswith("</svg>")
    assert "<?xml" not in first and "<metadata>" not in first
    ids = re.findall(r'\bid="([^"]+)"', first)
    assert all(i == "plot-histogram" or i.startswith("histogram-") for i in ids)


def test_plots_are_at_least_600_wide_with_labelled_axes():
    import html

    from grader.report import plots

    week = [900_000.0 + 1000 * d for d in range(7)]
    windows = [{"label": "2019-01-01", "history": week * 2, "actual": week}]
    figures = {
        plots.score_histogram([10, 20, 75.5], 80): ("total score (of 80)", "students"),
        plots.question_boxplot({"Q1": [1.0, 2.0], "Q2": [3.0]}, {"Q1": 4, "Q2": 4}):
            ("question", "% of the question's points"),
        plots.horizon_mae([{"title": "q4", "lines": {"reference": week}}]): ("days ahead", "MAE (thousands)"),
        plots.forecast_window(range(-13, 1), week * 2, range(1, 8), week, {"naive": week}, title="t", name="w"):
            ("days from the forecast origin", "value (thousands)"),
        plots.SampleWindows(windows, title="t", name="s").render([week]):
            ("sample week (last day of input)", "value (thousands)"),
    }
    for svg, (xlabel, ylabel) in figures.items():
        width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
        assert width >= 600, svg[:120]
        texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
        assert xlabel in texts and ylabel in texts, (xlabel, ylabel, texts)


def test_a_reused_sample_figure_renders_like_a_fresh_one():
    from grader.report import plots

    windows = [{"label": f"2019-0{i}-01", "history": [900_000.0 + 1000 * d for d in range(14)],
                "actual": [950_000.0 - 500 * d for d in range(7)]} for i in range(1, 5)]
    mine = [[940_000.0 + 100 * i] * 7 for i in range(4)]
    theirs = [[400_000.0] * 7 for _ in range(4)]
    figure = plots.SampleWindows(windows, title="q4_forecaster", name="samples-q4")
    first = figure.render(mine)
    assert figure.render(theirs) != first
    assert figure.render(mine) == first == plots.SampleWindows(windows, title="q4_forecaster",
                                                               name="samples-q4").render(mine)


# --------------------------------------------------------------------------- commands

def test_report_and_feedback_commands(course, tmp_path):
    from grader.cli import cli

    runner = CliRunner()
    out = tmp_path / "cli" / "report.html"
    result = runner.invoke(cli, ["report", "--course", str(course.root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and (out.parent / "feedback" / "alice.html").is_file()
    single = tmp_path / "alice.html"
    result = runner.invoke(cli, ["feedback", "--course", str(course.root), "--student", "alice",
                                 "--out", str(single)])
    assert result.exit_code == 0, result.output
    assert "feedback for alice" in single.read_text(encoding="utf-8")
    result = runner.invoke(cli, ["feedback", "--course", str(course.root), "--all",
                                 "--out-dir", str(tmp_path / "all")])
    assert result.exit_code == 0 and "wrote 6 feedback pages" in result.output
    assert len(list((tmp_path / "all").glob("*.html"))) == 6


def test_feedback_command_errors_are_one_line(course):
    from grader.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["feedback", "--course", str(course.root), "--student", "nobody"])
    assert result.exit_code == 1 and result.output.strip() == "Error: no student 'nobody' in the gradebook"
    result = runner.invoke(cli, ["feedback", "--course", str(course.root)])
    assert result.exit_code == 1 and "give either --student ID or --all" in result.output


def test_rendering_never_imports_tensorflow(course):
    code = ("import sys; from pathlib import Path; from grader.core.course import open_course; "
            "from grader.core.bank import default_bank; from grader.report.class_report import write_report; "
            "from grader.store.gradebook import Gradebook; "
            f"course = open_course({str(course.root)!r}); "
            "snapshot = Gradebook(course.db_url).snapshot(default_bank()); "
            f"write_report(course, default_bank(), Path({str(course.root / 'tf')!r}) / 'r.html', snapshot); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
