"""Isolation levels: bubblewrap where it runs, process isolation where it cannot, and who may settle for which.

Bubblewrap is made unavailable by pointing ``GRADER_BWRAP`` at nothing, as on a machine
without the package; the probe's cache is cleared around each such test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import bwrap
from grader.sandbox.levels import FULL, WEAK, SandboxUnavailable, choose_level, isolation_summary, weak_notice
from grader.sandbox.limits import Limits
from grader.sandbox.process import Worker

REPO = Path(__file__).resolve().parent.parent
OPS = "tests.sandbox_ops"
PLAIN = Limits(seconds=10, memory_mb=1024, file_mb=32)
IN_CI = bool(os.environ.get("CI"))
has_bwrap = pytest.mark.skipif(bwrap.bwrap_usable() is not None and not IN_CI,
                               reason=f"bubblewrap cannot run here ({bwrap.bwrap_usable()})")


@pytest.fixture
def no_bwrap(monkeypatch):
    """This machine, as one without bubblewrap."""
    monkeypatch.setenv("GRADER_BWRAP", "")
    bwrap.bwrap_usable.cache_clear()
    yield
    monkeypatch.delenv("GRADER_BWRAP")
    bwrap.bwrap_usable.cache_clear()


def test_without_bubblewrap_full_is_refused_with_the_fix_and_auto_falls_back(no_bwrap):
    with pytest.raises(SandboxUnavailable) as refused:
        choose_level("full")
    message = str(refused.value)
    assert "bubblewrap (bwrap) is not installed" in message and "apt-get install bubblewrap" in message
    assert "--weak-sandbox" in message and "\n" not in message
    assert choose_level("auto") == WEAK
    notice = weak_notice()
    assert notice is not None and "\n" not in notice and "process isolation only" in notice


def test_a_worker_without_bubblewrap_still_runs_with_process_isolation(no_bwrap):
    with Worker("plain", PLAIN, OPS, extra_pythonpath=[REPO]) as worker:
        assert worker.run("echo", {"x": 1}) == {"x": 1}
        assert worker.isolation["level"] == WEAK and worker.isolation["filesystem"] == "host (not hidden)"
    with pytest.raises(SandboxUnavailable):
        Worker("plain", Limits(seconds=10, memory_mb=1024, file_mb=32, isolation="full"), OPS).start()


@has_bwrap
def test_with_bubblewrap_every_requirement_but_weak_gets_it():
    assert weak_notice() is None
    assert choose_level("full") == choose_level("auto") == FULL
    assert choose_level("weak") == WEAK
    with pytest.raises(ValueError, match="unknown sandbox requirement"):
        choose_level("strong")


@has_bwrap
def test_the_isolation_record_says_what_was_applied():
    with Worker("plain", PLAIN, OPS, extra_pythonpath=[REPO]) as worker:
        record = isolation_summary(worker.isolation)
    assert record["level"] == FULL and record["seccomp"] is True
    assert record["netns"] and record["pidns"] and record["no_new_privs"]
    if os.geteuid() == 0:
        assert record["uid_per_worker"] is True


def test_the_masked_view_hides_the_question_bank_of_an_installed_grader(tmp_path):
    """A packaged install keeps questions/ and templates/ in the package and reference_models beside it."""
    site = tmp_path / "site-packages"
    for folder in ("grader/questions", "grader/templates", "reference_models", "numpy"):
        (site / folder).mkdir(parents=True)
    view = bwrap.View(binds=((str(site), str(site)),), symlinks=(), python=sys.executable, pythonpath=(),
                      masked=tuple(str(site / name) for name in bwrap.SECRET_SITE_PACKAGES))
    command = bwrap.bwrap_command("bwrap", view, tmp_path, scratch_mb=8, privileged=True, seccomp_fd=None)
    masked = [command[i + 1] for i, arg in enumerate(command) if arg == "--tmpfs"]
    assert {str(site / "reference_models"), str(site / "grader/questions"), str(site / "grader/templates")} <= set(masked)
    assert str(site / "numpy") not in masked
    assert command[command.index("--ro-bind", command.index(str(site)) - 1)] == "--ro-bind"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_grade_refuses_without_bubblewrap_and_names_the_flag(demo, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(demo["course"].root, course)
    result = _cli("grade", "alice", "--course", str(course), "--force", env={"GRADER_BWRAP": ""})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "bubblewrap (bwrap) is not installed" in result.stderr and "--weak-sandbox" in result.stderr


def test_weak_sandbox_grades_without_bubblewrap_and_the_run_records_it(demo, tmp_path):
    from grader.core.course import open_course
    from grader.store.gradebook import Gradebook

    course = tmp_path / "course"
    shutil.copytree(demo["course"].root, course)
    result = _cli("grade", "alice", "--course", str(course), "--force", "--weak-sandbox", "--json",
                  env={"GRADER_BWRAP": ""})
    assert result.returncode == 0, result.stderr
    graded = json.loads(result.stdout)
    assert graded["score"] > 0
    with Gradebook(open_course(course).db_url) as gradebook:
        run = gradebook.runs()[-1]
    assert run.kind == "grade" and run.isolation["level"] == WEAK and run.isolation["required"] == "auto"


@has_bwrap
def test_the_demo_batch_recorded_the_full_sandbox_and_the_report_shows_it(demo):
    from grader.store.gradebook import Gradebook

    with Gradebook(demo["course"].db_url) as gradebook:
        batch = [run for run in gradebook.runs() if run.kind == "batch"][-1]
    assert batch.isolation["level"] == FULL and batch.isolation["seccomp"] is True
    report = Path(demo["report"]).read_text()
    assert "bubblewrap (own filesystem view, namespaces)" in report
    assert "process isolation only" not in report


def test_check_without_bubblewrap_prints_one_notice_and_still_checks(model_files, tmp_path):
    folder = tmp_path / "alice"
    shutil.copytree(model_files["q1_seq2vec"], folder)
    result = _cli("check", str(folder), "--task", "q1_seq2vec", "--json", env={"GRADER_BWRAP": ""})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    notices = [note for note in report["notes"] if "process isolation only" in note]
    assert len(notices) == 1 and "\n" not in notices[0]
    assert report["tests"] and all(t["status"] == "passed" for t in report["tests"])
    plain = _cli("check", str(folder), "--task", "q1_seq2vec", env={"GRADER_BWRAP": ""})
    assert plain.returncode == 0 and plain.stdout.count("process isolation only") == 1


def test_host_paths_under_tmp_are_bound_on_top_of_the_private_tmp(tmp_path):
    """A venv in /tmp/x/.venv (CI clones into /tmp): its binds must come after the private /tmp, not under it."""
    view = bwrap.View(binds=(("/tmp/x/.venv/lib", "/tmp/x/.venv/lib"),), symlinks=(("python3.11", "/tmp/x/.venv/bin/python"),),
                      python="/tmp/x/.venv/bin/python", pythonpath=())
    command = bwrap.bwrap_command("bwrap", view, tmp_path, scratch_mb=8, privileged=True, seccomp_fd=None)
    scratch = command.index("--tmpfs", command.index("--size")) + 1
    assert command[scratch] == "/tmp"
    assert scratch < command.index("/tmp/x/.venv/lib") and scratch < command.index("/tmp/x/.venv/bin/python")
    made = [command[i + 1] for i, arg in enumerate(command) if arg == "--dir"]
    assert "/tmp" not in made and "/tmp/x" in made   # the private /tmp keeps its 1777


def test_a_bwrap_that_does_not_isolate_is_not_taken_for_one(tmp_path, monkeypatch):
    """An operator's PATH or GRADER_BWRAP naming something that just runs the command must not count as the sandbox."""
    fake = tmp_path / "bwrap"
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done; shift; exec "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("GRADER_BWRAP", str(fake))
    bwrap.bwrap_usable.cache_clear()
    try:
        assert "host's files were still visible" in (bwrap.bwrap_usable() or "")
        with pytest.raises(SandboxUnavailable):
            choose_level("full")
    finally:
        monkeypatch.delenv("GRADER_BWRAP")
        bwrap.bwrap_usable.cache_clear()
