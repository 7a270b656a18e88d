"""Forecast scoring: windows over the held-out part, baselines, metrics and credit.

Forecasters predict the next :data:`HORIZON` days from the :data:`DEFAULT_WINDOW`
(or their own fixed) days before. A window's *origin* is the index of its last
input day; its targets are the seven days after it. Every window whose seven
targets lie inside the test part is scored, stride 1, so a 365-day test part
gives 359 windows; the inputs may reach back into the validation and training
data.

Units: windows, predictions and baselines are in model units
(``series.scaled()``); :func:`metrics` reports MAE and RMSE in published units
(boardings). Nothing here imports TensorFlow or Keras::

    windows = held_out_windows(series, course.series, window=56)
    raw = model.predict(windows.inputs)            # in the sandboxed worker
    evaluation = evaluate(raw, series, course.series, window=56)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from grader.core.contract import DEFAULT_WINDOW, HORIZON
from grader.core.errors import GraderError
from grader.forecast.series import DayLike, Series, SeriesTable, split

SEASON = 7


class ForecastError(GraderError, ValueError):
    """Forecasts cannot be scored as asked; the message says why."""


class ForecastShapeError(ForecastError):
    """The predictions do not have one of the accepted shapes."""


class NonFiniteForecastError(ForecastError):
    """Some predictions are NaN or infinite."""


class Windows(NamedTuple):
    """Evaluation windows: ``inputs`` (n, window, 1) float32, ``targets`` (n, 7), ``origins`` (n,)."""

    inputs: np.ndarray
    targets: np.ndarray
    origins: np.ndarray


def eval_windows(series_scaled_values: np.ndarray, test_start_idx: int, test_end_idx: int,
                 window: int) -> Windows:
    """Every window whose 7 targets fall inside ``[test_start_idx, test_end_idx]``, stride 1.

    ``inputs[i]`` holds the ``window`` values up to and including ``origins[i]``;
    ``targets[i]`` the 7 values after it. Raises :class:`ForecastError` when the
    test range is shorter than the horizon or lies outside the values, or when
    there are fewer than ``window`` values before the test range.
    """
    values = np.asarray(series_scaled_values, dtype=np.float64)
    if values.ndim != 1:
        raise ForecastError(f"expected a 1-D array of values, received shape {values.shape}")
    if not 0 <= test_start_idx <= test_end_idx < len(values):
        raise ForecastError(f"test range [{test_start_idx}, {test_end_idx}] is not inside the "
                            f"{len(values)} values")
    if test_end_idx - test_start_idx + 1 < HORIZON:
        raise ForecastError(f"the test range has {test_end_idx - test_start_idx + 1} days; "
                            f"a forecast needs {HORIZON}")
    if window != int(window) or window < 1:
        raise ForecastError(f"window must be a positive whole number of days, got {window!r}")
    window = int(window)
    if test_start_idx < window:
        raise ForecastError(f"a {window}-day window needs {window} days before the test part, "
                            f"which has only {test_start_idx}")
    origins = np.arange(test_start_idx - 1, test_end_idx - HORIZON + 1)
    inputs = sliding_window_view(values, window)[origins - window + 1].astype(np.float32)[..., None]
    targets = sliding_window_view(values, HORIZON)[origins + 1].copy()
    return Windows(inputs, targets, origins)


# --- baselines -----------------------------------------------------------------------------------

def naive_forecast(values: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """(n, 7): the value at each origin, repeated for all seven days."""
    last = np.asarray(values, dtype=np.float64)[np.asarray(origins)]
    return np.repeat(last[:, None], HORIZON, axis=1)


def seasonal_naive_forecast(values: np.ndarray, origins: np.ndarray, m: int = SEASON) -> np.ndarray:
    """(n, 7): each target day forecast by the latest observed value one season earlier.

    For ``m = 7`` that is ŷ(t+h) = y(t+h−7); a shorter season steps back whole
    seasons until the value was observed at the origin, so ``m = 1`` is the naive
    forecast.
    """
    values = np.asarray(values, dtype=np.float64)
    steps = np.arange(1, HORIZON + 1)
    lags = m * ((steps - 1) // m + 1)
    index = np.asarray(origins)[:, None] + steps - lags
    if index.size and index.min() < 0:
        raise ForecastError(f"the seasonal naive forecast needs {m} days of history before the "
                            f"first origin")
    return values[index]


# --- metrics -------------------------------------------------------------------------------------

def _pair(y: np.ndarray, yhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, yhat = np.asarray(y, dtype=np.float64), np.asarray(yhat, dtype=np.float64)
    if y.shape != yhat.shape:
        raise ForecastError(f"targets have shape {y.shape} but forecasts have shape {yhat.shape}")
    if y.size == 0:
        raise ForecastError("there is nothing to score (no targets)")
    return y, yhat


def mae(y: np.ndarray, yhat: np.ndarray) -> float:
    """Mean absolute error, in the units of ``y``."""
    y, yhat = _pair(y, yhat)
    return float(np.mean(np.abs(y - yhat)))


def rmse(y: np.ndarray, yhat: np.ndarray) -> float:
    """Root mean squared error, in the units of ``y``."""
    y, yhat = _pair(y, yhat)
    return float(np.sqrt(np.mean((y - yhat) ** 2)))


def mae_per_horizon(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """(7,): the MAE of day 1, day 2, … day 7 ahead, over all windows."""
    y, yhat = _pair(y, yhat)
    if y.ndim != 2 or y.shape[1] != HORIZON:
        raise ForecastError(f"expected (n, {HORIZON}) arrays, received shape {y.shape}")
    return np.mean(np.abs(y - yhat), axis=0)


def seasonal_scale(train_values: np.ndarray, m: int = SEASON) -> float:
    """The MASE denominator: mean |y_t − y_{t−m}| over the training values."""
    train = np.asarray(train_values, dtype=np.float64)
    if train.ndim != 1 or len(train) <= m:
        raise ForecastError(f"MASE needs more than {m} training values, received shape {train.shape}")
    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
    if scale == 0.0:
        raise ForecastError(f"the training values repeat exactly every {m} days, so MASE is undefined")
    return scale


def mase(y: np.ndarray, yhat: np.ndarray, train_values: np.ndarray, m: int = SEASON) -> float:
    """MAE divided by the in-sample seasonal-naive MAE of the training values (1.0 = as good)."""
    return mae(y, yhat) / seasonal_scale(train_values, m)


def metrics(y: np.ndarray, yhat: np.ndarray, train_values: np.ndarray, scale: float) -> dict[str, Any]:
    """JSON-ready metrics of forecasts ``yhat`` for targets ``y`` (both (n, 7), model units).

    ``{"mae", "rmse", "mae_per_horizon"}`` are in published units (multiplied by
    ``scale``); ``"mase"`` uses the seasonal scale of ``train_values`` (model units).
    """
    return {
        "mae": mae(y, yhat) * scale,
        "rmse": rmse(y, yhat) * scale,
        "mase": mase(y, yhat, train_values),
        "mae_per_horizon": [float(v) * scale for v in mae_per_horizon(y, yhat)],
    }


# --- student predictions -------------------------------------------------------------------------

def normalise_predictions(raw: np.ndarray, n_windows: int) -> np.ndarray:
    """``raw`` model output as an (n_windows, 7) float64 array.

    Accepts (n, 7), (n, 7, 1) and sequence-to-sequence (n, T, 7), of which the
    last time step is used. Raises :class:`ForecastShapeError` for any other
    shape or window count and :class:`NonFiniteForecastError` for NaN or
    infinite forecasts.
    """
    expected = (f"({n_windows}, {HORIZON}), ({n_windows}, {HORIZON}, 1), or ({n_windows}, T, "
                f"{HORIZON}) from a sequence-to-sequence model (its last time step is used)")
    try:
        array = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ForecastShapeError(f"Expected forecasts as a numeric array of shape {expected}; "
                                 f"received {type(raw).__name__} that is not one") from None
    shape = tuple(array.shape)
    if array.ndim == 2 and shape[1] == HORIZON:
        forecast = array
    elif array.ndim == 3 and shape[1:] == (HORIZON, 1):
        forecast = array[:, :, 0]
    elif array.ndim == 3 and shape[2] == HORIZON and shape[1] >= 1:
        forecast = array[:, -1, :]
    else:
        hint = ""
        if array.ndim in (2, 3) and shape[-1] == 1:
            hint = (f" The model predicts one value per step; the task asks for the next {HORIZON} "
                    f"days, so its last layer should output {HORIZON} values (e.g. Dense({HORIZON})).")
        elif array.ndim in (2, 3):
            hint = f" The last axis must hold the {HORIZON} forecast days; it has {shape[-1]}."
        raise ForecastShapeError(f"Expected forecasts of shape {expected}; received shape {shape}.{hint}")
    if shape[0] != n_windows:
        raise ForecastShapeError(f"Expected forecasts for {n_windows} windows, one per input window; "
                                 f"received shape {shape}, i.e. {shape[0]} windows.")
    bad = ~np.isfinite(forecast)
    if bad.any():
        window, day = np.argwhere(bad)[0]
        raise NonFiniteForecastError(
            f"{int(bad.sum())} of {forecast.size} forecast values are NaN or infinite (the first in "
            f"window {window + 1}, day {day + 1}); the model probably diverged in training, check "
            f"that its loss stayed finite")
    return np.array(forecast, dtype=np.float64)


def accuracy_fraction(student_mae: float, full_mae: float, zero_mae: float) -> float:
    """Share of the accuracy points: 1.0 at or below ``full_mae``, 0.0 at or above ``zero_mae``.

    Linear in between. When ``full_mae >= zero_mae`` there is no in-between: 1.0
    if the student is at or below ``full_mae``, else 0.0. A non-finite MAE earns 0.
    """
    if not np.isfinite(student_mae):
        return 0.0
    if student_mae <= full_mae:
        return 1.0
    if full_mae >= zero_mae or student_mae >= zero_mae:
        return 0.0
    return float((zero_mae - student_mae) / (zero_mae - full_mae))


# --- one forecaster against the baselines --------------------------------------------------------

@dataclass(frozen=True)
class Scores:
    """Metrics of one forecaster on the test windows; MAE and RMSE in published units."""

    name: str
    mae: float
    rmse: float
    mase: float
    mae_per_horizon: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mae_per_horizon"] = list(self.mae_per_horizon)
        return data


def forecast_scores(name: str, targets: np.ndarray, forecast: np.ndarray, train_values: np.ndarray,
                    scale: float) -> Scores:
    """:func:`metrics` of ``forecast`` as a :class:`Scores` row named ``name``."""
    found = metrics(targets, forecast, train_values, scale)
    return Scores(name, found["mae"], found["rmse"], found["mase"], tuple(found["mae_per_horizon"]))


@dataclass(frozen=True)
class Evaluation:
    """One forecaster's scores beside the naive and seasonal-naive baselines on the same windows."""

    forecast: Scores
    naive: Scores
    seasonal_naive: Scores
    n_windows: int
    window: int
    test_start: str
    test_end: str

    @property
    def baselines(self) -> tuple[Scores, Scores]:
        return (self.naive, self.seasonal_naive)

    def to_dict(self) -> dict[str, Any]:
        return {
            "forecast": self.forecast.to_dict(),
            "naive": self.naive.to_dict(),
            "seasonal_naive": self.seasonal_naive.to_dict(),
            "n_windows": self.n_windows,
            "window": self.window,
            "test_start": self.test_start,
            "test_end": self.test_end,
        }


class _HeldOut(NamedTuple):
    values: np.ndarray
    train: np.ndarray
    windows: Windows
    test: Series


def _held_out(series: Series, series_cfg: SeriesTable, window: int) -> _HeldOut:
    parts = split(series, series_cfg)
    first = series.index_of(parts.test.dates[0])
    values = series.scaled()
    windows = eval_windows(values, first, first + len(parts.test) - 1, window)
    return _HeldOut(values, parts.train.scaled(), windows, parts.test)


def held_out_windows(series: Series, series_cfg: SeriesTable,
                     window: int = DEFAULT_WINDOW) -> Windows:
    """The evaluation windows of the config's test part: what a model is asked to forecast."""
    return _held_out(series, series_cfg, window).windows


def _naive_baselines(held: _HeldOut, scale: float) -> tuple[Scores, Scores]:
    targets, origins = held.windows.targets, held.windows.origins
    return (forecast_scores("naive", targets, naive_forecast(held.values, origins), held.train, scale),
            forecast_scores("seasonal naive", targets, seasonal_naive_forecast(held.values, origins),
                            held.train, scale))


def evaluate(raw_predictions: np.ndarray, series: Series, series_cfg: SeriesTable,
             window: int = DEFAULT_WINDOW, name: str = "forecast") -> Evaluation:
    """Score predictions made for ``held_out_windows(series, series_cfg, window)``.

    ``raw_predictions`` may have any shape :func:`normalise_predictions` accepts
    (and raises what it raises).
    """
    held = _held_out(series, series_cfg, window)
    forecast = normalise_predictions(raw_predictions, len(held.windows.origins))
    naive, seasonal = _naive_baselines(held, series.scale)
    scores = forecast_scores(name, held.windows.targets, forecast, held.train, series.scale)
    return Evaluation(scores, naive, seasonal, len(held.windows.origins), int(window),
                      held.test.start, held.test.end)


def baseline_table(series: Series, series_cfg: SeriesTable,
                   window: int = DEFAULT_WINDOW) -> list[Scores]:
    """Rows (name, mae, rmse, mase, mae_per_horizon) for the naive and seasonal-naive baselines.

    Baselines use no inputs, so ``window`` only matters in that the windows must
    fit before the test part.
    """
    return list(_naive_baselines(_held_out(series, series_cfg, window), series.scale))


def seasonal_naive_one_step_mae(series: Series, start: DayLike, end: DayLike, m: int = SEASON) -> float:
    """Mean |y(t) − y(t−m)| over the days t from ``start`` to ``end``, in published units.

    This is the figure the textbook quotes for the CTA series.
    """
    first, last = series.index_of(start), series.index_of(end)
    if last < first:
        raise ForecastError(f"the range ends ({end}) before it starts ({start})")
    if first < m:
        raise ForecastError(f"{start} has fewer than {m} days of history in {series.name}")
    values = series.values
    return float(np.mean(np.abs(values[first:last + 1] - values[first - m:last + 1 - m])))
