"""Grading integrity, attacked through the real command line.

Each test reproduces one way a submission could earn credit it did not compute,
see held-out data, carry data out, or take the grader down, and asserts that it no
longer works. The principle under test: nothing secret enters the sandbox, and
nothing that comes out of it is trusted or read unbounded.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.bundles import unzip_like_unzip
from tests.attacks import (ANSWER_KEY_SNOOPER, CANARY_AT_IMPORT_TEMPLATE, CANARY_CARRIER_TEMPLATE, FORGED_REPLY,
                           HUGE_NUMBER_REPLY, REFERENCE_BY_IMPORT, REFERENCE_CALLER, SHAPE_CARRIER_TEMPLATE, npz_bomb)

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED_SEED = 20240607
GRADER_MEMORY_CAP = 1536 * 2**20   # address space of the grader's own process in the bomb test


def grader(*args: str, cwd: Path | None = None, memory_cap: int | None = None,
           check: bool = False) -> subprocess.CompletedProcess:
    """Run the real CLI (``python -m grader``) in a fresh process."""
    def cap() -> None:
        if memory_cap is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (memory_cap, hard))

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    env.pop("GRADER_COURSE", None)
    env.pop("GRADER_DB", None)
    result = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                            cwd=cwd or ROOT, env=env, preexec_fn=cap, timeout=900)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _tests(result: subprocess.CompletedProcess) -> dict[str, dict]:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {t["name"]: t for t in json.loads(result.stdout)["tests"]}


def _submission(folder: Path, q6_source: str, *, models: dict[str, Path] | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "q6_lstm_cell.py").write_text(q6_source)
    for task, source in (models or {}).items():
        shutil.copyfile(source, folder / f"{task}.keras")
    return folder


# --------------------------------------------------------------------------- q6: the answer key

@pytest.mark.slow
def test_q6_answer_key_lookup_scores_zero_in_check(tmp_path):
    folder = _submission(tmp_path / "snoop", ANSWER_KEY_SNOOPER)
    tests = _tests(grader("check", str(folder), "--json", "--task", "q6_lstm_cell"))
    q6 = [t for t in tests.values() if t["task"] == "q6_lstm_cell"]
    assert sum(t["score"] for t in q6) == 0 and not any(t["status"] == "passed" for t in q6), q6
    assert "cases_seed" not in json.dumps(tests), "the seed is never shown to the student"


@pytest.fixture(scope="module")
def plain_prober():
    from grader.sandbox.prober import SandboxProber

    with SandboxProber({"task_seconds": 60}) as prober:
        yield prober


def _run_past_the_policy(prober, tmp_path, source: str) -> dict:
    """Run a q6 file in the sandbox directly, as if it had got past the static import policy."""
    path = tmp_path / "q6_lstm_cell.py"
    path.write_text(source)
    return prober.lstm_step_cases(path)


@pytest.mark.slow
def test_no_answer_key_reachable_at_runtime(plain_prober, tmp_path):
    """Even past the import policy, the snooper finds no expected value anywhere in the sandbox."""
    from grader.checks.evidence import Evidence
    from grader.checks.lstm_cell import lstm_step_matches_keras

    evidence = _run_past_the_policy(plain_prober, tmp_path, ANSWER_KEY_SNOOPER)
    assert lstm_step_matches_keras(Evidence(probe=evidence), None).status == "failed", evidence


@pytest.mark.slow
@pytest.mark.parametrize("source", [REFERENCE_CALLER, REFERENCE_BY_IMPORT], ids=["sys-modules", "import"])
def test_the_graders_reference_is_not_in_reach(plain_prober, tmp_path, source):
    from grader.checks.evidence import Evidence
    from grader.checks.lstm_cell import lstm_step_matches_keras

    evidence = _run_past_the_policy(plain_prober, tmp_path, source)
    assert lstm_step_matches_keras(Evidence(probe=evidence), None).status == "failed", evidence


@pytest.mark.slow
def test_returned_shapes_carry_no_file_contents(plain_prober, tmp_path, canary_file):
    evidence = _run_past_the_policy(plain_prober, tmp_path, SHAPE_CARRIER_TEMPLATE.format(path=str(canary_file)))
    text = json.dumps(evidence)
    assert "another shape" in text
    for byte in canary_file.read_bytes()[:8]:
        assert f"{byte}," not in text and f"({byte}" not in text


@pytest.mark.slow
@pytest.mark.parametrize("source", [npz_bomb(3), FORGED_REPLY, HUGE_NUMBER_REPLY], ids=["npz-bomb", "forged", "bigint"])
def test_hostile_replies_past_the_policy_cost_the_task_only(plain_prober, tmp_path, source):
    from grader.sandbox.prober import ProbeFailed

    try:
        evidence = _run_past_the_policy(plain_prober, tmp_path, source)
    except ProbeFailed as exc:
        assert "\n" not in str(exc)
        return
    assert "cases" in evidence or "error" in evidence


@pytest.mark.slow
def test_q6_answer_key_lookup_scores_zero_in_grade(demo, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(demo["course"].root, course)

    def graded(name: str, source: str) -> dict[str, dict]:
        folder = _submission(tmp_path / name, source)
        grader("submit", "--course", str(course), "--student", "mallory", str(folder), check=True)
        result = grader("grade", "--course", str(course), "mallory", "--json")
        assert result.returncode == 0, result.stderr
        return {row["name"]: row for row in json.loads(result.stdout)["tests"] if row["task"] == "q6_lstm_cell"}

    snooped = graded("snoop", ANSWER_KEY_SNOOPER)
    assert sum(row["auto_score"] for row in snooped.values()) == 0, snooped
    assert not any(row["status"] == "passed" for row in snooped.values())
    # A plain NumPy cell that runs: its cases' seed is kept for the instructor, never in the message.
    numeric = graded("plain", "def lstm_step(x, h, c, kernel, recurrent_kernel, bias):\n    return h, c\n")[
        "q6_lstm_cell: lstm_step_matches_keras"]
    assert numeric["auto_score"] == 0 and numeric["status"] == "failed", numeric
    assert isinstance(numeric["details"]["cases_seed"], int), "the seed is recorded for the instructor"
    assert str(numeric["details"]["cases_seed"]) not in numeric["output"]


# --------------------------------------------------------------------------- held-out windows

def test_forward_pass_groups_keep_every_window_away_from_the_targets_of_the_others():
    from grader.forecast.evaluation import forward_pass_groups

    for origins, span in ((list(range(100, 459)), 63), (list(range(0, 400, 7)), 63), ([5, 3, 90, 4, 200], 10)):
        groups = forward_pass_groups(origins, span)
        assert sorted(i for group in groups for i in group) == list(range(len(origins))), "each window once"
        for group in groups:
            days = sorted(origins[i] for i in group)
            assert all(b - a >= span for a, b in zip(days, days[1:])), (group, days)
    assert len(forward_pass_groups(list(range(359)), 63)) == 63


@pytest.mark.slow
def test_a_forecaster_that_reads_the_next_windows_scores_nothing(demo, tmp_path):
    """A legal functional model (keras.ops.roll over the batch axis) that copies each window's targets off the
    inputs of the windows after it: statically valid, it would score full marks if windows shared a forward pass."""
    import keras
    from keras import ops

    window = keras.Input((56, 1))
    ahead = [ops.roll(window, shift=-k, axis=0)[:, -1, :] for k in range(1, 8)]
    trained = keras.layers.Dense(7, kernel_initializer="zeros")(keras.layers.GRU(4)(window))
    cheat = keras.Model(window, keras.layers.Add()([keras.layers.Concatenate()(ahead), trained]))
    model = tmp_path / "q4_forecaster.keras"
    cheat.save(model)
    keras.backend.clear_session()

    course = tmp_path / "course"
    shutil.copytree(demo["course"].root, course)
    folder = _submission(tmp_path / "peeker", "def lstm_step(x, h, c, kernel, recurrent_kernel, bias):\n    return h, c\n",
                         models={"q4_forecaster": model})
    grader("submit", "--course", str(course), "--student", "peeker", str(folder), check=True)
    tests = _tests(grader("grade", "--course", str(course), "peeker", "--json"))
    accuracy = tests["q4_forecaster: forecast_accuracy"]
    assert accuracy["auto_score"] == 0, accuracy["output"]
    assert tests["q4_forecaster: output_shape"]["status"] == "passed", "the model itself is accepted and runs"


# --------------------------------------------------------------------------- bounded replies

@pytest.mark.slow
@pytest.mark.parametrize("source", [npz_bomb(3), FORGED_REPLY], ids=["npz-bomb", "forged-reply"])
def test_a_bomb_costs_its_task_only_and_the_grader_stays_small(model_files, tmp_path, source):
    """Under an address-space cap far below what the bomb declares, the grader finishes the submission."""
    folder = _submission(tmp_path / "bomber", source,
                         models={"q1_seq2seq": model_files["q1_seq2seq"] / "q1_seq2seq.keras"})
    result = grader("check", str(folder), "--json", "--task", "q6_lstm_cell", "--task", "q1_seq2seq",
                    memory_cap=GRADER_MEMORY_CAP)
    tests = _tests(result)
    q6 = [t for name, t in tests.items() if name.startswith("q6_lstm_cell")]
    numeric = [t for t in q6 if t["check"] in ("lstm_step_matches_keras", "run", "file")]
    assert numeric and all(t["score"] == 0 and t["status"] != "passed" for t in numeric), q6
    for t in q6:
        assert "\n" not in t["output"] and len(t["output"]) < 400
    q1 = [t for name, t in tests.items() if name.startswith("q1_seq2seq")]
    assert q1 and all(t["status"] == "passed" for t in q1), q1


# --------------------------------------------------------------------------- student text

@pytest.fixture
def canary_file():
    """A world-readable file that student code can read even inside the full sandbox.

    The sandbox hides the host's files (tests/sandbox proves it), so to test the *channels*
    (shapes, exception text) the canary sits where the sandbox's read-only view reaches: the
    interpreter's site-packages folder, bound at the same path.
    """
    import sysconfig

    handle, name = tempfile.mkstemp(prefix="grader-canary-", dir=sysconfig.get_paths()["purelib"])
    os.write(handle, b"CANARY-7f3a9 held-out rows 2019-06-01,1234567")
    os.close(handle)
    os.chmod(name, 0o644)
    yield Path(name)
    os.unlink(name)


@pytest.mark.slow
@pytest.mark.parametrize("template", [CANARY_CARRIER_TEMPLATE, CANARY_AT_IMPORT_TEMPLATE], ids=["call", "import"])
def test_student_exception_text_never_reaches_the_output(tmp_path, canary_file, template):
    assert canary_file.stat().st_mode & stat.S_IROTH, "the attack must be able to read the canary"
    folder = _submission(tmp_path / "leaker", template.format(path=str(canary_file)))
    result = grader("check", str(folder), "--json", "--task", "q6_lstm_cell")
    assert "CANARY" not in result.stdout + result.stderr and "1234567" not in result.stdout
    tests = _tests(result)
    assert all(t["score"] == 0 for t in tests.values() if t["task"] == "q6_lstm_cell")


@pytest.mark.slow
@pytest.mark.parametrize("template", [CANARY_CARRIER_TEMPLATE, CANARY_AT_IMPORT_TEMPLATE], ids=["call", "import"])
def test_student_exception_text_never_leaves_the_sandbox(plain_prober, tmp_path, canary_file, template):
    evidence = _run_past_the_policy(plain_prober, tmp_path, template.format(path=str(canary_file)))
    text = json.dumps(evidence)
    assert "CANARY" not in text and "1234567" not in text
    assert re.search(r"raised (ValueError|SystemExit|RuntimeError) at line \d+ of q6_lstm_cell\.py", text), text


# --------------------------------------------------------------------------- held-out secrecy

@pytest.fixture
def public_tmp():
    """A folder every user can enter (pytest's own tmp_path sits under a 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="grader-public-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _set_seed(course: Path, seed: int) -> None:
    config = course / "course.toml"
    config.write_text(re.sub(r"(?m)^seed = \d+$", f"seed = {seed}", config.read_text()))


def test_init_draws_a_private_seed_and_courses_differ_in_their_held_out_part(tmp_path):
    from grader.core.course import open_course
    from grader.forecast.series import series_from_config, split

    grader("init", str(tmp_path / "a"), check=True)
    grader("init", str(tmp_path / "b"), check=True)
    seeds = [tomllib.loads((tmp_path / n / "course.toml").read_text())["series"]["seed"] for n in "ab"]
    assert seeds[0] != seeds[1] and PUBLISHED_SEED not in seeds
    tests = []
    for name in "ab":
        course = open_course(tmp_path / name)
        tests.append(split(series_from_config(course.series, course.root), course.series).test.values)
    assert not np.allclose(tests[0], tests[1])


@pytest.mark.parametrize("command", [["batch", "SUBMISSIONS"], ["grade", "alice"], ["reference", "build"],
                                     ["gradescope", "--submission", "SUBMISSIONS", "--results", "RESULTS"]])
def test_the_published_seed_is_refused(tmp_path, command):
    course = tmp_path / "course"
    grader("init", str(course), check=True)
    _set_seed(course, PUBLISHED_SEED)
    (tmp_path / "subs").mkdir()
    args = [str(tmp_path / "subs") if a == "SUBMISSIONS" else str(tmp_path / "r.json") if a == "RESULTS" else a
            for a in command]
    result = grader(*args, "--course", str(course))
    assert result.returncode != 0
    assert "published default" in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("Error")]) == 1


def test_a_world_readable_series_outside_the_course_is_refused(tmp_path, public_tmp):
    course = tmp_path / "course"
    grader("init", str(course), check=True)
    outside = public_tmp
    csv = outside / "series.csv"
    csv.write_text("date,value\n2020-01-01,1\n")
    csv.chmod(0o644)
    config = course / "course.toml"
    config.write_text(config.read_text().replace('source = "synthetic"', 'source = "csv"')
                      .replace('path = ""', f'path = "{csv}"'))
    result = grader("batch", str(outside), "--course", str(course))
    assert result.returncode != 0 and "can be read by other users" in result.stderr, result.stderr
    csv.chmod(0o600)
    result = grader("batch", str(outside), "--course", str(course))
    assert "can be read by other users" not in result.stderr


def test_a_course_folder_open_to_others_is_refused(tmp_path, public_tmp):
    course = public_tmp / "course"
    grader("init", str(course), check=True)
    course.chmod(0o755)
    result = grader("batch", str(tmp_path), "--course", str(course))
    assert result.returncode != 0 and "chmod 700" in result.stderr, result.stderr


def test_grade_refuses_before_the_references_are_built(tmp_path):
    course = tmp_path / "course"
    grader("init", str(course), check=True)
    folder = _submission(tmp_path / "alice", "def lstm_step(x, h, c, kernel, recurrent_kernel, bias):\n    return h, c\n")
    grader("submit", "--course", str(course), "--student", "alice", str(folder), check=True)
    result = grader("grade", "--course", str(course), "alice")
    assert result.returncode != 0 and "reference models are not built" in result.stderr, result.stderr
    assert "grader reference build" in result.stderr


# --------------------------------------------------------------------------- the Gradescope bundle

def _fake_references(course: Path) -> None:
    tasks = {task: {"mae": 1.0, "mase": 1.0, "rmse": 1.0, "mae_per_horizon": [1.0] * 7, "file": f"{task}.keras",
                    "version_key": "v1", "seasonal_naive_mae": 2.0, "naive_mae": 3.0}
             for task in ("q4_forecaster", "q5_stable_rnn", "q7_conv_rnn")}
    (course / "reference" / "manifest.json").write_text(json.dumps({"tasks": tasks}))
    (course / "reference" / "q6_lstm_cell.py").write_text("# the reference solution\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="the Gradescope container runs as root")
def test_gradescope_bundle_keeps_the_course_private(tmp_path, public_tmp):
    from grader.grading.gradescope import PRIVATE_COURSE, REFUSED_OUTPUT

    course = tmp_path / "course"
    grader("init", str(course), check=True)
    _fake_references(course)
    bundle = tmp_path / "autograder.zip"
    grader("gradescope-package", str(bundle), "--course", str(course), check=True)
    source = public_tmp / "autograder" / "source"
    source.mkdir(parents=True)
    for folder in (public_tmp / "autograder", source):
        folder.chmod(0o755)
    unzip_like_unzip(bundle, source)
    unpacked = source / "course"
    for path in [unpacked, *unpacked.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.relative_to(source)} is {oct(mode)} after unzip"
    scripts = {name: zipfile.ZipFile(bundle).read(name).decode() for name in ("setup.sh", "run_autograder")}
    assert all(PRIVATE_COURSE in text for text in scripts.values())

    # An instructor (or a careless unzip) opens the course up: grading refuses, and says why only in the log.
    for path in [unpacked, *unpacked.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    results = tmp_path / "results.json"
    refused = grader("gradescope", "--course", str(unpacked), "--submission", str(tmp_path / "none"),
                     "--results", str(results))
    assert refused.returncode != 0 and "sandbox user" in refused.stderr
    written = json.loads(results.read_text())
    assert written["output"] == REFUSED_OUTPUT and written["score"] == 0
    assert str(public_tmp) not in results.read_text()

    # The scripts' own lines make it private again.
    subprocess.run(["bash", "-c", PRIVATE_COURSE], env={**os.environ, "COURSE": str(unpacked)}, check=True)
    from grader.core.course import open_course
    from grader.grading.gradescope import exposure

    assert exposure(open_course(unpacked)) == []


# --------------------------------------------------------------------------- feedback and [release]

def test_feedback_from_the_cli_hides_the_rubric_wording_until_released(tmp_path, bank):
    import html

    from tests.test_reports import build_course

    course = build_course(tmp_path / "course", bank)
    out = tmp_path / "erin.html"
    grader("feedback", "--course", str(course.root), "--student", "erin", "--out", str(out), check=True)
    page = html.unescape(out.read_text())
    wording = [p.text for q in bank.questions for p in q.key_points] + [q.answer.strip()[:80] for q in bank.questions]
    assert not [text for text in wording if text in page]
    assert bank.question("Q3").key_points[0].label in page


# --------------------------------------------------------------------------- one rule for status

def test_status_follows_the_score():
    from grader.core.results import CheckResult, Outcome

    hair = CheckResult.from_outcome("q5_stable_rnn", "forecast_accuracy", Outcome("failed", "m", 0.99999999), 1.5)
    assert hair.score == 1.5 and hair.status == "passed"
    short = CheckResult.from_outcome("q5_stable_rnn", "forecast_accuracy", Outcome("passed", "m", 0.5), 1.5)
    assert short.score == 0.75 and short.status == "failed"
    claimed = CheckResult("q1_seq2seq", "output_shape", "passed", 0.0, 1.0, "m")
    assert claimed.status == "failed"
    errored = CheckResult.from_outcome("q4_forecaster", "forecast_accuracy", Outcome.error("m"), 3.0)
    assert errored.status == "error" and errored.score == 0
    assert CheckResult.from_dict(hair.to_dict()).status == "passed"


def test_an_override_sets_status_by_the_same_rule():
    from datetime import datetime

    from grader.core.records import Override, apply_overrides

    rows = [{"task": "q4_forecaster", "check": "forecast_accuracy", "status": "failed", "score": 1.0,
             "max_score": 3.0}, {"task": "q1_seq2seq", "check": "output_shape", "status": "passed", "score": 1.0,
                                 "max_score": 1.0}]
    overrides = [Override(1, "a", "q4_forecaster", None, 3.0, "", "t", datetime.now(), True),
                 Override(2, "a", "q1_seq2seq", "output_shape", 0.5, "", "t", datetime.now(), True)]
    q4, q1 = apply_overrides(rows, overrides)
    assert q4["status"] == "passed" and q1["status"] == "failed"


@pytest.mark.slow
def test_every_reference_graded_as_a_student_scores_full_marks(demo, bank, tmp_path):
    """The demo's "alice" is the ten reference models and the reference answers; regraded through the CLI."""
    course = tmp_path / "course"
    shutil.copytree(demo["course"].root, course)
    result = grader("grade", "--course", str(course), "alice", "--json", "--force")
    assert result.returncode == 0, result.stderr
    graded = json.loads(result.stdout)
    rows = graded["tests"]
    not_passed = [(row["name"], row["status"], row["score"], row["max_score"]) for row in rows
                  if row["status"] != "passed"]
    assert not not_passed
    assert graded["score"] == pytest.approx(bank.points) == 80
    assert {row["task"] for row in rows} >= {task.id for task in bank.tasks}


@pytest.mark.slow
def test_an_evaluator_that_cannot_run_is_an_error_for_review(bank, model_files):
    from grader.forecast.evaluation import UnavailableEvaluator
    from grader.grading.checking import check_submission

    class Prober:
        def probe_model(self, task, path, declared):
            return {"outputs": 1, "runs": [{"input_shape": [3, 56, 1], "output_shape": [3, 7], "finite": True}]}

    checked = check_submission(model_files["q4_forecaster"], bank, prober=Prober(), include_hidden=True,
                               forecast=UnavailableEvaluator("the references are missing"),
                               tasks=["q4_forecaster"])
    accuracy = [r for r in checked.results if r.check == "forecast_accuracy"]
    assert len(accuracy) == 1 and accuracy[0].status == "error" and accuracy[0].needs_review
    assert "a person will review" in accuracy[0].output


def test_the_bundled_course_points_at_the_bundled_series():
    from grader.grading.bundle import with_series_path

    config = '[course]\nname = "x"\n\n[series]\nsource = "csv"\npath = "/home/me/cta.csv"\nscale = 1e6\n\n[limits]\n'
    changed = tomllib.loads(with_series_path(config, "cta.csv"))
    assert changed["series"]["path"] == "cta.csv" and changed["series"]["scale"] == 1e6
    assert tomllib.loads(with_series_path('[series]\nsource = "csv"\n', "a.csv"))["series"]["path"] == "a.csv"
    assert tomllib.loads(with_series_path('[course]\nname = "x"\n', "a.csv"))["series"]["path"] == "a.csv"


# --------------------------------------------------------------------------- static reading vs what Keras builds

@pytest.mark.slow
def test_a_dead_branch_in_the_config_earns_no_architecture_credit(tmp_path):
    """A second LSTM added to config.json but feeding no output is not in the model Keras builds: no deep stack."""
    import keras

    inp = keras.Input((None, 3), name="inp")
    hidden = keras.layers.LSTM(8, return_sequences=True, name="real_lstm")(inp)
    keras.Model(inp, keras.layers.Dense(2, name="out")(hidden)).save(tmp_path / "base.keras")
    with zipfile.ZipFile(tmp_path / "base.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    layers = config["config"]["layers"]
    real = next(layer for layer in layers if layer["name"] == "real_lstm")
    dead = json.loads(json.dumps(real))
    dead["name"] = dead["config"]["name"] = "dead_lstm"
    dead.pop("build_config", None)
    dead["inbound_nodes"] = [{"args": [{"class_name": "__keras_tensor__", "config": {
        "shape": [None, None, 8], "dtype": "float32", "keras_history": ["real_lstm", 0, 0]}}],
        "kwargs": {"training": False, "mask": None}}]
    layers.insert(layers.index(real) + 1, dead)
    members["config.json"] = json.dumps(config).encode()
    folder = tmp_path / "sub"
    folder.mkdir()
    with zipfile.ZipFile(folder / "q3_deep_seq2seq.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    tests = _tests(grader("check", str(folder), "--json", "--task", "q3_deep_seq2seq", "--static-only"))
    stacked = tests["q3_deep_seq2seq: stacked_recurrent_layers"]
    assert stacked["status"] == "failed" and "dead_lstm" not in json.dumps(tests), stacked
