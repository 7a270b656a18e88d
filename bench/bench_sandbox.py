"""What the full sandbox costs: worker start and per-submission batch time, bubblewrap against process isolation.

Both levels are measured in the same run on the same machine:

* worker start: a plain worker (student Python) and a Keras worker (TensorFlow imported),
  the median of ``--starts`` starts each;
* batch: the same N complete submissions graded by a 2-worker pool into fresh gradebooks,
  with process isolation ("weak") and under bubblewrap ("full"), ``--rounds`` times each in
  alternating order; seconds per submission (pool start included) and the ratio of medians.

Run from anywhere (as root, with bubblewrap installed, to measure the full sandbox)::

    python bench/bench_sandbox.py [--submissions 16] [--workers 2] [--starts 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # runnable from a source checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import make_course, make_submissions  # noqa: E402
from grader.core.bank import default_bank  # noqa: E402
from grader.grading.grader import run_batch  # noqa: E402
from grader.sandbox.bwrap import bwrap_usable  # noqa: E402
from grader.sandbox.limits import Limits  # noqa: E402
from grader.sandbox.process import Worker  # noqa: E402
from grader.store.gradebook import Gradebook  # noqa: E402

LEVELS = (("process isolation", "weak"), ("bubblewrap", "full"))


def worker_start(kind: str, isolation: str, starts: int) -> float:
    """Median seconds from start() to ready for a ``kind`` worker under ``isolation``."""
    seconds = []
    for _ in range(starts):
        worker = Worker(kind, Limits.from_course({}, kind, isolation=isolation))
        began = time.perf_counter()
        worker.start()
        seconds.append(time.perf_counter() - began)
        worker.close()
    return statistics.median(seconds)


def batch_seconds(course, paths: list[Path], workers: int, isolation: str, db: Path) -> float:
    bank = default_bank()
    with Gradebook(f"sqlite:///{db}") as gradebook:
        summary = run_batch(course, bank, gradebook, paths, workers=workers, isolation=isolation)
    assert summary.count("graded") == len(paths), [o.message for o in summary.outcomes if o.status != "graded"]
    return summary.seconds / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="batch rounds per level, in alternating order")
    args = parser.parse_args()
    reason = bwrap_usable()
    if reason is not None:
        sys.exit(f"cannot measure the full sandbox here: {reason}")

    print("worker start (median of", args.starts, "starts)")
    for kind, starts in (("plain", args.starts), ("keras", max(2, args.starts // 2))):
        weak = worker_start(kind, "weak", starts)
        full = worker_start(kind, "full", starts)
        print(f"  {kind:<6} process {weak:6.3f} s   bubblewrap {full:6.3f} s   ratio {full / weak:5.2f}x")

    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        root = Path(tmp)
        course = make_course(root / "course")
        paths = make_submissions(course, root / "subs", args.submissions)
        # Rounds alternate the order (process first, then bubblewrap first) so that warm caches favour neither.
        runs: dict[str, list[float]] = {isolation: [] for _, isolation in LEVELS}
        for round_ in range(args.rounds):
            for label, isolation in (LEVELS if round_ % 2 == 0 else LEVELS[::-1]):
                db = root / f"{isolation}-{round_}.db"
                runs[isolation].append(batch_seconds(course, paths, args.workers, isolation, db))
                print(f"round {round_ + 1}: batch of {args.submissions}, {args.workers} workers, {label:<17}: "
                      f"{runs[isolation][-1]:.2f} s per submission")
        per = {isolation: statistics.median(seconds) for isolation, seconds in runs.items()}
    print(f"per-submission pool time (median of {args.rounds} rounds), bubblewrap / process: "
          f"{per['full'] / per['weak']:.3f}x "
          f"({(per['full'] / per['weak'] - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
