"""Batch grading on a Dask LocalCluster gives the local pool's gradebook, and survives a worker killed mid-run.

Forty submissions: the demo's ten samples (a correct one and nine that each break one
task: a corrupt zip, a hostile Lambda, a missing file, swapped gates ...) four times
over under new names. They are graded once by the local executor and once on a
LocalCluster of two worker processes, into separate gradebooks, and compared score for
score and check for check. During the Dask run one worker process is SIGKILLed after
the fifth result: its in-flight submissions go to the other worker (or to the one the
nanny starts in its place), and every submission must still be graded exactly once.
The Dask run writes to PostgreSQL when the suite has one (``GRADER_TEST_PG_URL``, as
in CI), the gradebook a multi-machine run would use.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

COPIES = 4


@pytest.fixture(scope="module")
def forty(demo, tmp_path_factory) -> list[Path]:
    """The demo's samples, COPIES times, as alice_0 .. judy_3 (folders and zips as the demo wrote them)."""
    out = tmp_path_factory.mktemp("forty")
    samples = sorted((demo["course"].root / "samples").iterdir())
    paths = []
    for copy in range(COPIES):
        for sample in samples:
            if sample.suffix == ".zip":
                target = out / f"{sample.stem}_{copy}.zip"
                shutil.copyfile(sample, target)
            else:
                target = out / f"{sample.name}_{copy}"
                shutil.copytree(sample, target)
            paths.append(target)
    assert len(paths) == 40
    return paths


def _dask_gradebook(tmp_path) -> str:
    """PostgreSQL when the suite has one (a multi-machine run's gradebook, written by the client alone), else SQLite."""
    url = os.environ.get("GRADER_TEST_PG_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'dask.db'}"
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def _grade(course, bank, paths, url, **options):
    from grader.grading.grader import run_batch
    from grader.store.gradebook import Gradebook

    course = type(course)(course.root, course.config, url)
    with Gradebook(course.db_url) as gradebook:
        summary = run_batch(course, bank, gradebook, paths, workers=2, isolation="auto", **options)
        results = {}
        for outcome in summary.outcomes:
            submission = gradebook.latest_submission(outcome.student)
            rows = gradebook.current_results(submission.id)
            keys = [(row["task"], row["check"]) for row in rows]
            assert len(keys) == len(set(keys)), f"{outcome.student} has a check recorded twice"
            results[outcome.student] = {key: (row["status"], row["score"], row["needs_review"]) for key, row in zip(keys, rows)}
    return summary, results


def test_a_local_cluster_grades_like_the_local_pool_even_when_a_worker_is_killed(demo, bank, forty, tmp_path):
    course = demo["course"]
    local_summary, local = _grade(course, bank, forty, f"sqlite:///{tmp_path / 'local.db'}")

    killed = []
    started = []

    def on_start(executor) -> None:
        started.append(executor)

    def progress(outcome) -> None:
        if len([o for o in dask_outcomes if o.status == "graded"]) >= 5 and not killed:
            pids = started[0].client.run(os.getpid)
            victim = sorted(pids)[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    dask_outcomes: list = []

    def record(outcome) -> None:
        dask_outcomes.append(outcome)
        progress(outcome)

    dask_url = _dask_gradebook(tmp_path)
    dask_summary, remote = _grade(course, bank, forty, dask_url, executor="dask", progress=record, on_start=on_start)
    assert killed, "no worker was killed: the test did not exercise a worker's death"
    assert started[0].dashboard and started[0].dashboard.startswith("http")

    students = Counter(o.student for o in dask_summary.outcomes)
    assert len(students) == 40 and set(students.values()) == {1}, "every submission is reported exactly once"
    assert Counter(o.status for o in dask_summary.outcomes) == Counter(o.status for o in local_summary.outcomes)
    assert {o.student: o.score for o in dask_summary.outcomes} == {o.student: o.score for o in local_summary.outcomes}
    assert remote == local, "the Dask gradebook differs from the local one"

    # Resumable and idempotent: what is in the gradebook is done, so a second run grades nothing.
    again, _ = _grade(course, bank, forty, dask_url, executor="dask")
    assert Counter(o.status for o in again.outcomes) == Counter(
        "skipped" if o.status == "graded" else o.status for o in dask_summary.outcomes)
