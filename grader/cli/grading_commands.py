"""Commands that check and grade: the self-check, submit, grade, batch, review, override, Gradescope, the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from grader.core.terminal import printable

from grader.cli.app import STUDENT, _bank, _gradebook, _locked, _open, cli, course_option, db_option, no_wait_option


# --------------------------------------------------------------------------- checking

weak_sandbox_option = click.option(
    "--weak-sandbox", is_flag=True,
    help="Where bubblewrap is missing, run student code with process isolation only (it can read this "
         "machine's files). Without it, grading refuses to run student code outside the full sandbox.")


def _isolation(weak_sandbox: bool) -> str:
    return "auto" if weak_sandbox else "full"


def _warn(message: str) -> None:
    """One line on stderr, at once, for a file intake refused (stdout stays the command's output)."""
    click.echo(f"warning: {printable(message)}", err=True)


@cli.command()
@click.argument("submission", type=click.Path(exists=True))
@course_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with a 'tests' list.")
@click.option("--static-only", is_flag=True, help="Skip the sandboxed probes (no TensorFlow at all).")
@click.option("--task", "tasks", multiple=True, help="Check only this task (repeatable).")
def check(submission: str, course_dir: str | None, as_json: bool, static_only: bool, tasks: tuple[str, ...]) -> None:
    """Self-check a submission folder or .zip before submitting; writes nothing.

    Runs the visible checks (static inspection, then sandboxed probes); hidden
    checks such as forecast accuracy on held-out data are not run. A file the
    grader refuses (over [limits] file_mb, not a regular file, unsafe, damaged)
    gets a warning at once, one line each.

    \b
    Example:
        grader check alice/
        grader check alice.zip --json
    """
    from grader.grading.self_check import run_self_check

    from grader.sandbox.levels import weak_notice

    course = _open(course_dir, must_exist=False)
    report = run_self_check(Path(submission), _bank(), course, probes=not static_only, tasks=list(tasks) or None,
                            warn=_warn)
    notice = weak_notice()
    if notice:   # printed once with the other notes (or in --json's "notes"), never mixed into the JSON
        report["notes"].insert(0, notice)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    _print_results(report["tests"])
    warned = {refusal["message"] for refusal in report.get("refused", [])}
    for note in report.get("notes", []):
        if note not in warned:
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
                   f"{test['score']:>5g}/{test['max_score']:<5g} {printable(test['output'])}")


@cli.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--student", type=STUDENT, default=None, help="Student id (default: the folder or zip name).")
@course_option
@db_option
@no_wait_option
def submit(path: str, student: str | None, course_dir: str | None, db_url: str | None, no_wait: bool) -> None:
    """Store a submission folder or .zip for a student (content-addressed) and record it.

    Each file the grader refuses (over [limits] file_mb, not a regular file,
    unsafe, damaged) gets one warning line; grading reports it as refused.

    \b
    Example:
        grader submit --student alice alice.zip
    """
    from grader.grading.grader import Grader

    course = _open(course_dir, db_url)
    with _locked(course, "submit", no_wait), _gradebook(course) as gradebook:
        receipt = Grader(course, _bank(), gradebook).submit(Path(path), student)
    for refusal in receipt.refused:
        _warn(refusal.message)
    if receipt.note:
        _warn(receipt.note)
    state = "recorded" if receipt.new else "identical to the latest submission; kept"
    click.echo(f"submission {receipt.submission_id} of {receipt.student} {state}")


@cli.command()
@click.argument("student", type=STUDENT)
@course_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the structured results as JSON.")
@click.option("--force", is_flag=True, help="Regrade even if graded with the same files and versions.")
@weak_sandbox_option
@no_wait_option
def grade(student: str, course_dir: str | None, db_url: str | None, as_json: bool, force: bool,
          weak_sandbox: bool, no_wait: bool) -> None:
    """Grade a student's latest submission: checks, probes, forecast accuracy and prose.

    \b
    Example:
        grader grade alice --json
    """
    from grader.core.records import task_questions
    from grader.grading.grader import grade_student

    course = _open(course_dir, db_url)
    bank = _bank()
    with _locked(course, "grade", no_wait), _gradebook(course) as gradebook:
        submission_id = grade_student(course, bank, gradebook, student, force=force,
                                      isolation=_isolation(weak_sandbox))
        rows = gradebook.current_results(submission_id)
        summary = gradebook.student_summary(student, task_questions(bank))
    if as_json:
        click.echo(json.dumps({"student": student, "submission": submission_id, "score": summary["score"],
                               "max_score": summary["max_score"], "tests": rows}, indent=2, default=str))
        return
    _print_results(rows)
    click.echo(f"\n{student}: {summary['score']:g} / {summary['max_score']:g}")


@cli.command()
@click.argument("directory", type=click.Path(exists=True))
@course_option
@db_option
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Sandboxed workers (default: one per core).")
@click.option("--isolate", is_flag=True, help="A fresh worker process for every submission (strictest, slower).")
@click.option("--force", is_flag=True, help="Regrade submissions already graded with the same files and versions.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default=None,
              help="Where to grade: this machine's workers, or a Dask cluster (default: [executor] kind).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="The Dask scheduler, e.g. tcp://head:8786 (default: [executor] scheduler; "
                   "empty starts a local cluster of --workers processes).")
@weak_sandbox_option
@no_wait_option
def batch(directory: str, course_dir: str | None, db_url: str | None, workers: int | None, isolate: bool,
          force: bool, executor: str | None, scheduler: str | None, weak_sandbox: bool, no_wait: bool) -> None:
    """Submit and grade every student folder or .zip under DIRECTORY.

    Resumable: run it again after an interruption and it grades only what is
    left. One broken or hostile submission never stops the batch. This process
    alone writes the gradebook, wherever the grading runs.

    \b
    Example:
        grader batch submissions/ --workers 2
        grader batch submissions/ --executor dask --scheduler tcp://head:8786
    """
    from grader.grading.discovery import discover
    from grader.grading.grader import require_ready, run_batch

    course = _open(course_dir, db_url)
    bank = _bank()
    require_ready(course)
    found = discover(_class_folder(Path(directory), course.root), [task.file for task in bank.tasks],
                     course_root=course.root)
    paths = list(found.submissions)
    if not paths:
        raise click.ClickException(
            f"no student folders or .zip files in {directory}: lay it out as one folder or .zip per student "
            "(DIR/alice/answers.md, DIR/bob.zip), optionally grouped in section folders (DIR/section1/alice/)"
            + (f"; skipped {len(found.skipped)} entries, e.g. {found.skipped[0].name} ({found.skipped[0].reason})"
               if found.skipped else ""))
    _print_discovery(found)        # before grading too: a layout surprise is better seen early
    graded_before = 0
    try:
        with _locked(course, "batch", no_wait), _gradebook(course) as gradebook:
            if force:
                _backup_before_regrade(course, gradebook)
            with click.progressbar(length=len(paths), label="grading", show_eta=True, show_pos=True,
                                   file=sys.stderr) as bar:
                def progress(outcome) -> None:
                    nonlocal graded_before
                    graded_before += 1
                    bar.update(1)
                summary = run_batch(course, bank, gradebook, paths, workers=workers, isolate=isolate,
                                    force=force, isolation=_isolation(weak_sandbox), progress=progress,
                                    names=found.student_names(), executor=executor or course.config.executor.kind,
                                    scheduler=course.config.executor.scheduler if scheduler is None else scheduler,
                                    on_start=_show_dashboard)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted after {graded_before} of {len(paths)} submissions; run the same command again "
                   "to grade the rest (what is graded is kept)", err=True)
        raise click.exceptions.Exit(130) from None
    _print_batch(summary)
    _print_discovery(found)


def _show_dashboard(executor) -> None:
    if executor.dashboard:
        click.echo(f"Dask dashboard: {executor.dashboard}", err=True)


def _class_folder(directory: Path, course_root: Path) -> Path:
    """``directory`` as a class folder: not a .zip of one, not the course folder or one of its own folders."""
    if directory.is_file():
        hint = "unzip it first and pass the folder" if directory.suffix.lower() == ".zip" else "pass a folder"
        raise click.ClickException(f"{directory} is a file, not a class folder: {hint}")
    resolved, course = directory.resolve(), course_root.resolve()
    own = [course / name for name in ("reference", "submissions", "backups")]
    if resolved == course or any(folder == resolved or folder in resolved.parents for folder in own):
        raise click.ClickException(f"{directory} is the course folder or one of its own folders: put the "
                                   "students' folders in a class folder of their own (e.g. class/ next to "
                                   "the course) and pass that")
    return directory


def _backup_before_regrade(course, gradebook) -> None:
    """A forced regrade supersedes every current result: keep a copy of the gradebook first."""
    kept = gradebook.backup_into(course.root / "backups", "before-regrade")
    if kept is None:
        _warn(f"no automatic backup of {gradebook.shown_url} (only SQLite gradebooks are copied); "
              "take one with the database's own tools before a forced regrade")
    else:
        click.echo(f"backed up the gradebook to {kept} before regrading", err=True)


def _print_discovery(found) -> None:
    """The section folders understood and every entry of the class folder not graded, with why."""
    if found.sections:
        click.echo(f"section folders: {', '.join(printable(name) for name in found.sections)} "
                   "(their students are graded under their own folder names)")
    for folder in found.inner:
        student = folder.split("/", 1)[0]
        click.echo(f"read {printable(folder)} as the files of {printable(student)!r} (if {printable(student)} is "
                   "a section, give it two or more student folders, or grade it with its own batch)")
    for entry in found.skipped:
        click.echo(f"skipped {printable(entry.name)}: {entry.reason}")


def _print_batch(summary) -> None:
    click.echo(f"\n{'student':<20} {'status':<8} {'score':>12}  message")
    for o in sorted(summary.outcomes, key=lambda o: o.student):
        score = f"{o.score:g}/{o.max_score:g}" if o.status == "graded" else ""
        click.echo(f"{printable(o.student):<20} {o.status:<8} {score:>12}  {printable(o.message)}")
    mean = summary.mean_score
    click.echo(f"\ngraded {summary.count('graded')}, failed {summary.count('failed')}, skipped "
               f"{summary.count('skipped')}; mean score {'-' if mean is None else f'{mean:.2f}'}; "
               f"{summary.seconds:.1f} s")


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
    with _gradebook(course, read_only=True) as gradebook:
        queue = gradebook.review_queue()
    if not queue:
        click.echo("nothing needs review")
        return
    for row in queue:
        click.echo(f"{printable(row['student_id']):<16} {row['task']:<20} auto {row['auto_score']:g}/{row['max_score']:g}  "
                   f"{printable(row['output'])}")
        for point in (row.get("details") or {}).get("points", []):
            if point.get("evidence"):
                click.echo(f"    {point.get('status', ''):<9} {point.get('id', '')}: \"{printable(point['evidence'])}\"")
    click.echo(f"{len(queue)} result(s) need review")


@cli.command()
@click.argument("student", type=STUDENT)
@click.argument("task_or_question")
@click.option("--score", type=float, required=True, help="The manual score (points).")
@click.option("--comment", default="", help="Why; shown to the student.")
@click.option("--check", default=None, help="Override one check instead of the whole task.")
@click.option("--who", default=None, envvar="USER", help="Who overrides (default: $USER).")
@course_option
@db_option
@no_wait_option
def override(student: str, task_or_question: str, score: float, comment: str, check: str | None,
             who: str | None, course_dir: str | None, db_url: str | None, no_wait: bool) -> None:
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
    with _locked(course, "override", no_wait), _gradebook(course) as gradebook:
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
    from grader.core.errors import GraderError
    from grader.grading.gradescope import not_graded_results, run_autograder, write_results

    try:
        course = _open(course_dir)
    except GraderError:
        # The student still gets a results file that says it was not their fault; the reason is for the log.
        write_results(not_graded_results("the autograder's course could not be read"), Path(results))
        raise
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
    """Build the Gradescope autograder bundle: setup.sh, run_autograder, the lock files, the
    grader's source, and the course with its references and CSV series (paths made relative).

    \b
    Example:
        grader gradescope-package autograder.zip --course mycourse
    """
    from grader.grading.gradescope import build_package

    course = _open(course_dir)
    path = build_package(course, Path(out))
    series = f"; series {course.series.path} bundled" if course.series.source == "csv" else ""
    click.echo(f"wrote {path} (upload it as the assignment's autograder{series})")


@cli.command()
@click.argument("directory", required=False, default="demo-course", type=click.Path(file_okay=False))
@click.option("--workers", type=int, default=None, help="Sandboxed workers (default: one per core).")
@click.option("--train", is_flag=True,
              help="Train the reference forecasters here (about 3 min) instead of using the pre-built ones.")
def demo(directory: str, workers: int | None, train: bool) -> None:
    """Run the main job end to end on a demo course: references, ten samples, batch grade, report.

    Creates DIRECTORY (default: demo-course) with the embedded SQLite gradebook. The
    reference forecasters for the demo's fixed series ship with the grader, checked by
    hash; each is scored on the held-out windows against seasonal naive.

    \b
    Example:
        grader demo
        grader demo /tmp/demo --workers 2
    """
    from grader.grading.demo import SAMPLES, run_demo

    result = run_demo(Path(directory), workers=workers, train=train, log=click.echo)
    _print_batch(result["summary"])
    click.echo(f"\n{'sample':<8} {'what it does':<44} points lost, by task")
    for sample in SAMPLES:
        lost = result["losses"].get(sample.student, {})
        shown = ", ".join(f"{task} -{points:g}" for task, points in sorted(lost.items())) or "none"
        click.echo(f"{sample.student:<8} {sample.description:<44} {shown}")
    if result["report"]:
        click.echo(f"report: {result['report']}")
