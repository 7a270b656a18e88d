"""Fuzzing: whatever a student or an instructor feeds the grader, the answer is a result or one clean line.

Property-based tests (hypothesis) over what people type or upload, one section each: answers.md,
course.toml, a series (CSV or synthetic), student ids and command-line arguments. Each asserts one
thing: success, or a :class:`~grader.core.errors.GraderError` with a one-line message (on the
command line: exit status 0, 1 with one ``Error:`` line, or click's usage status 2), never a
traceback or another exception, and never a file written outside the folders the command was
given. Every bug these tests found keeps a plain example (``@example`` or a parametrized case).

The example counts are bounded so the whole file runs in about half a minute on two cores
(FUZZ_SCALE multiplies them for a deeper search by hand); nothing here imports TensorFlow (the
last test checks) and no command needs trained references.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from grader.cli import cli
from grader.core.course import open_course
from grader.core.errors import GraderError
from grader.core.identity import file_stem, student_id
from grader.prose.answers import DEFAULT_QUESTION_IDS, MAX_ANSWERS_BYTES, answers_from_bytes, parse_answers

# FUZZ_SCALE=20 runs twenty times as many examples. Under CI (.ci/run sets CI) the examples are
# derandomized, so a red build means the code changed, not that a new draw was unlucky.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Bounded settings for one property (the examples are what keeps this file fast)."""
    return settings(max_examples=max(1, round(examples * SCALE)), deadline=None, print_blob=True,
                    derandomize=bool(os.environ.get("CI")),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


def one_line(message: str) -> bool:
    """Non-empty and a single line by Python's reckoning (no \\n, \\r, \\x0b, \\x0c, \\x1c-\\x1e, \\x85, \\u2028/9)."""
    return bool(message.strip()) and message.splitlines() == [message]


def assert_clean(exc: BaseException, *, names: str | None = None) -> str:
    """``exc`` is a GraderError whose message is one line (naming ``names`` if given); returns the message."""
    assert isinstance(exc, GraderError), f"{type(exc).__name__} escaped instead of a GraderError: {exc!r}"
    message = str(exc)
    assert one_line(message), f"not one line: {message!r}"
    if names is not None:
        assert names in message, f"{names!r} not named in {message!r}"
    return message


# Commands run with no course or gradebook from the environment unless a test names one.
ENV_CLEAR = {"GRADER_COURSE": None, "GRADER_DB": None}


def assert_clean_exit(result) -> None:
    """Exit 0, 1 or 2 (usage); exit 1 ends in one 'Error:' line; never a traceback or an unexpected exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{type(result.exception).__name__}: {result.exception!r}\n{result.output}"
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    assert "a grader bug" not in result.output, result.output
    if result.exit_code == 1:
        lines = result.stderr.splitlines()
        assert lines and lines[-1].startswith("Error: "), f"exit 1 without a last 'Error:' line: {result.stderr!r}"
        assert sum(line.startswith("Error:") for line in lines) == 1, result.stderr
        assert result.stderr.endswith(lines[-1] + "\n"), f"the error is not one line: {result.stderr!r}"


def outcome(fn, *args, **kwargs):
    """``fn(*args)``'s value, or the exception it raised (BaseException subclasses that are not errors propagate)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # the property is about which exceptions: the caller judges this one
        return exc


@pytest.fixture(scope="module", autouse=True)
def tensorflow_before() -> bool:
    """Whether TensorFlow was loaded before this module's first test (by another module's tests)."""
    return "tensorflow" in sys.modules


@pytest.fixture(scope="module")
def quiet_tmp(tmp_path_factory):
    """Python's temp dir, pointed at an empty folder: whatever is left in it is a leak (e.g. a crash log)."""
    folder = tmp_path_factory.mktemp("python-tmp")
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    yield folder
    tempfile.tempdir = saved


def listing(folder: Path) -> set[str]:
    """Every path under ``folder``, relative, as text."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


# =========================================================================== 1. answers.md

ANSWER_FRAGMENTS = [
    "## Q1", "##Q3", "# Q2", "### Q4.", "## Question 5", "## Q6: title", "## **Q7**", "## Q8 ##", "####### Q1",
    "## Q9", "## Q0", "## Q99", "## Q123", "## Q", "#", "```", "~~~", "---", "***", "> quote", "- item", "1. item",
    "\ufeff", "\x00", "\r", "\r\n", "\t", " ", "\u2028", "\u202e", "\x1b[31m", "é", "ß", "😀", "中文",
    "An LSTM keeps a cell state.", "return_sequences=True gives one output per time step.",
    "The hidden state h_t depends on h_{t-1}.", "not", "never", "<script>alert(1)</script>", "$$x^2$$",
]
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
             "shift_jis", "koi8-r"]

long_line = st.builds(lambda word, n: word * n, st.sampled_from(["a", "word ", "é", "#", "## Q1 "]),
                      st.integers(200, 4000))
answer_line = st.lists(st.one_of(st.sampled_from(ANSWER_FRAGMENTS), st.text(max_size=30), long_line),
                       min_size=1, max_size=4).map("".join)
answer_text = st.lists(answer_line, max_size=40).map("\n".join)
answer_bytes = st.one_of(
    st.binary(max_size=3000),
    st.builds(lambda text, encoding: text.encode(encoding, errors="replace"), answer_text, st.sampled_from(ENCODINGS)),
    st.builds(lambda text, junk, at: (lambda b: b[:at] + junk + b[at:])(text.encode("utf-8")),
              answer_text, st.binary(min_size=1, max_size=8), st.integers(0, 4000)),
)


def check_parsed(parsed) -> None:
    assert set(parsed.answers) == set(DEFAULT_QUESTION_IDS)
    assert all(isinstance(text, str) for text in parsed.answers.values())
    assert parsed.found <= set(DEFAULT_QUESTION_IDS)
    for message in parsed.messages:      # each is one line of the student's feedback
        assert one_line(message), f"not one line: {message!r}"


@fuzz(200)
@given(data=answer_bytes)
@example(data=b"a" * (MAX_ANSWERS_BYTES + 1))
@example(data=b"\xff\xfe" + "## Q1\nréseau\n".encode("utf-16-le"))
@example(data=b"## Q1\n\x00\x00\x00binary")
def test_answers_bytes_parse_or_fail_cleanly(data):
    result = outcome(answers_from_bytes, data)
    if isinstance(result, Exception):
        assert_clean(result, names="answers.md")
    else:
        check_parsed(result)


@fuzz(60)
@given(text=answer_text, pick=st.integers(0, 7))
@example(text="## Q1\n" + "word " * 3000, pick=0)
@example(text="```\n## Q2\n```\n## Q2\nan answer", pick=1)
def test_prose_scores_stay_within_the_question_points(bank, text, pick):
    from grader.core.results import ERROR, FAILED
    from grader.prose.scoring import prose_results

    parsed = outcome(parse_answers, text)
    assert not isinstance(parsed, Exception), f"parse_answers raised {parsed!r}"
    check_parsed(parsed)
    questions = [q for q in bank.questions if q.prose_points > 0]
    question = questions[pick % len(questions)]
    for answer in (parsed.answer(question.id), text):
        result = outcome(prose_results, question, answer)
        if isinstance(result, Exception):
            assert_clean(result)
            continue
        assert result.status in (FAILED, ERROR)
        assert result.max_score == question.prose_points
        assert 0.0 <= result.score <= result.max_score


@fuzz(12)
@given(data=answer_bytes)
def test_answers_results_grade_every_question_within_its_points(bank, tmp_path_factory, data):
    from grader.grading.grader import answers_results

    folder = tmp_path_factory.mktemp("answers")
    (folder / "answers.md").write_bytes(data)
    results = outcome(answers_results, bank, folder)
    assert not isinstance(results, Exception), f"answers_results raised {results!r}"
    assert {r.task for r in results} == {q.prose_task for q in bank.questions if q.prose_points > 0}
    for result in results:
        assert 0.0 <= result.score <= result.max_score
        assert isinstance(result.output, str) and result.output.strip()


# =========================================================================== 2. course.toml

TABLES = {"course": ["name", "demo"],
          "series": ["source", "seed", "start", "days", "path", "date_column", "value_column", "date_format",
                     "scale", "train", "valid", "test", "window"],
          "limits": ["task_seconds", "submission_seconds", "memory_mb", "plain_memory_mb", "file_mb",
                     "scratch_mb", "first_uid", "uid_count"],
          "release": ["answers", "forecast_plots"],
          "export": ["canvas_assignment", "moodle_key", "moodle_item"]}


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def toml_float(value: float) -> str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return repr(value)


scalar = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from([0, -1, 1, 6, 7, 1000, 2**31, 2**63, 10**30]).map(str),
    st.floats().map(toml_float),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=20).map(lambda t: json.dumps(t, ensure_ascii=False)),
    st.sampled_from(["2019-01-01", "2019-13-45", "1979-05-27T07:32:00Z", "07:32:00", "0001-01-01", "9999-12-31",
                     '"2019-01-01"', '"2019-02-30"', '"01/02/2019"', '"synthetic"', '"csv"', '""', "'lit'",
                     "{ a = 1 }", "[]", "0x10", "1_000", "+inf", "-nan", "1e400", "=", "[", '"unterminated',
                     "'''multi\nline'''", "tru", "None"]),
)
toml_value = st.one_of(scalar, st.lists(scalar, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"))
known_key = st.sampled_from(sorted({k for keys in TABLES.values() for k in keys}))
toml_line = st.builds(lambda key, value: f"{toml_key(key)} = {value}",
                      st.one_of(known_key, known_key, st.text(max_size=12)), toml_value)
toml_header = st.one_of(st.sampled_from(sorted(TABLES)).map(lambda t: f"[{t}]"),
                        st.sampled_from(["", "[series.sub]", "[[limits]]", "[course", "[]", "[Series]"]),
                        st.text(max_size=10).map(lambda t: f"[{toml_key(t)}]" if t else ""))
toml_doc = st.lists(st.tuples(toml_header, st.lists(toml_line, max_size=5)), max_size=5).map(
    lambda sections: "\n".join(header + "\n" + "\n".join(lines) for header, lines in sections))
# Values of the right type (mostly) for each known key, edges included: these documents often open,
# so what reading accepts also reaches the layers that use it.
edge_int = st.one_of(st.integers(-5, 100_000), st.sampled_from([2**31, 2**63, 10**30, 4_294_960_000, 65536]))
edge_number = st.one_of(edge_int, st.floats(allow_nan=False), st.sampled_from([float("inf"), 1e-300]))
edge_date = st.sampled_from(["2012-01-01", "2019-12-31", "0001-01-01", "9999-12-31", "2019-02-30", "x", ""])
TYPED = {
    "name": st.text(max_size=20), "demo": st.booleans(), "answers": st.booleans(), "forecast_plots": st.booleans(),
    "source": st.sampled_from(["synthetic", "csv", "excel", ""]), "path": st.sampled_from(["", "x.csv", "~/x.csv"]),
    "start": edge_date, "date_column": st.text(max_size=8), "value_column": st.text(max_size=8),
    "date_format": st.sampled_from(["auto", "%Y", "%"]), "seed": edge_int, "days": edge_int, "window": edge_int,
    "scale": edge_number, "train": st.lists(edge_date, max_size=3), "valid": st.lists(edge_date, max_size=3),
    "test": st.lists(edge_date, max_size=3),
    "canvas_assignment": st.text(max_size=20), "moodle_item": st.text(max_size=20),
    "moodle_key": st.sampled_from(["email", "idnumber", "username", ""]),
    **{key: edge_number for key in ("task_seconds", "submission_seconds")},
    **{key: edge_int for key in ("memory_mb", "plain_memory_mb", "file_mb", "scratch_mb", "first_uid", "uid_count")},
}


def _toml_literal(value) -> str:
    if isinstance(value, float):
        return toml_float(value)
    return json.dumps(value, ensure_ascii=False)


typed_doc = st.fixed_dictionaries({}, optional={
    table: st.fixed_dictionaries({}, optional={key: TYPED[key] for key in keys}) for table, keys in TABLES.items()
}).map(lambda tables: "\n".join(f"[{table}]\n" + "\n".join(f"{key} = {_toml_literal(value)}"
                                                          for key, value in values.items())
                                 for table, values in tables.items()))
toml_bytes = st.one_of(
    typed_doc.map(lambda text: text.encode("utf-8")),
    typed_doc.map(lambda text: text.encode("utf-8")),
    toml_doc.map(lambda text: text.encode("utf-8")),
    st.builds(lambda text, junk, at: (lambda b: b[:at] + junk + b[at:])(text.encode("utf-8")),
              toml_doc, st.binary(min_size=1, max_size=4), st.integers(0, 300)),
    st.builds(lambda text, encoding: text.encode(encoding, errors="replace"), toml_doc,
              st.sampled_from(["utf-16", "latin-1", "utf-8-sig"])),
)


def check_course_consumers(course) -> None:
    """The TensorFlow-free layers that read a course's config accept what reading accepted."""
    from grader.grading.budget import Budget
    from grader.grading.checking import inspection_limits
    from grader.grading.intake import IntakeLimits
    from grader.sandbox.isolation import rlimit_plan
    from grader.sandbox.limits import Limits

    intake = IntakeLimits.from_course(course.limits)
    assert intake.file_text and intake.total_text
    inspection_limits(course.limits)
    Budget.start(course.limits).remaining()
    for kind in ("keras", "plain"):
        limits = Limits.from_course(course.limits, kind)
        for _, value in rlimit_plan(limits, dropping=True):
            assert 0 <= value < 2**63, f"setrlimit cannot take {value}"
        assert 0 < limits.seconds < 2**31, f"a wait cannot take a timeout of {limits.seconds} s"


@fuzz(250)
@given(data=toml_bytes)
@example(data=b'"a\\nb" = 1')
@example(data=b'[series]\n"x\\u2028y" = 1')
@example(data=b"[series]\nwindow = 1e400")
@example(data=b"[limits]\nmemory_mb = 1000000000000000000000000000000")
def test_course_toml_opens_or_names_the_file(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("course")
    config = root / "course.toml"
    config.write_bytes(data)
    course = outcome(open_course, root)
    if isinstance(course, Exception):
        assert_clean(course, names=str(config))
        return
    event("opened")
    assert course.root == root.resolve()
    check_course_consumers(course)


@pytest.mark.parametrize("text, key", [
    ("[series]\nseed = -1\n", "seed"),                              # numpy refused it at 'dataset export'
    ("[series]\ndays = 1000000000000\n", "days"),                   # ran out of memory making the series
    ('[series]\npath = "~nosuchuser__/x.csv"\n', "path"),           # pathlib's RuntimeError at load
    ("[limits]\ntask_seconds = inf\n", "task_seconds"),            # a wait's OverflowError in the sandbox
    ("[limits]\nmemory_mb = 1000000000000000\n", "memory_mb"),     # setrlimit's OverflowError in the worker
    ("[limits]\nfirst_uid = 4294960000\nuid_count = 7295\n", "first_uid + uid_count"),   # UidRange's ValueError
])
def test_config_refuses_at_reading_what_used_to_fail_later(tmp_path, text, key):
    (tmp_path / "course.toml").write_text(text, encoding="utf-8")
    with pytest.raises(GraderError) as caught:
        open_course(tmp_path)
    table = text[1:text.index("]")]
    assert_clean(caught.value, names=f"{tmp_path / 'course.toml'}: [{table}] {key}")


@fuzz(200)
@given(name=st.text())
@example(name="RNN 𐀀")            # JSON's surrogate pair escape, which TOML refuses, made init write a broken file
@example(name='a "quoted"\\ name\n\x7f')
def test_any_course_name_is_written_as_toml_that_reads_back(name):
    import tomllib

    from grader.core.course import toml_string

    assert tomllib.loads(f"name = {toml_string(name)}")["name"] == name


def test_a_folder_named_course_toml_is_one_line(tmp_path):
    (tmp_path / "course.toml").mkdir()
    with pytest.raises(GraderError) as caught:
        open_course(tmp_path)
    assert_clean(caught.value, names=str(tmp_path / "course.toml"))


# =========================================================================== 3. CSV series

BASE_DAY = 18000          # 2019-04-15 as days since 1970-01-01


def _date(day: int):
    import datetime as dt

    return dt.date(1970, 1, 1) + dt.timedelta(days=day)


def _iso(day: int) -> str:
    return _date(day).isoformat()


def _us(day: int) -> str:
    d = _date(day)
    return f"{d.month}/{d.day}/{d.year}"


BAD_DATES = ["", "yesterday", "2019-02-30", "2019-1-1", "13/01/2019", "00/00/0000", "9999-12-31", "0001-01-01",
             "2019-01-01T00:00", " 2019-01-01 ", "2019/01/01", "\ufeff2019-01-01", "1/1/10000", "٢٠١٩-٠١-٠١"]
VALUES = ["0", "1", "-5", "1.5", "1e308", "-1e308", "1e400", "nan", "NaN", "inf", "-inf", "", "abc", "1,000",
          " 12 ", "1_000", "0x10", "٣", "12e", "１２", "9" * 400]
COLUMNS = ["service_date", "rail_boardings", "date", "value", "", " service_date ", "\ufeffservice_date",
           "a\nb", "x\u2028y", "a,b", 'q"uote']


@st.composite
def csv_file(draw):
    """(bytes of a CSV file, date column, value column, first day, days).

    Most files start clean, one row per consecutive day, so that some load; then up to four
    mutations: a gap, a duplicate, a swapped row, a bad date or value, a short row, a foreign
    header, another delimiter, line ending, encoding or stray bytes.
    """
    import csv
    import io

    clean = draw(st.booleans())
    date_column = "service_date" if clean else draw(st.sampled_from(COLUMNS))
    value_column = "rail_boardings" if clean else draw(st.sampled_from(COLUMNS))
    first = BASE_DAY + draw(st.integers(-30, 30))
    days = draw(st.integers(0, 50))
    fmt = draw(st.sampled_from([_iso, _iso, _us]))
    header = [date_column, value_column] + draw(st.lists(st.sampled_from(COLUMNS), max_size=2))
    rows = [[fmt(first + i), str(draw(st.integers(0, 2_000_000))) if i < 3 else str(1000 + i)]
            + ["x"] * (len(header) - 2) for i in range(days)]
    delimiter, terminator, encoding = ",", "\n", "utf-8"
    for _ in range(0 if clean else draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["gap", "duplicate", "conflict", "swap", "date", "value", "short", "header",
                                     "shuffle", "delimiter", "terminator", "encoding", "blank"]))
        at = draw(st.integers(0, max(0, len(rows) - 1)))
        if kind == "header":
            header = draw(st.lists(st.one_of(st.sampled_from(COLUMNS), st.text(max_size=8)), max_size=5))
        elif kind == "shuffle":
            order = draw(st.permutations(range(len(header))))
            header = [header[i] for i in order]
        elif kind == "delimiter":
            delimiter = draw(st.sampled_from([";", "\t", "|"]))
        elif kind == "terminator":
            terminator = draw(st.sampled_from(["\r\n", "\r"]))
        elif kind == "encoding":
            encoding = draw(st.sampled_from(["latin-1", "utf-16", "utf-8-sig", "cp1252"]))
        elif kind == "blank":
            rows.insert(at, [])
        elif not rows:
            continue
        elif kind == "gap":
            del rows[at]
        elif kind == "duplicate":
            rows.insert(at, list(rows[at]))
        elif kind == "conflict":
            rows.insert(at, rows[at][:1] + ["7"] + rows[at][2:])
        elif kind == "swap":
            other = draw(st.integers(0, len(rows) - 1))
            rows[at], rows[other] = rows[other], rows[at]
        elif kind == "date":
            rows[at] = [draw(st.one_of(st.sampled_from(BAD_DATES), st.just(_us(first + at)),
                                       st.just(_iso(first + at)), st.text(max_size=8)))] + rows[at][1:]
        elif kind == "value":
            rows[at] = rows[at][:1] + [draw(st.one_of(st.sampled_from(VALUES), st.text(max_size=6)))] + rows[at][2:]
        elif kind == "short":
            rows[at] = rows[at][:draw(st.integers(0, 1))]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator)
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode(encoding, errors="replace")
    if not clean and draw(st.integers(0, 8)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return data, date_column, value_column, first, days


@st.composite
def series_keys(draw, first: int, days: int):
    """[series] keys beside source, path and columns: a split inside the file's days (mostly), formats, scales."""
    keys = {}
    cuts = sorted(draw(st.lists(st.integers(0, max(days - 1, 0)), min_size=3, max_size=3)))
    if days >= 3 and draw(st.integers(0, 4)):
        a, b, c = cuts
        b, c = max(b, a + 1), max(c, max(b, a + 1) + 1)
        ends = [first + x for x in (0, a, a + 1, b, b + 1, min(c, days - 1))]
        for key, (start, end) in zip(("train", "valid", "test"), zip(ends[::2], ends[1::2])):
            keys[key] = [_iso(start), _iso(end)]
    else:
        keys.update(draw(st.fixed_dictionaries({}, optional={
            "train": st.sampled_from([["2019-01-10", "2019-01-01"], ["2019-01-01"], ["x", "y"], [1, 2]]),
            "valid": st.sampled_from([["2030-01-01", "2030-02-01"], []]),
            "test": st.sampled_from([["2019-04-25", "2019-04-22"], ["0000-01-01", "2019-01-01"]])})))
    keys.update(draw(st.fixed_dictionaries({}, optional={
        "date_format": st.sampled_from(["auto", "%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Q", "%", "", "%H", "%Y",
                                        "%d\n%m"]),
        "scale": st.sampled_from([1, 1e6, 1e-300, 1e300]),
        "window": st.sampled_from([7, 56, 10**6]),
    })))
    return keys


CSV_PATHS = st.sampled_from(["data.csv"] * 30 + ["./data.csv", "missing.csv", "", "../data.csv",
                                                 "~nosuchuser__/data.csv", "data.csv/", "data\x00.csv",
                                                 "data\n.csv", "sub", "a" * 300 + ".csv"])


@st.composite
def csv_courses(draw):
    """(file bytes, date column, value column, path, keys) for :func:`csv_course`."""
    data, date_column, value_column, first, days = draw(csv_file())
    return data, date_column, value_column, draw(CSV_PATHS), draw(series_keys(first, days))


def csv_course(root: Path, data: bytes, date_column: str, value_column: str, path: str, keys: dict) -> None:
    (root / "data.csv").write_bytes(data)
    (root / "sub").mkdir(exist_ok=True)
    table = {"source": "csv", "path": path, "date_column": date_column, "value_column": value_column, **keys}
    lines = [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in table.items()]
    (root / "course.toml").write_text("[series]\n" + "\n".join(lines) + "\n", encoding="utf-8")


def assert_no_foreign_paths(message: str, root: Path) -> None:
    """Paths in ``message`` are the course's own (the CSV it names), never another server-side folder."""
    rest = message.replace(str(root), "<course>")
    assert tempfile.gettempdir() not in rest and "/tmp/" not in rest, f"a server path leaks: {message!r}"


@fuzz(150)
@given(case=csv_courses())
@example(case=(b"", "service_date", "rail_boardings", "data.csv", {}))
@example(case=(b"service_date,rail_boardings\n", "service_date", "rail_boardings", "data.csv", {}))
@example(case=(b'"x\nservice_date",a\n', "service_date", "rail_boardings", "data.csv", {}))
@example(case=(b'"a\nb",rail_boardings\n,0\n', "a\nb", "rail_boardings", "data.csv", {}))
@example(case=(b"service_date,rail_boardings\n2019-01-01,1\n", "service_date", "rail_boardings",
               "~nosuchuser__/data.csv", {}))
def test_csv_series_loads_or_names_the_problem(tmp_path_factory, case):
    from grader.forecast.series import export_part, series_from_config, split

    root = tmp_path_factory.mktemp("csvcourse").resolve()
    csv_course(root, *case)
    course = outcome(open_course, root)
    if isinstance(course, Exception):
        event("course: error")
        assert_clean(course, names=str(root / "course.toml"))
        return
    series = outcome(series_from_config, course.series, course.root)
    event(f"series: {type(series).__name__}")
    if isinstance(series, Exception):
        assert_no_foreign_paths(assert_clean(series), root)
        return
    assert len(series) >= 1 and series.source == "csv"
    parts = outcome(split, series, course.series)
    event(f"split: {type(parts).__name__}")
    if isinstance(parts, Exception):
        assert_no_foreign_paths(assert_clean(parts), root)
        return
    written = outcome(export_part, series, course.series, "train", root / "train.csv")
    if isinstance(written, Exception):
        assert_clean(written)


@fuzz(30)
@given(case=csv_courses(), part=st.sampled_from(["train", "valid"]))
def test_dataset_export_command_is_clean(tmp_path_factory, case, part):
    root = tmp_path_factory.mktemp("csvcli").resolve()
    csv_course(root, *case)
    out = root / "out.csv"
    result = CliRunner().invoke(cli, ["dataset", "export", "--course", str(root), "--part", part, str(out)],
                                env=ENV_CLEAR)
    assert_clean_exit(result)
    event(f"exit {result.exit_code}")
    if result.exit_code == 1:
        assert_no_foreign_paths(result.stderr, root)
    else:
        assert out.is_file()


synthetic_tables = st.fixed_dictionaries({"source": st.just("synthetic")}, optional={
    "seed": st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([-1, 0, 2**64])),
    "start": st.sampled_from(["2012-01-01", "0001-01-01", "9999-06-01", "1969-12-31", "2019-02-29", "x", ""]),
    "days": st.one_of(st.integers(-3, 40), st.integers(360, 800)),
    "scale": st.sampled_from([1, 1e6, 1e-300, 1e300]),
    "train": st.sampled_from([["2012-01-01", "2012-01-20"], ["2012-01-01", "2012-06-30"],
                              ["2011-01-01", "2012-01-02"]]),
    "valid": st.sampled_from([["2012-01-21", "2012-01-30"], ["2012-07-01", "2012-09-30"]]),
    "test": st.sampled_from([["2012-02-01", "2012-02-09"], ["2012-10-01", "2012-12-31"]]),
    "window": st.sampled_from([7, 8, 56, 400, 10**6]),
})


@fuzz(25)
@given(table=synthetic_tables, part=st.sampled_from(["train", "valid"]))
@example(table={"source": "synthetic", "seed": -1}, part="train")
@example(table={"source": "synthetic", "days": 10**12}, part="train")
def test_synthetic_series_commands_are_clean(tmp_path_factory, table, part):
    root = tmp_path_factory.mktemp("synthetic").resolve()
    lines = [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    (root / "course.toml").write_text("[series]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    exported = CliRunner().invoke(cli, ["dataset", "export", "--course", str(root), "--part", part,
                                        str(root / "out.csv")], env=ENV_CLEAR)
    assert_clean_exit(exported)
    event(f"export: exit {exported.exit_code}")
    baselines = CliRunner().invoke(cli, ["dataset", "baselines", "--course", str(root), "--json"], env=ENV_CLEAR)
    assert_clean_exit(baselines)
    event(f"baselines: exit {baselines.exit_code}")


# =========================================================================== 4. student ids

def surrogate_escaped(data: bytes) -> str:
    """What Python makes of a non-UTF-8 file name or argument (PEP 383)."""
    return os.fsdecode(data)


raw_ids = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="ascii"), max_size=30),
    st.from_regex(r"[A-Za-z0-9._@ -]{1,130}", fullmatch=True),
    st.text(min_size=80, max_size=200),
    st.lists(st.sampled_from(["a", "Z", "9", ".", "..", "/", "\\", " ", "\t", "\n", "\x00", "\u200b", "\u2028",
                              "e\u0301", "é", "ﬁ", "Å", "😀", "-", "_", "@", "CON", "~", "$HOME", "%2e"]),
             max_size=12).map("".join),
    st.binary(max_size=20).map(surrogate_escaped),
)


def assert_safe_stem(stem: str) -> None:
    assert stem and len(stem) <= 80, f"stem of {len(stem)} characters: {stem!r}"
    assert stem.isascii() and stem.isprintable(), stem
    assert "/" not in stem and "\\" not in stem and not stem.startswith("."), stem
    assert stem not in (".", "..") and stem == stem.strip(), stem


@fuzz(500)
@given(raw=raw_ids)
@example(raw="a" * 100)
@example(raw="\udcff")
def test_student_ids_are_accepted_or_refused_in_one_line_and_stems_are_safe(raw):
    assert_safe_stem(file_stem(raw))
    accepted = outcome(student_id, raw)
    if isinstance(accepted, Exception):
        assert_clean(accepted, names="student id")
        return
    assert_safe_stem(file_stem(accepted))
    assert student_id(accepted) == accepted          # idempotent: an accepted id is its own normal form


def _accepted(raw: str) -> str | None:
    try:
        return student_id(raw)
    except GraderError:
        return None


@fuzz(400)
@given(first=raw_ids, second=raw_ids, reuse_stem=st.booleans())
@example(first="Ana María", second="Ana_Mar_a-" + "0" * 10, reuse_stem=True)
def test_distinct_ids_get_distinct_file_stems(first, second, reuse_stem):
    a = _accepted(first)
    # Another student named exactly what the first one's file is called.
    b = _accepted(file_stem(a) if reuse_stem and a is not None else second)
    if a is None or b is None or a == b:
        return
    assert file_stem(a) != file_stem(b), f"{a!r} and {b!r} share the file {file_stem(a)!r}"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, quiet_tmp):
    """outer/sandbox/{course,gs,work}, outer/src/alice/answers.md and outer/rosters/ (class lists to import);
    the course has a gradebook already."""
    outer = tmp_path_factory.mktemp("outer")
    box = outer / "sandbox"
    for name in ("gs", "work", "home"):
        (box / name).mkdir(parents=True)
    rosters = outer / "rosters"
    rosters.mkdir()
    (rosters / "canvas.csv").write_bytes(
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Assignment 7 (12345)\r\n"
        "    Points Possible,,,,,80.00\r\n\"Liddell, Alice\",1001,S001,alice,A,\r\n"
        "\"Student, Test\",1099,,,A,\r\n\"Núñez, José\",1002,S002,../x,B,\r\n".encode("utf-8"))
    (rosters / "class.csv").write_text("id,name,email,section,sis_id\nalice,Alice,alice@example.edu,A,S001\n"
                                       "bob,Bob,,B,S002\n", encoding="utf-8")
    (rosters / "bad.csv").write_bytes(b"id;name\r\n\x00\xff;x\r\n")
    src = outer / "src" / "alice"
    src.mkdir(parents=True)
    (src / "answers.md").write_text("## Q1\nAn LSTM carries a cell state from step to step.\n", encoding="utf-8")
    runner = CliRunner()
    made = runner.invoke(cli, ["init", str(box / "course")], env=ENV_CLEAR)
    assert made.exit_code == 0, made.output
    first = runner.invoke(cli, ["submit", str(src), "--course", str(box / "course")], env=ENV_CLEAR)
    assert first.exit_code == 0, first.output
    return box


def record_a_prose_result(course_root: Path, student: str) -> None:
    """Grade the student's latest submission as far as needs no TensorFlow: one prose result."""
    from grader import __version__
    from grader.core.results import FAILED, CheckResult
    from grader.store.gradebook import Gradebook

    with Gradebook(open_course(course_root).db_url) as gradebook:
        run = gradebook.start_run("grade", __version__, {}, {})
        submission = gradebook.latest_submission(student)
        gradebook.record_results(submission.id, run, [CheckResult("q1_prose", "rubric", FAILED, 1.0, 4.0, "fuzz")])
        gradebook.finish_run(run)


@fuzz(20)
@given(raw=raw_ids.filter(lambda raw: "\x00" not in raw))
@example(raw="../../escape")
@example(raw="Ana María")
@example(raw="a" * 100)
@example(raw="-0")
def test_submit_with_any_student_id_writes_only_into_the_course(sandbox, quiet_tmp, raw):
    course, gs, work = sandbox / "course", sandbox / "gs", sandbox / "work"
    before_box, before_src, leftovers = set(os.listdir(sandbox)), listing(sandbox.parent / "src"), listing(quiet_tmp)
    runner = CliRunner()
    env = {**ENV_CLEAR, "GRADER_COURSE": str(course), "HOME": str(sandbox / "home")}
    submitted = runner.invoke(cli, ["submit", str(sandbox.parent / "src" / "alice"), "--student", raw], env=env)
    assert_clean_exit(submitted)
    assert submitted.exit_code in (0, 1), submitted.output
    event(f"submit exit {submitted.exit_code}")
    runs = [submitted]
    if submitted.exit_code == 0:
        sid = student_id(raw)
        record_a_prose_result(course, sid)      # so that the export has a results.json to write
        runs.append(runner.invoke(cli, ["override", "--score", "1", "--", raw, "Q1"], env=env))
        runs.append(runner.invoke(cli, ["export", "--format", "gradescope", "--out", str(gs)], env=env))
        cwd = os.getcwd()
        os.chdir(work)
        try:
            runs.append(runner.invoke(cli, ["feedback", "--student", raw], env=env))
        finally:
            os.chdir(cwd)
        for run in runs:
            assert_clean_exit(run)
            assert run.exit_code == 0, run.output
        stem = file_stem(sid)
        assert f"{stem}/results.json" in listing(gs)
        assert f"{stem}.html" in listing(work)
    else:
        assert "student id" in submitted.stderr
    assert set(os.listdir(sandbox)) == before_box, "a file was written beside the course folder"
    assert listing(sandbox.parent / "src") == before_src, "the submission folder was changed"
    assert all(len(Path(p).parts) == 2 and Path(p).name == "results.json" or len(Path(p).parts) == 1
               for p in listing(gs)), listing(gs)
    assert all(Path(p).suffix == ".html" and len(Path(p).parts) == 1 for p in listing(work)), listing(work)
    assert listing(quiet_tmp) == leftovers, "a file was left in the temp folder"


# =========================================================================== 5. command-line arguments

# Tokens a test run may turn into real paths: the course, the submission folder, the class lists.
ROSTERS = ["ROSTERS/canvas.csv", "ROSTERS/class.csv", "ROSTERS/bad.csv"]
PATHS = ["out.csv", "out", "../x", "..", ".", "sub/dir/f.csv", "-", "", "a" * 300, "COURSE", "COURSE/course.toml",
         "COURSE/grader.db", "COURSE/submissions", "SRC", "SRC/answers.md", "é", "\u2028", "\x1b[2J", "missing/"]
DATABASES = ["sqlite://", "sqlite:///other.db", "sqlite:///nodir/x.db", "sqlite:///COURSE/grader.db", "sqlite:///.",
             "postgresql://user:s3cret@127.0.0.1:1/db", "postgres://user:s3cret@/db", "mysql://a/b", "foo", "",
             "sqlite:///SRC/answers.md", "sqlite:///" + "a" * 300]


def _safe_token(token: str) -> bool:
    # Never an absolute path, the home folder or a climb past the sandbox: 'grader init /' would chmod it.
    # No lone surrogates (a non-UTF-8 name): CliRunner's streams are strict UTF-8 where click's real
    # ones replace, so such an argument is tried in a real process instead (test_non_utf8_arguments...).
    return ("\x00" not in token and not token.startswith(("/", "~")) and token.count("..") <= 1
            and not re.search("[\ud800-\udfff]", token))


free_text = st.text(max_size=12).filter(_safe_token)
path_arg = st.one_of(st.sampled_from(PATHS), free_text)
student_arg = st.one_of(st.sampled_from(["alice", "bob", "Ana María", "../x", ".hidden", "a b", " alice", "-x"]),
                        raw_ids.filter(_safe_token))
task_arg = st.one_of(st.sampled_from(["Q1", "q1", "Q3", "q1_prose", "q3_deep_seq2seq", "q6_lstm_cell", "Q42", "Q0",
                                      "", "prose", "rubric", "1"]), free_text)
score_arg = st.sampled_from(["1", "0", "4", "2.5", "-1", "nan", "inf", "-inf", "1e309", "x", "", "1,5"])
course_arg = st.sampled_from(["COURSE", "COURSE", "COURSE", "", ".", "..", "missing", "COURSE/course.toml", "SRC",
                              "a" * 300])

# command -> (positional arguments, {option: value strategy or None for a flag}). Only commands that
# need neither TensorFlow nor trained references (batch, grade, demo, gradescope and reference build
# are left out); check always runs with --static-only.
COMMON = {"--course": course_arg, "--db": st.sampled_from(DATABASES)}
COMMANDS = {
    ("init",): ([path_arg], {"--name": free_text}),
    ("questions",): ([], {}),
    ("questions", "show"): ([task_arg], {"--answer": None, "--no-answer": None}),
    ("contract",): ([], {"--markdown": None, "--course": course_arg}),
    ("dataset", "export"): ([path_arg], {"--course": course_arg,
                                         "--part": st.sampled_from(["train", "valid", "test"])}),
    ("dataset", "baselines"): ([], {"--course": course_arg, "--json": None}),
    ("db", "check"): ([], COMMON),
    ("db", "backup"): ([path_arg], COMMON),
    ("export",): ([], {**COMMON, "--format": st.sampled_from(["csv", "gradescope", "canvas", "moodle", "json"]),
                       "--out": path_arg}),
    ("roster", "import"): ([st.one_of(st.sampled_from(ROSTERS), path_arg)],
                           {"--course": course_arg, "--match": st.sampled_from(["login", "sis", "id", "email", "name",
                                                                                "x"])}),
    ("review",): ([], COMMON),
    ("override",): ([student_arg, task_arg], {**COMMON, "--score": score_arg, "--comment": free_text,
                                              "--check": task_arg, "--who": free_text, "--no-wait": None}),
    ("submit",): ([path_arg], {**COMMON, "--student": student_arg, "--no-wait": None}),
    ("check", "--static-only"): ([path_arg], {"--course": course_arg, "--json": None, "--task": task_arg}),
    ("feedback",): ([], {**COMMON, "--student": student_arg, "--all": None, "--out": path_arg, "--out-dir": path_arg}),
    ("report",): ([], {**COMMON, "--out": path_arg, "--feedback": None, "--no-feedback": None}),
}
STRAY = ["--help", "-h", "--version", "--", "-", "", "--course", "--db", "--out", "x", "--nope"]


@st.composite
def command_lines(draw):
    """A command with its positional arguments and some of its options in any order, now and then mangled."""
    command = draw(st.sampled_from(sorted(COMMANDS)))
    positional, options = COMMANDS[command]
    args = [draw(strategy) for strategy in positional]
    for name in draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=len(options))) if options else []:
        given = [name] if options[name] is None else [name, draw(options[name])]
        at = draw(st.integers(0, len(args)))
        args[at:at] = given
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):      # a stray, a missing or a doubled token
        at = draw(st.integers(0, len(args)))
        kind = draw(st.sampled_from(["insert", "delete", "double"]))
        if kind == "insert":
            args.insert(at, draw(st.one_of(st.sampled_from(STRAY), free_text)))
        elif args:
            at = min(at, len(args) - 1)
            args[at:at + 1] = [] if kind == "delete" else [args[at]] * 2
    return list(command) + args


@fuzz(100)
@given(args=command_lines())
@example(args=["export", "--out", "."])
@example(args=["export", "--out", "sub/dir/f.csv"])
@example(args=["export", "--format", "gradescope", "--out", "SRC/answers.md"])
@example(args=["db", "check", "--db", "postgresql://user:s3cret@127.0.0.1:1/db"])
@example(args=["questions", "show", "a\nb"])
@example(args=["init", "--name", "𐀀", "\r"])
@example(args=["init", "new", "--name", "RNN \U0001f9e0"])
@example(args=["init", "a" * 300])
@example(args=["review", "--course", "a" * 300])
@example(args=["db", "backup", "a" * 300])
@example(args=["export", "--db", "sqlite:///" + "a" * 300])
@example(args=["override", "alice", "q1_prose", "--score", "1", "--check", "x\ny"])
@example(args=["override", "alice", "x\ny", "--score", "1"])
@example(args=["roster", "import", "ROSTERS/canvas.csv", "--course", "COURSE"])
@example(args=["roster", "import", "ROSTERS/class.csv", "--match", "email"])
@example(args=["roster", "import", "ROSTERS/bad.csv"])
@example(args=["roster", "import", "COURSE/grader.db"])
@example(args=["roster", "import", "."])
@example(args=["export", "--format", "canvas", "--out", "."])
@example(args=["export", "--format", "moodle"])
def test_any_command_line_exits_cleanly(sandbox, quiet_tmp, args):
    course, src = sandbox / "course", sandbox.parent / "src" / "alice"
    rosters = sandbox.parent / "rosters"
    args = [a.replace("COURSE", str(course)).replace("SRC", str(src)).replace("ROSTERS", str(rosters)) for a in args]
    env = {**ENV_CLEAR, "GRADER_COURSE": str(course), "HOME": str(sandbox / "home"), "USER": "fuzz"}
    cwd, leftovers = os.getcwd(), listing(quiet_tmp)
    with tempfile.TemporaryDirectory(dir=sandbox) as work:     # relative outputs land here; '../x' in the sandbox
        os.chdir(work)
        try:
            result = CliRunner().invoke(cli, args, env=env)
        finally:
            os.chdir(cwd)
    assert_clean_exit(result)
    event(f"{' '.join(args[:2]) if args[0] in ('db', 'dataset', 'questions') else args[0]}: exit {result.exit_code}")
    # A password given as --db is never shown (elsewhere on the line it is just text the user typed).
    if result.exit_code != 2 and all(args[i - 1] == "--db" for i, a in enumerate(args) if "s3cret" in a and i):
        assert "s3cret" not in result.output, "a database password was printed"
    assert listing(quiet_tmp) == leftovers, "a file was left in the temp folder"


@pytest.mark.parametrize("command", [["submit", "NAME"], ["dataset", "export", "NAME/out.csv"]])
def test_non_utf8_arguments_in_a_real_process(sandbox, tmp_path, command):
    """A file name that is not UTF-8 reaches Python as lone surrogates (PEP 383); click's real streams print it."""
    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9")
    os.mkdir(name)
    Path(name, "answers.md").write_text("## Q1\nA cell state.\n", encoding="utf-8")
    args = [arg.replace("NAME", name) for arg in command]
    env = {**os.environ, "GRADER_COURSE": str(sandbox / "course"), "LC_ALL": "C.UTF-8"}
    env.pop("GRADER_DB", None)
    done = subprocess.run([sys.executable, "-m", "grader", *args], env=env, capture_output=True, timeout=120)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode in (0, 1), stderr
    assert b"Traceback" not in done.stdout + done.stderr and "a grader bug" not in stderr, stderr
    if done.returncode == 1:
        assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr


# =========================================================================== no TensorFlow

def test_nothing_here_imported_tensorflow(tensorflow_before):
    """The code these properties drive stays TensorFlow-free. In a session where another module
    loaded TensorFlow first the check runs in a fresh interpreter, so it always asserts something."""
    if not tensorflow_before:
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        return
    probe = ("import sys\n"
             "import grader.cli.app, grader.core.config, grader.core.course, grader.core.identity\n"
             "import grader.prose.answers, grader.prose.decoding, grader.forecast.series\n"
             "import grader.grading.roster, grader.report.exports\n"
             "print('tensorflow' in sys.modules or 'keras' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stdout + done.stderr
