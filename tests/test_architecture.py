"""Decisions that live in the library, not the CLI, and regressions fixed with the restructuring."""

from __future__ import annotations

import tomllib

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.core.bank import BankError
from grader.core.errors import GraderError


def test_every_expected_error_derives_from_one_base():
    from grader.core.course import CourseError
    from grader.forecast.metrics import ForecastError
    from grader.forecast.series import SeriesError
    from grader.grading.intake import IntakeError
    from grader.prose.answers import AnswersError
    from grader.report.render import ReportError
    from grader.sandbox.errors import SandboxError
    from grader.static.errors import InspectionError
    from grader.store.errors import GradebookError

    for error in (BankError, CourseError, ForecastError, SeriesError, IntakeError, AnswersError, ReportError,
                  SandboxError, InspectionError, GradebookError):
        assert issubclass(error, GraderError), error


def test_the_bank_resolves_task_names(bank):
    assert bank.resolve_task("Q3") == bank.resolve_task("q3") == "q3_prose"
    assert bank.resolve_task("q3_deep_seq2seq") == "q3_deep_seq2seq"
    assert bank.max_points("Q3") == bank.question("Q3").prose_points
    assert bank.max_points("q4_forecaster") == bank.task("q4_forecaster").points
    with pytest.raises(BankError, match="unknown task 'q9_nothing'"):
        bank.resolve_task("q9_nothing")
    with pytest.raises(BankError, match="no question 'Q9'"):
        bank.resolve_task("Q9")


def test_one_task_order_for_every_listing(bank):
    order = bank.task_order()
    for question in bank.questions:
        inside = sorted((task for task, (number, _) in order.items() if number == question.number),
                        key=order.get)
        assert inside == [task.id for task in question.tasks] + [question.prose_task]


def test_override_limits_are_checked_in_the_library(bank):
    from grader.grading.overrides import OverrideError, set_override

    class Book:
        def set_override(self, *args, **kwargs):
            return "recorded"

    assert set_override(Book(), bank, "alice", "Q3", 2.0, "", "t") == ("q3_prose", "recorded")
    with pytest.raises(OverrideError, match="between 0 and"):
        set_override(Book(), bank, "alice", "q4_forecaster", 99.0, "", "t")
    with pytest.raises(OverrideError, match="has no check 'nope'"):
        set_override(Book(), bank, "alice", "q4_forecaster", 1.0, "", "t", check="nope")


def test_cli_turns_a_library_error_into_one_line(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path / "c")]).exit_code == 0
    result = runner.invoke(cli, ["override", "--course", str(tmp_path / "c"), "alice", "Q9", "--score", "1"])
    assert result.exit_code == 1 and result.output.startswith("Error: no question 'Q9'")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_init_writes_a_course_name_with_quotes_as_valid_toml(tmp_path):
    name = "Dr O'Brien's \"RNN\" course \\ 2026"
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "c"), "--name", name])
    assert result.exit_code == 0, result.output
    assert tomllib.loads((tmp_path / "c" / "course.toml").read_text())["course"]["name"] == name


def test_submit_does_not_mistake_a_locked_gradebook_for_a_new_student(tmp_path, bank):
    """Only an unknown student means "no earlier submission"; any other gradebook error propagates."""
    from grader.core.course import init_course
    from grader.grading.grader import Grader
    from grader.store.errors import GradebookError

    course = init_course(tmp_path / "c")
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "answers.md").write_text("## Q1\nx\n")

    class LockedGradebook:
        def latest_submission(self, student):
            raise GradebookError("the gradebook is locked by another process")

        def add_submission(self, *args, **kwargs):
            raise AssertionError("a duplicate submission was recorded")

    with pytest.raises(GradebookError, match="locked"):
        Grader(course, bank, LockedGradebook()).submit(folder, "alice")


@pytest.mark.parametrize("table, message", [
    ('[series]\nwindow = "long"\n', r"course.toml: \[series\] window must be a whole number of days >= 7, got 'long'"),
    ("[limits]\nmemory_mb = -5\n", r"course.toml: \[limits\] memory_mb must be a positive whole number of MiB"),
    ('[release]\nanswers = "yes"\n', r"course.toml: \[release\] answers must be true or false, got 'yes'"),
    ("[series]\nwindwo = 56\n", r"course.toml: unknown key 'series.windwo'"),
    ("[grading]\nx = 1\n", r"course.toml: unknown table or key 'grading'"),
    ("[course\n", r"course.toml: not valid TOML"),
])
def test_course_config_is_validated_once_naming_file_and_key(tmp_path, table, message):
    from grader.core.course import CourseError, open_course

    (tmp_path / "course.toml").write_text(table)
    with pytest.raises(CourseError, match=message) as error:
        open_course(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'course.toml'}: ")      # the file's full path, every time


def test_course_config_is_typed(tmp_path):
    from grader.core.config import LimitsConfig, ReleaseConfig, SeriesConfig
    from grader.core.course import init_course

    course = init_course(tmp_path / "c")
    assert isinstance(course.series, SeriesConfig) and course.series.window == 56
    assert isinstance(course.limits, LimitsConfig) and course.limits.file_mb == 256
    assert isinstance(course.release, ReleaseConfig) and course.release.answers is False
