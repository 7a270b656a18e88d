"""Time the NumPy side of forecast scoring on the default synthetic series.

Builds the series of ``grader.core.config.DEFAULT_CONFIG``, then times building the
held-out windows, the two baselines and their metrics, and prints the baseline
table. Run from anywhere::

    python bench/bench_forecast_eval.py [--window 56] [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable from a source checkout

from grader.core.config import DEFAULT_CONFIG  # noqa: E402
from grader.forecast.metrics import (  # noqa: E402
    baseline_table, eval_windows, forecast_scores, naive_forecast, seasonal_naive_forecast,
)
from grader.forecast.series import Series, series_from_config, split  # noqa: E402


def timed(step: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """The step's result and its median wall time in milliseconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = step()
        times.append((time.perf_counter() - began) * 1000)
    return result, statistics.median(times)


def bench_numpy(series: Series, series_cfg: dict, window: int, repeat: int) -> dict[str, float]:
    """Median milliseconds of each NumPy step of scoring, on the config's test part."""
    parts = split(series, series_cfg)
    values, train = series.scaled(), parts.train.scaled()
    first = series.index_of(parts.test.dates[0])
    last = first + len(parts.test) - 1

    windows, t_windows = timed(lambda: eval_windows(values, first, last, window), repeat)
    _, targets, origins = windows
    (naive, seasonal), t_baselines = timed(
        lambda: (naive_forecast(values, origins), seasonal_naive_forecast(values, origins)), repeat)
    _, t_metrics = timed(lambda: [forecast_scores(name, targets, forecast, train, series.scale)
                                  for name, forecast in (("naive", naive), ("seasonal", seasonal))],
                         repeat)
    _, t_table = timed(lambda: baseline_table(series, series_cfg, window), repeat)
    return {"windows": float(len(origins)), "build windows": t_windows,
            "both baselines": t_baselines, "metrics of both": t_metrics,
            "baseline_table (end to end)": t_table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=DEFAULT_CONFIG["series"]["window"])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--no-model", action="store_true", help="Skip the sandboxed model evaluation.")
    args = parser.parse_args(argv)

    series_cfg = DEFAULT_CONFIG["series"]
    series, t_series = timed(lambda: series_from_config(series_cfg, Path(".")), 20)
    print(f"series: {series.name}, {len(series)} days {series.start} to {series.end} "
          f"(generated in {t_series:.2f} ms, median of 20)")

    numbers = bench_numpy(series, series_cfg, args.window, args.repeat)
    print(f"test windows: {int(numbers.pop('windows'))} x {args.window} days "
          f"({series_cfg['test'][0]} to {series_cfg['test'][1]})")
    print(f"median ms over {args.repeat} runs:")
    for step, ms in numbers.items():
        print(f"  {step:<30} {ms:8.3f}")

    print("baselines on the test windows (published units):")
    print(f"  {'name':<16} {'MAE':>10} {'RMSE':>10} {'MASE':>7}")
    for row in baseline_table(series, series_cfg, args.window):
        print(f"  {row.name:<16} {row.mae:10,.0f} {row.rmse:10,.0f} {row.mase:7.3f}")
    if not args.no_model:
        bench_model(numbers["baseline_table (end to end)"])
    return 0


def bench_model(baseline_ms: float) -> None:
    """Time one forecaster evaluated on every held-out window in a sandboxed worker (after it started)."""
    import subprocess
    import tempfile

    from grader.forecast.evaluation import ForecastEvaluator
    from grader.core.bank import default_bank
    from grader.sandbox.prober import SandboxProber
    from grader.core.course import init_course
    from grader.static.model_file import inspect_model_file

    with tempfile.TemporaryDirectory(prefix="bench-forecast-") as tmp:
        course = init_course(Path(tmp) / "course")
        model = course.reference_dir / "q4_forecaster.keras"
        # The q4 reference architecture, untrained: the timing does not depend on its weights.
        subprocess.run([sys.executable, "-c", "import sys; from reference_models import BUILDERS; "
                        f"BUILDERS['q4_forecaster']().save({str(model)!r})"], check=True,
                       env={**__import__('os').environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
                            "TF_CPP_MIN_LOG_LEVEL": "3"})
        manifest = course.reference_dir / "manifest.json"
        manifest.write_text('{"tasks": {"q4_forecaster": {"mae": 1.0, "file": "q4_forecaster.keras"}}}')
        task = default_bank().task("q4_forecaster")
        description = inspect_model_file(model)
        evaluator = ForecastEvaluator(course)
        with SandboxProber(course.limits) as prober:
            began = time.perf_counter()
            prober.worker.start()
            startup = time.perf_counter() - began
            times = []
            for _ in range(3):
                began = time.perf_counter()
                result = evaluator(task, model, description, prober)
                times.append(time.perf_counter() - began)
        print(f"sandboxed evaluation of one forecaster ({result['windows']} windows x {result['window']} days):")
        print(f"  worker start (TensorFlow import, once per worker) {startup:8.2f} s")
        print(f"  first evaluation (loads the model)                {times[0]:8.2f} s")
        print(f"  repeat evaluation (model cached in the worker)    {min(times[1:]):8.2f} s")
        print(f"  ratio to the 3 s budget                           {times[0] / 3.0:8.2f}")
        print(f"  ratio to scoring the baselines alone (NumPy)      {times[0] * 1000 / baseline_ms:8.0f}x")


if __name__ == "__main__":
    sys.exit(main())
