"""Building, caching and reading the reference models of a course.

``grader reference build`` writes every reference model into
``<course>/reference/`` and records them in ``manifest.json``. The forecasters
(q4, q5, q7) are trained on the training part of the course's series (the
validation part for early stopping) with fixed seeds, then scored on the
held-out windows; that MAE is the full-credit mark of forecast accuracy.
A forecaster is rebuilt only when the series or its builder's version changes.
Each model is saved, then recorded, as soon as it is built, so an interrupted build
resumes where it stopped.

Building imports TensorFlow in this process: reference builders are our own
code, not students'.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from grader.core.course import Course
from grader.forecast.manifest import (read_manifest, remove_partial_files, series_key, write_atomically,
                                     write_manifest)
from grader.core.contract import DEFAULT_WINDOW, HORIZON
from grader.forecast.metrics import evaluate
from grader.forecast.series import Series, series_from_config, split

TRAINING_VERSION = 1      # bump when train_forecaster changes
SEED = 42
EPOCHS = 50               # at most; early stopping usually ends training sooner


@dataclass(frozen=True)
class TrainingProgress:
    """Where the training of one reference forecaster stands, for a progress display."""

    task: str
    epoch: int               # epochs finished
    epochs: int              # the most it may run; early stopping may end it sooner
    best_valid_mae: float    # lowest validation MAE so far, in the series' own units (not value / scale)
    finished: bool = False   # training has ended: the last report for this task


class ReferenceBuildInterrupted(KeyboardInterrupt):
    """A build was interrupted; ``saved`` of the ``total`` requested reference models are complete on disk."""

    def __init__(self, saved: int, total: int) -> None:
        super().__init__(f"{saved} of {total} reference models are saved")
        self.saved = saved
        self.total = total


def _training_windows(values: np.ndarray, first: int, last: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows whose targets lie in [first, last]; inputs may reach back before ``first``."""
    starts = range(max(first - window, 0), last - window - HORIZON + 2)
    inputs = np.stack([values[s:s + window] for s in starts])[..., None].astype("float32")
    targets = np.stack([values[s + window:s + window + HORIZON] for s in starts]).astype("float32")
    keep = np.arange(len(inputs)) + window + max(first - window, 0) >= first
    return inputs[keep], targets[keep]


def train_forecaster(build: Callable[[], Any], series: Series, series_cfg: dict[str, Any],
                     *, window: int = DEFAULT_WINDOW, epochs: int = EPOCHS, verbose: int = 0,
                     progress: Callable[[TrainingProgress], None] | None = None, task: str = "") -> Any:
    """Fit a reference forecaster on the training part, early-stopped on the validation part.

    ``progress`` (if given) receives a :class:`TrainingProgress` for ``task`` after every epoch
    and once more when training ends.
    """
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
    # The builders' loss is Huber, which says little to a person; MAE is tracked only to be
    # shown. Adding a metric leaves the trained weights exactly as they were.
    model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["mae"])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=True)]
    if progress is not None:
        callbacks.append(_progress_callback(keras, progress, task, epochs, series.scale))
    model.fit(x_train, y_train, validation_data=(x_valid, y_valid), epochs=epochs, batch_size=64,
              callbacks=callbacks, verbose=verbose, shuffle=True)
    return model


def _progress_callback(keras: Any, report: Callable[[TrainingProgress], None], task: str, epochs: int,
                       scale: float) -> Any:
    """A Keras callback sending ``report`` the best validation MAE so far, after each epoch and at the end."""

    class ReportProgress(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.last = TrainingProgress(task, 0, epochs, math.inf)

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            # The model sees value / scale, so its MAE times the scale is in the series' own units.
            mae = (logs or {}).get("val_mae", math.inf) * scale
            self.last = TrainingProgress(task, epoch + 1, epochs, min(self.last.best_valid_mae, mae))
            report(self.last)

        def on_train_end(self, logs: dict[str, float] | None = None) -> None:
            report(replace(self.last, finished=True))

    return ReportProgress()


def build_references(course: Course, *, force: bool = False, tasks: list[str] | None = None,
                     log: Callable[[str], None] = lambda message: None,
                     progress: Callable[[TrainingProgress], None] | None = None,
                     prebuilt: bool = False) -> dict[str, Any]:
    """Write every reference model into the course; reuse cached ones that are still valid.

    Each model is saved as soon as it is built, then its manifest entry, each through a
    temporary file renamed into place. So an interrupted build keeps every model finished
    before the interruption and a rerun builds only the rest; and since an entry is written
    only once its file is complete, a partly written file is never taken as up to date.
    Raises :class:`ReferenceBuildInterrupted` (a ``KeyboardInterrupt``) on an interruption.

    ``progress`` receives the forecasters' training progress (see :func:`train_forecaster`).
    With ``prebuilt``, a forecaster shipped in the package for exactly this version key (see
    :mod:`reference_models.prebuilt`: the demo's series) is copied instead of trained; it is
    scored on the held-out windows like a trained one.
    Builds whatever course it is given: :func:`grader.grading.grader.build_course_references`
    first refuses a course whose held-out data is not private.
    """
    from reference_models import BUILDERS

    course.reference_dir.mkdir(parents=True, exist_ok=True)
    remove_partial_files(course.reference_dir)
    series = series_from_config(course.series, course.root)
    manifest = read_manifest(course)
    manifest["series_key"] = series_key(series)
    manifest.setdefault("tasks", {})
    chosen = [task for task in BUILDERS if tasks is None or task in tasks]
    for done, task in enumerate(chosen):
        try:
            _build_task(task, course, series, manifest, force=force, log=log, progress=progress,
                        prebuilt=prebuilt)
        except KeyboardInterrupt:
            raise ReferenceBuildInterrupted(done, len(chosen)) from None
    write_manifest(course, manifest)
    return manifest


def _build_task(task: str, course: Course, series: Series, manifest: dict[str, Any], *, force: bool,
                log: Callable[[str], None], progress: Callable[[TrainingProgress], None] | None,
                prebuilt: bool = False) -> None:
    """Build ``task``'s reference unless its file and manifest entry are current; save the file, then the entry."""
    from reference_models import BUILDER_VERSIONS, FORECAST_TASKS

    entries: dict[str, Any] = manifest["tasks"]
    version = BUILDER_VERSIONS[task]
    version_key = f"v{version}"
    if task in FORECAST_TASKS:
        version_key += f"-t{TRAINING_VERSION}-{manifest['series_key']}"
    target = course.reference_dir / (f"{task}.py" if task == "q6_lstm_cell" else f"{task}.keras")
    if not force and entries.get(task, {}).get("version_key") == version_key and target.exists():
        log(f"{task}: up to date")
        return
    if entries.pop(task, None) is not None:
        write_manifest(course, manifest)    # the old entry must not vouch for the file about to be replaced
    started = time.perf_counter()
    shipped = _prebuilt(task, version_key) if prebuilt and task in FORECAST_TASKS else None
    if prebuilt and task in FORECAST_TASKS and shipped is None:
        log(f"{task}: no pre-built model matches this builder, training and series; training one")
    entry = _make_reference(task, course, series, target, progress, shipped)
    entry.update({"file": target.name, "version": version, "version_key": version_key,
                  "built_seconds": round(time.perf_counter() - started, 2)})
    entries[task] = entry
    write_manifest(course, manifest)
    how = "copied the pre-built" if shipped else "built"
    log(f"{task}: {how} {target.name} in {entry['built_seconds']:.1f} s{_scores(entry)}")
    if "mae" in entry and entry["mae"] >= entry["seasonal_naive_mae"]:
        log(f"warning: the {task} reference (MAE {entry['mae']:,.0f}) does not beat the seasonal-naive "
            f"forecast ({entry['seasonal_naive_mae']:,.0f}) on this series: forecast credit then needs "
            "a model at least as good as the reference")


def _prebuilt(task: str, version_key: str) -> Path | None:
    from reference_models.prebuilt import prebuilt_file

    return prebuilt_file(task, version_key)


def _scores(entry: dict[str, Any]) -> str:
    """", held-out MAE 42,952, 17.3% below seasonal naive (51,959)" for a forecaster's entry; "" otherwise."""
    if "mae" not in entry:
        return ""
    naive = entry["seasonal_naive_mae"]
    margin = (naive - entry["mae"]) / naive * 100 if naive > 0 else 0.0
    side = "below" if margin > 0 else "above"
    return f", held-out MAE {entry['mae']:,.0f}, {abs(margin):.1f}% {side} seasonal naive ({naive:,.0f})"


def _make_reference(task: str, course: Course, series: Series, target: Path,
                    progress: Callable[[TrainingProgress], None] | None,
                    shipped: Path | None = None) -> dict[str, Any]:
    """Build (or copy) ``task``'s reference into ``target`` atomically; return its entry's scores, if any.

    ``shipped``: a pre-built forecaster, already checked against its hash and version key, to
    copy instead of training one.
    """
    from reference_models import BUILDERS, FORECAST_TASKS, LSTM_CELL_SOURCE

    if task == "q6_lstm_cell":
        write_atomically(target, lambda temp: shutil.copyfile(LSTM_CELL_SOURCE, temp))
        return {}
    if task not in FORECAST_TASKS:
        write_atomically(target, BUILDERS[task]().save)
        return {}
    window = course.series.window
    if shipped is None:
        model = train_forecaster(BUILDERS[task], series, course.series, window=window, progress=progress, task=task)
    else:
        import keras

        model = keras.saving.load_model(shipped, compile=False)
    entry = {"window": window, "series_key": series_key(series), **_evaluate_model(model, series, course.series, window)}
    if shipped is None:
        write_atomically(target, model.save)
    else:
        entry["prebuilt"] = True
        write_atomically(target, lambda temp: shutil.copyfile(shipped, temp))
    return entry


def _evaluate_model(model: Any, series: Series, series_cfg: dict[str, Any], window: int) -> dict[str, Any]:
    from grader.forecast.metrics import held_out_windows

    windows = held_out_windows(series, series_cfg, window)
    raw = model.predict(windows.inputs, verbose=0, batch_size=256)
    evaluation = evaluate(raw, series, series_cfg, window, name="reference")
    return {"mae": evaluation.forecast.mae, "rmse": evaluation.forecast.rmse, "mase": evaluation.forecast.mase,
            "mae_per_horizon": list(evaluation.forecast.mae_per_horizon),
            "seasonal_naive_mae": evaluation.seasonal_naive.mae, "naive_mae": evaluation.naive.mae}
