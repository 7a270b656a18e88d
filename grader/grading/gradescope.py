"""Running inside a Gradescope autograder container, and building the bundle that does.

``grader gradescope`` is what the bundle's ``run_autograder`` calls: it grades
``/autograder/submission`` against the course shipped in the bundle and writes
``/autograder/results/results.json`` in Gradescope's format. It always writes
a results file, even when the submission cannot be read, so the student sees
a message instead of a failed autograder.

``grader gradescope-package OUT.zip`` writes ``setup.sh``, ``run_autograder``,
the course (config and built reference models) and this grader's source.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

from grader.core.bank import Bank
from grader.core.course import Course
from grader.report.exports import gradescope_results


# Student code runs as an unprivileged user: the course (config, references, held-out
# data) must be root's alone. Applied when the image is built and again before every run.
PRIVATE_COURSE = """chown -R root:root /autograder/source/course
chmod -R go-rwx /autograder/source/course
chmod 700 /autograder/source/course
"""

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when the autograder image is built.
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv bubblewrap >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet /autograder/source/rnn-grader
""" + PRIVATE_COURSE

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission.
set -uo pipefail
export TF_CPP_MIN_LOG_LEVEL=3
""" + PRIVATE_COURSE + """/autograder/venv/bin/grader gradescope --course /autograder/source/course \\
    --submission /autograder/submission --results /autograder/results/results.json
"""

REFUSED_OUTPUT = ("The autograder is not set up safely, so this submission was not graded. "
                  "Please tell your instructor; nothing you submitted caused this.")

PYPROJECT = """[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "rnn-grader"
version = "{version}"
requires-python = ">=3.10"
dependencies = {dependencies}

[project.scripts]
grader = "grader.cli:main"

[tool.setuptools]
packages = {packages}

[tool.setuptools.package-data]
"*" = ["*.toml", "*.html", "*/*.html", "*.css", "*.mako"]
"""


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


def run_autograder(course: Course, bank: Bank, submission: Path, results: Path) -> list[str]:
    """What ``run_autograder`` does: write ``results`` for ``submission``; returns the refusal reasons.

    A course exposed to student code (see :func:`exposure`) is not graded at all: the
    results say so to the student, and the reasons are returned for the instructor's log.
    A missing submission folder scores 0 with a message; anything else is graded.
    """
    problems = exposure(course)
    if problems:
        write_results(refused_results(problems), results)
        return problems
    if not submission.exists():
        content = {"score": 0.0, "execution_time": 0.0, "tests": [],
                   "output": "no submission was found: upload your files again"}
    else:
        content = grade_for_gradescope(submission, course, bank)
    write_results(content, results)
    return []


def grade_for_gradescope(submission: Path, course: Course, bank: Bank) -> dict[str, Any]:
    """Grade one submission folder and return Gradescope's results.json content."""
    from grader.forecast.evaluation import ForecastEvaluator, UnavailableEvaluator
    from grader.sandbox.prober import SandboxProber
    from grader.grading.grader import grade_folder
    from grader.grading.intake import IntakeError, IntakeLimits, read_submission
    from grader.grading.self_check import materialize_files
    import tempfile

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
            results = grade_folder(folder, course, bank, prober, evaluator, files.refused)
            observed = prober.isolation
    output = "\n".join(filter(None, [*(r.message for r in files.refused), note])) or "Graded by rnn-grader."
    content = gradescope_results([r.to_dict() for r in results], bank,
                                 execution_time=time.perf_counter() - started, output=output)
    return with_isolation(content, observed)


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
                if package == "grader" and rel.parts[0] in ("questions", "templates"):
                    continue
                files[f"{package}/{rel.as_posix()}"] = path
    for folder, target in ((questions_dir(), "grader/questions"), (templates_dir(), "grader/templates")):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".toml", ".html", ".css"):
                files[f"{target}/{path.relative_to(folder).as_posix()}"] = path
    return files


def build_package(course: Course, out: Path) -> Path:
    """Write the Gradescope autograder bundle (setup.sh, run_autograder, course, source) to ``out``."""
    from grader import __version__
    from grader.forecast.manifest import require_built

    require_built(course)
    sources = _source_files()
    packages = sorted({str(Path(rel).parent).replace("/", ".") for rel in sources if rel.endswith(".py")}
                      | {"grader.questions", "grader.templates"})
    dependencies = ["tensorflow>=2.16", "keras>=3.15.1", "click>=8.1", "jinja2>=3.1", "SQLAlchemy>=2.0",
                    "h5py>=3.10", "numpy>=1.26", "matplotlib>=3.8", "alembic>=1.13"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            bundle.writestr(info, text)
        bundle.writestr("rnn-grader/pyproject.toml", PYPROJECT.format(
            version=__version__, dependencies=json.dumps(dependencies), packages=json.dumps(packages)))
        for rel, path in sources.items():
            bundle.write(path, f"rnn-grader/{rel}")
        for folder in ("course/", "course/reference/"):
            info = zipfile.ZipInfo(folder)
            info.external_attr = (0o40700 << 16) | 0x10   # a directory, owner only
            bundle.writestr(info, b"")
        config = (course.root / "course.toml").read_text(encoding="utf-8")
        csv_path = course.series.path
        if course.series.source == "csv" and csv_path:
            resolved = course.resolve(csv_path)
            _write_private(bundle, f"course/{resolved.name}", resolved.read_bytes())
            config = with_series_path(config, resolved.name)
        _write_private(bundle, "course/course.toml", config.encode("utf-8"))
        for path in sorted(course.reference_dir.iterdir()):
            if path.is_file():
                _write_private(bundle, f"course/reference/{path.name}", path.read_bytes())
    return out


def _write_private(bundle: zipfile.ZipFile, name: str, data: bytes) -> None:
    """A course file readable by its owner only once unzipped."""
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = 0o100600 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, data)


def with_series_path(config: str, path: str) -> str:
    """``config`` (course.toml text) with ``[series] path`` set to ``path``."""
    lines = config.splitlines()
    value = f"path = {json.dumps(path)}"
    start = next((i for i, line in enumerate(lines) if line.strip() == "[series]"), None)
    if start is None:
        return config.rstrip("\n") + f"\n\n[series]\n{value}\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    for i in range(start + 1, end):
        if lines[i].split("=", 1)[0].strip() == "path":
            lines[i] = value
            return "\n".join(lines) + "\n"
    lines.insert(start + 1, value)
    return "\n".join(lines) + "\n"
