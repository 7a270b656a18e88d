"""The instructor report: class statistics, misconceptions, forecasting leaderboards, students, runs.

Pure functions turn a :class:`~grader.report.data.ClassData` into the context
of ``report.html`` (:func:`report_context`); :func:`write_report` writes it,
self-contained (CSS, script and SVG plots inline: it opens from disk), with
every graded student's feedback page beside it::

    with Gradebook(course.db_url) as gradebook:
        snapshot = gradebook.snapshot(bank)
    write_report(course, bank, Path("report.html"), snapshot)   # + feedback/<student>.html
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import __version__
from grader.forecast.baselines import task_baselines
from grader.core.bank import Bank, Task
from grader.core.course import Course
from grader.core.records import ClassSnapshot, question_of, task_questions
from grader.report.data import ClassData, check_positions, class_data, load_series, window_values
from grader.report.feedback import write_feedback_pages
from grader.report.render import feedback_filename, message_shape, render_page, template_environment, trim
from grader.report.shared_work import shared_work
from grader.core.isolation import FULL, describe_isolation

if TYPE_CHECKING:
    from grader.forecast.series import Series

REPORT_TEMPLATE = "report.html"
FEEDBACK_DIR = "feedback"
HISTORY_DAYS = 28
ERROR_STUDENTS_SHOWN = 12


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


def _forecast_tasks(bank: Bank) -> list[Task]:
    return [task for task in bank.tasks
            if task.is_forecaster and any(name == "forecast_accuracy" for name, _ in task.checks)]


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
    mapping = task_questions(data.bank)
    order = data.bank.task_order()
    check_order = check_positions(data.bank)
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
                      "message": trim(example), "wordings": len(shapes),
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
    """The task's baselines as the graded rows measured them (same builder, same windows), the manifest's
    where no row has one; the reference always as built."""
    from_manifest = task_baselines(data.manifest, task.id)
    found: dict[str, dict[str, Any]] = {name: {} for name in from_manifest}
    for row in rows:
        for name, values in (row["details"].get("baselines") or {}).items():
            if name in found and not found[name] and values and values.get("mae") is not None:
                found[name] = dict(values)
    for name, values in from_manifest.items():
        if values and (name == "reference" or not found[name]):
            found[name] = values
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
                                 "message": trim(row["output"], 140)})
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
        from grader.forecast.metrics import ForecastError, baseline_table
        from grader.forecast.series import SeriesError

        try:
            window = data.course.series.window
            table = baseline_table(series, data.course.series, window)
            seasonal_h = list(table[1].mae_per_horizon)
        except (ForecastError, SeriesError) as exc:
            notes.append(f"no seasonal-naive per-day errors: {trim(str(exc), 120)}")
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
        values = window_values(series, str(picked[0].get("origin")), HISTORY_DAYS)
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
                                                  for k, v in sorted(run["reference_versions"].items())),
                     "isolation_text": describe_isolation(run.get("isolation")),
                     "weak": (run.get("isolation") or {}).get("level") not in (None, FULL)})
    groups: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    for student in data.graded:
        for row in data.results.get(student["student_id"], []):
            if row["status"] == "error":
                groups[(row["task"], row["check"], message_shape(row["output"]))].append(
                    (student["student_id"], row["output"]))
    errors = []
    for (task, check, shape), items in groups.items():
        example = items[0][1]
        errors.append({"task": task, "check": check, "count": len(items), "message": trim(example),
                       "timeout": "timed out" in shape.lower() or "time limit" in shape.lower(),
                       "students": [{"student_id": s, "feedback": feedback_filename(s)}
                                    for s, _ in items[:ERROR_STUDENTS_SHOWN]],
                       "more": max(len(items) - ERROR_STUDENTS_SHOWN, 0)})
    errors.sort(key=lambda e: (not e["timeout"], -e["count"], e["task"], e["check"]))
    return {"runs": runs, "errors": errors, "weak_runs": sum(1 for run in runs if run["weak"]), "timeouts": sum(e["count"] for e in errors if e["timeout"]),
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
        "shared_work": shared_work(data.snapshot.similarity),
    }


def render_report(course: Course, bank: Bank, data: ClassData | ClassSnapshot) -> str:
    """The instructor report for ``course`` as one HTML string."""
    data = class_data(course, bank, data)
    series, note = load_series(course)
    context = report_context(data, series=series, series_note=note)
    return render_page(template_environment(course), REPORT_TEMPLATE, context)


def write_report(course: Course, bank: Bank, out: Path, data: ClassData | ClassSnapshot, *,
                 feedback: bool = True) -> Path:
    """Write the report to ``out`` and (unless ``feedback`` is False) every graded student's page to
    ``out.parent / "feedback"``, so the report's links work; returns ``out``."""
    out = Path(out)
    data = class_data(course, bank, data)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(course, bank, data), encoding="utf-8")
    if feedback:
        write_feedback_pages(course, bank, out.parent / FEEDBACK_DIR, data)
    return out
