"""Time the instructor report and the feedback pages for a large synthetic class.

Builds a course in a temporary folder with a SQLite gradebook of ``--students``
students (default 500): every check of the bank with a mix of passes and
failures (layer names in messages), forecast accuracy details with sample
windows, prose details with met / missed key points, reviews, overrides,
errors and timeouts. Then times, separately:

* importing matplotlib (once per process),
* reading the gradebook (``load_class``),
* ``render_report`` end to end (reading included; the 5 s budget), and with the import,
* writing every feedback page, without and (``--plots``) with forecast plots.

Run from anywhere (no TensorFlow needed)::

    python bench/bench_report.py [--students 500] [--plots] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable from a source checkout

from grader.core.bank import Bank, default_bank  # noqa: E402
from grader.core.course import Course, init_course, open_course  # noqa: E402
from grader.core.results import CheckResult  # noqa: E402

BUDGET_SECONDS = 5.0
SEED = 7
REFERENCE_MAE = {"q4_forecaster": 48_600.0, "q5_stable_rnn": 57_000.0, "q7_conv_rnn": 41_300.0}
NAIVE_MAE, SEASONAL_MAE = 224_429.0, 51_959.0


def _set_release(root: Path, forecast_plots: bool) -> None:
    config = root / "course.toml"
    text = re.sub(r"forecast_plots = \w+", f"forecast_plots = {str(forecast_plots).lower()}",
                  config.read_text(encoding="utf-8"))
    config.write_text(text, encoding="utf-8")


def _write_manifest(course: Course) -> None:
    tasks = {task: {"mae": mae, "mase": mae / 54_500, "rmse": mae * 1.85, "file": f"{task}.keras",
                    "mae_per_horizon": [mae * (0.75 + 0.08 * h) for h in range(7)],
                    "seasonal_naive_mae": SEASONAL_MAE, "naive_mae": NAIVE_MAE, "version_key": "v1-bench"}
             for task, mae in REFERENCE_MAE.items()}
    course.reference_dir.mkdir(parents=True, exist_ok=True)
    (course.reference_dir / "manifest.json").write_text(json.dumps({"tasks": tasks}), encoding="utf-8")


class ClassMaker:
    """Makes one plausible result set per student, deterministically from a seed."""

    def __init__(self, course: Course, bank: Bank, seed: int = SEED) -> None:
        from grader.forecast.metrics import held_out_windows
        from grader.forecast.series import series_from_config

        self.bank = bank
        self.rng = random.Random(seed)
        series = series_from_config(course.series, course.root)
        windows = held_out_windows(series, course.series, 56)
        n = len(windows.origins)
        self.picks = sorted({0, n // 3, (2 * n) // 3, n - 1})
        self.windows = n
        self.origins = {i: str(series.dates[int(windows.origins[i])]) for i in self.picks}
        self.targets = {i: [float(v) * series.scale for v in windows.targets[i]] for i in self.picks}

    def forecast(self, task: str, points: float) -> CheckResult:
        rng = self.rng
        if rng.random() < 0.04:
            return CheckResult(task, "forecast_accuracy", "failed", 0.0, points,
                               "Expected forecasts of shape (359, 7); received shape (359, 1).", "hidden")
        mae = REFERENCE_MAE[task] * rng.uniform(0.95, 1.4)
        noise = mae * 0.8
        samples = [{"index": i, "origin": self.origins[i],
                    "forecast": [round(v + rng.uniform(-noise, noise), 1) for v in self.targets[i]]}
                   for i in self.picks]
        fraction = max(0.0, min(1.0, (SEASONAL_MAE - mae) / (SEASONAL_MAE - REFERENCE_MAE[task])))
        details = {"mae": mae, "rmse": mae * 1.8, "mase": mae / 54_500,
                   "mae_per_horizon": [mae * (0.7 + 0.1 * h) * rng.uniform(0.95, 1.05) for h in range(7)],
                   "windows": self.windows, "window": 56, "full_credit_mae": REFERENCE_MAE[task],
                   "zero_credit_mae": SEASONAL_MAE,
                   "baselines": {"naive": {"mae": NAIVE_MAE, "mase": 4.12},
                                 "seasonal_naive": {"mae": SEASONAL_MAE, "mase": 0.954},
                                 "reference": {"mae": REFERENCE_MAE[task], "mase": REFERENCE_MAE[task] / 54_500}},
                   "test_start": "2019-01-01", "test_end": "2019-12-31", "samples": samples}
        return CheckResult(task, "forecast_accuracy", "passed" if fraction >= 1 else "failed",
                           round(points * fraction, 4), points, f"held-out MAE {mae:,.0f}", "hidden", details)

    def results(self, student: str) -> tuple[list[CheckResult], dict[str, bool]]:
        rng = self.rng
        results: list[CheckResult] = []
        review: dict[str, bool] = {}
        for question in self.bank.questions:
            for task in question.tasks:
                if rng.random() < 0.01:
                    results.append(CheckResult(task.id, "run", "error", 0.0, task.points,
                                               f"{task.file}: timed out after 60 s"))
                    continue
                for check, points in task.checks:
                    if check == "forecast_accuracy":
                        results.append(self.forecast(task.id, points))
                    elif rng.random() < 0.12:
                        layer = f"{rng.choice(['lstm', 'gru', 'simple_rnn'])}_{rng.randint(1, 9)}"
                        results.append(CheckResult(task.id, check, "failed", 0.0, points,
                                                   f"layer {rng.randint(1, 4)} '{layer}' breaks {check}: "
                                                   f"expected the shape the task asks for"))
                    else:
                        results.append(CheckResult(task.id, check, "passed", points, points, f"{check} ok"))
            statuses = [rng.choices(["met", "uncertain", "missed"], [0.7, 0.1, 0.2])[0]
                        for _ in question.key_points]
            credit = {"met": 1.0, "uncertain": 0.5, "missed": 0.0}
            weights = [p.weight for p in question.key_points]
            fraction = sum(credit[s] * w for s, w in zip(statuses, weights)) / sum(weights)
            needs_review = rng.random() < 0.08
            details = {"fraction": fraction, "needs_review": needs_review, "review_reasons": [], "flags": [],
                       "points": [{"id": p.id, "weight": p.weight, "status": s, "note": "",
                                   "evidence": "" if s == "missed" else f"{student} wrote about {p.id} here."}
                                  for p, s in zip(question.key_points, statuses)],
                       "contradictions": [{"id": c.id, "penalty": c.penalty, "evidence": "", "note": "",
                                           "status": "present" if rng.random() < 0.05 else "absent"}
                                          for c in question.contradictions]}
            review[question.prose_task] = needs_review
            results.append(CheckResult(question.prose_task, "rubric", "passed" if fraction >= 0.999 else "failed",
                                       round(fraction * question.prose_points, 2), question.prose_points,
                                       "met: ...", "visible", details))
        return results, review


def build_class(root: Path, bank: Bank, students: int, *, forecast_plots: bool = False) -> Course:
    """A course folder whose gradebook holds ``students`` graded students."""
    from grader import __version__
    from grader.store.gradebook import Gradebook

    course = init_course(root, name=f"Benchmark class of {students}")
    _set_release(root, forecast_plots)
    course = open_course(root)
    _write_manifest(course)
    maker = ClassMaker(course, bank)
    with Gradebook(course.db_url) as gb:
        run = gb.start_run("batch", __version__, bank.versions, {t: "v1-bench" for t in REFERENCE_MAE})
        for n in range(students):
            student = f"s{n:04d}"
            digest = hashlib.sha256(student.encode()).hexdigest()
            sub = gb.add_submission(student, {}, digest, "", f"{student}.zip")
            results, review = maker.results(student)
            gb.record_results(sub, run, results, needs_review=review)
            if n % 25 == 0:
                gb.set_override(student, "q3_prose", 3.0, "right idea in other words", "ta-bench")
        gb.finish_run(run, notes=f"{students} graded")
    return course


def timed(step) -> tuple[Any, float]:
    began = time.perf_counter()
    result = step()
    return result, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--plots", action="store_true", help="Also time feedback pages with forecast plots.")
    parser.add_argument("--keep", type=Path, default=None, help="Build the course here and keep it.")
    args = parser.parse_args(argv)

    from grader.store.gradebook import Gradebook
    from grader.report.class_report import render_report
    from grader.report.data import load_class
    from grader.report.feedback import write_feedback_pages

    bank = default_bank()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        root = args.keep or Path(tmp) / "course"
        if (root / "grader.db").exists():
            _set_release(root, False)
            course = open_course(root)
            print(f"reusing the gradebook in {root} (delete it to rebuild)")
        else:
            course, built = timed(lambda: build_class(root, bank, args.students))
            print(f"built a gradebook of {args.students} students in {built:.1f} s ({course.db_url})")
        _, t_import = timed(lambda: importlib.import_module("grader.report.plots"))   # matplotlib, once per process

        with Gradebook(course.db_url) as gb:
            data, t_load = timed(lambda: load_class(course, bank, gb.snapshot(bank)))
            html, t_report = timed(lambda: render_report(course, bank, gb.snapshot(bank)))
            out = root / "site"
            (out / "report.html").parent.mkdir(parents=True, exist_ok=True)
            (out / "report.html").write_text(html, encoding="utf-8")
            pages, t_pages = timed(lambda: write_feedback_pages(course, bank, out / "feedback", data=data))
        rows = [("import matplotlib (once per process)", t_import, None),
                ("read the gradebook (load_class)", t_load, None),
                ("render_report, reading included", t_report, BUDGET_SECONDS),
                ("  ... plus the import, as 'grader report' pays it", t_report + t_import, BUDGET_SECONDS),
                (f"write {len(pages)} feedback pages (no plots)", t_pages, None)]
        if args.plots:
            _set_release(root, True)
            plotted = open_course(root, course.db_url)
            sample = min(50, len(pages))
            wanted = [row["student_id"] for row in data.graded][:sample]
            _, t_plots = timed(lambda: write_feedback_pages(plotted, bank, out / "feedback-plots", data=data,
                                                            students=wanted))
            _set_release(root, False)
            rows.append((f"write {sample} feedback pages with forecast plots", t_plots, None))
            rows.append((f"  ... extrapolated to {len(pages)}", t_plots * len(pages) / max(sample, 1), None))
        print(f"report: {len(html) / 1e6:.2f} MB, {html.count('<svg')} plots; "
              f"feedback page: ~{pages[0].stat().st_size / 1e3:.0f} kB each")
        print(f"{'step':<52} {'seconds':>8}  {'of budget':>9}")
        for label, seconds, budget in rows:
            share = f"{seconds / budget:9.2f}" if budget else ""
            print(f"{label:<52} {seconds:8.2f}  {share}")
        if args.keep:
            print(f"kept: {root} (report {out / 'report.html'})")
        return 0 if t_report <= BUDGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
