"""The daily series (synthetic and CSV), evaluation windows, baselines, metrics and credit."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.core.config import DEFAULT_CONFIG
from grader.forecast.metrics import (
    DEFAULT_WINDOW, HORIZON, ForecastError, ForecastShapeError, NonFiniteForecastError,
    accuracy_fraction, baseline_table, eval_windows, evaluate, held_out_windows, mae,
    mae_per_horizon, mase, metrics, naive_forecast, normalise_predictions, rmse,
    seasonal_naive_forecast, seasonal_naive_one_step_mae,
)
from grader.forecast.series import (
    Series, SeriesError, export_part, holiday_effects, load_csv, series_from_config, split,
    synthetic_series, write_csv,
)

CTA_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "cta_ridership_daily.csv"
SEED = DEFAULT_CONFIG["series"]["seed"]


@pytest.fixture(scope="module")
def cfg() -> dict:
    return copy.deepcopy(DEFAULT_CONFIG["series"])


@pytest.fixture(scope="module")
def default_series(cfg) -> Series:
    return series_from_config(cfg, Path("."))


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def weekly(days: int = 400, start: str = "2020-01-06") -> Series:
    """A series that repeats exactly every 7 days."""
    pattern = np.array([10.0, 11, 12, 13, 14, 6, 4])
    return Series(np.datetime64(start) + np.arange(days), np.tile(pattern, days // 7 + 1)[:days],
                  name="weekly")


# --- synthetic series ----------------------------------------------------------------------------

def test_synthetic_is_deterministic_per_seed():
    a, b = synthetic_series(SEED), synthetic_series(SEED)
    assert np.array_equal(a.values, b.values)
    assert np.array_equal(a.dates, b.dates)


def test_synthetic_differs_between_seeds_in_the_held_out_part(cfg):
    first = split(synthetic_series(SEED), cfg).test.values
    second = split(synthetic_series(SEED + 1), cfg).test.values
    assert np.mean(np.abs(first - second)) > 10_000


def test_synthetic_shape_and_plausibility(default_series):
    s = default_series
    assert len(s) == 2922 and s.start == "2012-01-01" and s.end == "2019-12-31"
    assert np.all(np.diff(s.dates).astype(int) == 1)
    assert np.all(np.isfinite(s.values))
    assert 100_000 < s.values.min() and s.values.max() < 1_600_000
    assert s.scale == 1e6 and s.source == "synthetic"
    assert np.allclose(s.scaled(), s.values / 1e6)


@pytest.mark.parametrize("seed", [SEED, 1, 2, 3])
def test_synthetic_weekly_pattern(seed):
    s = synthetic_series(seed)
    weekday = (s.dates.astype(np.int64) + 3) % 7
    weekdays, saturday, sunday = (s.values[weekday < 5].mean(), s.values[weekday == 5].mean(),
                                  s.values[weekday == 6].mean())
    assert weekdays > saturday > sunday


def test_holiday_calendar():
    days = holiday_effects(2019)
    for holiday in ("2019-01-01", "2019-05-27", "2019-07-04", "2019-09-02", "2019-11-28",
                    "2019-12-25"):
        assert days[dt.date.fromisoformat(holiday)] is None     # Sunday-like service
    assert dt.date(2019, 1, 21) in days and dt.date(2019, 11, 29) in days


def test_synthetic_holidays_dip(default_series):
    s = default_series
    for holiday in ("2019-11-28", "2019-07-04", "2018-09-03"):
        week_before = s.values[s.index_of(holiday) - 7]
        assert s.values[s.index_of(holiday)] < 0.7 * week_before


# --- Series --------------------------------------------------------------------------------------

def test_series_part_index_and_immutability(default_series):
    s = default_series
    part = s.part("2019-01-01", "2019-01-31")
    assert len(part) == 31 and part.start == "2019-01-01" and part.end == "2019-01-31"
    assert part.scale == s.scale and part.name == s.name
    assert s.index_of("2012-01-01") == 0 and s.index_of(dt.date(2012, 1, 8)) == 7
    assert np.array_equal(part.values, s.values[s.index_of("2019-01-01"):s.index_of("2019-01-31") + 1])
    with pytest.raises(ValueError):
        s.values[0] = 1.0
    with pytest.raises(SeriesError, match="outside the series"):
        s.index_of("2020-01-01")
    with pytest.raises(SeriesError, match="ISO date"):
        s.part("01/01/2019", "2019-01-31")


def test_series_rejects_non_consecutive_days():
    with pytest.raises(SeriesError, match="consecutive"):
        Series(np.array(["2020-01-01", "2020-01-03"], dtype="datetime64[D]"), [1.0, 2.0])


# --- CSV loading ---------------------------------------------------------------------------------

def test_load_csv_detects_us_dates_sorts_and_drops_duplicates(tmp_path):
    path = write(tmp_path, "service_date,day_type,rides\n"
                           "01/03/2019,W,30\n01/01/2019,U,10\n01/02/2019,W,20\n01/03/2019,W,30\n")
    s = load_csv(path, "service_date", "rides")
    assert [str(d) for d in s.dates] == ["2019-01-01", "2019-01-02", "2019-01-03"]
    assert s.values.tolist() == [10, 20, 30]
    assert s.duplicates_dropped == 1 and s.source == "csv"


def test_load_csv_detects_iso_dates_and_accepts_explicit_format(tmp_path):
    iso = load_csv(write(tmp_path, "date,value\n2019-12-31,1.5\n2020-01-01,2.5\n"), "date", "value",
                   scale=0.5)
    assert iso.start == "2019-12-31" and iso.scaled().tolist() == [3.0, 5.0]
    dotted = load_csv(write(tmp_path, "d,v\n31.12.2019,1\n01.01.2020,2\n", "dots.csv"), "d", "v",
                      date_format="%d.%m.%Y")
    assert dotted.end == "2020-01-01"


def test_load_csv_same_date_different_values_names_both_lines(tmp_path):
    path = write(tmp_path, "date,value\n2019-01-01,1\n2019-01-02,2\n2019-01-01,5\n")
    with pytest.raises(SeriesError, match=r"lines 2 and 4 .*2019-01-01"):
        load_csv(path, "date", "value")


@pytest.mark.parametrize("text", ["n/a", "", "12a", "nan"])
def test_load_csv_non_numeric_value_names_line_and_text(tmp_path, text):
    path = write(tmp_path, f"date,value\n2019-01-01,1\n2019-01-02,{text}\n")
    with pytest.raises(SeriesError, match=r"line 3: value is not a number: " + repr(text)):
        load_csv(path, "date", "value")


def test_load_csv_reports_gaps_with_missing_dates_and_line(tmp_path):
    path = write(tmp_path, "date,value\n2019-01-01,1\n2019-01-02,2\n2019-01-05,5\n2019-01-06,6\n"
                           "2019-01-08,8\n")
    with pytest.raises(SeriesError) as info:
        load_csv(path, "date", "value")
    message = str(info.value)
    assert "3 missing day(s)" in message
    assert "2019-01-03 to 2019-01-04 (before line 4" in message
    assert "2019-01-07 (before line 6" in message


def test_load_csv_unknown_column_lists_columns(tmp_path):
    path = write(tmp_path, "service_date,bus,rail_boardings\n01/01/2019,1,2\n")
    with pytest.raises(SeriesError, match="no column 'rail'.*service_date, bus, rail_boardings"):
        load_csv(path, "service_date", "rail")


def test_load_csv_bad_date_names_line(tmp_path):
    path = write(tmp_path, "date,value\n01/02/2019,1\n13/01/2019,2\n")
    with pytest.raises(SeriesError, match=r"line 3: date '13/01/2019' is not a date in the format "
                                          r"MM/DD/YYYY \(day and month swapped"):
        load_csv(path, "date", "value")
    with pytest.raises(SeriesError, match="cannot tell the date format"):
        load_csv(write(tmp_path, "date,value\n2019.01.01,1\n", "odd.csv"), "date", "value")


def test_write_csv_round_trip(tmp_path, default_series):
    part = default_series.part("2019-01-01", "2019-03-31")
    out = write_csv(part, tmp_path / "part.csv")
    assert out.read_text().splitlines()[:2] == ["date,value", f"2019-01-01,{int(part.values[0])}"]
    back = load_csv(out, "date", "value", scale=part.scale)
    assert np.array_equal(back.dates, part.dates) and np.array_equal(back.values, part.values)


# --- config, splits and export -------------------------------------------------------------------

def test_series_from_config_csv_is_relative_to_root(tmp_path, cfg):
    write(tmp_path, "when,count\n2019-01-01,1\n2019-01-02,2\n", "ridership.csv")
    s = series_from_config({**cfg, "source": "csv", "path": "ridership.csv", "date_column": "when",
                            "value_column": "count", "scale": 2.0}, tmp_path)
    assert s.values.tolist() == [1, 2] and s.scale == 2.0
    with pytest.raises(SeriesError, match=r"\[series\] path is empty"):
        series_from_config({**cfg, "source": "csv"}, tmp_path)
    with pytest.raises(SeriesError, match=r"\[series\] path: .*missing.csv does not exist"):
        series_from_config({**cfg, "source": "csv", "path": "missing.csv"}, tmp_path)
    with pytest.raises(SeriesError, match=r"\[series\] source"):
        series_from_config({**cfg, "source": "parquet"}, tmp_path)


def test_split_default_parts(default_series, cfg):
    parts = split(default_series, cfg)
    assert (parts.train.start, parts.train.end) == ("2012-01-01", "2017-12-31")
    assert (parts.valid.start, parts.valid.end) == ("2018-01-01", "2018-12-31")
    assert (parts.test.start, parts.test.end, len(parts.test)) == ("2019-01-01", "2019-12-31", 365)


def test_split_accepts_toml_dates(default_series, cfg):
    parts = split(default_series, {**cfg, "test": [dt.date(2019, 1, 1), dt.date(2019, 6, 30)]})
    assert parts.test.end == "2019-06-30"


@pytest.mark.parametrize("change, message", [
    ({"valid": ["2017-12-01", "2018-12-31"]}, r"\[series\] valid starts on 2017-12-01.*end of train"),
    ({"test": ["2018-06-01", "2019-12-31"]}, r"\[series\] test starts on 2018-06-01.*end of valid"),
    ({"test": ["2019-01-01", "2020-03-31"]}, r"\[series\] test = \[2019-01-01, 2020-03-31\] is not inside"),
    ({"train": ["2011-01-01", "2017-12-31"]}, r"\[series\] train = .* is not inside"),
    ({"test": ["2019-12-31", "2019-01-01"]}, r"\[series\] test: ends \(2019-01-01\) before it starts"),
    ({"test": "2019"}, r"\[series\] test must be two dates"),
    ({"valid": ["2018-01-01", "31/12/2018"]}, r"\[series\] valid: expected an ISO date"),
])
def test_split_errors_name_the_key(default_series, cfg, change, message):
    with pytest.raises(SeriesError, match=message):
        split(default_series, {**cfg, **change})


def test_export_part_writes_train_and_refuses_test(tmp_path, default_series, cfg):
    part = export_part(default_series, cfg, "train", tmp_path / "train.csv")
    assert part.end == "2017-12-31"
    assert len((tmp_path / "train.csv").read_text().splitlines()) == len(part) + 1
    with pytest.raises(SeriesError, match="held out"):
        export_part(default_series, cfg, "test", tmp_path / "test.csv")
    with pytest.raises(SeriesError, match="unknown part 'all'"):
        export_part(default_series, cfg, "all", tmp_path / "all.csv")
    assert not (tmp_path / "test.csv").exists() and not (tmp_path / "all.csv").exists()


# --- acceptance: the textbook's CTA figures ------------------------------------------------------

@pytest.fixture(scope="module")
def cta_path() -> Path:
    if not CTA_CSV.is_file():
        pytest.skip(f"{CTA_CSV} is absent (the shared/ folder is not beside the checkout)")
    return CTA_CSV


@pytest.mark.parametrize("column, expected", [("rail_boardings", 42_143), ("bus", 43_916)])
def test_cta_seasonal_naive_mae_matches_textbook(cta_path, column, expected):
    s = load_csv(cta_path, "service_date", column)
    assert s.duplicates_dropped == 62
    assert len(s) == 7639 and (s.start, s.end) == ("2001-01-01", "2021-11-30")
    assert round(seasonal_naive_one_step_mae(s, "2019-03-01", "2019-05-31")) == expected


# --- windows and baselines -----------------------------------------------------------------------

def test_default_windows_cover_the_test_part(default_series, cfg):
    windows = held_out_windows(default_series, cfg)
    start = default_series.index_of("2019-01-01")
    assert windows.inputs.shape == (365 - HORIZON + 1, DEFAULT_WINDOW, 1)
    assert windows.inputs.dtype == np.float32 and windows.targets.shape == (359, HORIZON)
    assert windows.origins[0] == start - 1 and windows.origins[-1] + HORIZON == len(default_series) - 1


@pytest.mark.parametrize("start, end, window", [(60, 66, 56), (100, 200, 10), (30, 99, 30)])
def test_eval_windows_count_targets_and_inputs(start, end, window):
    values = np.arange(300, dtype=np.float64) / 7
    inputs, targets, origins = eval_windows(values, start, end, window)
    assert len(origins) == (end - start + 1) - HORIZON + 1
    assert targets.min() == values[start] and targets.max() == values[end]
    for i in (0, len(origins) - 1):
        t = origins[i]
        assert np.array_equal(targets[i], values[t + 1:t + 1 + HORIZON])
        assert np.allclose(inputs[i, :, 0], values[t - window + 1:t + 1])


def test_eval_windows_errors():
    values = np.arange(100, dtype=np.float64)
    with pytest.raises(ForecastError, match="56-day window needs 56 days"):
        eval_windows(values, 40, 99, 56)
    with pytest.raises(ForecastError, match="needs 7"):
        eval_windows(values, 90, 95, 10)
    with pytest.raises(ForecastError, match="not inside"):
        eval_windows(values, 90, 100, 10)


def test_baselines_shapes_and_values():
    values = np.arange(50, dtype=np.float64)
    _, targets, origins = eval_windows(values, 20, 49, 14)
    naive, seasonal = naive_forecast(values, origins), seasonal_naive_forecast(values, origins)
    assert naive.shape == seasonal.shape == targets.shape
    assert np.array_equal(naive[:, 0], values[origins]) and np.all(naive == naive[:, :1])
    assert np.array_equal(seasonal, targets - 7)            # one week before each target day
    assert np.array_equal(seasonal_naive_forecast(values, origins, m=1), naive)


def test_seasonal_naive_is_exact_on_a_weekly_series():
    s = weekly()
    _, targets, origins = eval_windows(s.scaled(), 300, 399, 56)
    assert mae(targets, seasonal_naive_forecast(s.scaled(), origins)) == 0.0
    assert mae(targets, naive_forecast(s.scaled(), origins)) > 0


def test_mase_of_seasonal_naive_in_sample_is_one(default_series, cfg):
    train = split(default_series, cfg).train.scaled()
    assert mase(train[7:], train[:-7], train) == pytest.approx(1.0)
    # The same on multi-step windows over the training days, where edge days count less.
    _, targets, origins = eval_windows(train, 56, len(train) - 1, 56)
    assert mase(targets, seasonal_naive_forecast(train, origins), train) == pytest.approx(1.0, abs=0.02)


def test_metrics_are_in_published_units():
    y = np.zeros((4, HORIZON))
    yhat = np.tile(np.arange(1.0, 8.0), (4, 1)) / 100
    found = metrics(y, yhat, np.array([0.0] * 7 + [0.01] * 7), scale=1e6)
    assert found["mae"] == pytest.approx(40_000)
    assert found["rmse"] == pytest.approx(1e6 * rmse(y, yhat))
    assert found["mase"] == pytest.approx(4.0)
    assert found["mae_per_horizon"] == pytest.approx([10_000 * h for h in range(1, 8)])
    assert np.allclose(mae_per_horizon(y, yhat), np.arange(1, 8) / 100)
    json.dumps(found)


def test_baseline_table_and_evaluate(default_series, cfg):
    rows = baseline_table(default_series, cfg)
    assert [row.name for row in rows] == ["naive", "seasonal naive"]
    naive, seasonal = rows
    assert seasonal.mae < naive.mae and 0.5 < seasonal.mase < 2
    assert 10_000 < seasonal.mae < 200_000                  # published units, not model units
    windows = held_out_windows(default_series, cfg)
    perfect = evaluate(windows.targets[:, :, None], default_series, cfg)
    assert perfect.forecast.mae == 0.0 and perfect.n_windows == 359
    assert perfect.seasonal_naive == seasonal and perfect.naive == naive
    assert (perfect.test_start, perfect.test_end) == ("2019-01-01", "2019-12-31")
    assert json.loads(json.dumps(perfect.to_dict()))["seasonal_naive"]["mase"] == seasonal.mase


def test_seasonal_naive_one_step_mae_on_synthetic(default_series):
    s = default_series
    i, j = s.index_of("2019-03-01"), s.index_of("2019-05-31")
    expected = np.mean(np.abs(s.values[i:j + 1] - s.values[i - 7:j - 6]))
    assert seasonal_naive_one_step_mae(s, "2019-03-01", "2019-05-31") == pytest.approx(expected)
    with pytest.raises(ForecastError, match="fewer than 7 days"):
        seasonal_naive_one_step_mae(s, "2012-01-03", "2012-02-01")


# --- student predictions and credit --------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (5, 56, 7), (5, 1, 7)])
def test_normalise_predictions_accepts_three_forms(shape):
    raw = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    out = normalise_predictions(raw, 5)
    assert out.shape == (5, 7) and out.dtype == np.float64
    expected = raw[:, -1, :] if len(shape) == 3 and shape[2] == 7 else raw.reshape(5, 7)
    assert np.allclose(out, expected)


@pytest.mark.parametrize("shape, hint", [
    ((5,), ""), ((5, 1), "Dense(7)"), ((5, 56, 1), "Dense(7)"), ((5, 7, 2), "has 2"),
    ((5, 14), "has 14"), ((5, 1, 7, 1), ""),
])
def test_normalise_predictions_rejects_other_shapes(shape, hint):
    with pytest.raises(ForecastShapeError) as info:
        normalise_predictions(np.zeros(shape), 5)
    message = str(info.value)
    assert f"received shape {shape}" in message
    assert "(5, 7), (5, 7, 1), or (5, T, 7)" in message and hint in message


def test_normalise_predictions_wrong_window_count_and_non_finite():
    with pytest.raises(ForecastShapeError, match=r"for 5 windows.*received shape \(4, 7\)"):
        normalise_predictions(np.zeros((4, 7)), 5)
    raw = np.zeros((5, 7))
    raw[2, 3] = np.nan
    with pytest.raises(NonFiniteForecastError, match="1 of 35 .*window 3, day 4"):
        normalise_predictions(raw, 5)
    assert not issubclass(NonFiniteForecastError, ForecastShapeError)


def test_accuracy_fraction():
    assert accuracy_fraction(10, full_mae=10, zero_mae=30) == 1.0
    assert accuracy_fraction(5, full_mae=10, zero_mae=30) == 1.0
    assert accuracy_fraction(20, full_mae=10, zero_mae=30) == pytest.approx(0.5)
    assert accuracy_fraction(30, full_mae=10, zero_mae=30) == 0.0
    assert accuracy_fraction(45, full_mae=10, zero_mae=30) == 0.0
    assert accuracy_fraction(float("nan"), full_mae=10, zero_mae=30) == 0.0
    assert accuracy_fraction(30, full_mae=30, zero_mae=20) == 1.0
    assert accuracy_fraction(31, full_mae=30, zero_mae=20) == 0.0


# --- module boundaries ---------------------------------------------------------------------------

def test_default_window_matches_course_default():
    assert DEFAULT_WINDOW == DEFAULT_CONFIG["series"]["window"]


def test_forecasting_does_not_import_tensorflow():
    code = ("import sys, grader.forecast.series, grader.forecast.metrics; "
            "sys.exit(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))")
    repo = Path(__file__).resolve().parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo).returncode == 0
