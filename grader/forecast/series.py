"""The daily series forecasters are graded on: synthetic or from a CSV, behind one interface.

A :class:`Series` is one value per consecutive day, in published units
(boardings); models see ``series.scaled()`` (value / scale). The ``[series]``
table of ``course.toml`` (see :mod:`grader.core.course`) picks the source and the
train / valid / test date ranges::

    series = series_from_config(course.series, course.root)
    parts = split(series, course.series)       # parts.train, parts.valid, parts.test

The test part is held out for grading: :func:`export_part` refuses to write it.
Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from grader.core.config import SeriesConfig
from grader.core.errors import GraderError
from grader.core.terminal import printable

DayLike = str | dt.date | np.datetime64

EXPORTABLE_PARTS = ("train", "valid")
PART_KEYS = ("train", "valid", "test")

# The date formats 'auto' recognises; named groups let one parser read either order.
_ISO_DATE = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})$")
_US_DATE = re.compile(r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})$")


def _parse_date(pattern: re.Pattern[str], text: str) -> dt.date:
    """The date ``text`` spells in ``pattern``'s ``year`` / ``month`` / ``day`` groups; ValueError otherwise."""
    match = pattern.match(text)
    if not match:
        raise ValueError(text)
    return dt.date(int(match["year"]), int(match["month"]), int(match["day"]))


def _parse_iso(text: str) -> dt.date:
    return _parse_date(_ISO_DATE, text)


def _parse_us(text: str) -> dt.date:
    return _parse_date(_US_DATE, text)


_AUTO_FORMATS = ((_ISO_DATE, _parse_iso, "YYYY-MM-DD"), (_US_DATE, _parse_us, "MM/DD/YYYY"))


class SeriesError(GraderError, ValueError):
    """The series, its file or its config is unusable; the message says where and how to fix it."""


def to_day(value: DayLike, what: str = "date") -> np.datetime64:
    """``value`` (ISO ``YYYY-MM-DD`` text, a date or a datetime64) as a ``datetime64[D]``.

    Raises :class:`SeriesError` naming ``what`` when the value is not a date.
    """
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]")
    if isinstance(value, dt.datetime):
        return np.datetime64(value.date(), "D")
    if isinstance(value, dt.date):
        return np.datetime64(value, "D")
    if isinstance(value, str):
        try:
            return np.datetime64(_parse_iso(value.strip()), "D")
        except ValueError:
            pass
    raise SeriesError(f"{what}: expected an ISO date like '2019-01-01', got {value!r}")


@dataclass(frozen=True, eq=False)
class Series:
    """One value per consecutive day.

    ``values`` are in published units; ``scaled()`` gives what models see.
    ``source`` is ``"synthetic"`` or ``"csv"``; ``name`` says which series for
    people. ``duplicates_dropped`` counts the duplicate rows (an earlier row's
    date and value again) dropped when the source file was read; parts keep the
    count of their parent. The arrays are read-only copies.
    """

    dates: np.ndarray
    values: np.ndarray
    scale: float = 1.0
    name: str = "series"
    source: str = "synthetic"
    duplicates_dropped: int = 0

    def __post_init__(self) -> None:
        dates = np.array(self.dates, dtype="datetime64[D]")
        values = np.array(self.values, dtype=np.float64)
        if dates.ndim != 1 or values.shape != dates.shape:
            raise SeriesError(f"{self.name}: dates and values must be 1-D and of the same length, "
                              f"got shapes {dates.shape} and {values.shape}")
        if len(dates) == 0:
            raise SeriesError(f"{self.name}: the series has no days")
        steps = np.diff(dates).astype(np.int64)
        if np.any(steps != 1):
            at = int(np.flatnonzero(steps != 1)[0])
            raise SeriesError(f"{self.name}: days must be consecutive; {dates[at]} is followed by "
                              f"{dates[at + 1]}")
        if not np.isfinite(self.scale) or self.scale <= 0:
            raise SeriesError(f"{self.name}: scale must be a positive number, got {self.scale!r}")
        dates.setflags(write=False)
        values.setflags(write=False)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "scale", float(self.scale))

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def start(self) -> str:
        """The first day, ISO."""
        return str(self.dates[0])

    @property
    def end(self) -> str:
        """The last day, ISO."""
        return str(self.dates[-1])

    def scaled(self) -> np.ndarray:
        """``values / scale`` (float64): the units models are trained and evaluated in."""
        return self.values / self.scale

    def index_of(self, date: DayLike) -> int:
        """Position of ``date`` in the series; :class:`SeriesError` if it lies outside."""
        day = to_day(date)
        offset = int((day - self.dates[0]).astype(np.int64))
        if not 0 <= offset < len(self):
            raise SeriesError(f"{self.name}: {day} is outside the series ({self.start} to {self.end})")
        return offset

    def part(self, start: DayLike, end: DayLike) -> "Series":
        """The days from ``start`` to ``end`` inclusive, as a Series with the same scale and name."""
        first, last = self.index_of(start), self.index_of(end)
        if last < first:
            raise SeriesError(f"{self.name}: part ends ({to_day(end)}) before it starts ({to_day(start)})")
        return replace(self, dates=self.dates[first:last + 1], values=self.values[first:last + 1])


@dataclass(frozen=True)
class Splits:
    """The train, validation and held-out test parts of one series."""

    train: Series
    valid: Series
    test: Series


# --- the synthetic series ------------------------------------------------------------------------

def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th ``weekday`` (Monday = 0) of a month; ``n = -1`` is the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last = following - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def holiday_effects(year: int) -> dict[dt.date, float | None]:
    """US holidays of ``year`` and how ridership reacts.

    ``None`` means service runs like a Sunday; a number multiplies the usual level
    of that day (partial holidays such as Christmas Eve).
    """
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    return {
        dt.date(year, 1, 1): None,
        dt.date(year, 7, 4): None,
        dt.date(year, 12, 25): None,
        _nth_weekday(year, 5, 0, -1): None,                  # Memorial Day
        _nth_weekday(year, 9, 0, 1): None,                   # Labor Day
        thanksgiving: None,
        thanksgiving + dt.timedelta(days=1): 0.72,
        _nth_weekday(year, 1, 0, 3): 0.85,                   # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3): 0.9,                    # Presidents' Day
        dt.date(year, 12, 24): 0.75,
        dt.date(year, 12, 26): 0.85,
        dt.date(year, 12, 31): 0.8,
    }


def _ar1(rng: np.random.Generator, days: int, phi: float, sigma: float) -> np.ndarray:
    shocks = (rng.standard_normal(days) * sigma).tolist()
    noise = [shocks[0] / (1 - phi * phi) ** 0.5]     # start in the stationary distribution
    for shock in shocks[1:]:
        noise.append(phi * noise[-1] + shock)
    return np.array(noise)


def synthetic_series(seed: int, start: DayLike = "2012-01-01", days: int = 2922,
                     scale: float = 1e6) -> Series:
    """A daily series that behaves like transit ridership, the same for the same seed.

    Values are whole boardings, roughly 0.2 to 1.5 million: weekday, Saturday
    and Sunday levels, a yearly cycle (low in winter, high in late summer and
    autumn; weekends swing more), US holidays (Sunday-like service on Jan 1,
    Memorial Day, Jul 4, Labor Day, Thanksgiving, Dec 25, partial dips around
    them, a quieter week between Christmas and New Year), winter storms, a slow
    trend and AR(1) noise. Level, shape and noise all come from
    ``numpy.random.default_rng(seed)``, so another seed gives another series,
    held-out part included.
    """
    if days < 1:
        raise SeriesError(f"synthetic series: days must be at least 1, got {days}")
    rng = np.random.default_rng(seed)
    dates = to_day(start, "synthetic series start") + np.arange(days)
    weekday = (dates.astype(np.int64) + 3) % 7          # 1970-01-01 was a Thursday; Monday = 0
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    years = np.arange(days) / 365.25

    weekday_level = rng.uniform(0.95e6, 1.15e6)
    week_shape = np.array([0.97, 1.0, 1.01, 1.01, 1.02,
                           rng.uniform(0.55, 0.65), rng.uniform(0.38, 0.48)])
    week_shape[:5] *= 1 + rng.normal(0, 0.01, 5)
    factor = week_shape[weekday]

    angle = 2 * np.pi / 365.25
    yearly = (rng.uniform(0.05, 0.09) * np.cos(angle * (day_of_year - rng.uniform(200, 270)))
              + rng.uniform(0.0, 0.025) * np.cos(2 * angle * (day_of_year - rng.uniform(0, 180))))
    weekend_summer = rng.uniform(0.04, 0.1) * np.cos(angle * (day_of_year - 195))
    seasonal = 1 + yearly + np.where(weekday >= 5, weekend_summer, 0.0)

    drift = rng.uniform(-0.15, 0.15) * (years / max(years[-1], 1.0) - 0.5)
    wobble = rng.uniform(0.0, 0.03) * np.sin(2 * np.pi * years / rng.uniform(5, 9) + rng.uniform(0, 6.3))
    trend = np.exp(drift + wobble)

    first_year, last_year = int(str(dates[0])[:4]), int(str(dates[-1])[:4])
    for year in range(first_year, last_year + 1):
        for day, effect in holiday_effects(year).items():
            i = int((np.datetime64(day, "D") - dates[0]).astype(np.int64))
            if 0 <= i < days:
                sunday_like = week_shape[6] * rng.uniform(0.9, 1.1)
                factor[i] = sunday_like if effect is None else factor[i] * effect

    month = (dates.astype("datetime64[M]").astype(np.int64) % 12) + 1
    day_of_month = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    winter_break = ((month == 12) & (day_of_month >= 22)) | ((month == 1) & (day_of_month <= 2))
    factor[winter_break & (weekday < 5)] *= rng.uniform(0.7, 0.85)

    winter = np.flatnonzero((month == 12) | (month <= 2))
    storms = np.zeros(days)
    if len(winter):
        hit = rng.choice(winter, size=rng.poisson(1.5 * days / 365.25), replace=True)
        depth = rng.uniform(0.1, 0.4, len(hit))
        np.add.at(storms, hit, np.log1p(-depth))
        next_day = hit + 1 < days
        np.add.at(storms, hit[next_day] + 1, 0.5 * np.log1p(-depth[next_day]))

    noise = _ar1(rng, days, rng.uniform(0.5, 0.8), rng.uniform(0.015, 0.03))
    values = np.round(weekday_level * factor * seasonal * trend * np.exp(noise + storms))
    return Series(dates, values, scale, f"synthetic ridership (seed {seed})", "synthetic")


# --- CSV files -----------------------------------------------------------------------------------

def _date_parser(date_format: str, first_text: str, where: str) -> tuple[Callable[[str], dt.date], str]:
    if date_format != "auto":
        return (lambda value: dt.datetime.strptime(value, date_format).date()), date_format
    for pattern, parse, label in _AUTO_FORMATS:
        if pattern.match(first_text):
            return parse, label
    raise SeriesError(f"{where}: cannot tell the date format from {first_text!r}; 'auto' knows "
                      f"MM/DD/YYYY and YYYY-MM-DD, pass date_format (a strptime format such "
                      f"as '%d.%m.%Y') for others")


def _gap_message(path: Path, days: np.ndarray, lines: np.ndarray) -> str:
    steps = np.diff(days).astype(np.int64)
    gaps = np.flatnonzero(steps > 1)
    missing = int((steps[gaps] - 1).sum())
    shown = []
    for at in gaps[:3]:
        first, last = days[at] + 1, days[at + 1] - 1
        span = str(first) if first == last else f"{first} to {last}"
        shown.append(f"{span} (before line {lines[at + 1]}, which has {days[at + 1]})")
    more = f"; and {len(gaps) - 3} more gaps" if len(gaps) > 3 else ""
    return (f"{printable(path)}: {missing} missing day(s): {'; '.join(shown)}{more}. "
            f"A daily series needs one row per day; fill the gaps in the file")


def _read_days(path: Path, date_column: str, value_column: str,
               date_format: str) -> tuple[dict[dt.date, tuple[float, int]], int]:
    """{date: (value, line)} of the file's rows, and how many duplicate rows were dropped."""
    # Names from course.toml and the file are shown printable: a message is one line, whatever they hold.
    where, date_name, value_name = printable(path), printable(date_column), printable(value_column)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise SeriesError(f"{where}: the file is empty (expected a header row)")
        header = [name.strip() for name in header]
        for wanted in (date_column, value_column):
            if wanted not in header:
                raise SeriesError(f"{where}: no column {wanted!r} (columns present: {printable(', '.join(header))})")
        date_at, value_at = header.index(date_column), header.index(value_column)
        needed = max(date_at, value_at) + 1

        parse: Callable[[str], dt.date] | None = None
        label = date_format
        seen: dict[dt.date, tuple[float, int]] = {}
        duplicates = 0
        for row in reader:
            line = reader.line_num
            if not any(field.strip() for field in row):
                continue
            if len(row) < needed:
                raise SeriesError(f"{where}: line {line}: {len(row)} fields, but {value_column!r} "
                                  f"and {date_column!r} need at least {needed}")
            date_text, value_text = row[date_at].strip(), row[value_at].strip()
            if parse is None:
                parse, label = _date_parser(date_format, date_text, f"{where}: line {line}")
            try:
                day = parse(date_text)
            except ValueError:
                hint = (" (day and month swapped? pass date_format='%d/%m/%Y')"
                        if label == "MM/DD/YYYY" else "")
                raise SeriesError(f"{where}: line {line}: {date_name} {date_text!r} is not a date "
                                  f"in the format {printable(label)}{hint}") from None
            try:
                value = float(value_text)
            except ValueError:
                value = float("nan")
            if not np.isfinite(value):
                raise SeriesError(f"{where}: line {line}: {value_name} is not a number: {value_text!r}")
            if day in seen:
                earlier, earlier_line = seen[day]
                if earlier != value:
                    raise SeriesError(f"{where}: lines {earlier_line} and {line} both give {day} with "
                                      f"different {value_name} values ({earlier:g} and {value:g}); "
                                      f"keep one of them")
                duplicates += 1
                continue
            seen[day] = (value, line)
    return seen, duplicates


def load_csv(path: str | Path, date_column: str, value_column: str, date_format: str = "auto",
             scale: float = 1.0) -> Series:
    """Read one column of a daily CSV file into a Series sorted by date.

    ``date_format`` is ``"auto"`` (MM/DD/YYYY or ISO YYYY-MM-DD, detected from the
    first row) or a ``strptime`` format. Rows repeating an earlier row's date and
    value are dropped and counted in ``duplicates_dropped``. Raises
    :class:`SeriesError`, naming the line, for an unknown column, an unreadable
    date, a value that is not a finite number, one date with two different
    values, or missing days.
    """
    path = Path(path)
    try:
        seen, duplicates = _read_days(path, date_column, value_column, date_format)
    except OSError as exc:
        raise SeriesError(f"cannot read {printable(path)}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SeriesError(f"{printable(path)}: not a UTF-8 CSV file ({exc})") from None
    if not seen:
        raise SeriesError(f"{printable(path)}: no data rows below the header")

    order = sorted(seen)
    days = np.array(order, dtype="datetime64[D]")
    lines = np.array([seen[day][1] for day in order])
    if np.any(np.diff(days).astype(np.int64) > 1):
        raise SeriesError(_gap_message(path, days, lines))
    values = np.array([seen[day][0] for day in order])
    return Series(days, values, scale, printable(f"{path.name}: {value_column}"), "csv", duplicates)


def write_csv(series: Series, out_path: str | Path) -> Path:
    """Write ``series`` as ``date,value`` rows with ISO dates and published values; returns the path."""
    out_path = Path(out_path)
    dates = np.datetime_as_string(series.dates, unit="D")
    try:
        with out_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["date", "value"])
            for day, value in zip(dates, series.values.tolist()):
                writer.writerow([day, int(value) if value.is_integer() else repr(value)])
    except OSError as exc:
        raise SeriesError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    return out_path


# --- the [series] table --------------------------------------------------------------------------

SeriesTable = SeriesConfig | Mapping[str, Any]


def series_from_config(series_cfg: SeriesTable, root: Path) -> Series:
    """The series the ``[series]`` table describes (absent keys take the defaults of grader.core.config).

    A csv ``path`` is relative to ``root`` (the course folder) unless absolute.
    """
    cfg = SeriesConfig.from_table(series_cfg)
    if cfg.source == "synthetic":
        return synthetic_series(cfg.seed, cfg.start, cfg.days, float(cfg.scale))
    if cfg.source == "csv":
        if not cfg.path:
            raise SeriesError("[series] path is empty; with source = \"csv\" set path to the CSV file")
        path = Path(cfg.path).expanduser()
        path = path if path.is_absolute() else Path(root) / path
        try:
            found = path.is_file()
        except OSError as exc:      # a name too long, a loop of symbolic links
            raise SeriesError(f"[series] path: {printable(path)} cannot be read: {exc.strerror or exc}") from None
        if not found:
            raise SeriesError(f"[series] path: {printable(path)} does not exist")
        return load_csv(path, cfg.date_column, cfg.value_column, cfg.date_format, float(cfg.scale))
    raise SeriesError(f"[series] source must be \"synthetic\" or \"csv\", got {cfg.source!r}")


def _config_range(cfg: SeriesConfig, key: str) -> tuple[np.datetime64, np.datetime64]:
    value = getattr(cfg, key)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise SeriesError(f"[series] {key} must be two dates like [\"2019-01-01\", \"2019-12-31\"], "
                          f"got {value!r}")
    first, last = (to_day(day, f"[series] {key}") for day in value)
    if last < first:
        raise SeriesError(f"[series] {key}: ends ({last}) before it starts ({first})")
    return first, last


def split(series: Series, series_cfg: SeriesTable) -> Splits:
    """The train / valid / test parts named by the config's date ranges.

    Raises :class:`SeriesError` naming the config key when a range is malformed,
    lies outside the series, or the parts are out of order or overlap.
    """
    cfg = SeriesConfig.from_table(series_cfg)
    ranges = {key: _config_range(cfg, key) for key in PART_KEYS}
    first_day, last_day = series.dates[0], series.dates[-1]
    for key, (first, last) in ranges.items():
        if first < first_day or last > last_day:
            raise SeriesError(f"[series] {key} = [{first}, {last}] is not inside the series "
                              f"({series.name}: {first_day} to {last_day})")
    for before, after in zip(PART_KEYS, PART_KEYS[1:]):
        if ranges[after][0] <= ranges[before][1]:
            raise SeriesError(f"[series] {after} starts on {ranges[after][0]}, which is not after the "
                              f"end of {before} ({ranges[before][1]}); the parts must be in the order "
                              f"train, valid, test without overlapping")
    return Splits(*(series.part(*ranges[key]) for key in PART_KEYS))


def export_part(series: Series, series_cfg: SeriesTable, part: str, out: str | Path) -> Series:
    """Write the ``train`` or ``valid`` part to ``out`` as CSV and return it.

    The test part is held out for grading and is never written: asking for it
    (or any other name) raises :class:`SeriesError`.
    """
    if part == "test":
        raise SeriesError("the test part is held out for grading and cannot be exported; "
                          "choose 'train' or 'valid'")
    if part not in EXPORTABLE_PARTS:
        raise SeriesError(f"unknown part {part!r}; choose 'train' or 'valid'")
    chosen = getattr(split(series, series_cfg), part)
    write_csv(chosen, out)
    return chosen
