"""Time checking one whole submission (all ten tasks): static only, then with sandboxed probes.

The static pass reads every model file as data (no TensorFlow, no
deserialisation); the full check adds the sandboxed forward passes. The
baseline, run in the same script, is reading the submission's bytes from disk.
Run from anywhere::

    python bench/bench_check.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # runnable from a source checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import build_reference_files  # noqa: E402
from grader.core.bank import default_bank  # noqa: E402
from grader.grading.checking import check_submission  # noqa: E402


def median_seconds(step, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    bank = default_bank()
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        folder = Path(tmp)
        build_reference_files(folder)
        files = sorted(folder.iterdir())
        read = median_seconds(lambda: [f.read_bytes() for f in files], args.repeat)
        static = median_seconds(lambda: check_submission(folder, bank), args.repeat)
        results = check_submission(folder, bank).results
        assert "tensorflow" not in sys.modules, "the static pass imported TensorFlow"
        print(f"submission: {len(files)} files, {sum(f.stat().st_size for f in files) / 1024:.0f} KiB; "
              f"{len(results)} static results, all passed: {all(r.status == 'passed' for r in results)}")
        print(f"  baseline: read the files                  {read * 1000:8.1f} ms")
        print(f"  static checks, whole submission            {static * 1000:8.1f} ms  "
              f"({static / read:.0f}x the baseline; TensorFlow imported: {'tensorflow' in sys.modules})")

        from grader.sandbox.prober import SandboxProber

        with SandboxProber({}) as prober:
            began = time.perf_counter()
            prober.worker.start()
            startup = time.perf_counter() - began
            check_submission(folder, bank, prober=prober)        # first pass: cold model loads
            full = median_seconds(lambda: check_submission(folder, bank, prober=prober), 3)
        print(f"  worker start (once per worker)             {startup:8.2f} s")
        print(f"  full check with sandboxed probes           {full:8.2f} s  ({full / static:.0f}x the static pass)")
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
