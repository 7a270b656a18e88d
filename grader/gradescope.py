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
import time
import zipfile
from pathlib import Path
from typing import Any

from grader.bank import Bank
from grader.course import Course
from grader.exports import gradescope_results

SUBMISSION_DIR = "/autograder/submission"
RESULTS_PATH = "/autograder/results/results.json"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when the autograder image is built.
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet /autograder/source/rnn-grader
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission.
set -uo pipefail
export TF_CPP_MIN_LOG_LEVEL=3
/autograder/venv/bin/grader gradescope --course /autograder/source/course \\
    --submission /autograder/submission --results /autograder/results/results.json
"""

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


def grade_for_gradescope(submission: Path, course: Course, bank: Bank) -> dict[str, Any]:
    """Grade one submission folder and return Gradescope's results.json content."""
    from grader.accuracy import ForecastEvaluator
    from grader.checking import SandboxProber
    from grader.grading import grade_folder
    from grader.intake import IntakeError, read_submission
    from grader.submission_check import materialize_files
    import tempfile

    started = time.perf_counter()
    try:
        files = read_submission(submission)
    except IntakeError as exc:
        return {"score": 0.0, "execution_time": 0.0, "output": f"The submission could not be read: {exc}",
                "tests": []}
    with tempfile.TemporaryDirectory(prefix="grader-gs-") as tmp:
        folder = materialize_files(files.files, Path(tmp))
        try:
            evaluator = ForecastEvaluator(course)
        except Exception as exc:  # a broken course must still produce a results file
            evaluator = None
            note = f"forecast accuracy unavailable: {exc}"
        else:
            note = ""
        with SandboxProber(course.limits) as prober:
            results, _, _ = grade_folder(folder, course, bank, prober, evaluator)
    output = "\n".join(filter(None, [*files.problems, note])) or "Graded by rnn-grader."
    return gradescope_results([r.to_dict() for r in results], bank,
                              execution_time=time.perf_counter() - started, output=output)


def write_results(results: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return path


def _source_files() -> dict[str, Path]:
    """Relative path in the bundle's source tree -> file, from wherever the grader is installed."""
    import grader
    import reference_models
    from grader.resources import questions_dir, templates_dir

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
    from grader.references import read_manifest

    if not read_manifest(course).get("tasks"):
        raise ValueError(f"the reference models are not built: run 'grader reference build --course {course.root}'")
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
        bundle.write(course.root / "course.toml", "course/course.toml")
        for path in sorted(course.reference_dir.iterdir()):
            if path.is_file():
                bundle.write(path, f"course/reference/{path.name}")
        csv_path = course.series.get("path")
        if course.series.get("source") == "csv" and csv_path:
            resolved = course.resolve(csv_path)
            bundle.write(resolved, f"course/{resolved.name}")
    return out
