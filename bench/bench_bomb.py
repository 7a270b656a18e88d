"""Peak memory of the grader's own process while it runs a q6_lstm_cell.py that is a bomb.

The static import policy refuses these files before anything runs (they import zipfile,
os or sys), so this bench measures the second line: each file is run in the sandbox
directly (``SandboxProber.lstm_step_cases``), as if it had got past the policy, in a fresh
grader process each. One is honest (the reference cell, the baseline); one leaves a
deflated .npz declaring a 3 GiB array where the grader used to read its outputs; one
floods the reply channel; one forges a reply of integers too large for a float. Printed:
the peak RSS of the grader process itself (its sandboxed worker is a separate process
with its own limits), its ratio to the honest baseline, and the q6 outcome. For contrast,
the last line materialises the same bomb the way ``np.load`` did before (in a child).

    python bench/bench_bomb.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.attacks import FORGED_REPLY, HUGE_NUMBER_REPLY, npz_bomb  # noqa: E402

# The grader's prober in this process, reporting its own peak RSS (KiB) on stderr at exit.
_MEASURED = (
    "import atexit, json, resource, sys\n"
    "from pathlib import Path\n"
    "atexit.register(lambda: print(f'PEAK_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', "
    "file=sys.stderr))\n"
    "from grader.sandbox.prober import ProbeFailed, SandboxProber\n"
    "with SandboxProber({}) as prober:\n"
    "    try:\n"
    "        evidence = prober.lstm_step_cases(Path(sys.argv[1]))\n"
    "    except ProbeFailed as exc:\n"
    "        evidence = {'error': str(exc)}\n"
    "cases = evidence.get('cases') or []\n"
    "worst = max((max(c.get('h_error', 0), c.get('c_error', 0)) for c in cases), default=None)\n"
    "print(json.dumps({'error': evidence.get('error') or next((c['error'] for c in cases if 'error' in c), None),"
    " 'worst': worst}))\n"
)

_UNBOUNDED = (
    "import resource, sys, numpy as np\n"
    "with np.load(sys.argv[1], allow_pickle=False) as data:\n"
    "    arrays = {k: data[k] for k in data.files}\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def measure(path: Path) -> tuple[int, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", _MEASURED, str(path)], capture_output=True, text=True, env=env)
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KB"))
    return peak, json.loads(done.stdout.strip().splitlines()[-1])


def outcome(result: dict) -> str:
    if result.get("error"):
        return result["error"][:70]
    return f"ran; worst deviation {result['worst']:.2g}"


def main() -> int:
    from reference_models import LSTM_CELL_SOURCE

    with tempfile.TemporaryDirectory(prefix="bench-bomb-") as tmp:
        variants = {"honest (baseline)": LSTM_CELL_SOURCE.read_text(), "npz bomb, 3 GiB declared": npz_bomb(3),
                    "forged 64 MiB reply": FORGED_REPLY, "forged reply, huge integers": HUGE_NUMBER_REPLY}
        baseline = None
        print(f"{'q6_lstm_cell.py':<30} {'grader peak RSS':>16} {'ratio':>6}  q6 outcome")
        for name, source in variants.items():
            folder = Path(tmp) / str(len(os.listdir(tmp)))
            folder.mkdir()
            (folder / "q6_lstm_cell.py").write_text(source)
            peak, result = measure(folder / "q6_lstm_cell.py")
            baseline = baseline or peak
            print(f"{name:<30} {peak / 1024:>12.0f} MiB {peak / baseline:>6.2f}  {outcome(result)}")
        bomb = Path(tmp) / "bomb.npz"
        subprocess.run([sys.executable, "-c", npz_bomb(3) + "\nimport shutil; shutil.move('outputs.npz', "
                        f"{str(bomb)!r})"], check=True, cwd=tmp)
        done = subprocess.run([sys.executable, "-c", _UNBOUNDED, str(bomb)], capture_output=True, text=True)
        if done.returncode == 0:
            peak = int(done.stdout.strip())
            print(f"{'for contrast: np.load of it':<30} {peak / 1024:>12.0f} MiB {peak / baseline:>6.2f}  "
                  f"({bomb.stat().st_size / 2**20:.0f} MiB on disk)")
        else:
            print(f"for contrast: np.load of the bomb failed: {done.stderr.strip().splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
