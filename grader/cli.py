"""The ``grader`` command line: parses, calls the library, prints.

Every decision lives in a library module. Every expected problem the library
raises derives from :class:`grader.core.errors.GraderError`; the root group turns
it, in one place, into one ``Error: ...`` line and exit status 1. Heavy modules
(TensorFlow above all) are imported inside the commands that need them, so
``grader --help`` and the static commands start fast.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from grader import __version__


def course_option(fn: Callable) -> Callable:
    """``--course DIR`` (or $GRADER_COURSE; default: the current directory)."""
    return click.option("--course", "course_dir", envvar="GRADER_COURSE", type=click.Path(file_okay=False),
                        default=None, help="Course folder (default: $GRADER_COURSE or the current directory).")(fn)


def db_option(fn: Callable) -> Callable:
    """``--db URL`` (or $GRADER_DB; default: sqlite grader.db in the course folder)."""
    return click.option("--db", "db_url", envvar="GRADER_DB", default=None,
                        help="SQLAlchemy URL of the gradebook (default: sqlite:///<course>/grader.db).")(fn)


def _open(course_dir: str | None, db_url: str | None = None, *, must_exist: bool = True):
    from grader.core.course import open_course

    return open_course(course_dir, db_url, must_exist=must_exist)


def _bank():
    from grader.core.bank import BankError, default_bank

    try:
        return default_bank()
    except BankError as exc:
        raise click.ClickException(f"the question bank is invalid: {exc}") from None


class GraderGroup(click.Group):
    """The root group: a GraderError from any command becomes one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from grader.core.errors import GraderError

        try:
            return super().invoke(ctx)
        except GraderError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=GraderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grader")
def cli() -> None:
    """Grade the recurrent-network assignment: Keras models, forecasts and prose.

    \b
    Start a course, build the references, check and grade submissions:
        grader init mycourse
        grader reference build --course mycourse
        grader check alice/             # a student's self-check
    """


# --------------------------------------------------------------------------- course

@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--name", default=None, help="Course name written into course.toml.")
def init(directory: str | None, name: str | None) -> None:
    """Create a course folder with a default course.toml.

    \b
    Example:
        grader init ~/courses/rnn-2026 --name "RNN 2026"
    """
    from grader.core.course import init_course

    course = init_course(directory, name=name)
    click.echo(f"course folder ready: {course.root} (config {course.root / 'course.toml'})")


# --------------------------------------------------------------------------- questions

@cli.group(invoke_without_command=True)
@click.pass_context
def questions(ctx: click.Context) -> None:
    """List the question bank; 'grader questions show Q3' prints one question.

    \b
    Example:
        grader questions
        grader questions show Q3
    """
    if ctx.invoked_subcommand is None:
        bank = _bank()
        click.echo(f"{'id':<4} {'v':>2} {'prose':>5} {'models':>6}  title")
        for q in bank.questions:
            models = sum(t.points for t in q.tasks)
            click.echo(f"{q.id:<4} {q.version:>2} {q.prose_points:>5g} {models:>6g}  {q.title}")
        click.echo(f"{len(bank.questions)} questions, {bank.points:g} points")


@questions.command("show")
@click.argument("question_id")
@click.option("--answer/--no-answer", default=True, help="Include the reference answer.")
def questions_show(question_id: str, answer: bool) -> None:
    """Print one question: prompt, reference answer, rubric and model tasks.

    \b
    Example:
        grader questions show Q3
    """
    bank = _bank()
    try:
        q = bank.question(question_id)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    click.echo(f"{q.id} (version {q.version}): {q.title}\n")
    click.echo(q.prompt.strip() + "\n")
    if answer:
        click.echo("Reference answer:\n" + q.answer.strip() + "\n")
    click.echo(f"Prose rubric ({q.prose_points:g} points):")
    for point in q.key_points:
        click.echo(f"  [{point.weight:g}] {point.id}: {point.text}")
    for item in q.contradictions:
        click.echo(f"  [-{item.penalty:g}] {item.id}: {item.text}")
    for task in q.tasks:
        click.echo(f"\nTask {task.id} ({task.points:g} points), file {task.file}:\n  {task.contract}")
        for name, points in task.checks:
            click.echo(f"  - {name} ({points:g})")


@cli.command()
@click.option("--markdown", is_flag=True, help="Print the table as Markdown.")
def contract(markdown: bool) -> None:
    """Print the submission contract: task ids, file names, what each must contain.

    \b
    Example:
        grader contract --markdown
    """
    bank = _bank()
    if markdown:
        click.echo("| task id | file | points | what the file must contain |\n|---|---|---|---|")
        for task in bank.tasks:
            click.echo(f"| `{task.id}` | `{task.file}` | {task.points:g} | {task.contract} |")
        return
    click.echo("A submission is one folder (or .zip) per student holding answers.md (sections '## Q1' ... "
               "'## Q8') and these files:\n")
    for task in bank.tasks:
        click.echo(f"{task.id:<20} {task.file:<26} {task.points:>4g} pts  {task.contract}")


# --------------------------------------------------------------------------- references

@cli.group()
def reference() -> None:
    """Reference models of the course."""


@reference.command("build")
@course_option
@click.option("--force", is_flag=True, help="Rebuild even when the cached models are up to date.")
@click.option("--task", "tasks", multiple=True, help="Build only this task (repeatable).")
def reference_build(course_dir: str | None, force: bool, tasks: tuple[str, ...]) -> None:
    """Build every reference model into <course>/reference (trains the forecasters).

    \b
    Example:
        grader reference build --course mycourse
    """
    from grader.grading.grader import build_course_references

    course = _open(course_dir)
    build_course_references(course, force=force, tasks=list(tasks) or None, log=click.echo)
    click.echo(f"references in {course.reference_dir}")


# --------------------------------------------------------------------------- dataset

@cli.group()
def dataset() -> None:
    """The daily series forecasters are graded on."""


@dataset.command("export")
@course_option
@click.option("--part", type=click.Choice(["train", "valid"]), default="train", show_default=True,
              help="Which part to export; the held-out test part is never exported.")
@click.argument("out", type=click.Path(dir_okay=False))
def dataset_export(course_dir: str | None, part: str, out: str) -> None:
    """Write the part of the series students may train on as CSV (date,value).

    \b
    Example:
        grader dataset export --part train train.csv
    """
    from grader.forecast.series import export_part, series_from_config

    course = _open(course_dir)
    exported = export_part(series_from_config(course.series, course.root), course.series, part, out)
    click.echo(f"wrote {len(exported)} days ({exported.start} .. {exported.end}) to {out}; "
               f"models see value / {course.series['scale']:g}")


@dataset.command("baselines")
@course_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def dataset_baselines(course_dir: str | None, as_json: bool) -> None:
    """Naive, seasonal-naive and reference forecasters on the held-out windows.

    \b
    Example:
        grader dataset baselines --course mycourse
    """
    from grader.core.contract import DEFAULT_WINDOW
    from grader.forecast.baselines import baseline_rows
    from grader.forecast.manifest import read_manifest
    from grader.forecast.series import series_from_config

    course = _open(course_dir)
    window = int(course.series.get("window", DEFAULT_WINDOW))
    series = series_from_config(course.series, course.root)
    rows = baseline_rows(series, course.series, window, read_manifest(course))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'forecaster':<28} {'MAE':>12} {'RMSE':>12} {'MASE':>7}")
    for row in rows:
        click.echo(f"{row['name']:<28} {row['mae']:>12,.0f} {row['rmse']:>12,.0f} {row['mase']:>7.3f}")


# --------------------------------------------------------------------------- checking

@cli.command()
@click.argument("submission", type=click.Path(exists=True))
@course_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with a 'tests' list.")
@click.option("--static-only", is_flag=True, help="Skip the sandboxed probes (no TensorFlow at all).")
@click.option("--task", "tasks", multiple=True, help="Check only this task (repeatable).")
def check(submission: str, course_dir: str | None, as_json: bool, static_only: bool, tasks: tuple[str, ...]) -> None:
    """Self-check a submission folder or .zip before submitting; writes nothing.

    Runs the visible checks (static inspection, then sandboxed probes); hidden
    checks such as forecast accuracy on held-out data are not run.

    \b
    Example:
        grader check alice/
        grader check alice.zip --json
    """
    from grader.grading.self_check import run_self_check

    course = _open(course_dir, must_exist=False)
    report = run_self_check(Path(submission), _bank(), course, probes=not static_only, tasks=list(tasks) or None)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    _print_results(report["tests"])
    for note in report.get("notes", []):
        click.echo(f"note: {note}")
    click.echo(f"\nvisible score: {report['score']:g} / {report['max_score']:g}"
               + ("" if report["complete"] else " (hidden checks and prose are graded after submission)"))


def _print_results(tests: list[dict[str, Any]]) -> None:
    marks = {"passed": "ok  ", "failed": "FAIL", "error": "ERR "}
    current = None
    for test in tests:
        if test["task"] != current:
            current = test["task"]
            click.echo(f"\n{current}")
        click.echo(f"  {marks.get(test['status'], test['status'])} {test['check']:<30} "
                   f"{test['score']:>5g}/{test['max_score']:<5g} {test['output']}")


# --------------------------------------------------------------------------- gradebook

def _gradebook(course):
    from grader.store.gradebook import Gradebook

    return Gradebook(course.db_url)


@cli.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--student", default=None, help="Student id (default: the folder or zip name).")
@course_option
@db_option
def submit(path: str, student: str | None, course_dir: str | None, db_url: str | None) -> None:
    """Store a submission folder or .zip for a student (content-addressed) and record it.

    \b
    Example:
        grader submit --student alice alice.zip
    """
    from grader.grading.grader import Grader

    course = _open(course_dir, db_url)
    with _gradebook(course) as gradebook:
        student_id, submission_id, new = Grader(course, _bank(), gradebook).submit(Path(path), student)
    state = "recorded" if new else "identical to the latest submission; kept"
    click.echo(f"submission {submission_id} of {student_id} {state}")


@cli.command()
@click.argument("student")
@course_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the structured results as JSON.")
@click.option("--force", is_flag=True, help="Regrade even if graded with the same files and versions.")
def grade(student: str, course_dir: str | None, db_url: str | None, as_json: bool, force: bool) -> None:
    """Grade a student's latest submission: checks, probes, forecast accuracy and prose.

    \b
    Example:
        grader grade alice --json
    """
    from grader.core.records import task_questions
    from grader.grading.grader import grade_student

    course = _open(course_dir, db_url)
    bank = _bank()
    with _gradebook(course) as gradebook:
        submission_id = grade_student(course, bank, gradebook, student, force=force)
        rows = gradebook.current_results(submission_id)
        summary = gradebook.student_summary(student, task_questions(bank))
    if as_json:
        click.echo(json.dumps({"student": student, "submission": submission_id, "score": summary["score"],
                               "max_score": summary["max_score"], "tests": rows}, indent=2, default=str))
        return
    _print_results(rows)
    click.echo(f"\n{student}: {summary['score']:g} / {summary['max_score']:g}")


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@course_option
@db_option
@click.option("--workers", type=int, default=None, help="Sandboxed workers (default: one per core).")
@click.option("--isolate", is_flag=True, help="A fresh worker process for every submission (strictest, slower).")
@click.option("--force", is_flag=True, help="Regrade submissions already graded with the same files and versions.")
def batch(directory: str, course_dir: str | None, db_url: str | None, workers: int | None, isolate: bool,
          force: bool) -> None:
    """Submit and grade every student folder or .zip under DIRECTORY.

    Resumable: run it again after an interruption and it grades only what is
    left. One broken or hostile submission never stops the batch.

    \b
    Example:
        grader batch submissions/ --workers 2
    """
    from grader.grading.grader import discover, require_ready, run_batch

    course = _open(course_dir, db_url)
    require_ready(course)
    paths = discover(Path(directory))
    if not paths:
        raise click.ClickException(f"no student folders or .zip files in {directory}")
    with _gradebook(course) as gradebook:
        with click.progressbar(length=len(paths), label="grading", show_eta=True, show_pos=True,
                               file=sys.stderr) as bar:
            summary = run_batch(course, _bank(), gradebook, paths, workers=workers, isolate=isolate,
                                force=force, progress=lambda outcome: bar.update(1))
    _print_batch(summary)


def _print_batch(summary) -> None:
    click.echo(f"\n{'student':<20} {'status':<8} {'score':>12}  message")
    for o in sorted(summary.outcomes, key=lambda o: o.student):
        score = f"{o.score:g}/{o.max_score:g}" if o.status == "graded" else ""
        click.echo(f"{o.student:<20} {o.status:<8} {score:>12}  {o.message}")
    mean = summary.mean_score
    click.echo(f"\ngraded {summary.count('graded')}, failed {summary.count('failed')}, skipped "
               f"{summary.count('skipped')}; mean score {'-' if mean is None else f'{mean:.2f}'}; "
               f"{summary.seconds:.1f} s")


@cli.command()
@course_option
@db_option
@click.option("--format", "fmt", type=click.Choice(["csv", "gradescope"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(), default=None,
              help="CSV file (default: stdout) or folder for Gradescope results (default: gradescope-results).")
def export(course_dir: str | None, db_url: str | None, fmt: str, out: str | None) -> None:
    """Export grades: a CSV (one row per student) or Gradescope results.json files.

    \b
    Example:
        grader export --format csv --out grades.csv
        grader export --format gradescope --out gs/
    """
    from grader.report.exports import export_csv, export_gradescope

    course = _open(course_dir, db_url)
    with _gradebook(course) as gradebook:
        if fmt == "csv":
            text = export_csv(gradebook.snapshot(_bank()), _bank())
            if out:
                Path(out).write_text(text, encoding="utf-8")
                click.echo(f"wrote {out}")
            else:
                click.echo(text, nl=False)
            return
        written = export_gradescope(gradebook.snapshot(_bank()), _bank(), Path(out or "gradescope-results"))
    click.echo(f"wrote {len(written)} results.json files under {out or 'gradescope-results'}")


@cli.command()
@course_option
@db_option
def review(course_dir: str | None, db_url: str | None) -> None:
    """List prose answers (and other results) that need a person's review.

    \b
    Example:
        grader review
        grader override alice q3_prose --score 3 --comment "right idea, unusual wording"
    """
    course = _open(course_dir, db_url)
    with _gradebook(course) as gradebook:
        queue = gradebook.review_queue()
    if not queue:
        click.echo("nothing needs review")
        return
    for row in queue:
        click.echo(f"{row['student_id']:<16} {row['task']:<20} auto {row['auto_score']:g}/{row['max_score']:g}  "
                   f"{row['output']}")
        for point in (row.get("details") or {}).get("points", []):
            if point.get("evidence"):
                click.echo(f"    {point.get('status', ''):<9} {point.get('id', '')}: \"{point['evidence']}\"")
    click.echo(f"{len(queue)} result(s) need review")


@cli.command()
@click.argument("student")
@click.argument("task_or_question")
@click.option("--score", type=float, required=True, help="The manual score (points).")
@click.option("--comment", default="", help="Why; shown to the student.")
@click.option("--check", default=None, help="Override one check instead of the whole task.")
@click.option("--who", default=None, envvar="USER", help="Who overrides (default: $USER).")
@course_option
@db_option
def override(student: str, task_or_question: str, score: float, comment: str, check: str | None,
             who: str | None, course_dir: str | None, db_url: str | None) -> None:
    """Set a manual score that wins over the auto score and survives every regrade.

    TASK_OR_QUESTION is a task id (q3_deep_seq2seq), a prose task (q3_prose), or
    a question id (Q3, meaning its prose part).

    \b
    Example:
        grader override alice Q3 --score 3.5 --comment "clear, in her own words"
    """
    from grader.grading.overrides import set_override

    bank = _bank()
    course = _open(course_dir, db_url)
    with _gradebook(course) as gradebook:
        task, _ = set_override(gradebook, bank, student, task_or_question, score, comment, who or "instructor",
                               check=check)
    click.echo(f"{student} {task}{':' + check if check else ''} set to {score:g} ({comment or 'no comment'})")


@cli.command("gradescope")
@course_option
@click.option("--submission", type=click.Path(), default="/autograder/submission", show_default=True,
              help="The submission folder Gradescope provides.")
@click.option("--results", type=click.Path(dir_okay=False), default="/autograder/results/results.json",
              show_default=True, help="Where Gradescope reads the results.")
def gradescope_cmd(course_dir: str | None, submission: str, results: str) -> None:
    """Grade one submission inside a Gradescope container (what run_autograder calls).

    \b
    Example:
        grader gradescope --course /autograder/source/course
    """
    from grader.grading.gradescope import run_autograder

    course = _open(course_dir)
    problems = run_autograder(course, _bank(), Path(submission), Path(results))
    for problem in problems:
        click.echo(f"refused: {problem}", err=True)
    if problems:
        raise click.ClickException("the course is not private, so no student code was run; see the lines above")
    score = json.loads(Path(results).read_text(encoding="utf-8"))["score"]
    click.echo(f"score {score:g}; results in {results}")


@cli.command("gradescope-package")
@click.argument("out", type=click.Path(dir_okay=False))
@course_option
def gradescope_package(out: str, course_dir: str | None) -> None:
    """Build the Gradescope autograder bundle: setup.sh, run_autograder, course and references.

    \b
    Example:
        grader gradescope-package autograder.zip --course mycourse
    """
    from grader.grading.gradescope import build_package

    course = _open(course_dir)
    path = build_package(course, Path(out))
    click.echo(f"wrote {path} (upload it as the assignment's autograder)")


@cli.command()
@click.argument("directory", required=False, default="demo-course", type=click.Path(file_okay=False))
@click.option("--workers", type=int, default=None, help="Sandboxed workers (default: one per core).")
def demo(directory: str, workers: int | None) -> None:
    """Run the main job end to end on a demo course: references, ten samples, batch grade, report.

    Creates DIRECTORY (default: demo-course) with the embedded SQLite gradebook.

    \b
    Example:
        grader demo
        grader demo /tmp/demo --workers 2
    """
    from grader.grading.demo import SAMPLES, run_demo

    result = run_demo(Path(directory), workers=workers, log=click.echo)
    _print_batch(result["summary"])
    click.echo(f"\n{'sample':<8} {'what it does':<44} points lost, by task")
    for sample in SAMPLES:
        lost = result["losses"].get(sample.student, {})
        shown = ", ".join(f"{task} -{points:g}" for task, points in sorted(lost.items())) or "none"
        click.echo(f"{sample.student:<8} {sample.description:<44} {shown}")
    if result["report"]:
        click.echo(f"report: {result['report']}")


# --------------------------------------------------------------------------- reports

@cli.command()
@course_option
@db_option
@click.option("--out", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="The HTML file to write.")
@click.option("--feedback/--no-feedback", "with_feedback", default=True, show_default=True,
              help="Also write every graded student's page to feedback/ beside the report (the report links there).")
def report(course_dir: str | None, db_url: str | None, out: str, with_feedback: bool) -> None:
    """Write the instructor report: one self-contained HTML file that opens from disk.

    Class statistics, misconceptions, the forecasting leaderboard beside the
    baselines, a sortable table of every student and the grading runs.

    \b
    Example:
        grader report --out report.html
        grader report --course mycourse --out /tmp/report.html --no-feedback
    """
    from grader.report.class_report import write_report

    course = _open(course_dir, db_url)
    with _gradebook(course) as gradebook:
        try:
            path = write_report(course, _bank(), Path(out), gradebook.snapshot(_bank()), feedback=with_feedback)
        except OSError as exc:
            raise click.ClickException(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {path}" + (f" and feedback pages in {path.parent / 'feedback'}" if with_feedback else ""))


@cli.command()
@click.option("--student", default=None, help="The student whose page to write.")
@click.option("--all", "all_students", is_flag=True, help="Write a page for every graded student.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="With --student: the HTML file (default: <student>.html).")
@click.option("--out-dir", type=click.Path(file_okay=False), default="feedback", show_default=True,
              help="With --all: the folder for the pages.")
@course_option
@db_option
def feedback(student: str | None, all_students: bool, out: str | None, out_dir: str, course_dir: str | None,
             db_url: str | None) -> None:
    """Write student feedback pages (self-contained HTML).

    Visible checks show their messages; hidden checks only their score and
    MAE / MASE beside the baselines. Reference answers and forecast plots
    appear only when course.toml's [release] answers / forecast_plots allow.

    \b
    Example:
        grader feedback --student alice --out alice.html
        grader feedback --all --out-dir feedback/
    """
    from grader.report.feedback import render_feedback, write_feedback_pages
    from grader.report.render import feedback_filename

    if bool(student) == all_students:
        raise click.ClickException("give either --student ID or --all")
    course = _open(course_dir, db_url)
    bank = _bank()
    with _gradebook(course) as gradebook:
        try:
            if all_students:
                written = write_feedback_pages(course, bank, Path(out_dir), gradebook.snapshot(bank))
                click.echo(f"wrote {len(written)} feedback pages in {out_dir}")
                return
            target = Path(out or feedback_filename(student))
            html = render_feedback(course, bank, student, gradebook.snapshot(bank))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {exc.filename or out or out_dir}: {exc.strerror or exc}") from None
    click.echo(f"wrote {target}")


def main() -> None:
    # Commands that train or load reference models import TensorFlow in this
    # process; keep its C++ and Python logging off the user's terminal.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    cli(prog_name="grader")


if __name__ == "__main__":
    main()
