"""Student feedback pages: one self-contained HTML page per student, showing only what students may see.

What a student page shows is decided here, not in templates: hidden checks
give only their score and MAE / MASE beside the baselines' (never the
message, the per-day errors, the sample windows or the test dates),
reference answers only with ``[release] answers = true``, forecast plots
against the actual held-out days only with ``[release] forecast_plots = true``.
A page opens with :func:`what_to_fix` (every lost point, biggest first) and
folds the checks passed with full marks away::

    html = render_feedback(course, bank, "alice", gradebook.snapshot(bank))
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import __version__
from grader.core.bank import Bank, Question
from grader.core.course import Course
from grader.core.records import ClassSnapshot
from grader.report.data import ClassData, check_positions, class_data, load_series, window_values
from grader.report.render import feedback_filename, render_page, template_environment

if TYPE_CHECKING:
    from grader.forecast.series import Series

FEEDBACK_TEMPLATE = "feedback.html"
FEEDBACK_HISTORY_DAYS = 14
TIE_SHARE = 0.005           # MAEs within 0.5 % of a baseline's are "about the same"
LOST_EPSILON = 1e-6         # stored scores are rounded to 4 places
UNSCORED_FORECAST = ("Your forecasts could not be scored on the held-out data; "
                     "the other checks of this task point to the problem.")
VERDICTS = {"better": "better than", "same": "about as good as", "worse": "worse than"}
SHORT_BASELINES = {"naive": "the naive forecast", "seasonal_naive": "the seasonal naive forecast",
                   "reference": "the reference model"}


def _lost(score: float | None, max_score: float | None) -> float:
    """Points short of full marks (never negative)."""
    return max(round(float(max_score or 0.0) - float(score or 0.0), 4), 0.0)


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
    return {"row": row, "points": points, "lost": _lost(row["score"], row["max_score"]),
            "met": [p for p in points if p["status"] == "met"],
            "uncertain": [p for p in points if p["status"] == "uncertain"],
            "missed": [p for p in points if p["status"] == "missed"], "contradictions": contradictions,
            "pending_review": row["pending_review"], "message": row["output"] if row["status"] == "error" else "",
            "encoding_note": details.get("encoding_note") or ""}


def _check_view(row: dict[str, Any], overrides: Mapping[int, dict[str, Any]]) -> dict[str, Any]:
    """A check as a student sees it; ``folded`` when it passed with full marks (nothing to read there)."""
    hidden = row["visibility"] == "hidden"
    override = overrides.get(row["override_id"]) if row["overridden"] else None
    lost = _lost(row["score"], row["max_score"])
    return {"check": row["check"], "status": row["status"], "score": row["score"], "auto_score": row["auto_score"],
            "max_score": row["max_score"], "hidden": hidden, "message": "" if hidden else row["output"],
            "metrics": _forecast_metrics(row["details"]) if hidden else None,
            "override": override if override and override.get("check") is not None else None,
            "lost": lost, "folded": row["status"] == "passed" and lost <= LOST_EPSILON}


def _split_checks(checks: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {"open_checks": [c for c in checks if not c["folded"]],
            "passed_checks": [c for c in checks if c["folded"]]}


def _check_fix_message(check: Mapping[str, Any]) -> str:
    """What a lost check says on the "what to fix" list; a hidden check only by its visible metrics."""
    if not check["hidden"]:
        return check["message"]
    metrics = check["metrics"]
    if not metrics:
        return UNSCORED_FORECAST
    comparisons = [f"{VERDICTS.get(b['verdict'], 'compared with')} {SHORT_BASELINES.get(b['key'], b['label'])} "
                   f"({b['mae']:,.0f})" for b in metrics["baselines"]]
    return f"Held-out MAE {metrics['mae']:,.0f}" + (": " + "; ".join(comparisons) if comparisons else "") + "."


def what_to_fix(questions: list[dict[str, Any]], other: list[dict[str, Any]],
                task_overrides: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every place a student lost points, or a check did not pass, biggest loss first (then page order).

    Built from the views :func:`feedback_context` shows, so it says no more than the page
    does: hidden checks by their metrics only, prose by the key points' short names until
    the answers are released. Each item: ``kind`` ("check", "task": the task as a whole,
    "prose": a written answer), ``label`` (task id, or "Q3 written answer"),
    ``anchor`` (the element id it is explained at), ``check``, ``lost``, ``max_score``,
    ``status``, ``message``, ``points`` (missed / partly met key points and contradictions,
    as ``{"status", "text"}``), ``notes`` (for a task an instructor scored as a whole, what its
    checks had found, as ``{"check", "message"}``), ``override`` (the instructor's score and
    comment, or None), ``provisional`` (a person will still read it).
    """
    items: list[dict[str, Any]] = []

    def add(label: str, anchor: str, check: str | None, lost: float, max_score: float, status: str,
            message: str = "", points: list[dict[str, str]] | None = None,
            override: Mapping[str, Any] | None = None, provisional: bool = False,
            notes: list[dict[str, str]] | None = None, kind: str = "check") -> None:
        items.append({"kind": kind, "label": label, "anchor": anchor, "check": check, "lost": lost,
                      "max_score": max_score,
                      "status": status, "message": message, "points": points or [], "notes": notes or [],
                      "override": override, "provisional": provisional, "position": len(items)})

    for question in questions:
        for task in question["tasks"]:
            anchor = f"task-{task['id']}"
            if task["override"] is not None:
                # An instructor's task score is spread over its checks, so one item for the task,
                # listing what the automatic checks had found.
                lost = _lost(task["score"], task["points"])
                notes = [{"check": c["check"], "message": _check_fix_message(c)} for c in task["checks"]
                         if _lost(c["auto_score"], c["max_score"]) > LOST_EPSILON]
                if lost > LOST_EPSILON:
                    add(task["id"], anchor, None, lost, task["points"], "failed", override=task["override"],
                        notes=notes, kind="task")
            elif not task["checks"]:
                add(task["id"], anchor, None, task["points"], task["points"], "error",
                    f"No result for this task: is {task['file']} in your submission?", kind="task")
            else:
                for check in task["open_checks"]:
                    add(task["id"], anchor, check["check"], check["lost"], check["max_score"], check["status"],
                        _check_fix_message(check), override=check["override"])
        prose, label = question["prose"], f"{question['id']} written answer"
        if prose is None:
            override = task_overrides.get(question["prose_task"])
            lost = _lost(override["manual_score"] if override else 0.0, question["prose_points"])
            if question["prose_points"] > 0 and lost > LOST_EPSILON:
                add(label, question["id"], None, lost, question["prose_points"], "failed" if override else "error",
                    "" if override else "No written answer was graded for this question.", override=override,
                    kind="prose")
            continue
        points = ([{"status": "missed", "text": p["text"]} for p in prose["missed"]]
                  + [{"status": "uncertain", "text": p["text"]} for p in prose["uncertain"]]
                  + [{"status": "contradiction", "text": c["text"]} for c in prose["contradictions"]])
        if prose["lost"] > LOST_EPSILON or points or prose["row"]["status"] != "passed":
            add(label, f"prose-{question['id']}", None, prose["lost"], prose["row"]["max_score"],
                prose["row"]["status"], prose["message"], points, prose["override"],
                bool(prose["pending_review"]) and not prose["override"], kind="prose")
    for check in other:
        if not check["folded"]:
            add(check["task"], "other", check["check"], check["lost"], check["max_score"], check["status"],
                _check_fix_message(check), override=check["override"])
    items.sort(key=lambda item: (-item["lost"], item["position"]))
    return items


def _result(rows: Iterable[dict[str, Any]], task: str, check: str) -> dict[str, Any] | None:
    for row in rows:
        if row["task"] == task and row["check"] == check:
            return row
    return None


def _sample_plot(task: str, details: Mapping[str, Any], series: Series | None,
                 cache: dict[tuple, Any] | None = None) -> str | None:
    """The student's forecasts of the sample windows against the actual days (held-out values!)."""
    from grader.report import plots

    if series is None:
        return None
    windows, forecasts = [], []
    for sample in details.get("samples") or []:
        values = window_values(series, str(sample.get("origin")), FEEDBACK_HISTORY_DAYS)
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
    check_order = check_positions(bank)
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_task[row["task"]].append(row)
    known = {t.id for t in bank.tasks} | {q.prose_task for q in bank.questions}
    show_plots = release.forecast_plots
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
            checks = [_check_view(r, overrides) for r in task_rows]
            tasks.append({"id": task.id, "file": task.file, "points": task.points,
                          "score": tsum.get("score", 0.0), "graded": bool(task_rows) or task.id in task_overrides,
                          "override": task_overrides.get(task.id), "checks": checks, **_split_checks(checks),
                          "plot": plot})
        prose_row = _result(by_task.get(question.prose_task, []), question.prose_task, "rubric")
        prose = _prose_view(question, prose_row, release.answers)
        if prose is not None:
            prose["override"] = (task_overrides.get(question.prose_task)
                                 or (overrides.get(prose_row["override_id"]) if prose_row["overridden"] else None))
        questions.append({"id": question.id, "title": question.title, "prompt": question.prompt,
                          "points": question.points, "prose_points": question.prose_points,
                          "prose_task": question.prose_task,
                          "score": qsum.get("score", 0.0), "tasks": tasks, "prose": prose,
                          "answer": question.answer if release.answers else None})
    other = [_check_view(r, overrides) | {"task": r["task"]} for r in rows if r["task"] not in known]
    fixes = what_to_fix(questions, other, task_overrides) if summary["graded"] else []
    return {
        "course": {"name": data.course.name},
        "student": {"id": student_id, "name": summary.get("name"), "received_at": summary.get("received_at"),
                    "score": summary["score"], "max_score": bank.points, "graded": summary["graded"],
                    "pending_review": summary["pending_review"]},
        "questions": questions, "other": other, "other_checks": _split_checks(other),
        "fixes": fixes, "lost": round(sum(item["lost"] for item in fixes), 4),
        "release": {"answers": release.answers, "forecast_plots": show_plots},
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "grader_version": __version__,
    }


def render_feedback(course: Course, bank: Bank, student_id: str, data: ClassData | ClassSnapshot, *,
                    series: Series | None = None) -> str:
    """One student's feedback page as an HTML string.

    Raises :class:`~grader.report.render.ReportError` for a student not in the gradebook.
    """
    data = class_data(course, bank, data)
    if series is None and course.release.forecast_plots:
        series, _ = load_series(course)
    context = feedback_context(data, student_id, series=series)
    return render_page(template_environment(course), FEEDBACK_TEMPLATE, context)


def write_feedback_pages(course: Course, bank: Bank, out_dir: Path, data: ClassData | ClassSnapshot, *,
                         students: Iterable[str] | None = None) -> list[Path]:
    """Write ``out_dir/<feedback_filename(id)>`` for each student (default: every graded one)."""
    data = class_data(course, bank, data)
    wanted = list(students) if students is not None else [row["student_id"] for row in data.graded]
    for student in wanted:
        data.summary(student)  # unknown ids fail before anything is written
    series = load_series(course)[0] if course.release.forecast_plots else None
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
