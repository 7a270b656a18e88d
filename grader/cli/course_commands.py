"""Commands about the course itself: init, the question bank, the contract, references, the dataset."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import click

from grader.cli.app import _bank, _locked, _open, cli, course_option, no_wait_option

if TYPE_CHECKING:
    from grader.forecast.references import TrainingProgress


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
@course_option
def contract(markdown: bool, course_dir: str | None) -> None:
    """Print the submission contract: task ids, file names, what each must contain, and the size limits.

    The limits are the course's ([limits] file_mb in course.toml; the defaults
    outside a course folder).

    \b
    Example:
        grader contract --markdown
        grader contract --course mycourse
    """
    from grader.grading.intake import IntakeLimits

    bank = _bank()
    limits = IntakeLimits.from_course(_open(course_dir, must_exist=False).limits)
    size_rule = (f"Each file may be at most {limits.file_text} ([limits] file_mb), the whole submission "
                 f"{limits.total_text}; a larger file is refused, and its task scores 0 with the reason.")
    if markdown:
        click.echo("| task id | file | points | what the file must contain |\n|---|---|---|---|")
        for task in bank.tasks:
            click.echo(f"| `{task.id}` | `{task.file}` | {task.points:g} | {task.contract} |")
        click.echo(f"\n{size_rule}")
        return
    click.echo("A submission is one folder (or .zip) per student holding answers.md (sections '## Q1' ... "
               "'## Q8') and these files:\n")
    for task in bank.tasks:
        click.echo(f"{task.id:<20} {task.file:<26} {task.points:>4g} pts  {task.contract}")
    click.echo(f"\n{size_rule}")


# --------------------------------------------------------------------------- references

@cli.group()
def reference() -> None:
    """Reference models of the course."""


@reference.command("build")
@course_option
@click.option("--force", is_flag=True, help="Rebuild even when the cached models are up to date.")
@click.option("--task", "tasks", multiple=True, help="Build only this task (repeatable).")
@no_wait_option
def reference_build(course_dir: str | None, force: bool, tasks: tuple[str, ...], no_wait: bool) -> None:
    """Build every reference model into <course>/reference (trains the forecasters).

    Each model is saved as soon as it is built: after an interruption, run the
    same command again and it builds only the rest. TensorFlow's own messages
    go to <course>/reference-build.log, not the terminal.

    \b
    Example:
        grader reference build --course mycourse
    """
    from grader.forecast.references import ReferenceBuildInterrupted
    from grader.grading.grader import build_course_references

    course = _open(course_dir)
    known = [task.id for task in _bank().tasks]
    unknown = [task for task in tasks if task not in known]
    if unknown:
        raise click.ClickException(f"no task {unknown[0]!r} in the question bank; tasks are {', '.join(known)}")
    try:
        with _locked(course, "reference build", no_wait), \
                _tensorflow_output_to(course.root / REFERENCE_BUILD_LOG), _TrainingDisplay() as display:
            build_course_references(course, force=force, tasks=list(tasks) or None, log=click.echo,
                                    progress=display.show)
    except ReferenceBuildInterrupted as exc:
        click.echo(f"interrupted: {exc.saved} of {exc.total} reference models are saved; run the same command "
                   "again to build the rest", err=True)
        raise click.exceptions.Exit(130) from None
    click.echo(f"references in {course.reference_dir}")


REFERENCE_BUILD_LOG = "reference-build.log"


@contextlib.contextmanager
def _tensorflow_output_to(log: Path) -> Iterator[None]:
    """Send what TensorFlow writes to stderr into ``log`` while the block runs; click's output is unaffected.

    ``main()`` sets TF_CPP_MIN_LOG_LEVEL=3 and the "tensorflow" logger to ERROR, but
    TensorFlow >= 2.19 still prints CUDA and absl notices from C++ while it is imported
    (tensorflow/tensorflow#100442), so stderr itself is redirected at the file-descriptor level.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")       # as main() does, for callers of cli() that skip it
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging          # installed with TensorFlow; Keras logs through it

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass
    sys.stderr.flush()
    terminal = os.dup(2)
    try:
        with open(log, "w", encoding="utf-8") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(terminal, 2)
    finally:
        os.close(terminal)


class _TrainingDisplay:
    """Shows each forecaster's training: a bar (epochs, best validation MAE) on a terminal, else one line a model."""

    def __init__(self) -> None:
        self.interactive = sys.stdout.isatty()
        self._bar: Any = None

    def __enter__(self) -> _TrainingDisplay:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._close()

    def show(self, step: TrainingProgress) -> None:
        if not self.interactive:
            if step.finished:
                click.echo(f"{step.task}: trained {step.epoch} epochs (at most {step.epochs}), "
                           f"best validation MAE {step.best_valid_mae:,.0f}")
            return
        if self._bar is None:
            self._bar = click.progressbar(length=step.epochs, label=f"{step.task}: training", show_pos=True,
                                          item_show_func=_best_mae)
        self._bar.update(step.epoch - self._bar.pos, current_item=step)
        if step.finished:
            self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None


def _best_mae(step: TrainingProgress | None) -> str | None:
    return None if step is None else f"best validation MAE {step.best_valid_mae:,.0f}"


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
               f"models see value / {course.series.scale:g}")


@dataset.command("baselines")
@course_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def dataset_baselines(course_dir: str | None, as_json: bool) -> None:
    """Naive, seasonal-naive and reference forecasters on the held-out windows.

    \b
    Example:
        grader dataset baselines --course mycourse
    """
    from grader.forecast.baselines import baseline_rows
    from grader.forecast.manifest import read_manifest
    from grader.forecast.series import series_from_config

    course = _open(course_dir)
    window = course.series.window
    series = series_from_config(course.series, course.root)
    rows = baseline_rows(series, course.series, window, read_manifest(course))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'forecaster':<28} {'MAE':>12} {'RMSE':>12} {'MASE':>7}")
    for row in rows:
        click.echo(f"{row['name']:<28} {row['mae']:>12,.0f} {row['rmse']:>12,.0f} {row['mase']:>7.3f}")
