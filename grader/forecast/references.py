"""Building, caching and reading the reference models of a course.

``grader reference build`` writes every reference model into
``<course>/reference/`` and records them in ``manifest.json``. The forecasters
(q4, q5, q7) are trained on the training part of the course's series (the
validation part for early stopping) with fixed seeds, then scored on the
held-out windows; that MAE is the full-credit mark of forecast accuracy.
A forecaster is rebuilt only when the series or its builder's version changes.

Building imports TensorFlow in this process: reference builders are our own
code, not students'.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import Any, Callable

import numpy as np

from grader.core.course import Course
from grader.forecast.manifest import MANIFEST, read_manifest, series_key
from grader.core.contract import DEFAULT_WINDOW, HORIZON
from grader.forecast.metrics import evaluate
from grader.forecast.series import Series, series_from_config, split

TRAINING_VERSION = 1      # bump when train_forecaster changes
SEED = 42


def _training_windows(values: np.ndarray, first: int, last: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows whose targets lie in [first, last]; inputs may reach back before ``first``."""
    starts = range(max(first - window, 0), last - window - HORIZON + 2)
    inputs = np.stack([values[s:s + window] for s in starts])[..., None].astype("float32")
    targets = np.stack([values[s + window:s + window + HORIZON] for s in starts]).astype("float32")
    keep = np.arange(len(inputs)) + window + max(first - window, 0) >= first
    return inputs[keep], targets[keep]


def train_forecaster(build: Callable[[], Any], series: Series, series_cfg: dict[str, Any],
                     *, window: int = DEFAULT_WINDOW, epochs: int = 50, verbose: int = 0) -> Any:
    """Fit a reference forecaster on the training part, early-stopped on the validation part."""
    import keras

    keras.utils.set_random_seed(SEED)
    parts = split(series, series_cfg)
    values = series.scaled()
    train_first = series.index_of(parts.train.dates[0])
    train_last = series.index_of(parts.train.dates[-1])
    valid_first = series.index_of(parts.valid.dates[0])
    valid_last = series.index_of(parts.valid.dates[-1])
    x_train, y_train = _training_windows(values, train_first + window, train_last, window)
    x_valid, y_valid = _training_windows(values, valid_first, valid_last, window)
    model = build()
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=True)
    model.fit(x_train, y_train, validation_data=(x_valid, y_valid), epochs=epochs, batch_size=64,
              callbacks=[stop], verbose=verbose, shuffle=True)
    return model


def build_references(course: Course, *, force: bool = False, tasks: list[str] | None = None,
                     log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Write every reference model into the course; reuse cached forecasters when still valid.

    Builds whatever course it is given: :func:`grader.grading.grader.build_course_references`
    first refuses a course whose held-out data is not private.
    """
    from reference_models import BUILDER_VERSIONS, BUILDERS, FORECAST_TASKS, LSTM_CELL_SOURCE

    out = course.reference_dir
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(course)
    entries: dict[str, Any] = manifest.setdefault("tasks", {})
    series = series_from_config(course.series, course.root)
    key = series_key(series)
    window = course.series.window
    for task, builder in BUILDERS.items():
        if tasks is not None and task not in tasks:
            continue
        version = BUILDER_VERSIONS[task]
        forecaster = task in FORECAST_TASKS
        version_key = f"v{version}-t{TRAINING_VERSION}-{key}" if forecaster else f"v{version}"
        entry = entries.get(task, {})
        target = out / (LSTM_CELL_SOURCE.name.replace("lstm_cell", task) if task == "q6_lstm_cell" else f"{task}.keras")
        if not force and entry.get("version_key") == version_key and target.exists():
            log(f"{task}: up to date")
            continue
        started = time.perf_counter()
        if task == "q6_lstm_cell":
            shutil.copyfile(LSTM_CELL_SOURCE, out / "q6_lstm_cell.py")
            target = out / "q6_lstm_cell.py"
            entry = {}
        elif forecaster:
            model = train_forecaster(builder, series, course.series, window=window)
            model.save(target)
            windows_eval = _evaluate_model(model, series, course.series, window)
            entry = {"window": window, "series_key": key, **windows_eval}
        else:
            builder().save(target)
            entry = {}
        entry.update({"file": target.name, "version": version, "version_key": version_key,
                      "built_seconds": round(time.perf_counter() - started, 2)})
        entries[task] = entry
        shown = f", held-out MAE {entry['mae']:,.0f}" if "mae" in entry else ""
        log(f"{task}: built {target.name} in {entry['built_seconds']:.1f} s{shown}")
        if "mae" in entry and entry["mae"] >= entry["seasonal_naive_mae"]:
            log(f"warning: the {task} reference (MAE {entry['mae']:,.0f}) does not beat the seasonal-naive "
                f"forecast ({entry['seasonal_naive_mae']:,.0f}) on this series: forecast credit then needs "
                "a model at least as good as the reference")
    manifest["series_key"] = key
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return manifest


def _evaluate_model(model: Any, series: Series, series_cfg: dict[str, Any], window: int) -> dict[str, Any]:
    from grader.forecast.metrics import held_out_windows

    windows = held_out_windows(series, series_cfg, window)
    raw = model.predict(windows.inputs, verbose=0, batch_size=256)
    evaluation = evaluate(raw, series, series_cfg, window, name="reference")
    return {"mae": evaluation.forecast.mae, "rmse": evaluation.forecast.rmse, "mase": evaluation.forecast.mase,
            "mae_per_horizon": list(evaluation.forecast.mae_per_horizon),
            "seasonal_naive_mae": evaluation.seasonal_naive.mae, "naive_mae": evaluation.naive.mae}
