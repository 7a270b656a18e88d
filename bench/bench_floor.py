"""Per-submission cost of the worker pool against the floor: the work itself in one warm process.

Generates N complete submissions (every task, the reference architectures, answers.md) and,
in the same run, measures:

* the floor: one warm process, no sandbox (TensorFlow imported and one submission done
  beforehand), then for each of K submissions: load each of the nine models once; probe each
  non-forecaster once (eagerly, at the two lengths the grader checks when the time axis is
  free); one batched forecast pass per forecaster over the held-out windows, in the grader's
  forward-pass groups (which is the forecaster's probe, as in the grader); q6's lstm_step
  cases drawn, run and compared in the same process. The probe shapes and the forward pass are the
  grader's own (``grader.sandbox.ops``), so what makes the work itself cheaper lowers both
  sides. CPU seconds of that process per submission, measured before and after the pool.
  Also shown: q6 in a fresh interpreter, the least a process of its own costs (the sandbox
  runs every q6 cell in a fresh worker).
* the pool: ``run_batch`` over the N submissions with the normal worker pool (bubblewrap where
  it runs), in core-seconds (CPU of this process and of every process it started, sandboxed
  workers included) per submission; once with the pool's start-up (TensorFlow imported in every
  worker) and once without it, the start of an idle pool of the same size measured on its own.

Core-seconds are read from a cpuacct control group the script moves itself into (cgroup v1, as
root), which also counts the sandbox's processes that are killed rather than reaped; where it
cannot make one, from /proc, sampled every 20 ms (an approximation: the last moments of each
process are missed). Prints the ratio pool / floor. Run from anywhere::

    python bench/bench_floor.py [--submissions 24] [--workers 2] [--floor-submissions 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # runnable from a source checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import make_course, make_submissions  # noqa: E402
from grader.core.bank import default_bank  # noqa: E402

CPUACCT = Path("/sys/fs/cgroup/cpuacct")
FORECASTERS = ("forecaster", "stable_forecaster", "conv_forecaster")
TICK = os.sysconf("SC_CLK_TCK")


# -- the floor (runs in a child process: the benchmark's own process stays free of TensorFlow)

def floor_child(course_root: Path, folders: list[Path]) -> dict:
    """CPU seconds per submission of the bare work, after one warm-up submission."""
    os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "KERAS_BACKEND": "tensorflow",
                       "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"})
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from grader.checks import lstm_cell as lstm_cases
    from grader.core.course import open_course
    from grader.forecast.evaluation import forward_pass_groups
    from grader.forecast.metrics import held_out_windows
    from grader.forecast.series import series_from_config
    from grader.sandbox.ops import _probe_inputs, forward_pass, run_lstm_step

    course = open_course(course_root)
    series = series_from_config(course.series, course.root)
    windows = held_out_windows(series, course.series, course.series.window)
    groups = forward_pass_groups(windows.origins, windows.inputs.shape[1] + 7)
    size = max(len(g) for g in groups)
    order = np.concatenate([np.resize(np.asarray(g), size) for g in groups])
    batches = windows.inputs[order].astype("float32").reshape(len(groups), size, *windows.inputs.shape[1:])
    bank = default_bank()
    rng = np.random.default_rng(0)

    def one(folder: Path) -> None:
        for task in bank.tasks:
            if not task.is_model:
                cases = lstm_cases.draw_cases()
                reply = run_lstm_step({"file": task.file, "cases": cases.payload()}, folder)
                lines = (folder / task.file).read_text().splitlines()
                lstm_cases.compare(cases, lstm_cases.read_reply(reply, cases, len(lines)), lines, task.file)
                continue
            model = keras.saving.load_model(folder / task.file, compile=False, safe_mode=True)
            if task.kind in FORECASTERS:   # the forecast pass shows the output shape: no probe
                forward_pass(model, batches)
                continue
            declared = [None if d is None else int(d) for d in model.inputs[0].shape]
            for shape in _probe_inputs(task.kind, declared)[:2]:   # a free time axis: the two lengths checked
                np.asarray(model(rng.normal(size=shape).astype("float32"), training=False))

    one(folders[0])   # warm-up: lazy imports, first traces
    seconds = []
    for folder in folders[1:]:
        began = time.process_time()
        one(folder)
        seconds.append(time.process_time() - began)
    return {"floor": seconds}


def run_floor(course_root: Path, folders: list[Path]) -> list[float]:
    """The floor's CPU seconds per submission, measured in a child process (the first folder warms it up)."""
    child = subprocess.run([sys.executable, __file__, "--floor-child", str(course_root), *map(str, folders)],
                           check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(child.stdout.strip().splitlines()[-1])["floor"]


def fresh_q6_seconds(folder: Path, repeat: int = 3) -> float:
    """CPU seconds of a fresh interpreter that imports NumPy and runs one lstm_step: q6's process at the least."""
    code = ("import importlib.util, sys, numpy as np\n"
            "spec = importlib.util.spec_from_file_location('cell', sys.argv[1])\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "r = np.random.default_rng(0)\n"
            "m.lstm_step(r.normal(size=(2, 3)), np.zeros((2, 4)), np.zeros((2, 4)), r.normal(size=(3, 16)),"
            " r.normal(size=(4, 16)), np.zeros(16))\n")
    before = _children_seconds()
    for _ in range(repeat):
        subprocess.run([sys.executable, "-c", code, str(folder / "q6_lstm_cell.py")], check=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    return (_children_seconds() - before) / repeat


def _children_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- core-seconds of this process and everything it starts

class CpuMeter:
    """CPU seconds used by this process and all its descendants since the meter was made."""

    def __init__(self) -> None:
        self.group: Path | None = None
        self._seen: dict[tuple[int, str], float] = {}
        self._overhead = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            group = CPUACCT / f"bench-floor-{os.getpid()}"
            group.mkdir()
            (group / "cgroup.procs").write_text(str(os.getpid()))
            self.group = group
        except OSError:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    @property
    def method(self) -> str:
        return "cpuacct cgroup" if self.group is not None else "/proc sampled every 20 ms (approximate)"

    def seconds(self) -> float:
        if self.group is not None:
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        self._scan()
        own = os.times()
        return own.user + own.system - self._overhead + sum(self._seen.values())

    def close(self) -> None:
        if self.group is not None:
            try:
                (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
                self.group.rmdir()
            except OSError:
                pass
        self._stop.set()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._scan()

    def _scan(self) -> None:
        began = time.thread_time()   # the meter's own reading is not the pool's cost
        parents: dict[int, int] = {}
        times: dict[int, tuple[str, float]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            times[int(entry)] = (fields[19], (int(fields[11]) + int(fields[12])) / TICK)
        me = os.getpid()
        for pid, (started, seconds) in times.items():
            ancestor = parents.get(pid)
            while ancestor not in (None, 0, 1, me):
                ancestor = parents.get(ancestor)
            if ancestor == me and pid != me:
                key = (pid, started)
                self._seen[key] = max(self._seen.get(key, 0.0), seconds)
        self._overhead += time.thread_time() - began


# -- the pool

def pool_seconds(course, paths: list[Path], workers: int, db: Path, meter: CpuMeter) -> tuple[float, float]:
    """Wall and core seconds of ``run_batch`` over ``paths`` into a fresh gradebook, pool start included."""
    from grader.grading.grader import run_batch
    from grader.store.gradebook import Gradebook

    course = type(course)(course.root, course.config, f"sqlite:///{db}")
    with Gradebook(course.db_url) as gradebook:
        cpu, wall = meter.seconds(), time.perf_counter()
        summary = run_batch(course, default_bank(), gradebook, paths, workers=workers)
        wall, cpu = time.perf_counter() - wall, meter.seconds() - cpu
    assert summary.count("graded") == len(paths), [o.message for o in summary.outcomes if o.status != "graded"]
    return wall, cpu


def pool_start_seconds(course, workers: int, meter: CpuMeter) -> float:
    """Core seconds to start (and close) an idle pool like run_batch's: TensorFlow imported in every worker."""
    from grader.sandbox.limits import Limits
    from grader.sandbox.pool import WorkerPool

    cpu = meter.seconds()
    with WorkerPool(workers, kind="keras", limits=Limits.from_course(course.limits, "keras", isolation="full")) as pool:
        pool.start()
    return meter.seconds() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=24)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--floor-submissions", type=int, default=6, help="K: submissions timed for the floor, twice")
    parser.add_argument("--floor-child", nargs="+", help=argparse.SUPPRESS)   # COURSE FOLDER...: run the floor here
    args = parser.parse_args(argv)
    if args.floor_child:
        print(json.dumps(floor_child(Path(args.floor_child[0]), [Path(p) for p in args.floor_child[1:]])))
        return 0

    meter = CpuMeter()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
            tmp_path = Path(tmp)
            course = make_course(tmp_path / "course")
            paths = make_submissions(course, tmp_path / "subs", args.submissions)
            floor = run_floor(course.root, paths[: args.floor_submissions + 1])
            q6 = fresh_q6_seconds(paths[0])
            wall, pooled = pool_seconds(course, paths, args.workers, tmp_path / "pool.db", meter)
            start = pool_start_seconds(course, args.workers, meter)
            floor += run_floor(course.root, paths[: args.floor_submissions + 1])   # before and after: less noise
    finally:
        meter.close()
    n = args.submissions
    floor_s = sum(floor) / len(floor)
    steady = (pooled - start) / n
    print(f"{n} complete submissions (9 models, q6, answers.md each), {args.workers} workers on "
          f"{os.cpu_count()} cores; core-seconds from {meter.method}")
    print(f"  floor, one warm process ({len(floor)} submissions: before and after the pool)  "
          f"{floor_s:6.2f} core-s per submission (min {min(floor):.2f}, max {max(floor):.2f})")
    print(f"  q6 in a fresh interpreter (python + numpy + the cell)           {q6:6.2f} core-s")
    print(f"  pool start alone (an idle pool of {args.workers} workers)                  {start:6.1f} core-s")
    print(f"  pool, start-up included ({wall:.0f} s wall)                         {pooled / n:6.2f} core-s per submission"
          f"  {pooled / n / floor_s:5.2f}x the floor")
    print(f"  pool, start-up excluded                                       {steady:6.2f} core-s per submission"
          f"  {steady / floor_s:5.2f}x the floor  ({steady / (floor_s + q6):.2f}x floor + a fresh q6 process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
