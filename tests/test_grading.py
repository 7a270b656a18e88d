"""The main job end to end: demo course, batch grading, resume after SIGKILL, exports, overrides."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.grading.demo import SAMPLES
from grader.core.records import task_questions
from grader.store.gradebook import Gradebook

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).parent / "schemas" / "gradescope_results.schema.json"


def _task_scores(gradebook, bank, student):
    summary = gradebook.student_summary(student, task_questions(bank))
    return {task: entry["score"] for q in summary["questions"].values() for task, entry in q["tasks"].items()}


def test_demo_correct_sample_full_marks_and_each_flaw_costs_its_task_only(demo, bank):
    summary = demo["summary"]
    assert summary.count("graded") == len(SAMPLES) and summary.count("failed") == 0
    course = demo["course"]
    with Gradebook(course.db_url) as gradebook:
        alice = _task_scores(gradebook, bank, "alice")
        for task in bank.tasks:
            assert alice[task.id] == pytest.approx(task.points), task.id
        for sample in SAMPLES[1:]:
            scores = _task_scores(gradebook, bank, sample.student)
            lost = {task for task, score in scores.items() if score < alice[task] - 1e-6}
            assert lost == {sample.breaks}, (sample.student, lost)


def test_demo_messages_name_the_problem(demo):
    course = demo["course"]
    with Gradebook(course.db_url) as gradebook:
        def outputs(student):
            return " | ".join(r["output"] for r in gradebook.current_results(gradebook.latest_submission(student).id))
        assert re.search(r"layer 2 '\w+' \(LSTM\) has return_sequences=False", outputs("bob"))
        assert "q7_conv_rnn.keras is missing" in outputs("erin")
        assert "Lambda" in outputs("grace")
        assert "truncated or corrupt" in outputs("frank")
        assert "i, f, c, o" in outputs("heidi")


def test_rerun_skips_everything_already_graded(demo, bank):
    from grader.grading.grader import run_batch

    course = demo["course"]
    samples = sorted((course.root / "samples").iterdir())
    with Gradebook(course.db_url) as gradebook:
        summary = run_batch(course, bank, gradebook, samples, workers=1)
        assert summary.count("skipped") == len(SAMPLES)
        assert len(gradebook.submissions()) == len(SAMPLES)


def test_override_survives_forced_regrade(demo, bank, tmp_path):
    from grader.grading.grader import run_batch

    course = demo["course"]
    sample = course.root / "samples" / "bob"
    with Gradebook(course.db_url) as gradebook:
        gradebook.set_override("bob", "q3_prose", 2.5, "fine, but vague", "tester")
        run_batch(course, bank, gradebook, [sample], workers=1, force=True)
        scores = _task_scores(gradebook, bank, "bob")
        assert scores["q3_prose"] == pytest.approx(2.5)
        history = gradebook.history("bob")
        assert any(r["superseded"] for r in history["results"])


def test_exports_csv_and_gradescope_schema(demo, bank, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from grader.report.exports import export_csv, export_gradescope

    course = demo["course"]
    with Gradebook(course.db_url) as gradebook:
        text = export_csv(gradebook.snapshot(bank), bank)
        written = export_gradescope(gradebook.snapshot(bank), bank, tmp_path / "gs")
    lines = text.strip().splitlines()
    assert lines[0] == "student_id,Q1,Q2,Q3,Q4,Q5,Q6,Q7,Q8,total,max"
    assert len(lines) == 1 + len(SAMPLES)
    schema = json.loads(SCHEMA.read_text())
    assert len(written) == len(SAMPLES)
    for path in written:
        data = json.loads(path.read_text())
        jsonschema.validate(data, schema)
        hidden = [t for t in data["tests"] if "forecast_accuracy" in t["name"]]
        assert hidden and all(t["visibility"] == "after_published" for t in hidden)


def test_forecast_credit_zero_full_and_between(demo, bank, prober, tmp_path):
    import keras

    from grader.forecast.evaluation import ForecastEvaluator
    from grader.grading.checking import check_task

    course = demo["course"]
    task = bank.task("q4_forecaster")
    evaluator = ForecastEvaluator(course)
    reference = keras.saving.load_model(course.reference_dir / "q4_forecaster.keras", compile=False)
    inputs = keras.Input((56, 1))
    seasonal = keras.layers.Reshape((7,))(keras.layers.Cropping1D((49, 0))(inputs))
    entry = evaluator.manifest["tasks"]["q4_forecaster"]
    gap = (entry["seasonal_naive_mae"] - entry["mae"]) / course.series.scale
    shifted = keras.layers.Rescaling(1.0, offset=0.5 * gap)(reference(inputs))
    models = {"seasonal": keras.Model(inputs, seasonal), "between": keras.Model(inputs, shifted)}
    fractions = {}
    for name, model in models.items():
        folder = tmp_path / name
        folder.mkdir()
        model.save(folder / "q4_forecaster.keras")
        results, description = check_task(task, folder, prober=prober, forecast=evaluator, include_hidden=True)
        accuracy = next(r for r in results if r.check == "forecast_accuracy")
        fractions[name] = accuracy.score / accuracy.max_score
    folder = tmp_path / "reference"
    folder.mkdir()
    shutil.copyfile(course.reference_dir / "q4_forecaster.keras", folder / "q4_forecaster.keras")
    results, _ = check_task(task, folder, prober=prober, forecast=evaluator, include_hidden=True)
    fractions["reference"] = next(r for r in results if r.check == "forecast_accuracy").score / 5.0
    assert fractions["seasonal"] == 0.0
    assert fractions["reference"] == pytest.approx(1.0)
    assert 0.0 < fractions["between"] < 1.0
    assert entry["mae"] < entry["seasonal_naive_mae"]


def _light_submissions(course, bank, out: Path, count: int) -> None:
    """Small submissions (answers and two models) so that a 40-student batch stays quick."""
    from grader.grading.demo import answers_markdown

    for i in range(count):
        folder = out / f"s{i:02d}"
        folder.mkdir(parents=True)
        for task in ("q1_seq2seq", "q1_seq2vec"):
            shutil.copyfile(course.reference_dir / f"{task}.keras", folder / f"{task}.keras")
        (folder / "answers.md").write_text(answers_markdown(bank) + f"\n<!-- {i} -->\n")


def _batch_cmd(course, directory):
    return [sys.executable, "-m", "grader", "batch", str(directory), "--course", str(course.root), "--workers", "2"]


def test_a_second_batch_waits_for_the_first_and_a_sigkill_loses_nothing(demo, bank, tmp_path):
    """Two concurrent batches on one course, the first killed half way: each student graded once."""
    course = demo["course"]
    db = f"sqlite:///{tmp_path / 'kill.db'}"
    subs = tmp_path / "subs"
    _light_submissions(course, bank, subs, 40)
    env = {**os.environ, "GRADER_DB": db, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    first = subprocess.Popen(_batch_cmd(course, subs), env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    second = None
    second_err: list[str] = []      # read as it comes: the first is killed only once the second says it waits
    deadline = time.time() + 600
    graded = 0
    while time.time() < deadline and first.poll() is None:
        time.sleep(1.0)
        try:
            with Gradebook(db) as gradebook:
                graded = sum(1 for s in gradebook.submissions() if gradebook.current_results(s.id))
        except Exception:
            continue
        if graded >= 4 and second is None:
            second = subprocess.Popen(_batch_cmd(course, subs), env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
            reader = threading.Thread(target=lambda: second_err.extend(second.stderr), daemon=True)
            reader.start()
        if graded >= 12 and any("waiting for 'grader batch'" in line for line in second_err):
            break
    assert second is not None and first.poll() is None, "the first batch finished before it could be killed"
    assert second.poll() is None, "the second batch did not wait for the first"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert 0 < graded < 40
    out = second.stdout.read()
    second.wait(timeout=900)
    reader.join(timeout=60)
    err = "".join(second_err)
    assert second.returncode == 0, err[-2000:]
    assert "waiting for 'grader batch'" in err and "database is locked" not in out + err
    with Gradebook(db) as gradebook:
        submissions = gradebook.submissions()
        assert len(submissions) == 40
        assert len({s.student_id for s in submissions}) == 40
        for submission in submissions:
            rows = gradebook.current_results(submission.id)
            keys = [(r["task"], r["check"]) for r in rows]
            assert rows and len(keys) == len(set(keys))
        assert any(run.status == "interrupted" for run in gradebook.runs())
    with sqlite3.connect(tmp_path / "kill.db") as conn:
        runs_per_submission = conn.execute(
            "SELECT submission_id, COUNT(DISTINCT run_id) FROM results GROUP BY submission_id").fetchall()
    assert len(runs_per_submission) == 40 and all(count == 1 for _, count in runs_per_submission)


def test_unreadable_zip_is_recorded_once_and_the_batch_goes_on(demo, bank, tmp_path):
    from grader.grading.grader import run_batch

    course = demo["course"]
    subs = tmp_path / "subs"
    _light_submissions(course, bank, subs, 1)
    (subs / "mallory.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    db = f"sqlite:///{tmp_path / 'broken.db'}"
    paths = sorted(subs.iterdir())
    with Gradebook(db) as gradebook:
        first = run_batch(course, bank, gradebook, paths, workers=1)
        second = run_batch(course, bank, gradebook, paths, workers=1)
        assert {o.student: o.status for o in first.outcomes} == {"mallory": "failed", "s00": "graded"}
        assert {o.student: o.status for o in second.outcomes} == {"mallory": "failed", "s00": "skipped"}
        assert len(gradebook.submissions("mallory")) == 1
        rows = gradebook.current_results(gradebook.latest_submission("mallory").id)
        assert len(rows) == 1 and rows[0]["status"] == "error" and rows[0]["score"] == 0


def test_batch_over_a_messy_class_folder_grades_students_only_and_backs_up_before_force(demo, bank, tmp_path):
    from click.testing import CliRunner

    from grader.cli import cli

    course = demo["course"]
    subs = tmp_path / "class"
    _light_submissions(course, bank, subs / "section1", 2)
    _light_submissions(course, bank, subs / "section2", 1)
    (subs / "section2" / "s00").rename(subs / "section2" / "Ana María")
    for junk in ("__MACOSX/s00", "empty", "notes"):
        (subs / junk).mkdir(parents=True)
    (subs / "notes" / "todo.txt").write_text("grade by Friday")
    db = f"sqlite:///{tmp_path / 'messy.db'}"
    args = ["batch", str(subs), "--course", str(course.root), "--db", db, "--workers", "1"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "graded 3, failed 0" in first.output
    for line in ("skipped __MACOSX/: macOS archive metadata", "skipped empty/: no answers.md",
                 "skipped notes/: no answers.md", "section folders: section1, section2"):
        assert line in first.output
    with Gradebook(db) as gradebook:
        assert {s.id for s in gradebook.students()} == {"s00", "s01", "Ana María"}
    forced = CliRunner().invoke(cli, args + ["--force"])
    assert forced.exit_code == 0, forced.output
    backup = Path(re.search(r"backed up the gradebook to (\S+) before regrading", forced.output).group(1))
    assert backup.parent == course.root / "backups" and backup.stat().st_size > 0
    with Gradebook(f"sqlite:///{backup}") as copy:
        assert {s.id for s in copy.students()} == {"s00", "s01", "Ana María"}
