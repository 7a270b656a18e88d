"""``course.toml``, parsed and validated once into frozen dataclasses.

:data:`DEFAULT_CONFIG` holds every key's default, in the shape of the TOML file; it is the
only place a default is written. :func:`read_config` reads a file into a
:class:`CourseConfig`; every error names the file and the key ("course.toml: [series]
window must be a whole number of days >= 7, got 'x'"). The forecasting and sandbox
layers also accept a plain table (``SeriesConfig.from_table({...})``), which tests and
library users find handy.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

from grader.core.contract import DEFAULT_WINDOW
from grader.core.errors import GraderError
from grader.core.terminal import printable

CONFIG_NAME = "course.toml"
MAX_SERIES_DAYS = 36525         # a hundred years of days
MAX_SECONDS = 7 * 24 * 3600
MAX_MIB = 2**30
LAST_UID = 2**32 - 3            # the last uid grader.sandbox.uids hands out ((uid_t) -1 and -2 are special)

DEFAULT_CONFIG: dict[str, Any] = {
    "course": {"name": "RNN assignment 7", "demo": False},
    "series": {
        "source": "synthetic",
        "seed": 20240607,
        "start": "2012-01-01",
        "days": 2922,
        "path": "",
        "date_column": "service_date",
        "value_column": "rail_boardings",
        "date_format": "auto",
        "scale": 1e6,
        "train": ["2012-01-01", "2017-12-31"],
        "valid": ["2018-01-01", "2018-12-31"],
        "test": ["2019-01-01", "2019-12-31"],
        "window": DEFAULT_WINDOW,
    },
    "limits": {"task_seconds": 60, "submission_seconds": 600, "memory_mb": 4096, "plain_memory_mb": 1024,
               "file_mb": 256, "scratch_mb": 256, "first_uid": 1_900_000_000, "uid_count": 1024},
    "release": {"answers": False, "forecast_plots": False},
    "gradescope": {"visibility": "visible", "stdout_visibility": "hidden", "leaderboard": True},
    "export": {"canvas_assignment": "Assignment 7", "moodle_key": "email", "moodle_item": "Assignment 7"},
    "executor": {"kind": "local", "scheduler": ""},
}

# Gradescope's visibility values (its results.json specification).
GRADESCOPE_VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
# The user fields Moodle's "Import grades from CSV" can identify a student by, that a roster holds.
MOODLE_KEYS = ("email", "idnumber")
# Where 'grader batch' grades (grader.grading.executors).
EXECUTOR_KINDS = ("local", "dask")

DEFAULT_CONFIG_TEXT = '''\
# Course config for the RNN grader. Every key is optional; defaults shown.
[course]
name = "RNN assignment 7"

[series]
# The daily series forecasters are graded on. "synthetic" is generated from
# the seed, which 'grader init' drew at random for this course: keep it private,
# or students could regenerate the held-out part.
source = "synthetic"
seed = 20240607
start = "2012-01-01"
days = 2922
# For a real series: source = "csv", path = "...", and the columns below.
path = ""
date_column = "service_date"
value_column = "rail_boardings"
date_format = "auto"
scale = 1e6
train = ["2012-01-01", "2017-12-31"]
valid = ["2018-01-01", "2018-12-31"]
test = ["2019-01-01", "2019-12-31"]
window = 56

[limits]
# Wall clock per sandboxed task, and for all the sandboxed tasks of one submission:
# once a submission has used submission_seconds, its remaining tasks score 0.
task_seconds = 60
submission_seconds = 600
memory_mb = 4096
plain_memory_mb = 1024
# Largest file a student may submit (a pretrained CNN inside TimeDistributed fits) and a
# worker may write; a whole submission may hold twice this. A larger file is refused with
# its size and this limit, never reported as missing.
file_mb = 256
# Each worker's private /tmp (a tmpfs that vanishes with it; /dev/shm gets at most 64).
scratch_mb = 256
# When the grader runs as root, each worker runs as a uid of its own from
# first_uid .. first_uid + uid_count - 1 (no accounts needed; keep the range unused).
first_uid = 1900000000
uid_count = 1024

[release]
answers = false
forecast_plots = false

[gradescope]
# What students see on Gradescope: the result ("visible", "after_due_date",
# "after_published" or "hidden"), and run_autograder's log (keep it hidden: it holds
# TensorFlow's messages and, for a refused course, server paths).
visibility = "visible"
stdout_visibility = "hidden"
# The forecasters' held-out MAE on the assignment's leaderboard (if enabled on Gradescope).
leaderboard = true

[export]
# 'grader export --format canvas': the Canvas assignment the total goes to. Canvas matches
# the column by its header, so the header of the imported gradebook export that names this
# assignment ("Assignment 7 (12345)") is used when there is one ('grader roster import').
canvas_assignment = "Assignment 7"
# 'grader export --format moodle': the column Moodle identifies students by ("email": its
# "Email address", or "idnumber": its "ID number", the roster's SIS id), and the header of
# the grade column (mapped to a grade item on Moodle's import page).
moodle_key = "email"
moodle_item = "Assignment 7"

[executor]
# Where 'grader batch' grades: "local" (this machine's sandboxed workers) or "dask"
# (a Dask cluster; pip install 'rnn-grader[dask]'). scheduler is the address of a running
# Dask scheduler ("tcp://host:8786"); empty starts a local cluster of --workers processes.
kind = "local"
scheduler = ""
'''


class CourseError(GraderError, ValueError):
    """The course folder or its config is unusable; the message says how to fix it."""


def _anything(value: Any) -> bool:
    return True


def _positive(value: Any) -> bool:
    return value > 0


def _header(value: str) -> bool:
    """Text that can head a CSV column a person picks from a list: not blank, one printable line."""
    return bool(value.strip()) and value.isprintable()


def _expandable(value: str) -> bool:
    """A path whose ``~`` or ``~user`` prefix names a home folder on this machine (pathlib raises otherwise)."""
    try:
        Path(value).expanduser()
    except RuntimeError:
        return False
    return True


# table -> key -> (accepted types, what the message says it must be, a further condition)
_RULES: dict[str, dict[str, tuple[tuple[type, ...], str, Callable[[Any], bool]]]] = {
    "course": {"name": ((str,), "text", _anything), "demo": ((bool,), "true or false", _anything)},
    "series": {
        **{key: ((str,), "text", _anything)
           for key in ("source", "start", "date_column", "value_column", "date_format")},
        "path": ((str,), "a file path whose ~user names an account on this machine", _expandable),
        # numpy seeds are never negative; a longer series than a century only exhausts memory.
        "seed": ((int,), "a whole number >= 0", lambda value: value >= 0),
        "days": ((int,), f"a whole number of days from 1 to {MAX_SERIES_DAYS}",
                 lambda value: 1 <= value <= MAX_SERIES_DAYS),
        "scale": ((int, float), "a positive number", _positive),
        "train": ((list, tuple), "two dates", _anything),
        "valid": ((list, tuple), "two dates", _anything),
        "test": ((list, tuple), "two dates", _anything),
        "window": ((int,), "a whole number of days >= 7", lambda value: value >= 7),
    },
    # Upper bounds the sandbox can apply: its waits overflow past a time_t, its rlimits past a C long.
    "limits": {
        **{key: ((int, float), f"a positive number of seconds up to {MAX_SECONDS} (a week)",
                 lambda value: 0 < value <= MAX_SECONDS)
           for key in ("task_seconds", "submission_seconds")},
        **{key: ((int,), f"a positive whole number of MiB up to {MAX_MIB} (1 PiB)",
                 lambda value: 0 < value <= MAX_MIB)
           for key in ("memory_mb", "plain_memory_mb", "file_mb", "scratch_mb")},
        "first_uid": ((int,), "a uid from 1000 to 4294960000 that no account uses",
                      lambda value: 1000 <= value <= 4_294_960_000),
        "uid_count": ((int,), "a whole number of uids from 1 to 65536", lambda value: 1 <= value <= 65536),
    },
    "release": {key: ((bool,), "true or false", _anything) for key in ("answers", "forecast_plots")},
    "gradescope": {
        **{key: ((str,), "one of " + ", ".join(f'"{v}"' for v in GRADESCOPE_VISIBILITIES),
                 lambda value: value in GRADESCOPE_VISIBILITIES)
           for key in ("visibility", "stdout_visibility")},
        "leaderboard": ((bool,), "true or false", _anything),
    },
    "export": {
        **{key: ((str,), "the grade column's header: one line of printable text, not blank", _header)
           for key in ("canvas_assignment", "moodle_item")},
        "moodle_key": ((str,), "one of " + ", ".join(f'"{v}"' for v in MOODLE_KEYS),
                       lambda value: value in MOODLE_KEYS),
    },
    "executor": {
        "kind": ((str,), "one of " + ", ".join(f'"{v}"' for v in EXECUTOR_KINDS), lambda value: value in EXECUTOR_KINDS),
        "scheduler": ((str,), "a Dask scheduler address such as \"tcp://host:8786\", or empty",
                      lambda value: value == value.strip() and value.isprintable()),
    },
}


def _validated(table: str, given: Any, where: str, *, loose: tuple[str, ...] = ()) -> dict[str, Any]:
    """``given`` with the defaults filled in, every value checked against :data:`_RULES`.

    Keys in ``loose`` are checked later by the layer that can say more (the date ranges need the series).
    """
    if not isinstance(given, Mapping):
        raise CourseError(f"{where}[{table}] must be a table")
    defaults = DEFAULT_CONFIG[table]
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        key = f"{table}.{unknown[0]}"    # shown by repr: a quoted TOML key may hold a newline
        raise CourseError(f"{where}unknown key {key!r} (known: {', '.join(sorted(defaults))})")
    values = {**copy.deepcopy(defaults), **given}
    for key, (kinds, what, condition) in _RULES[table].items():
        value = values[key]
        if key in loose:
            continue
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds) or not condition(value):
            raise CourseError(f"{where}[{table}] {key} must be {what}, got {value!r}")
    return values


@dataclass(frozen=True)
class SeriesConfig:
    """``[series]``: which daily series forecasters are graded on, and how it is split.

    ``train``/``valid``/``test`` are kept as written (two dates each); the forecasting layer
    checks them against the series itself, where it can say which days are missing.
    """

    source: str
    seed: int
    start: str
    days: int
    path: str
    date_column: str
    value_column: str
    date_format: str
    scale: float
    train: Any
    valid: Any
    test: Any
    window: int

    @classmethod
    def from_table(cls, table: "SeriesConfig | Mapping[str, Any]", where: str = "") -> "SeriesConfig":
        if isinstance(table, SeriesConfig):
            return table
        return cls(**_validated("series", table, where, loose=("train", "valid", "test")))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LimitsConfig:
    """``[limits]``: what one sandboxed task may use (see :class:`grader.sandbox.limits.Limits`), and
    ``submission_seconds``, what all the sandboxed tasks of one submission may use together
    (see :class:`grader.grading.budget.Budget`)."""

    task_seconds: float
    submission_seconds: float
    memory_mb: int
    plain_memory_mb: int
    file_mb: int
    scratch_mb: int
    first_uid: int
    uid_count: int

    @classmethod
    def from_table(cls, table: "LimitsConfig | Mapping[str, Any]", where: str = "") -> "LimitsConfig":
        if isinstance(table, LimitsConfig):
            return table
        values = _validated("limits", table, where)
        last = values["first_uid"] + values["uid_count"] - 1
        if last > LAST_UID:
            raise CourseError(f"{where}[limits] first_uid + uid_count - 1 = {last} is past the last usable uid "
                              f"{LAST_UID}; lower first_uid or uid_count")
        return cls(**values)


class _PlainTable:
    """A table of course.toml whose keys, each validated by its rule, are the dataclass's fields."""

    TABLE: ClassVar[str]

    @classmethod
    def from_table(cls, table: Any, where: str = "") -> Any:
        return table if isinstance(table, cls) else cls(**_validated(cls.TABLE, table, where))


@dataclass(frozen=True)
class ReleaseConfig(_PlainTable):
    """``[release]``: what feedback pages may show students."""

    TABLE: ClassVar[str] = "release"
    answers: bool
    forecast_plots: bool


@dataclass(frozen=True)
class GradescopeConfig(_PlainTable):
    """``[gradescope]``: what Gradescope shows students (see :mod:`grader.grading.gradescope`)."""

    TABLE: ClassVar[str] = "gradescope"
    visibility: str
    stdout_visibility: str
    leaderboard: bool


@dataclass(frozen=True)
class ExportConfig(_PlainTable):
    """``[export]``: where ``grader export --format canvas / moodle`` puts the total (see
    :mod:`grader.report.exports`)."""

    TABLE: ClassVar[str] = "export"
    canvas_assignment: str
    moodle_key: str
    moodle_item: str


@dataclass(frozen=True)
class ExecutorConfig(_PlainTable):
    """``[executor]``: where ``grader batch`` grades (see :mod:`grader.grading.executors`)."""

    TABLE: ClassVar[str] = "executor"
    kind: str
    scheduler: str


@dataclass(frozen=True)
class CourseConfig:
    """The whole of ``course.toml``, every key present (defaults filled in) and of the right type."""

    name: str
    demo: bool
    series: SeriesConfig
    limits: LimitsConfig
    release: ReleaseConfig
    gradescope: GradescopeConfig
    export: ExportConfig
    executor: ExecutorConfig

    @classmethod
    def from_tables(cls, data: Mapping[str, Any], where: str = "") -> "CourseConfig":
        unknown = sorted(set(data) - set(DEFAULT_CONFIG))
        if unknown:
            raise CourseError(f"{where}unknown table or key {unknown[0]!r} (known: {', '.join(sorted(DEFAULT_CONFIG))})")
        course = _validated("course", data.get("course", {}), where)
        return cls(course["name"], course["demo"], SeriesConfig.from_table(data.get("series", {}), where),
                   LimitsConfig.from_table(data.get("limits", {}), where),
                   ReleaseConfig.from_table(data.get("release", {}), where),
                   GradescopeConfig.from_table(data.get("gradescope", {}), where),
                   ExportConfig.from_table(data.get("export", {}), where),
                   ExecutorConfig.from_table(data.get("executor", {}), where))


def read_config(path: Path) -> CourseConfig:
    """``path`` (a course.toml) parsed and validated; :class:`CourseError` naming the file and key."""
    shown = printable(path)         # a folder name may hold a line break; the message stays one line
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{shown}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise CourseError(f"{shown}: not UTF-8 text") from None
    except OSError as exc:          # a folder named course.toml, no permission to read it
        raise CourseError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    return CourseConfig.from_tables(data, f"{shown}: ")
