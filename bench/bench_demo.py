"""How long ``grader demo`` takes, end to end, as a user runs it.

Runs ``grader demo`` in a fresh process on an empty folder and prints its wall time
against the 90-second goal, broken down by the phases it logs. The baseline, in the
same run, is the time a fresh process needs to import Keras (TensorFlow), which every
demo pays once: the demo is shown as a multiple of it, so the figure means the same on
a faster machine. ``--train`` also runs ``grader demo --train`` (the reference
forecasters trained here instead of the pre-built ones; about three more minutes) and
prints the speed-up. Every forecaster's margin over seasonal naive is printed from the
demo's own log. Run from anywhere::

    python bench/bench_demo.py [--train] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 90.0
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}


def timed(command: list[str]) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(command, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def run_demo(folder: Path, workers: int | None, train: bool) -> tuple[float, str]:
    command = [sys.executable, "-m", "grader", "demo", str(folder)]
    if workers:
        command += ["--workers", str(workers)]
    if train:
        command.append("--train")
    return timed(command)


def report(label: str, seconds: float, log: str, keras_import: float) -> None:
    batch = re.search(r"graded \d+, failed \d+, skipped \d+; .*?([\d.]+) s$", log, re.M)
    references = sum(float(s) for s in re.findall(r"^  reference \S+: .*? in ([\d.]+) s", log, re.M))
    verdict = "under" if seconds < GOAL_SECONDS else "OVER"
    print(f"{label}: {seconds:6.1f} s ({verdict} the {GOAL_SECONDS:.0f} s goal), {seconds / keras_import:5.1f}x a Keras import")
    print(f"    references {references:6.1f} s   batch of 10 {float(batch.group(1)) if batch else float('nan'):6.1f} s")
    for line in re.findall(r"^  reference (q\d_\w+: .*seasonal naive.*)$", log, re.M):
        print(f"    {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="also time 'grader demo --train' (about 3 more minutes)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    keras_import, _ = timed([sys.executable, "-c", "import keras"])
    print(f"{os.cpu_count()} cores; baseline: a fresh process imports Keras in {keras_import:.1f} s")
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        seconds, log = run_demo(Path(tmp) / "prebuilt", args.workers, train=False)
        report("grader demo        ", seconds, log, keras_import)
        if args.train:
            trained, log = run_demo(Path(tmp) / "trained", args.workers, train=True)
            report("grader demo --train", trained, log, keras_import)
            print(f"speed-up of the pre-built references: {trained / seconds:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
