"""The instructor report and the student feedback pages: self-contained HTML files.

One read of the gradebook (:func:`load_class`) gives a :class:`ClassData`;
pure functions turn it into template contexts (:func:`report_context`,
:func:`feedback_context`) and Jinja2 templates render them::

    write_report(course, bank, Path("report.html"))      # + feedback/<student>.html beside it
    html = render_feedback(course, bank, "alice")

Pages carry their CSS, script and SVG plots inline: no network, they open from
disk. Templates come from the course folder's ``templates/`` first, then the
shipped ones, so a course overrides any template by name. Autoescaping is on:
student ids, answers, layer names and check messages are untrusted text.
Only the SVG plots are inserted unescaped; they are drawn by
:mod:`grader.report.plots` from numbers and grader-chosen labels.

What a student page shows is decided here, not in templates: hidden checks
give only their score and MAE / MASE beside the baselines' (never the
message, the per-day errors, the sample windows or the test dates),
reference answers only with ``[release] answers = true``, forecast plots
against the actual held-out days only with ``[release] forecast_plots = true``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import __version__
from grader.core.bank import Bank, Question, Task
from grader.core.course import Course

if TYPE_CHECKING:
    import jinja2

    from grader.store.gradebook import Gradebook
    from grader.forecast.series import Series

REPORT_TEMPLATE = "report.html"
FEEDBACK_TEMPLATE = "feedback.html"
FEEDBACK_DIR = "feedback"
MESSAGE_CHARS = 180
HISTORY_DAYS = 28
FEEDBACK_HISTORY_DAYS = 14
ERROR_STUDENTS_SHOWN = 12
TIE_SHARE = 0.005           # MAEs within 0.5 % of a baseline's are "about the same"

_SAFE_ID = re.compile(r"[A-Za-z0-9@_-][A-Za-z0-9._@-]{0,99}")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\d[\d,._]*")


class ReportError(ValueError):
    """A report cannot be written as asked; the message is one line naming the object."""


# --------------------------------------------------------------------------- environment

def template_environment(course: Course) -> jinja2.Environment:
    """Jinja2 environment: the course's ``templates/`` first, then the shipped templates; autoescaped."""
    import jinja2

    from grader.core.resources import templates_dir

    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(course.templates_dir)),
                                  jinja2.FileSystemLoader(str(templates_dir()))])
    env = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    env.filters["points"] = _points
    env.globals["badge_class"] = badge_class
    return env


SCRIPT_TEMPLATE = "partials/script.html"


def render_page(env: jinja2.Environment, template: str, context: Mapping[str, Any]) -> str:
    """Render ``template`` with the page script and its CSP hash added to ``context``.

    The page's Content-Security-Policy lets only this exact script run, so
    markup that ever slipped past escaping still could not execute.
    """
    import jinja2

    try:
        script = env.get_template(SCRIPT_TEMPLATE).render()
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        return env.get_template(template).render(**context, script=script, script_hash=f"sha256-{digest}")
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"template {exc.filename or exc.name or template}, line {exc.lineno}: {exc.message}; "
                          f"fix it or remove it from the course's templates/ folder") from None
    except jinja2.TemplateError as exc:
        raise ReportError(f"cannot render {template}: {exc} (a template in the course's templates/ folder "
                          f"may use a name the grader does not provide)") from None


def _num(value: Any, digits: int = 0) -> str:
    """A number with thousands separators; '–' for a missing one."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{value:,.{digits}f}"


def _pct(value: Any, digits: int = 0) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def badge_class(score: float | None, max_score: float | None) -> str:
    """The CSS class of a score badge: full, part, zero or none (no score)."""
    if score is None or not max_score:
        return "badge-none"
    share = score / max_score
    return "badge-full" if share >= 0.999 else "badge-part" if share > 0 else "badge-zero"


def _points(value: Any) -> str:
    """Points as people write them: 2, 2.5, 1.25."""
    if value is None:
        return "–"
    return f"{round(float(value), 2):g}"


def feedback_filename(student_id: str) -> str:
    """The file name of a student's feedback page: the id itself when it is a safe file name.

    Other ids (``grader submit --student`` accepts any text) become their safe
    characters plus a short digest, so two ids never share a page.
    """
    if _SAFE_ID.fullmatch(student_id) and not student_id.endswith("."):
        return f"{student_id}.html"
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", student_id).strip("_")[:60] or "student"
    return f"{stem}-{hashlib.sha256(student_id.encode('utf-8')).hexdigest()[:10]}.html"


# --------------------------------------------------------------------------- reading the gradebook

@dataclass(frozen=True)
class ClassData:
    """Everything the pages are made from, read from the gradebook once.

    ``summaries`` have the shape of :meth:`Gradebook.class_summary` rows
    (computed by :func:`summarise_results`); ``results`` maps a
    student id to the current result dicts of their latest submission
    (:meth:`Gradebook.current_results`); ``overrides`` maps a student id to
    their active overrides (``Override.to_dict()``); ``runs`` are
    ``Run.to_dict()`` rows, oldest first.
    """

    course: Course
    bank: Bank
    summaries: list[dict[str, Any]]
    results: dict[str, list[dict[str, Any]]]
    overrides: dict[str, list[dict[str, Any]]]
    runs: list[dict[str, Any]]
    manifest: dict[str, Any] = field(default_factory=dict)
    _index: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict, repr=False,
                                                                     compare=False)

    def summary(self, student_id: str) -> dict[str, Any]:
        for row in self.summaries:
            if row["student_id"] == student_id:
                return row
        raise ReportError(f"no student {student_id!r} in the gradebook")

    @property
    def graded(self) -> list[dict[str, Any]]:
        return [row for row in self.summaries if row["graded"]]

    def result(self, student_id: str, task: str, check: str) -> dict[str, Any] | None:
        """The student's current result of one check, or None."""
        index = self._index.get(student_id)
        if index is None:
            rows = self.results.get(student_id, [])
            index = self._index[student_id] = {(r["task"], r["check"]): r for r in rows}
        return index.get((task, check))


def load_class(course: Course, bank: Bank, gradebook: Gradebook) -> ClassData:
    """Read students, the current results of their latest submissions, overrides and runs.

    One query per student for the results and a handful for the rest; the
    per-student summaries are computed from those same rows
    (:func:`summarise_results`), which halves the reading time of a large
    class compared with asking the gradebook for its summaries as well.
    """
    from grader.store.gradebook import task_questions
    from grader.forecast.references import read_manifest

    latest = {}
    for submission in gradebook.submissions():      # oldest first: the last one seen is the latest
        latest[submission.student_id] = submission
    results = {student: gradebook.current_results(submission.id) for student, submission in latest.items()}
    overrides: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in gradebook.overrides():
        overrides[item.student_id].append(item.to_dict())
    mapping = task_questions(bank)
    summaries = [summarise_results(student.id, student.name, latest.get(student.id), results.get(student.id, []),
                                   overrides.get(student.id, []), mapping)
                 for student in gradebook.students()]
    runs = [run.to_dict() for run in gradebook.runs()]
    return ClassData(course, bank, summaries, results, dict(overrides), runs, read_manifest(course))


def summarise_results(student_id: str, name: str | None, submission: Any, rows: list[dict[str, Any]],
                      overrides: list[dict[str, Any]], task_questions: Mapping[str, str]) -> dict[str, Any]:
    """A student's summary in the shape of :meth:`Gradebook.student_summary`, from their current rows.

    The gradebook's own summariser does the arithmetic, so the report and the
    exports always agree.
    """
    from grader.store.gradebook import Override, Student, summarise

    latest = (submission.id, submission.received_at) if submission else None
    items = [Override(**{key: item[key] for key in Override.__dataclass_fields__}) for item in overrides]
    return summarise(Student(student_id, name, None), latest, rows, items, task_questions)


def _for_course(data: ClassData, course: Course) -> ClassData:
    """``data`` rendered for ``course`` (its name and ``[release]`` settings), e.g. after a config change."""
    return data if data.course is course else replace(data, course=course)


def _with_class(course: Course, bank: Bank, gradebook: Gradebook | None, work):
    from grader.store.gradebook import Gradebook

    if gradebook is not None:
        return work(load_class(course, bank, gradebook))
    with Gradebook(course.db_url) as opened:
        return work(load_class(course, bank, opened))


# --------------------------------------------------------------------------- small helpers

def _trim(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def message_shape(message: str) -> str:
    """``message`` with quoted names and numbers blanked, so one mistake worded per student groups together."""
    return _NUMBER.sub("#", _QUOTED.sub("'…'", " ".join((message or "").split())))


def _quartiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "mean": None, "min": None, "q1": None, "median": None, "q3": None, "max": None}
    ordered = sorted(values)
    if len(ordered) == 1:
        q1 = q3 = ordered[0]
    else:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return {"n": len(ordered), "mean": statistics.fmean(ordered), "min": ordered[0], "q1": q1,
            "median": statistics.median(ordered), "q3": q3, "max": ordered[-1]}


def _task_order(bank: Bank) -> dict[str, tuple[int, int]]:
    order = {task.id: (q.number, i) for q in bank.questions for i, task in enumerate(q.tasks, 1)}
    order.update({q.prose_task: (q.number, 99) for q in bank.questions})
    return order


def _check_order(bank: Bank) -> dict[tuple[str, str], int]:
    return {(task.id, name): i for task in bank.tasks for i, (name, _) in enumerate(task.checks)}


def _forecast_tasks(bank: Bank) -> list[Task]:
    return [task for task in bank.tasks
            if task.is_forecaster and any(name == "forecast_accuracy" for name, _ in task.checks)]


def _result(rows: Iterable[dict[str, Any]], task: str, check: str) -> dict[str, Any] | None:
    for row in rows:
        if row["task"] == task and row["check"] == check:
            return row
    return None


def _load_series(course: Course) -> tuple[Series | None, str]:
    """The course series, or None and why not (a report still renders without its plots)."""
    from grader.forecast.series import SeriesError, series_from_config

    try:
        return series_from_config(course.series, course.root), ""
    except (SeriesError, OSError, ValueError) as exc:
        return None, f"the course series cannot be read ({_trim(str(exc), 120)}), so no window plots"


# --------------------------------------------------------------------------- the class report

def class_overview(data: ClassData) -> dict[str, Any]:
    """Counts, total-score statistics and per-question quartiles of the graded students."""
    graded = data.graded
    totals = [row["score"] for row in graded]
    questions = []
    for question in data.bank.questions:
        scores = [row["questions"].get(question.id, {}).get("score", 0.0) for row in graded]
        questions.append({"id": question.id, "title": question.title, "points": question.points,
                          "scores": scores, **_quartiles(scores)})
    return {"students": len(data.summaries), "graded": len(graded),
            "not_graded": len(data.summaries) - len(graded), "max_score": data.bank.points,
            "totals": totals, "total": _quartiles(totals), "questions": questions,
            "pending_review": sum(row["pending_review"] for row in graded),
            "overridden": sum(1 for row in data.summaries if row["overridden"])}


def misconceptions(data: ClassData) -> list[dict[str, Any]]:
    """Every (task, check) some graded student failed, most failed first.

    Each item: ``task``, ``check``, ``question``, ``points``, ``hidden``,
    ``failed`` (students), ``out_of`` (students with that result), ``share``,
    ``message`` (the most common wording, trimmed), ``wordings`` (how many
    distinct wordings after blanking names and numbers).
    """
    from grader.store.gradebook import question_of, task_questions

    mapping = task_questions(data.bank)
    order = _task_order(data.bank)
    check_order = _check_order(data.bank)
    seen: Counter[tuple[str, str]] = Counter()
    failed: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for student in data.graded:
        for row in data.results.get(student["student_id"], []):
            key = (row["task"], row["check"])
            seen[key] += 1
            if row["status"] == "failed":
                failed[key].append(row)
    items = []
    for key, rows in failed.items():
        shapes = Counter(message_shape(row["output"]) for row in rows)
        common, _ = shapes.most_common(1)[0]
        example = next(row["output"] for row in rows if message_shape(row["output"]) == common)
        items.append({"task": key[0], "check": key[1], "question": question_of(key[0], mapping),
                      "points": rows[0]["max_score"], "hidden": rows[0]["visibility"] == "hidden",
                      "failed": len(rows), "out_of": seen[key], "share": len(rows) / max(seen[key], 1),
                      "message": _trim(example), "wordings": len(shapes),
                      "order": (-len(rows), order.get(key[0], (99, 99)), check_order.get(key, 99))})
    items.sort(key=lambda item: item["order"])
    return items


def prose_misconceptions(data: ClassData) -> list[dict[str, Any]]:
    """Per question with prose points: how many graded answers missed each key point or made each contradiction."""
    out = []
    for question in data.bank.questions:
        if question.prose_points <= 0:
            continue
        missed: Counter[str] = Counter()
        unsure: Counter[str] = Counter()
        present: Counter[str] = Counter()
        answered = 0
        for student in data.graded:
            row = data.result(student["student_id"], question.prose_task, "rubric")
            if row is None or not row["details"].get("points"):
                continue
            answered += 1
            for point in row["details"]["points"]:
                if point.get("status") == "missed":
                    missed[point.get("id", "")] += 1
                elif point.get("status") == "uncertain":
                    unsure[point.get("id", "")] += 1
            for item in row["details"].get("contradictions", []):
                if item.get("status") in ("present", "uncertain"):
                    present[item.get("id", "")] += 1
        points = sorted(({"id": p.id, "text": p.text, "weight": p.weight, "missed": missed[p.id],
                          "uncertain": unsure[p.id]} for p in question.key_points),
                        key=lambda p: (-p["missed"], -p["uncertain"]))
        contradictions = sorted(({"id": c.id, "text": c.text, "count": present[c.id]}
                                 for c in question.contradictions if present[c.id]),
                                key=lambda c: -c["count"])
        out.append({"question": question.id, "title": question.title, "answered": answered,
                    "points": points, "flagged": [p for p in points if p["missed"] or p["uncertain"]],
                    "contradictions": contradictions})
    return out


def _baselines(data: ClassData, task: Task, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    entry = data.manifest.get("tasks", {}).get(task.id, {})
    found: dict[str, dict[str, Any]] = {"naive": {}, "seasonal_naive": {}, "reference": {}}
    for row in rows:
        for name, values in (row["details"].get("baselines") or {}).items():
            if name in found and not found[name] and values and values.get("mae") is not None:
                found[name] = dict(values)
    if entry.get("mae") is not None:
        found["reference"] = {"mae": entry.get("mae"), "mase": entry.get("mase"), "rmse": entry.get("rmse")}
    if not found["naive"] and entry.get("naive_mae") is not None:
        found["naive"] = {"mae": entry["naive_mae"]}
    if not found["seasonal_naive"] and entry.get("seasonal_naive_mae") is not None:
        found["seasonal_naive"] = {"mae": entry["seasonal_naive_mae"]}
    return found


BASELINE_LABELS = {"naive": "naive (last value)", "seasonal_naive": "seasonal naive (same weekday last week)",
                   "reference": "reference model"}


def leaderboards(data: ClassData) -> list[dict[str, Any]]:
    """Per forecasting task: students ranked by held-out MAE beside the baselines.

    Each board: ``task``, ``question``, ``rows`` (students with metrics and
    baseline rows, by MAE; baseline rows have ``baseline`` set), ``unscored``
    (students whose forecast could not be scored, with the message),
    ``baselines``, ``median`` (class median MAE), ``median_per_horizon``,
    ``beat_seasonal`` (students below the seasonal-naive MAE).
    """
    boards = []
    for task in _forecast_tasks(data.bank):
        reference = data.manifest.get("tasks", {}).get(task.id, {})
        scored, unscored = [], []
        for student in data.graded:
            sid = student["student_id"]
            row = data.result(sid, task.id, "forecast_accuracy")
            if row is None:
                continue
            details = row["details"]
            if isinstance(details.get("mae"), (int, float)):
                scored.append({"student_id": sid, "feedback": feedback_filename(sid), "baseline": None,
                               "mae": float(details["mae"]), "mase": details.get("mase"),
                               "rmse": details.get("rmse"), "score": row["score"], "max_score": row["max_score"],
                               "overridden": row["overridden"], "details": details})
            else:
                unscored.append({"student_id": sid, "feedback": feedback_filename(sid), "status": row["status"],
                                 "message": _trim(row["output"], 140)})
        baselines = _baselines(data, task, [s for s in scored])
        rows = sorted(scored, key=lambda r: r["mae"])
        for rank, item in enumerate(rows, 1):
            item["rank"] = rank
        for name, values in baselines.items():
            if values.get("mae") is not None:
                rows.append({"student_id": None, "baseline": BASELINE_LABELS[name], "key": name,
                             "mae": float(values["mae"]), "mase": values.get("mase"), "rmse": values.get("rmse")})
        rows.sort(key=lambda r: (r["mae"], r["baseline"] is None))
        maes = [r["mae"] for r in scored]
        horizons = [r["details"]["mae_per_horizon"] for r in scored
                    if isinstance(r["details"].get("mae_per_horizon"), list)
                    and len(r["details"]["mae_per_horizon"]) == 7]
        median_h = [statistics.median(h[i] for h in horizons) for i in range(7)] if horizons else None
        seasonal = baselines["seasonal_naive"].get("mae")
        boards.append({"task": task.id, "question": task.question, "rows": rows, "scored": scored,
                       "unscored": unscored, "baselines": baselines,
                       "median": statistics.median(maes) if maes else None, "median_per_horizon": median_h,
                       "beat_seasonal": sum(1 for m in maes if seasonal is not None and m < seasonal),
                       "reference_per_horizon": reference.get("mae_per_horizon")})
    return boards


def _window_values(series: Series, origin: str, before: int) -> dict[str, Any] | None:
    """Actual values around a window origin: ``before`` input days up to it and the 7 days after."""
    import numpy as np

    from grader.forecast.metrics import HORIZON, naive_forecast, seasonal_naive_forecast
    from grader.forecast.series import SeriesError

    try:
        index = series.index_of(origin)
    except SeriesError:
        return None
    if index + HORIZON >= len(series) or index - before + 1 < 0 or index < HORIZON:
        return None
    values = series.values
    origins = np.array([index])
    return {"history": [float(v) for v in values[index - before + 1:index + 1]],
            "actual": [float(v) for v in values[index + 1:index + 1 + HORIZON]],
            "naive": [float(v) for v in naive_forecast(values, origins)[0]],
            "seasonal naive": [float(v) for v in seasonal_naive_forecast(values, origins)[0]]}


def _pick_sample(best: dict[str, Any], median: dict[str, Any]) -> tuple[dict, dict] | None:
    """The sample window both students have, preferring one from the middle of the held-out period."""
    best_samples = {s.get("index"): s for s in best["details"].get("samples") or []}
    median_samples = {s.get("index"): s for s in median["details"].get("samples") or []}
    common = sorted(set(best_samples) & set(median_samples), key=lambda i: (i is None, i))
    if not common:
        return None
    chosen = common[len(common) // 2 - (1 if len(common) % 2 == 0 else 0)] if len(common) > 1 else common[0]
    return best_samples[chosen], median_samples[chosen]


def forecast_plots(data: ClassData, boards: list[dict[str, Any]], series: Series | None) -> dict[str, Any]:
    """SVGs: MAE per forecast day (reference, class median, seasonal naive) and one held-out window per task."""
    from grader.report import plots

    seasonal_h = None
    notes = []
    if series is not None:
        from grader.forecast.metrics import DEFAULT_WINDOW, ForecastError, baseline_table
        from grader.forecast.series import SeriesError

        try:
            window = int(data.course.series.get("window", DEFAULT_WINDOW))
            table = baseline_table(series, data.course.series, window)
            seasonal_h = list(table[1].mae_per_horizon)
        except (ForecastError, SeriesError) as exc:
            notes.append(f"no seasonal-naive per-day errors: {_trim(str(exc), 120)}")
    panels = [{"title": board["task"], "lines": {"reference": board["reference_per_horizon"],
                                                 "class median": board["median_per_horizon"],
                                                 "seasonal naive": seasonal_h}}
              for board in boards if board["median_per_horizon"] or board["reference_per_horizon"]]
    horizon_svg = plots.horizon_mae(panels, name="horizon-mae") if panels else None
    windows = []
    for board in boards:
        with_samples = sorted((r for r in board["scored"] if r["details"].get("samples")), key=lambda r: r["mae"])
        if not with_samples or series is None:
            continue
        best, median = with_samples[0], with_samples[(len(with_samples) - 1) // 2]
        picked = _pick_sample(best, median)
        if picked is None:
            continue
        values = _window_values(series, str(picked[0].get("origin")), HISTORY_DAYS)
        if values is None:
            notes.append(f"{board['task']}: the sample window at {picked[0].get('origin')} is not in the series")
            continue
        forecasts = {"naive": values["naive"], "seasonal naive": values["seasonal naive"],
                     "best student": picked[0]["forecast"], "median student": picked[1]["forecast"]}
        title = (f"{board['task']}: window from {picked[0].get('origin')} "
                 f"(best MAE {best['mae']:,.0f}, median student MAE {median['mae']:,.0f})")
        svg = plots.forecast_window(range(-HISTORY_DAYS + 1, 1), values["history"], range(1, 8), values["actual"],
                                    forecasts, title=title, name=f"window-{board['task']}")
        windows.append({"task": board["task"], "origin": picked[0].get("origin"), "svg": svg})
    return {"horizon_svg": horizon_svg, "windows": windows, "notes": notes}


def student_rows(data: ClassData) -> list[dict[str, Any]]:
    """One row per student for the class table: per-question scores, total, flags, feedback link."""
    rows = []
    for summary in data.summaries:
        sid = summary["student_id"]
        results = data.results.get(sid, [])
        rows.append({
            "student_id": sid, "name": summary.get("name"), "graded": summary["graded"],
            "feedback": feedback_filename(sid) if summary["graded"] else None,
            "questions": [summary["questions"].get(q.id, {}).get("score") if summary["graded"] else None
                          for q in data.bank.questions],
            "score": summary["score"] if summary["graded"] else None,
            "pending_review": summary["pending_review"],
            "overridden": summary["overridden"] or bool(data.overrides.get(sid)),
            "errors": sum(1 for r in results if r["status"] == "error"),
            "received_at": summary.get("received_at"),
        })
    return rows


def run_info(data: ClassData) -> dict[str, Any]:
    """The grading runs, and the current ``error`` results grouped by task, check and wording."""
    runs = []
    for run in data.runs:
        started = _parse_time(run.get("started_at"))
        finished = _parse_time(run.get("finished_at"))
        runs.append({**run, "seconds": (finished - started).total_seconds() if started and finished else None,
                     "questions_text": ", ".join(f"{k} v{v}" for k, v in sorted(run["question_versions"].items())),
                     "references_text": ", ".join(f"{k} {v}"
                                                  for k, v in sorted(run["reference_versions"].items()))})
    groups: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    for student in data.graded:
        for row in data.results.get(student["student_id"], []):
            if row["status"] == "error":
                groups[(row["task"], row["check"], message_shape(row["output"]))].append(
                    (student["student_id"], row["output"]))
    errors = []
    for (task, check, shape), items in groups.items():
        example = items[0][1]
        errors.append({"task": task, "check": check, "count": len(items), "message": _trim(example),
                       "timeout": "timed out" in shape.lower() or "time limit" in shape.lower(),
                       "students": [{"student_id": s, "feedback": feedback_filename(s)}
                                    for s, _ in items[:ERROR_STUDENTS_SHOWN]],
                       "more": max(len(items) - ERROR_STUDENTS_SHOWN, 0)})
    errors.sort(key=lambda e: (not e["timeout"], -e["count"], e["task"], e["check"]))
    return {"runs": runs, "errors": errors, "timeouts": sum(e["count"] for e in errors if e["timeout"]),
            "error_results": sum(e["count"] for e in errors)}


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def report_context(data: ClassData, *, series: Series | None = None, series_note: str = "") -> dict[str, Any]:
    """Everything ``report.html`` renders, plots included."""
    from grader.report import plots

    overview = class_overview(data)
    boards = leaderboards(data)
    max_points = {q["id"]: q["points"] for q in overview["questions"]}
    histogram = plots.score_histogram(overview["totals"], overview["max_score"]) if overview["totals"] else None
    boxes = (plots.question_boxplot({q["id"]: q["scores"] for q in overview["questions"]}, max_points)
             if overview["graded"] else None)
    figures = forecast_plots(data, boards, series)
    if series_note:
        figures["notes"].insert(0, series_note)
    return {
        "course": {"name": data.course.name, "root": str(data.course.root)},
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "grader_version": __version__,
        "questions": [{"id": q.id, "title": q.title, "points": q.points} for q in data.bank.questions],
        "overview": overview, "histogram_svg": histogram, "questions_svg": boxes,
        "misconceptions": misconceptions(data), "prose_misconceptions": prose_misconceptions(data),
        "leaderboards": boards, "forecast_figures": figures,
        "students": student_rows(data), "runs": run_info(data), "feedback_dir": FEEDBACK_DIR,
    }


def render_report(course: Course, bank: Bank, gradebook: Gradebook | None = None, *,
                  data: ClassData | None = None) -> str:
    """The instructor report as one HTML string (reads the gradebook unless ``data`` is given)."""
    if data is None:
        return _with_class(course, bank, gradebook, lambda loaded: render_report(course, bank, data=loaded))
    data = _for_course(data, course)
    series, note = _load_series(course)
    context = report_context(data, series=series, series_note=note)
    return render_page(template_environment(course), REPORT_TEMPLATE, context)


def write_report(course: Course, bank: Bank, out: Path, gradebook: Gradebook | None = None, *,
                 feedback: bool = True) -> Path:
    """Write the report to ``out`` and (unless ``feedback`` is False) every graded student's page to
    ``out.parent / "feedback"``, so the report's links work; returns ``out``."""
    out = Path(out)

    def work(data: ClassData) -> Path:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_report(course, bank, data=data), encoding="utf-8")
        if feedback:
            write_feedback_pages(course, bank, out.parent / FEEDBACK_DIR, data=data)
        return out
    return _with_class(course, bank, gradebook, work)


# --------------------------------------------------------------------------- student feedback

def _forecast_metrics(details: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a student may see of a forecast evaluation: MAE and MASE beside the baselines'."""
    if not isinstance(details.get("mae"), (int, float)):
        return None
    mae = float(details["mae"])
    comparisons = []
    for key, label in (("naive", "naive forecast (repeat the last day)"),
                       ("seasonal_naive", "seasonal naive forecast (same weekday last week)"),
                       ("reference", "reference model")):
        base = (details.get("baselines") or {}).get(key) or {}
        if base.get("mae") is None:
            continue
        ratio = mae / float(base["mae"]) if base["mae"] else None
        verdict = ("unknown" if ratio is None else "better" if ratio < 1 - TIE_SHARE
                   else "worse" if ratio > 1 + TIE_SHARE else "same")
        comparisons.append({"key": key, "label": label, "mae": float(base["mae"]), "mase": base.get("mase"),
                            "ratio": ratio, "verdict": verdict})
    return {"mae": mae, "mase": details.get("mase"), "windows": details.get("windows"),
            "baselines": comparisons}


def _prose_view(question: Question, row: dict[str, Any] | None, answers_released: bool) -> dict[str, Any] | None:
    """The rubric outcome a student sees; before ``[release] answers`` only the points' short names.

    A key point's full wording is the model answer in all but name, so it is shown only
    once the answers are released.
    """
    if row is None:
        return None
    details = row["details"]
    texts = {p.id: p.text if answers_released else p.label for p in question.key_points}
    contradiction_texts = {c.id: c.text if answers_released else c.label for c in question.contradictions}
    points = [{"id": p.get("id"), "text": texts.get(p.get("id"), p.get("id")), "status": p.get("status"),
               "evidence": p.get("evidence") or "", "note": p.get("note") or ""}
              for p in details.get("points", [])]
    contradictions = [{"id": c.get("id"), "text": contradiction_texts.get(c.get("id"), c.get("id")),
                       "status": c.get("status"), "evidence": c.get("evidence") or ""}
                      for c in details.get("contradictions", []) if c.get("status") in ("present", "uncertain")]
    return {"row": row, "points": points, "met": [p for p in points if p["status"] == "met"],
            "uncertain": [p for p in points if p["status"] == "uncertain"],
            "missed": [p for p in points if p["status"] == "missed"], "contradictions": contradictions,
            "pending_review": row["pending_review"], "message": row["output"] if row["status"] == "error" else ""}


def _check_view(row: dict[str, Any], overrides: Mapping[int, dict[str, Any]]) -> dict[str, Any]:
    hidden = row["visibility"] == "hidden"
    override = overrides.get(row["override_id"]) if row["overridden"] else None
    return {"check": row["check"], "status": row["status"], "score": row["score"], "auto_score": row["auto_score"],
            "max_score": row["max_score"], "hidden": hidden, "message": "" if hidden else row["output"],
            "metrics": _forecast_metrics(row["details"]) if hidden else None,
            "override": override if override and override.get("check") is not None else None}


def _sample_plot(task: str, details: Mapping[str, Any], series: Series | None,
                 cache: dict[tuple, Any] | None = None) -> str | None:
    """The student's forecasts of the sample windows against the actual days (held-out values!)."""
    from grader.report import plots

    if series is None:
        return None
    windows, forecasts = [], []
    for sample in details.get("samples") or []:
        values = _window_values(series, str(sample.get("origin")), FEEDBACK_HISTORY_DAYS)
        forecast = sample.get("forecast") or []
        if values is None or len(forecast) != len(values["actual"]):
            continue
        windows.append({"label": str(sample.get("origin")), "history": values["history"],
                        "actual": values["actual"]})
        forecasts.append([float(v) for v in forecast])
    if not windows:
        return None
    key = (task, tuple(w["label"] for w in windows))
    figure = cache.get(key) if cache is not None else None
    if figure is None:
        figure = plots.SampleWindows(windows, title=f"{task}: your forecasts of sample held-out weeks",
                                     name=f"samples-{task}")
        if cache is not None:
            cache[key] = figure
    return figure.render(forecasts)


def feedback_context(data: ClassData, student_id: str, *, series: Series | None = None,
                     plot_cache: dict[tuple, Any] | None = None) -> dict[str, Any]:
    """Everything ``feedback.html`` renders for one student (only what students may see).

    ``series`` is needed for forecast plots (``[release] forecast_plots``);
    ``plot_cache`` lets many pages share their figures.
    """
    bank, release = data.bank, data.course.release
    summary = data.summary(student_id)
    rows = data.results.get(student_id, [])
    overrides = {o["id"]: o for o in data.overrides.get(student_id, [])}
    task_overrides = {o["task"]: o for o in data.overrides.get(student_id, []) if o["check"] is None}
    check_order = _check_order(bank)
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_task[row["task"]].append(row)
    known = {t.id for t in bank.tasks} | {q.prose_task for q in bank.questions}
    show_plots = bool(release.get("forecast_plots"))
    questions = []
    for question in bank.questions:
        qsum = summary["questions"].get(question.id, {"score": 0.0, "max_score": question.points, "tasks": {}})
        tasks = []
        for task in question.tasks:
            task_rows = sorted(by_task.get(task.id, []), key=lambda r: check_order.get((task.id, r["check"]), 99))
            tsum = qsum["tasks"].get(task.id, {})
            forecast_row = _result(task_rows, task.id, "forecast_accuracy")
            plot = (_sample_plot(task.id, forecast_row["details"], series, plot_cache)
                    if show_plots and forecast_row is not None else None)
            tasks.append({"id": task.id, "file": task.file, "points": task.points,
                          "score": tsum.get("score", 0.0), "graded": bool(task_rows) or task.id in task_overrides,
                          "override": task_overrides.get(task.id),
                          "checks": [_check_view(r, overrides) for r in task_rows], "plot": plot})
        prose_row = _result(by_task.get(question.prose_task, []), question.prose_task, "rubric")
        prose = _prose_view(question, prose_row, bool(release.get("answers")))
        if prose is not None:
            prose["override"] = (task_overrides.get(question.prose_task)
                                 or (overrides.get(prose_row["override_id"]) if prose_row["overridden"] else None))
        questions.append({"id": question.id, "title": question.title, "prompt": question.prompt,
                          "points": question.points, "prose_points": question.prose_points,
                          "score": qsum.get("score", 0.0), "tasks": tasks, "prose": prose,
                          "answer": question.answer if release.get("answers") else None})
    other = [_check_view(r, overrides) | {"task": r["task"]} for r in rows if r["task"] not in known]
    return {
        "course": {"name": data.course.name},
        "student": {"id": student_id, "name": summary.get("name"), "received_at": summary.get("received_at"),
                    "score": summary["score"], "max_score": bank.points, "graded": summary["graded"],
                    "pending_review": summary["pending_review"]},
        "questions": questions, "other": other,
        "release": {"answers": bool(release.get("answers")), "forecast_plots": show_plots},
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "grader_version": __version__,
    }


def render_feedback(course: Course, bank: Bank, student_id: str, gradebook: Gradebook | None = None, *,
                    data: ClassData | None = None, series: Series | None = None) -> str:
    """One student's feedback page as an HTML string; :class:`ReportError` for an unknown student."""
    if data is None:
        return _with_class(course, bank, gradebook,
                           lambda loaded: render_feedback(course, bank, student_id, data=loaded, series=series))
    data = _for_course(data, course)
    if series is None and course.release.get("forecast_plots"):
        series, _ = _load_series(course)
    context = feedback_context(data, student_id, series=series)
    return render_page(template_environment(course), FEEDBACK_TEMPLATE, context)


def write_feedback_pages(course: Course, bank: Bank, out_dir: Path, gradebook: Gradebook | None = None, *,
                         data: ClassData | None = None, students: Iterable[str] | None = None) -> list[Path]:
    """Write ``out_dir/<feedback_filename(id)>`` for each student (default: every graded one)."""
    if data is None:
        return _with_class(course, bank, gradebook, lambda loaded: write_feedback_pages(
            course, bank, out_dir, data=loaded, students=students))
    data = _for_course(data, course)
    wanted = list(students) if students is not None else [row["student_id"] for row in data.graded]
    for student in wanted:
        data.summary(student)  # unknown ids fail before anything is written
    series = _load_series(course)[0] if course.release.get("forecast_plots") else None
    env = template_environment(course)
    cache: dict[tuple, Any] = {}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for student in wanted:
        target = out_dir / feedback_filename(student)
        context = feedback_context(data, student, series=series, plot_cache=cache)
        target.write_text(render_page(env, FEEDBACK_TEMPLATE, context), encoding="utf-8")
        written.append(target)
    return written
