"""The per-course write lock: a second writer waits (and says so) or, with --no-wait, fails in one line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.core.course import init_course
from grader.core.locking import CourseBusy, course_lock, lock_path

HOLD = """
import sys, time
from pathlib import Path
from grader.core.locking import course_lock
with course_lock(Path(sys.argv[1]), "batch"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def course(tmp_path):
    return init_course(tmp_path / "course").root


def _hold(root: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root), str(seconds)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_no_wait_names_the_holder(course):
    holder = _hold(course, 30)
    try:
        with pytest.raises(CourseBusy, match=r"'grader batch' \(pid \d+"):
            with course_lock(course, "override", wait=False):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_a_second_writer_waits_and_says_so(course):
    holder = _hold(course, 1.5)
    said = []
    started = time.monotonic()
    with course_lock(course, "grade", on_wait=said.append):
        waited = time.monotonic() - started
    holder.wait()
    assert len(said) == 1 and "waiting for 'grader batch'" in said[0]
    assert waited > 0.5


def test_a_killed_holder_leaves_no_lock_behind(course):
    holder = _hold(course, 60)
    holder.kill()
    holder.wait()
    with course_lock(course, "batch", wait=False):
        assert lock_path(course).exists()


def test_override_with_no_wait_fails_in_one_line(course):
    holder = _hold(course, 30)
    try:
        result = CliRunner().invoke(cli, ["override", "alice", "Q1", "--score", "1", "--no-wait",
                                          "--course", str(course)])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if line.strip()] == [
        line for line in result.output.splitlines() if "is writing to the course" in line]
