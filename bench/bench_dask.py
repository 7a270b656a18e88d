"""Dask against the local pool, in one run, and 50,000 submissions extrapolated from what was measured.

1. Grades N complete submissions (every task, the reference architectures, answers.md)
   twice into fresh gradebooks: with the local executor (``workers`` sandboxed workers in
   this process) and on a Dask ``LocalCluster`` of ``workers`` single-threaded worker
   processes, each hosting its own one-worker sandboxed pool. Prints both wall times and
   Dask's overhead against the local pool (the issue's bound: 15 %).
2. Measures what the extrapolation needs, on this machine:
   - core-seconds per submission of the local run, its pool's start-up left out (this
     process and every process it started, from a cpuacct cgroup: ``bench_floor.CpuMeter``);
   - the client's serial part per submission: intake (read, hash, store) and recording
     the results in the gradebook, which only the client does;
   - Dask's own cost per task: the round trip of trivial tasks through the scheduler.
3. Extrapolates to 50,000 submissions on N = 8, 64 and 512 cores:
   wall = cluster start + 50,000 x max(core-s / N, client-s, Dask-s per task),
   the slowest of the three pipelines setting the pace.

Run from anywhere::

    python bench/bench_dask.py [--submissions 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # runnable from a source checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import make_course, make_submissions  # noqa: E402
from bench_floor import CpuMeter, pool_start_seconds  # noqa: E402
from grader.core.bank import default_bank  # noqa: E402
from grader.grading.grader import Grader, run_batch  # noqa: E402
from grader.store.gradebook import Gradebook  # noqa: E402

TARGET = 50_000
CORES = (8, 64, 512)


def grade(course, paths: list[Path], db: Path, workers: int, executor: str,
          meter: CpuMeter) -> tuple[float, float, float]:
    """(wall seconds, core-seconds, seconds from start to the executor running) of one batch."""
    course = type(course)(course.root, course.config, f"sqlite:///{db}")
    ready: list[float] = []
    with Gradebook(course.db_url) as gradebook:
        cpu, began = meter.seconds(), time.perf_counter()
        summary = run_batch(course, default_bank(), gradebook, paths, workers=workers, executor=executor,
                            on_start=lambda _: ready.append(time.perf_counter()))
        wall = time.perf_counter() - began
    used = meter.seconds() - cpu
    graded = summary.count("graded")
    assert graded == len(paths), [o.message for o in summary.outcomes if o.status != "graded"]
    return wall, used, ready[0] - began


def client_seconds(course, paths: list[Path], db: Path) -> float:
    """The client's serial part per submission: intake into a fresh gradebook, then recording a full result set."""
    from grader.core.results import CheckResult

    course = type(course)(course.root, course.config, f"sqlite:///{db}")
    bank = default_bank()
    results = [CheckResult(task.id, f"check{i}", "passed", 1.0, 1.0, "ok") for task in bank.tasks for i in range(3)]
    with Gradebook(course.db_url) as gradebook:
        grader = Grader(course, bank, gradebook, isolation="auto")
        run_id = gradebook.start_run("batch", "bench", {}, {})
        began = time.perf_counter()
        for path in paths:
            receipt = grader.submit(path, path.name)
            grader.is_current(receipt.submission_id)
            grader.job(receipt.submission_id)
            gradebook.record_results(receipt.submission_id, run_id, results)
        return (time.perf_counter() - began) / len(paths)


def dask_task_seconds(workers: int, tasks: int = 2000) -> tuple[float, float]:
    """(cluster start seconds, seconds per trivial task) on a LocalCluster like the executor's."""
    import distributed

    began = time.perf_counter()
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(workers)
        start = time.perf_counter() - began
        client.gather(client.map(abs, range(100)))     # warm
        began = time.perf_counter()
        client.gather(client.map(abs, range(-tasks, 0)))
        return start, (time.perf_counter() - began) / tasks


def hours(seconds: float) -> str:
    return f"{seconds / 3600:5.1f} h" if seconds >= 3600 else f"{seconds / 60:5.1f} min"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    n = args.submissions
    meter = CpuMeter()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
            tmp_path = Path(tmp)
            course = make_course(tmp_path / "course")
            paths = make_submissions(course, tmp_path / "subs", n)
            local_wall, local_cpu, _ = grade(course, paths, tmp_path / "local.db", args.workers, "local", meter)
            dask_wall, dask_cpu, dask_start = grade(course, paths, tmp_path / "dask.db", args.workers, "dask", meter)
            pool_start = pool_start_seconds(course, args.workers, meter)
            client = client_seconds(course, paths, tmp_path / "client.db")
    finally:
        meter.close()
    start, per_task = dask_task_seconds(args.workers)
    overhead = dask_wall / local_wall - 1
    core = (local_cpu - pool_start) / n
    print(f"{n} complete submissions, {args.workers} workers on {os.cpu_count()} cores; CPU from {meter.method}")
    print(f"  local pool      {local_wall:7.1f} s wall  {local_wall / n:5.2f} s/submission  {local_cpu / n:5.2f} core-s/submission"
          f"  ({core:.2f} without the pool's start, {pool_start:.1f} core-s)")
    print(f"  Dask cluster    {dask_wall:7.1f} s wall  {dask_wall / n:5.2f} s/submission  {dask_cpu / n:5.2f} core-s/submission"
          f"  (cluster up after {dask_start:.1f} s)")
    print(f"  Dask overhead against the local pool: {overhead * 100:+.1f} %  (bound: +15 %)")
    print(f"  client's serial part (intake + recording): {client * 1000:.1f} ms/submission")
    print(f"  Dask per trivial task: {per_task * 1000:.2f} ms; a {args.workers}-worker LocalCluster starts in {start:.1f} s")
    print(f"\n{TARGET:,} submissions, extrapolated: start + {TARGET:,} x max(core-s / N, client, Dask per task)")
    print(f"  {'cores':>6}  {'wall':>9}  {'paced by':<10}")
    for cores in CORES:
        paces = {"grading": core / cores, "client": client, "scheduler": per_task}
        pace = max(paces, key=paces.get)
        print(f"  {cores:>6}  {hours(start + TARGET * paces[pace]):>9}  {pace:<10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
