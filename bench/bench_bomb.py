"""Peak memory of the grader's own process while it checks a submission whose q6 is a bomb.

Three submissions of the ten reference files, run through ``grader check --json`` in a
fresh process each: honest (the baseline), one whose q6_lstm_cell.py leaves a deflated
.npz declaring a 3 GiB array where the grader used to read its outputs, and one whose
q6 floods the reply channel. Printed: the peak RSS of the grader process itself (its
sandboxed workers are separate processes with their own limits), its ratio to the
honest baseline, and whether the rest of the submission was still graded. For contrast,
the last line materialises the same bomb the way ``np.load`` did before (in a child).

    python bench/bench_bomb.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import build_reference_files  # noqa: E402
from tests.attacks import FORGED_REPLY, npz_bomb  # noqa: E402

# The grader's CLI in this process, reporting its own peak RSS (KiB) on stderr at exit.
_MEASURED = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: print(f'PEAK_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', "
    "file=sys.stderr))\n"
    "from grader.cli import main\n"
    "sys.argv = ['grader', 'check', sys.argv[1], '--json']\n"
    "main()\n"
)

_UNBOUNDED = (
    "import resource, sys, numpy as np\n"
    "with np.load(sys.argv[1], allow_pickle=False) as data:\n"
    "    arrays = {k: data[k] for k in data.files}\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def measure(folder: Path) -> tuple[int, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", _MEASURED, str(folder)], capture_output=True, text=True, env=env)
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KB"))
    return peak, json.loads(done.stdout)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-bomb-") as tmp:
        honest = Path(tmp) / "honest"
        build_reference_files(honest)
        variants = {"honest (baseline)": honest}
        for name, source in (("q6 npz bomb, 3 GiB declared", npz_bomb(3)), ("q6 forged 64 MiB reply", FORGED_REPLY)):
            folder = Path(tmp) / name.split(",")[0].replace(" ", "-")
            shutil.copytree(honest, folder)
            (folder / "q6_lstm_cell.py").write_text(source)
            variants[name] = folder
        baseline = None
        print(f"{'submission':<32} {'grader peak RSS':>16} {'ratio':>6}  other tasks")
        for name, folder in variants.items():
            peak, report = measure(folder)
            baseline = baseline or peak
            others = [t for t in report["tests"] if t["task"] != "q6_lstm_cell"]
            q6 = sum(t["score"] for t in report["tests"] if t["task"] == "q6_lstm_cell")
            passed = sum(t["status"] == "passed" for t in others)
            print(f"{name:<32} {peak / 1024:>12.0f} MiB {peak / baseline:>6.2f}  {passed}/{len(others)} passed, "
                  f"q6 {q6:g}/5")
        bomb = Path(tmp) / "bomb.npz"
        subprocess.run([sys.executable, "-c", npz_bomb(3) + "\nimport shutil; shutil.move('outputs.npz', "
                        f"{str(bomb)!r})"], check=True, cwd=tmp)
        done = subprocess.run([sys.executable, "-c", _UNBOUNDED, str(bomb)], capture_output=True, text=True)
        if done.returncode == 0:
            peak = int(done.stdout.strip())
            print(f"{'for contrast: np.load of the bomb':<32} {peak / 1024:>12.0f} MiB {peak / baseline:>6.2f}  "
                  f"({bomb.stat().st_size / 2**20:.0f} MiB on disk)")
        else:
            print(f"for contrast: np.load of the bomb failed: {done.stderr.strip().splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
