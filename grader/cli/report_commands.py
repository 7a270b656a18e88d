"""Commands that write what people read: grade exports, the instructor report, feedback pages."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.app import STUDENT, _bank, _gradebook, _locked, _open, cli, course_option, db_option


@cli.command()
@course_option
@db_option
@click.option("--format", "fmt", type=click.Choice(["csv", "gradescope", "canvas", "moodle"]), default="csv",
              show_default=True,
              help="csv: a row per student; gradescope: results.json files; canvas / moodle: the platform's "
                   "grade import, for the students of the roster ('grader roster import').")
@click.option("--out", type=click.Path(), default=None,
              help="CSV file (default: stdout) or folder for Gradescope results (default: gradescope-results).")
def export(course_dir: str | None, db_url: str | None, fmt: str, out: str | None) -> None:
    """Export grades: a CSV, Gradescope results.json files, or a Canvas or Moodle grade import.

    Canvas and Moodle files hold each roster student's total in the column
    course.toml's [export] table names; students left out (not on the roster,
    nothing submitted, not graded yet) are listed on stderr.

    \b
    Example:
        grader export --format csv --out grades.csv
        grader export --format gradescope --out gs/
        grader roster import canvas-gradebook.csv && grader export --format canvas --out canvas.csv
        grader export --format moodle --out moodle.csv
    """
    from grader.report.exports import export_csv, export_gradescope

    course = _open(course_dir, db_url)
    if fmt in ("canvas", "moodle"):
        _export_to_platform(course, fmt, out)
        return
    with _gradebook(course, read_only=True) as gradebook:
        try:
            if fmt == "csv":
                text = export_csv(gradebook.snapshot(_bank()), _bank())
                if out:
                    Path(out).write_text(text, encoding="utf-8")
                    click.echo(f"wrote {out}")
                else:
                    click.echo(text, nl=False)
                return
            written = export_gradescope(gradebook.snapshot(_bank()), _bank(), Path(out or "gradescope-results"))
        except OSError as exc:      # --out names a folder, a file in a missing folder, a file where a folder goes
            raise click.ClickException(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {len(written)} results.json files under {out or 'gradescope-results'}")


def _export_to_platform(course, fmt: str, out: str | None) -> None:
    """``export --format canvas / moodle``: the file to --out (or stdout), who was left out to stderr."""
    from grader.grading.roster import load_roster
    from grader.report.exports import export_canvas, export_moodle

    roster = load_roster(course)
    settings = course.config.export
    bank = _bank()
    with _gradebook(course, read_only=True) as gradebook:
        snapshot = gradebook.snapshot(bank)
    if fmt == "canvas":
        result = export_canvas(snapshot, bank, roster, settings.canvas_assignment)
    else:
        result = export_moodle(snapshot, bank, roster, settings.moodle_key, settings.moodle_item)
    if out:
        try:
            Path(out).write_text(result.text, encoding=result.encoding)
        except OSError as exc:
            raise click.ClickException(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None
    else:
        click.echo(result.text, nl=False)
    for line in result.report_lines():
        click.echo(line, err=True)
    click.echo(f"{'wrote ' + out if out else result.platform}: {len(result.written)} students, column "
               f"{result.column!r}", err=not out)


# --------------------------------------------------------------------------- roster

@cli.group()
def roster() -> None:
    """The class list from Canvas or a CSV file, for the Canvas and Moodle exports."""


@roster.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--match", type=click.Choice(["login", "sis", "id", "email", "name"]), default=None,
              help="The column our student ids (the submission folders' names) are in: Canvas's SIS Login ID "
                   "(login, the default for Canvas), SIS User ID (sis), its user ID or a CSV's id (id, the default "
                   "for a CSV), email or name.")
@course_option
def roster_import(file: str, match: str | None, course_dir: str | None) -> None:
    """Import the class list into <course>/roster.json from FILE.

    FILE is a Canvas gradebook export (Grades > Export) or a CSV whose header
    names some of id, name, email, section, sis_id; the header tells which.
    Prints how many students were imported; rows that could not be (a blank
    or unusable id, a student listed twice) are listed on stderr, one line
    each. Importing again replaces the roster.

    \b
    Example:
        grader roster import "2026-05-01T1200_Grades-RNN.csv"
        grader roster import class.csv --match email --course mycourse
    """
    from grader.core.terminal import printable
    from grader.grading.roster import import_roster

    course = _open(course_dir)
    result = import_roster(course, Path(file), match)
    click.echo(f"imported {len(result.roster.students)} students from {printable(file)} ({result.kind}, ids from "
               f"the {result.roster.match_column} column) into {printable(course.roster_path)}")
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.problems:
        click.echo(f"{len(result.problems)} rows not imported:", err=True)
        for problem in result.problems:
            click.echo(f"  {problem}", err=True)


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
    with _gradebook(course, read_only=True) as gradebook:
        try:
            path = write_report(course, _bank(), Path(out), gradebook.snapshot(_bank()), feedback=with_feedback)
        except OSError as exc:
            raise click.ClickException(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {path}" + (f" and feedback pages in {path.parent / 'feedback'}" if with_feedback else ""))


@cli.command()
@click.option("--student", type=STUDENT, default=None, help="The student whose page to write.")
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
    if all_students and out:
        raise click.ClickException("--out names one student's page; with --all, give --out-dir FOLDER")
    if student and out_dir != "feedback":
        raise click.ClickException("--out-dir is for --all; for one student's page give --out FILE")
    course = _open(course_dir, db_url)
    bank = _bank()
    with _gradebook(course, read_only=True) as gradebook:
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


@cli.command()
@course_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print every finding with its evidence as JSON.")
def similarity(course_dir: str | None, db_url: str | None, as_json: bool) -> None:
    """Find students whose models, q6 code or prose came from one source. Changes no score.

    Compares every student's latest submission with every other's and with the public
    sources: the reference models and <course>/known/<name>/ folders (e.g. the textbook's
    seeded notebook). Templates in <course>/starter/ never count. The findings replace
    the gradebook's previous ones.

    \b
    Example:
        grader similarity
        grader similarity --json > shared-work.json
    """
    import json

    from grader.grading.similarity import find_shared_work, record_findings

    course = _open(course_dir, db_url)
    with _locked(course, "similarity", False), _gradebook(course) as gradebook:
        found = find_shared_work(course, _bank(), gradebook)
        record_findings(gradebook, found)
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2))
        return
    click.echo(f"{found.students} students, {found.method}, {found.seconds:.1f} s; "
               f"{len(found.pairs)} shared pairs, {len(found.public)} from public sources")
    for f in found.pairs:
        click.echo(f"{f.strength:5.2f}  {f.a} ~ {f.b}  {f.artifact} {f.task}: {f.kind}")
    for m in found.public:
        click.echo(f"{m.strength:5.2f}  {m.student} <- public source '{m.source}'  {m.artifact} {m.task}: {m.kind}")
    for group in found.clusters:
        click.echo(f"cluster: {', '.join(group)}")
    for problem in found.problems:
        click.echo(f"not compared: {problem}", err=True)
