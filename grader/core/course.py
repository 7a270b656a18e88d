"""The course folder: config, built references, stored submissions and the gradebook.

Layout of a course folder::

    course.toml          the course config (below)
    reference/           reference models written by ``grader reference build``
    submissions/         the content-addressed submission store
    grader.db            the SQLite gradebook (unless --db / GRADER_DB names another)
    templates/           optional overrides of the report templates
    roster.json          the class list of 'grader roster import' (see grader.core.roster)

``course.toml`` (parsed and validated once by :mod:`grader.core.config`)::

    [course]
    name = "RNN assignment 7"
    demo = false                 # true only for 'grader demo': its published seed is then allowed

    [series]                     # the daily series forecasters are graded on
    source = "synthetic"         # or "csv"
    seed = 1234567890            # synthetic: private; 'grader init' draws one (see grader.grading.secrecy)
    start = "2012-01-01"         # synthetic: first date
    days = 2922                  # synthetic: length
    path = ""                    # csv: file, relative to the course folder or absolute
    date_column = "service_date"
    value_column = "rail_boardings"
    date_format = "auto"         # "auto" detects MM/DD/YYYY and ISO dates
    scale = 1e6                  # models see value / scale
    train = ["2012-01-01", "2017-12-31"]
    valid = ["2018-01-01", "2018-12-31"]
    test  = ["2019-01-01", "2019-12-31"]
    window = 56                  # input length for models whose time axis is None

    [limits]
    task_seconds = 60            # wall clock per sandboxed task
    memory_mb = 4096             # address-space limit of a TensorFlow worker
    plain_memory_mb = 1024       # address-space limit of a worker running student Python
    file_mb = 256                # largest file a student may submit (twice this in all) or a worker may write

    [release]
    answers = false              # show reference answers on feedback pages
    forecast_plots = false       # show students their forecasts against held-out values

    [gradescope]
    visibility = "visible"       # results.json visibility: hidden, after_due_date, after_published, visible
    stdout_visibility = "hidden" # run_autograder's log (TensorFlow's messages) stays hidden
    leaderboard = true           # the forecasters' held-out MAE on Gradescope's leaderboard

    [export]
    canvas_assignment = "Assignment 7"   # the Canvas assignment 'grader export --format canvas' fills
    moodle_key = "email"         # Moodle identifies students by "email" or "idnumber" (the roster's SIS id)
    moodle_item = "Assignment 7" # the header of the Moodle export's grade column
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from grader.core.config import (CONFIG_NAME, DEFAULT_CONFIG_TEXT, CourseConfig, CourseError, LimitsConfig,
                                ReleaseConfig, SeriesConfig, read_config)
from grader.core.terminal import printable

DB_NAME = "grader.db"

# Seeds printed in the README and the source: the held-out part of their series is public.
PUBLISHED_SEEDS = frozenset({20240607})
DEMO_SEED = 20240607


def fresh_seed() -> int:
    """A seed for a course's synthetic series that nobody else knows."""
    while True:
        seed = secrets.randbelow(2**62)
        if seed not in PUBLISHED_SEEDS:
            return seed




@dataclass(frozen=True)
class Course:
    """An opened course folder."""

    root: Path
    config: CourseConfig
    db_url: str
    # The config's parts, for short access: course.series.window, course.release.answers ...
    name: str = field(init=False)
    series: SeriesConfig = field(init=False)
    limits: LimitsConfig = field(init=False)
    release: ReleaseConfig = field(init=False)

    def __post_init__(self) -> None:
        for part in ("name", "series", "limits", "release"):
            object.__setattr__(self, part, getattr(self.config, part))

    @property
    def reference_dir(self) -> Path:
        return self.root / "reference"

    @property
    def submissions_dir(self) -> Path:
        return self.root / "submissions"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def roster_path(self) -> Path:
        return self.root / "roster.json"


    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate


def resolve_root(course: str | os.PathLike | None = None) -> Path:
    """The course folder: ``course`` if given, else ``$GRADER_COURSE``, else the current directory."""
    chosen = course or os.environ.get("GRADER_COURSE") or "."
    return Path(chosen).expanduser().resolve()


def default_db_url(root: Path) -> str:
    return f"sqlite:///{root / DB_NAME}"


def open_course(course: str | os.PathLike | None = None, db: str | None = None,
                *, must_exist: bool = True) -> Course:
    """Open a course folder and read its config (defaults where keys are absent)."""
    root = resolve_root(course)
    config_path = root / CONFIG_NAME
    try:
        present = config_path.exists()
    except OSError as exc:          # a name too long, a loop of symbolic links
        raise CourseError(f"{printable(root)} cannot be opened as a course folder: {exc.strerror or exc}") from None
    if present:
        config = read_config(config_path)
    elif must_exist:
        raise CourseError(f"{printable(root)} is not a course folder (no {CONFIG_NAME}); "
                          f"create one with 'grader init {printable(root)}' or pass --course DIR")
    else:
        config = CourseConfig.from_tables({})
    url = db or os.environ.get("GRADER_DB") or default_db_url(root)
    return Course(root, config, url)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and unprintable characters escaped.

    (A JSON string is not one: JSON writes a character past U+FFFF as two surrogate escapes,
    which TOML refuses.) A lone surrogate, from a name that was not UTF-8, becomes U+FFFD.
    """
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def init_course(directory: str | os.PathLike | None = None, *, name: str | None = None,
                demo: bool = False) -> Course:
    """Create a course folder with a default config; an existing config is kept.

    The new config gets a private random seed for the synthetic series; a ``demo``
    course gets the published one instead (and ``demo = true``), so its numbers
    can be reproduced.
    """
    root = resolve_root(directory)
    config_path = root / CONFIG_NAME
    try:
        root.mkdir(parents=True, exist_ok=True)
        # Sandboxed workers run as an unprivileged user: keep the gradebook, the
        # stored submissions and the held-out data out of their reach.
        root.chmod(0o700)
        if not config_path.exists():
            text = DEFAULT_CONFIG_TEXT.replace("seed = 20240607", f"seed = {DEMO_SEED if demo else fresh_seed()}", 1)
            if name:
                text = text.replace('name = "RNN assignment 7"', f"name = {toml_string(name)}", 1)
            if demo:
                text = text.replace("[series]", "demo = true\n\n[series]", 1)
            config_path.write_text(text, encoding="utf-8")
        for sub in ("reference", "submissions"):
            (root / sub).mkdir(exist_ok=True)
    except OSError as exc:          # a file in the way, no permission, a name too long
        raise CourseError(f"cannot create the course folder {printable(exc.filename or root)}: "
                          f"{exc.strerror or exc}") from None
    return open_course(root)
