"""The time budget of one submission (``[limits] submission_seconds``).

Nothing here asserts how long something took: a "hanging" call sleeps for exactly the timeout
it was given (or really hangs in the sandbox), so the budget is always used up by the time
the next task starts, on any machine.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from grader.core.results import ERROR, CheckResult
from grader.grading.budget import BUDGET_CHECK, MIN_CALL_SECONDS, Budget, BudgetedProber, BudgetExhausted
from grader.sandbox.prober import ProbeFailed

MODELS = Path(__file__).parent / "models"

HANGING_CELL = '''\
import numpy as np


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    while True:
        pass
'''


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _course(tmp_path: Path, submission_seconds: float):
    from grader.core.course import init_course, open_course

    course = init_course(tmp_path / "course")
    config = course.root / "course.toml"
    text = config.read_text()
    assert "submission_seconds = 600" in text
    config.write_text(text.replace("submission_seconds = 600", f"submission_seconds = {submission_seconds}"))
    return open_course(course.root)


def _model_file(task_id: str) -> Path:
    """A correct-looking model for ``task_id`` from tests/models (static inspection accepts it)."""
    return next(path for path in sorted(MODELS.glob(f"{task_id}__*.keras"))
                if "__wrong" not in path.name and "__k2" not in path.name)


@pytest.fixture()
def submission(tmp_path, bank) -> Path:
    """Every task's file and answers.md with the reference answers."""
    from reference_models import LSTM_CELL_SOURCE

    from grader.grading.demo import answers_markdown

    folder = tmp_path / "submission"
    folder.mkdir()
    for task in bank.tasks:
        if task.is_model:
            shutil.copyfile(_model_file(task.id), folder / f"{task.id}.keras")
        else:
            shutil.copyfile(LSTM_CELL_SOURCE, folder / task.file)
    (folder / "answers.md").write_text(answers_markdown(bank))
    return folder


class HangingProber:
    """Answers at once, except on the files of ``hangs``: those take the whole timeout, then time out."""

    def __init__(self, hangs: set[str], clock: FakeClock | None = None):
        self.hangs = hangs
        self.clock = clock
        self.calls: list[tuple[str, float | None]] = []

    def _answer(self, path: Path, timeout: float | None) -> dict:
        self.calls.append((path.stem, timeout))
        if path.stem in self.hangs:
            assert timeout is not None
            if self.clock is not None:
                self.clock.now += timeout
            else:
                time.sleep(timeout)
            raise ProbeFailed(f"timed out after {timeout:g} s")
        return {"error": "no probe in this test"}

    def probe_model(self, task, path, declared, *, timeout=None):
        return self._answer(path, timeout)

    def lstm_step_cases(self, path, *, timeout=None):
        return self._answer(path, timeout)

    def predict(self, path, inputs, *, groups=None, timeout=None):
        return self._answer(path, timeout)


def _by_task(results) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for result in results:
        grouped.setdefault(result.task, []).append(result)
    return grouped


def _assert_not_checked(results, task, slowest: str | None = None) -> None:
    assert [(r.check, r.status, r.score, r.max_score) for r in results] == [(BUDGET_CHECK, ERROR, 0.0, task.points)]
    assert results[0].output.startswith("not checked: this submission used its whole time budget")
    assert "[limits] submission_seconds" in results[0].output
    if slowest:
        assert f"the slowest task was {slowest} (" in results[0].output


# --------------------------------------------------------------------------- config

@pytest.mark.parametrize("value", ["-5", "0", '"600"', "true"])
def test_submission_seconds_must_be_a_positive_number(tmp_path, value):
    from grader.core.course import CourseError, open_course

    (tmp_path / "course.toml").write_text(f"[limits]\nsubmission_seconds = {value}\n")
    with pytest.raises(CourseError, match=r"course.toml: \[limits\] submission_seconds must be a positive "
                                          r"number of seconds up to 604800 \(a week\), got"):
        open_course(tmp_path)


def test_submission_seconds_defaults_to_600_and_init_writes_it(tmp_path):
    from grader.core.config import LimitsConfig
    from grader.core.course import init_course

    assert LimitsConfig.from_table({}).submission_seconds == 600
    assert LimitsConfig.from_table({"submission_seconds": 2.5}).submission_seconds == 2.5
    course = init_course(tmp_path / "c")
    assert course.limits.submission_seconds == 600
    assert "submission_seconds = 600" in (course.root / "course.toml").read_text()


# --------------------------------------------------------------------------- the budget itself

def test_a_budget_counts_down_on_its_clock():
    clock = FakeClock()
    budget = Budget.start({"submission_seconds": 100, "task_seconds": 60}, clock=clock)
    assert (budget.spent(), budget.remaining(), budget.exhausted, budget.timeout()) == (0.0, 100.0, False, 60.0)
    clock.now += 55.55
    assert budget.timeout() == 44.4     # what is left, rounded down: never past the budget
    clock.now += 100
    assert (budget.remaining(), budget.exhausted) == (0.0, True)
    with pytest.raises(BudgetExhausted):
        budget.timeout()


def test_too_little_left_to_start_a_call_counts_as_exhausted():
    clock = FakeClock()
    budget = Budget.start({"submission_seconds": 10}, clock=clock)
    clock.now += 10 - MIN_CALL_SECONDS / 2
    assert budget.remaining() > 0 and budget.exhausted


def test_the_message_names_the_budget_and_the_slowest_task(bank):
    budget = Budget.start({"submission_seconds": 600})
    assert budget.exhausted_message() == ("not checked: this submission used its whole time budget (600 s, "
                                          "[limits] submission_seconds)")
    assert budget.exhausted_message((bank.task("q4_forecaster"), 180.2)).endswith(
        "; the slowest task was q4_forecaster (180 s): make that model smaller or faster")
    assert budget.exhausted_message((bank.task("q6_lstm_cell"), 2.94)).endswith(
        "the slowest task was q6_lstm_cell (2.9 s): make that code faster")


def test_a_budgeted_prober_caps_each_call_and_refuses_one_it_cannot_afford(bank, tmp_path):
    clock = FakeClock()
    budget = Budget.start({"submission_seconds": 100, "task_seconds": 60}, clock=clock)
    inner = HangingProber({"slow"}, clock)
    prober = BudgetedProber(inner, budget)
    prober.probe_model(bank.task("q1_seq2seq"), tmp_path / "fast.keras", None)
    with pytest.raises(ProbeFailed, match=r"^timed out after 60 s$"):      # the task limit: no budget note
        prober.predict(tmp_path / "slow.keras", [])
    with pytest.raises(ProbeFailed, match=r"^timed out after 40 s \(all that was left of this submission's "
                                          r"time budget, 100 s, \[limits\] submission_seconds\)$"):
        prober.lstm_step_cases(tmp_path / "slow.py")
    with pytest.raises(BudgetExhausted):
        prober.probe_model(bank.task("q1_seq2seq"), tmp_path / "fast.keras", None)
    assert inner.calls == [("fast", 60.0), ("slow", 60.0), ("slow", 40.0)]   # the refused call never got there


# --------------------------------------------------------------------------- checking a submission

def test_once_the_budget_is_spent_every_remaining_task_is_one_error(bank, submission):
    from grader.grading.checking import check_submission

    clock = FakeClock()
    budget = Budget.start({"submission_seconds": 200, "task_seconds": 60}, clock=clock)
    prober = HangingProber({"q1_seq2vec", "q3_deep_seq2seq", "q3_deep_seq2vec", "q4_forecaster"}, clock)
    checked = check_submission(submission, bank, prober=prober, budget=budget)
    by_task = _by_task(checked.results)
    assert [stem for stem, _ in prober.calls] == ["q1_seq2seq", "q1_seq2vec", "q1_vec2seq", "q3_deep_seq2seq",
                                                  "q3_deep_seq2vec", "q4_forecaster"]
    assert [timeout for _, timeout in prober.calls] == [60.0, 60.0, 60.0, 60.0, 60.0, 20.0]
    assert all(r.check != BUDGET_CHECK for task in ("q1_seq2seq", "q1_vec2seq") for r in by_task[task])
    assert by_task["q3_deep_seq2seq"][0].output == "q3_deep_seq2seq.keras: timed out after 60 s"
    assert [(r.check, r.status) for r in by_task["q4_forecaster"]] == [("run", ERROR)]
    assert by_task["q4_forecaster"][0].output.startswith("q4_forecaster.keras: timed out after 20 s (all that was "
                                                         "left of this submission's time budget, 200 s")
    for task_id in ("q5_stable_rnn", "q6_lstm_cell", "q7_conv_rnn", "q8_video_classifier"):
        _assert_not_checked(by_task[task_id], bank.task(task_id), slowest="q1_seq2vec")
    assert by_task["q5_stable_rnn"][0].output.endswith("(60 s): make that model smaller or faster")


def test_grading_keeps_prose_when_a_real_clock_runs_out(bank, submission, tmp_path):
    """A 3-second budget and a prober whose call for q3_deep_seq2seq sleeps until its timeout."""
    from grader.forecast.evaluation import UnavailableEvaluator
    from grader.grading.grader import grade_folder

    course = _course(tmp_path, 3)
    prober = HangingProber({"q3_deep_seq2seq"})
    results = grade_folder(submission, course, bank, prober, UnavailableEvaluator("not used: the budget runs out"))
    by_task = _by_task(results)
    assert [stem for stem, _ in prober.calls] == ["q1_seq2seq", "q1_seq2vec", "q1_vec2seq", "q3_deep_seq2seq"]
    assert all(timeout <= 3 for _, timeout in prober.calls)
    assert by_task["q3_deep_seq2seq"][0].check == "run"
    assert "submission_seconds" in by_task["q3_deep_seq2seq"][0].output
    later = [task for task in bank.tasks if task.id not in {"q1_seq2seq", "q1_seq2vec", "q1_vec2seq",
                                                            "q3_deep_seq2seq"}]
    for task in later:
        _assert_not_checked(by_task[task.id], task, slowest="q3_deep_seq2seq")
    prose = {q.prose_task for q in bank.questions if q.prose_points > 0}
    assert prose <= set(by_task)
    assert all(r.check == "rubric" and r.status != ERROR for task in prose for r in by_task[task])
    assert sum(r.score for task in prose for r in by_task[task]) > 0


def test_a_hanging_q6_in_the_real_sandbox_uses_up_the_budget(bank, tmp_path):
    """q6 really hangs in a plain worker; q7 and q8 after it never reach the (unstarted) Keras worker."""
    from grader.forecast.evaluation import UnavailableEvaluator
    from grader.grading.demo import answers_markdown
    from grader.grading.grader import grade_folder
    from grader.sandbox.limits import Limits
    from grader.sandbox.process import Worker
    from grader.sandbox.prober import SandboxProber

    course = _course(tmp_path, 3)
    folder = tmp_path / "hog"
    folder.mkdir()
    (folder / "q6_lstm_cell.py").write_text(HANGING_CELL)
    for task_id in ("q7_conv_rnn", "q8_video_classifier"):
        shutil.copyfile(_model_file(task_id), folder / f"{task_id}.keras")
    (folder / "answers.md").write_text(answers_markdown(bank))
    keras_worker = Worker("keras", Limits.from_course(course.limits, "keras"))
    with SandboxProber(course.limits, worker=keras_worker) as prober:
        results = grade_folder(folder, course, bank, prober, UnavailableEvaluator("not used"))
    by_task = _by_task(results)
    q6 = by_task["q6_lstm_cell"]
    assert [(r.check, r.status, r.score) for r in q6] == [("run", ERROR, 0.0)]
    assert q6[0].output.startswith("q6_lstm_cell.py: while lstm_step ran, timed out after ")
    assert q6[0].output.endswith("(all that was left of this submission's time budget, 3 s, "
                                 "[limits] submission_seconds)")
    for task_id in ("q7_conv_rnn", "q8_video_classifier"):
        _assert_not_checked(by_task[task_id], bank.task(task_id), slowest="q6_lstm_cell")
        assert by_task[task_id][0].output.endswith("make that code faster")
    assert keras_worker.tasks_run == 0 and keras_worker.pid is None
    assert [r.check for r in by_task["q1_seq2seq"]] == ["file"]                       # missing: no sandbox, no budget
    assert all(r.check == "rubric" for q in bank.questions if q.prose_points for r in by_task[q.prose_task])


@pytest.mark.slow
def test_a_batch_goes_on_after_a_submission_runs_out_of_time(bank, tmp_path, monkeypatch):
    """Both submissions are recorded in full: the hog's tasks after q6 as budget errors, the next one graded."""
    from reference_models import LSTM_CELL_SOURCE

    import grader.grading.grader as grading
    from grader.grading.demo import answers_markdown
    from grader.store.gradebook import Gradebook

    course = _course(tmp_path, 3)
    # The gates (held-out secrecy, built references) are tested elsewhere; this batch needs no forecasts.
    monkeypatch.setattr(grading, "require_ready", lambda course: None)
    batch = tmp_path / "batch"
    hog, nxt = batch / "hog", batch / "next"
    for folder in (hog, nxt):
        folder.mkdir(parents=True)
        (folder / "answers.md").write_text(answers_markdown(bank))
    (hog / "q6_lstm_cell.py").write_text(HANGING_CELL)
    shutil.copyfile(_model_file("q8_video_classifier"), hog / "q8_video_classifier.keras")
    shutil.copyfile(LSTM_CELL_SOURCE, nxt / "q6_lstm_cell.py")
    with Gradebook(course.db_url) as gradebook:
        summary = grading.run_batch(course, bank, gradebook, [hog, nxt], workers=1)
        outcomes = {o.student: o for o in summary.outcomes}
        assert {name: o.status for name, o in outcomes.items()} == {"hog": "graded", "next": "graded"}
        assert outcomes["hog"].message == "time budget used up: 1 task(s) not checked (q8_video_classifier)"
        assert outcomes["next"].message == ""
        recorded = {student: _by_task(CheckResult.from_dict(row) for row in
                                      gradebook.current_results(gradebook.latest_submission(student).id))
                    for student in ("hog", "next")}
    prose = {q.prose_task for q in bank.questions if q.prose_points > 0}
    for student in ("hog", "next"):
        assert set(recorded[student]) >= {task.id for task in bank.tasks} | prose
    assert [r.check for r in recorded["hog"]["q8_video_classifier"]] == [BUDGET_CHECK]
    assert "timed out after" in recorded["hog"]["q6_lstm_cell"][0].output
    assert all(r.check != BUDGET_CHECK for r in recorded["next"]["q6_lstm_cell"])
