"""Batch grading throughput: a pool of long-lived workers against a fresh worker per submission.

Generates N complete submissions (every task, the reference architectures,
answers.md), then grades them twice into fresh gradebooks: with the worker
pool (TensorFlow imported once per worker) and with ``--isolate`` (a new
worker for every submission). Prints seconds per submission and the ratio.
Run from anywhere::

    python bench/bench_batch.py [--submissions 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # runnable from a source checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import build_reference_files  # noqa: E402
from grader.core.bank import default_bank  # noqa: E402
from grader.core.course import init_course  # noqa: E402
from grader.grading.demo import answers_markdown  # noqa: E402
from grader.store.gradebook import Gradebook  # noqa: E402
from grader.grading.grader import run_batch  # noqa: E402


def make_course(root: Path):
    """A course whose references are the reference architectures, untrained (timing does not depend on weights)."""
    course = init_course(root)
    build_reference_files(course.reference_dir)
    tasks = {}
    for path in course.reference_dir.iterdir():
        entry = {"file": path.name, "version_key": "bench"}
        if path.stem in ("q4_forecaster", "q5_stable_rnn", "q7_conv_rnn"):
            entry.update(mae=45000.0, mase=0.8)
        tasks[path.stem] = entry
    (course.reference_dir / "manifest.json").write_text(json.dumps({"tasks": tasks}))
    return course


def make_submissions(course, out: Path, count: int) -> list[Path]:
    bank = default_bank()
    paths = []
    for i in range(count):
        folder = out / f"student{i:03d}"
        folder.mkdir(parents=True)
        for task in bank.tasks:
            source = course.reference_dir / (task.file if not task.is_model else f"{task.id}.keras")
            shutil.copyfile(source, folder / task.file)
        (folder / "answers.md").write_text(answers_markdown(bank) + f"\n<!-- {i} -->\n")
        paths.append(folder)
    return paths


def grade(course, paths: list[Path], db: Path, workers: int, isolate: bool) -> float:
    course = type(course)(course.root, course.config, f"sqlite:///{db}")
    with Gradebook(course.db_url) as gradebook:
        began = time.perf_counter()
        summary = run_batch(course, default_bank(), gradebook, paths, workers=workers, isolate=isolate)
        seconds = time.perf_counter() - began
    assert summary.count("graded") == len(paths), [o.message for o in summary.outcomes if o.status != "graded"]
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        tmp_path = Path(tmp)
        course = make_course(tmp_path / "course")
        paths = make_submissions(course, tmp_path / "subs", args.submissions)
        pooled = grade(course, paths, tmp_path / "pool.db", args.workers, isolate=False)
        isolated = grade(course, paths, tmp_path / "isolate.db", args.workers, isolate=True)
    n = args.submissions
    print(f"{n} complete submissions (10 tasks + prose each), {args.workers} workers on {os.cpu_count()} cores")
    print(f"  pool (TensorFlow once per worker)   {pooled:7.1f} s   {pooled / n:6.2f} s per submission")
    print(f"  --isolate (a worker per submission) {isolated:7.1f} s   {isolated / n:6.2f} s per submission")
    print(f"  ratio isolate / pool                {isolated / pooled:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
