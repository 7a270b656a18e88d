"""Running inside a Gradescope autograder container, and building the bundle that does.

``grader gradescope`` is what the bundle's ``run_autograder`` calls: it grades
``/autograder/submission`` against the course shipped in the bundle and writes
``/autograder/results/results.json`` in Gradescope's format. It always writes
a results file, even when the submission cannot be read, so the student sees
a message instead of a failed autograder.

``grader gradescope-package OUT.zip`` writes a self-contained bundle::

    setup.sh, run_autograder       the scripts Gradescope runs (templates below)
    requirements.lock              every package the grader needs, pinned by version and hash
    requirements-setup.lock        uv, pinned by hash, for the image's own Python
    rnn-grader/                    this grader's source, run from there (no build step)
    course/course.toml             the course config; [series] path relative to course/
    course/<series>.csv            a CSV series, copied in
    course/reference/              the built reference models
"""

from __future__ import annotations

import json
import math
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from grader.core.bank import Bank
from grader.core.course import Course
from grader.grading.bundle import BundleError, bundled_course
from grader.core.results import CheckResult, Outcome
from grader.report.exports import gradescope_results

PYTHON_SERIES = "3.11"    # the grader needs >= 3.11 (tomllib; Keras >= 3.15.1); the locks are made for it
RUNTIME_LOCK = "requirements.lock"
SETUP_LOCK = "requirements-setup.lock"

# Student code runs as an unprivileged user: the course (config, references, held-out
# data) must be root's alone. Applied when the image is built and again before every run.
PRIVATE_COURSE = """chown -R root:root "$COURSE"
chmod -R go-rwx "$COURSE"
chmod 700 "$COURSE"
"""

# Both scripts read AUTOGRADER_ROOT only so that tests can run them on a folder laid out
# like /autograder; Gradescope leaves it unset.
_PATHS = """ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
COURSE="$SOURCE/course"
"""

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04,
# whose python3 is 3.10). The grader needs Python >= 3.11, so the image's python3 only
# installs uv (pinned by hash in requirements-setup.lock, in a venv of its own); uv installs
# its own CPython 3.11 build (checked against the checksum that uv release carries), and
# every package of the grader's venv comes from requirements.lock, pinned by version and hash.
set -euo pipefail
""" + _PATHS + f"""VENV="$ROOT/venv"
TOOLS="$ROOT/setup-tools"
# Under $ROOT, not /root: sandboxed workers run this interpreter as unprivileged uids.
export UV_PYTHON_INSTALL_DIR="$ROOT/python"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends bubblewrap ca-certificates python3-venv >/dev/null

python3 -m venv "$TOOLS"
"$TOOLS/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$SOURCE/{SETUP_LOCK}"
UV="$TOOLS/bin/uv"

"$UV" python install --no-bin {PYTHON_SERIES}
# The venv is made by that interpreter itself, named by its real path: a venv uv makes reaches
# it through a folder symlink (cpython-{PYTHON_SERIES}-...) that the sandbox's read-only view lacks.
PYTHON="$(realpath "$("$UV" python find --no-project --managed-python {PYTHON_SERIES})")"
"$PYTHON" -m venv --without-pip "$VENV"
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup.sh: $VENV/bin/python is $("$VENV/bin/python" -V 2>&1); the grader needs Python >= 3.11" >&2
    exit 1
fi
"$UV" pip install --python "$VENV/bin/python" --require-hashes --only-binary :all: -r "$SOURCE/{RUNTIME_LOCK}"

# The grader runs from the bundle's source tree: a .pth puts it on the venv's path, so
# nothing is built here and nothing unpinned is downloaded.
site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf '%s\\n' "$SOURCE/rnn-grader" > "$site/rnn_grader.pth"
"$VENV/bin/python" -m grader --help >/dev/null    # fail the image build, not the first submission
""" + PRIVATE_COURSE

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission.
set -uo pipefail
""" + _PATHS + """export TF_CPP_MIN_LOG_LEVEL=3
""" + PRIVATE_COURSE + """exec "$ROOT/venv/bin/python" -m grader gradescope --course "$COURSE" \\
    --submission "$ROOT/submission" --results "$ROOT/results/results.json"
"""

REFUSED_OUTPUT = ("The autograder is not set up safely, so this submission was not graded. "
                  "Please tell your instructor; nothing you submitted caused this.")
NOT_RUN_OUTPUT = ("this check could not be run on the grader's side (not a problem with your files); "
                  "a person will review this result")



@dataclass(frozen=True)
class GradescopeSettings:
    """What Gradescope shows students: ``visibility`` of the whole result, ``stdout_visibility``
    of run_autograder's output (which holds TensorFlow's messages and, for a refused course,
    server paths), and whether results.json carries the forecast MAEs for the leaderboard."""

    visibility: str = "visible"
    stdout_visibility: str = "hidden"
    leaderboard: bool = True


def gradescope_settings(course: Course) -> GradescopeSettings:
    """The course's ``[gradescope]`` table (its defaults when course.toml has none)."""
    table = course.config.gradescope
    return GradescopeSettings(table.visibility, table.stdout_visibility, table.leaderboard)


def exposure(course: Course) -> list[str]:
    """Why grading here would expose the course to student code (one line each; empty: safe).

    Student code runs as unprivileged uids of their own (``[limits] first_uid`` onwards, in no
    group), which must be unable to enter the course folder or read the series even where
    bubblewrap cannot hide them (a container without namespaces); the held-out data must be
    private (see :mod:`grader.grading.secrecy`).
    """
    from grader.grading.secrecy import heldout_problems, sandbox_can_read

    problems = heldout_problems(course)
    if os.geteuid() != 0:
        problems.append("the autograder must run as root, so that student code runs as an unprivileged user "
                        "that cannot read the course")
        return problems
    uid = gid = course.limits.first_uid
    if sandbox_can_read(course.root, uid, {gid}):
        problems.append(f"the sandbox user (uid {uid}) can enter {course.root}; run_autograder makes it "
                        "private (chmod 700, owned by root)")
    if course.series.source == "csv" and course.series.path:
        data = course.resolve(str(course.series.path))
        if sandbox_can_read(data, uid, {gid}):
            problems.append(f"the sandbox user (uid {uid}) can read the series {data}")
    return problems


def refused_results(problems: list[str]) -> dict[str, Any]:
    """results.json for a submission that was not graded because the autograder is unsafe.

    The student sees a fixed sentence; the problems (with server paths) are for the instructor's log.
    """
    return {"score": 0.0, "execution_time": 0.0, "output": REFUSED_OUTPUT, "tests": [],
            "extra_data": {"refused": True, "problems": len(problems)}}


def not_graded_results(reason: str) -> dict[str, Any]:
    """results.json for a submission the autograder could not grade for a reason of its own (``reason``,
    without paths, goes to ``extra_data``); the student reads that it was not their fault."""
    return with_visibility({"score": 0.0, "execution_time": 0.0, "tests": [], "extra_data": {"not_graded": reason},
                            "output": "The autograder could not grade this submission; nothing you submitted "
                                      "caused this. Please tell your instructor."}, GradescopeSettings())


def run_autograder(course: Course, bank: Bank, submission: Path, results: Path) -> list[str]:
    """What ``run_autograder`` does: write ``results`` for ``submission``; returns the refusal reasons.

    A course exposed to student code (see :func:`exposure`) is not graded at all: the
    results say so to the student, and the reasons are returned for the instructor's log.
    A missing submission folder scores 0 with a message; anything else is graded. Every
    results file sets ``visibility`` and ``stdout_visibility`` from :func:`gradescope_settings`.
    """
    settings = gradescope_settings(course)
    problems = exposure(course)
    if problems:
        content = refused_results(problems)
    elif not submission.exists():
        content = {"score": 0.0, "execution_time": 0.0, "tests": [],
                   "output": "no submission was found: upload your files again"}
    else:
        content = grade_for_gradescope(submission, course, bank, settings)
    write_results(with_visibility(content, settings), results)
    return problems


def grade_for_gradescope(submission: Path, course: Course, bank: Bank,
                         settings: GradescopeSettings | None = None) -> dict[str, Any]:
    """Grade one submission folder and return Gradescope's results.json content.

    Every task and check of the bank has a test (one that could not run is an error for
    review, never dropped); no output names the course's folder; the forecast MAEs fill
    the leaderboard unless ``settings`` turn it off.
    """
    from grader.forecast.evaluation import ForecastEvaluator, UnavailableEvaluator
    from grader.sandbox.prober import SandboxProber
    from grader.grading.grader import grade_folder
    from grader.grading.intake import IntakeError, IntakeLimits, read_submission
    from grader.grading.self_check import materialize_files
    import tempfile

    settings = settings or GradescopeSettings()
    started = time.perf_counter()
    try:
        files = read_submission(submission, limits=IntakeLimits.from_course(course.limits))
    except IntakeError as exc:
        return {"score": 0.0, "execution_time": 0.0, "output": f"The submission could not be read: {exc}",
                "tests": []}
    with tempfile.TemporaryDirectory(prefix="grader-gs-") as tmp:
        folder = materialize_files(files.files, Path(tmp))
        try:
            evaluator = ForecastEvaluator(course)
        except Exception as exc:  # a broken course must still produce a results file
            evaluator = UnavailableEvaluator(f"the course's series could not be read ({type(exc).__name__})")
            note = "forecast accuracy could not be evaluated; those results will be reviewed by a person"
        else:
            note = ""
        # The container is the isolation boundary here: take the strongest level it allows,
        # never fail a student for want of namespaces, and tell the instructor which it was.
        with SandboxProber(course.limits, isolation="auto") as prober:
            results = with_every_check(grade_folder(folder, course, bank, prober, evaluator, files.refused), bank)
            observed = prober.isolation
    output = "\n".join(filter(None, [*(r.message for r in files.refused), note])) or "Graded by rnn-grader."
    content = gradescope_results([r.to_dict() for r in results], bank,
                                 execution_time=time.perf_counter() - started, output=output)
    if settings.leaderboard:
        content["leaderboard"] = leaderboard(results, bank)
    return with_isolation(without_course_paths(content, course.root), observed)


def with_every_check(results: list[CheckResult], bank: Bank) -> list[CheckResult]:
    """``results`` plus an ``error`` result (for review) for every task or check that produced none.

    A task answered by one task-level result (its file missing, refused or unreadable, its
    model unable to run) carries all its points in that result and needs nothing more.
    """
    from grader.checks.registry import CHECKS

    found: dict[str, set[str]] = {}
    for result in results:
        found.setdefault(result.task, set()).add(result.check)
    added = []
    for task in bank.tasks:
        checks = found.get(task.id)
        if not checks:
            added.append(CheckResult.from_outcome(task.id, "run", Outcome.error(NOT_RUN_OUTPUT, needs_review=True),
                                                  task.points))
        elif not checks.isdisjoint(dict(task.checks)):
            added += [CheckResult.from_outcome(task.id, name, Outcome.error(NOT_RUN_OUTPUT, needs_review=True),
                                               points, CHECKS[name].visibility)
                      for name, points in task.checks if name not in checks]
    added += [CheckResult.from_outcome(q.prose_task, "rubric", Outcome.error(NOT_RUN_OUTPUT, needs_review=True),
                                       q.prose_points) for q in bank.questions if q.prose_task not in found]
    return [*results, *added]


def leaderboard(results: list[CheckResult], bank: Bank) -> list[dict[str, Any]]:
    """Gradescope leaderboard entries: the held-out MAE of each forecaster the grader could score
    (``"q4 MAE"``; lower is better). A task without an MAE (missing file, error) has no entry."""
    maes = {r.task: r.details.get("mae") for r in results if r.check == "forecast_accuracy"}
    entries = []
    for task in bank.tasks:
        mae = maes.get(task.id)
        if isinstance(mae, (int, float)) and not isinstance(mae, bool) and math.isfinite(mae):
            entries.append({"name": f"{task.id.split('_')[0]} MAE", "value": round(float(mae), 1), "order": "asc"})
    return entries


def with_visibility(content: dict[str, Any], settings: GradescopeSettings) -> dict[str, Any]:
    """``content`` with Gradescope's ``visibility`` and ``stdout_visibility`` set explicitly."""
    return {**content, "visibility": settings.visibility, "stdout_visibility": settings.stdout_visibility}


def without_course_paths(content: dict[str, Any], root: Path) -> dict[str, Any]:
    """``content`` with the course folder's server path replaced in every output a student reads."""
    spelled = sorted({str(root), str(root.resolve())}, key=len, reverse=True)

    def clean(text: str) -> str:
        for path in spelled:
            text = text.replace(path, "<course>")
        return text

    content = dict(content)
    content["output"] = clean(content.get("output", ""))
    content["tests"] = [{**test, "output": clean(test.get("output", ""))} for test in content.get("tests", [])]
    return content


def with_isolation(content: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
    """``content`` plus how student code was isolated: in ``extra_data`` and as a 0-point test
    only instructors see (``visibility: hidden``)."""
    from grader.sandbox.levels import choose_level, describe_isolation, isolation_summary

    # No worker started (every file missing or refused statically): the level one would have had.
    record = isolation_summary(observed) if observed else {"level": choose_level("auto")}
    content = dict(content)
    content["extra_data"] = {**content.get("extra_data", {}), "isolation": record}
    content["tests"] = [*content.get("tests", []), {
        "name": "Sandbox isolation (instructors only)", "score": 0.0, "max_score": 0.0, "visibility": "hidden",
        "output": f"student code ran under {describe_isolation(record)}"}]
    return content


def write_results(results: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- building the bundle

def _source_files() -> dict[str, Path]:
    """Relative path in the bundle's source tree -> file, from wherever the grader is installed."""
    import grader
    import reference_models
    from grader.core.resources import questions_dir, templates_dir

    files: dict[str, Path] = {}
    for package, root in (("grader", Path(grader.__file__).parent), ("reference_models", Path(reference_models.__file__).parent)):
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".mako", ".toml", ".html", ".css"):
                rel = path.relative_to(root)
                if package == "grader" and rel.parts[0] in ("questions", "templates", "locks"):
                    continue
                files[f"{package}/{rel.as_posix()}"] = path
    for folder, target in ((questions_dir(), "grader/questions"), (templates_dir(), "grader/templates")):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".toml", ".html", ".css"):
                files[f"{target}/{path.relative_to(folder).as_posix()}"] = path
    return files


def lock_file(name: str) -> Path:
    """One of the lock files: ``grader/locks/`` in an installed wheel, the repository root in a checkout."""
    import grader

    package = Path(grader.__file__).resolve().parent
    for candidate in (package / "locks" / name, package.parent / name):
        if candidate.is_file():
            return candidate
    raise BundleError(f"{name} is not installed with this grader (looked in {package / 'locks'} and "
                      f"{package.parent}); install the grader from its source checkout, which holds it")


def build_package(course: Course, out: Path) -> Path:
    """Write the self-contained Gradescope autograder bundle (see the module docstring) to ``out``."""
    from grader.forecast.manifest import require_built

    require_built(course)
    config, course_files = bundled_course(course)
    locks = {name: lock_file(name) for name in (RUNTIME_LOCK, SETUP_LOCK)}
    sources = _source_files()
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            bundle.writestr(info, text)
        for name, path in locks.items():
            bundle.write(path, name)
        for rel, path in sources.items():
            bundle.write(path, f"rnn-grader/{rel}")
        folders = sorted({str(PurePosixPath(name).parent) for name in course_files} - {"."})
        for folder in ["course", *(f"course/{f}" for f in folders)]:
            info = zipfile.ZipInfo(f"{folder}/")
            info.external_attr = (0o40700 << 16) | 0x10   # a directory, owner only
            bundle.writestr(info, b"")
        _write_private(bundle, "course/course.toml", config.encode("utf-8"))
        for name, path in course_files.items():
            _write_private(bundle, f"course/{name}", path.read_bytes())
    return out


def _write_private(bundle: zipfile.ZipFile, name: str, data: bytes) -> None:
    """A course file readable by its owner only once unzipped."""
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = 0o100600 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, data)
