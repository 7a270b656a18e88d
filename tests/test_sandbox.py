"""The sandboxed worker: protocol, limits, recovery, isolation and the pool.

Plain workers (no TensorFlow) keep these fast; one slow test starts a Keras worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox.errors import (
    MemoryExceeded,
    SandboxError,
    TaskFailed,
    TaskTimeout,
    WorkerCrashed,
    WorkerStartFailed,
)
from grader.sandbox.limits import Limits
from grader.sandbox.pool import WorkerPool, run_once
from grader.sandbox.process import Worker

REPO = Path(__file__).resolve().parent.parent
OPS = "tests.sandbox_ops"
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not IS_ROOT, reason="privilege drop and network namespace are applied only when the grader runs as root")
PLAIN = Limits(seconds=10, memory_mb=1024, file_mb=32)


def plain_worker() -> Worker:
    return Worker("plain", PLAIN, OPS, extra_pythonpath=[REPO])


@pytest.fixture(scope="module")
def worker():
    with plain_worker() as shared:
        yield shared


@pytest.fixture
def fresh_worker():
    with plain_worker() as own:
        yield own


def test_limits_from_course_table():
    table = {"task_seconds": 30, "memory_mb": 3000, "plain_memory_mb": 512}
    assert Limits.from_course(table, "keras") == Limits(seconds=30.0, memory_mb=3000, file_mb=256)
    assert Limits.from_course(table, "plain").memory_mb == 512
    assert Limits.from_course({}, "plain") == Limits(seconds=60.0, memory_mb=1024)
    with pytest.raises(ValueError, match="unknown worker kind"):
        Limits.from_course({}, "torch")


def test_echo_round_trip(worker):
    payload = {"text": "héllo", "numbers": [1, 2.5, None], "nested": {"a": True}}
    pid = worker.pid
    assert worker.run("echo", payload) == payload
    assert worker.run("echo", {}) == {}
    assert worker.pid == pid
    assert worker.isolation["rlimit_as_mb"] == 1024
    assert worker.isolation["rlimit_core"] == 0


def test_stdout_and_stderr_noise_do_not_corrupt_replies(worker):
    assert worker.run("print_noise", {}) == {"ok": 1}
    assert worker.run("echo", {"after": "noise"}) == {"after": "noise"}


def test_op_exception_is_one_line_and_worker_survives(worker):
    pid = worker.pid
    with pytest.raises(TaskFailed) as caught:
        worker.run("fail", {})
    message = str(caught.value)
    assert message.startswith("ValueError: first line second line")
    assert "\n" not in message and len(message) <= 300
    with pytest.raises(TaskFailed, match=r"^SystemExit: 3$"):
        worker.run("exit", {})
    with pytest.raises(TaskFailed, match="unknown op 'nope'"):
        worker.run("nope", {})
    assert worker.run("echo", {"still": "here"}) == {"still": "here"}
    assert worker.pid == pid


def test_oversized_result_is_refused(worker):
    with pytest.raises(TaskFailed, match="result too large"):
        worker.run("big", {"mb": 5})
    assert worker.run("echo", {"n": 1}) == {"n": 1}


def test_files_are_copied_into_a_read_only_task_dir_and_the_cwd_is_private_scratch(worker, tmp_path):
    source = tmp_path / "student_model.keras"
    source.write_text("not really a model")
    result = worker.run("cwd", {"read": "model.keras"}, files={"model.keras": source})
    assert result["cwd"] != result["task_dir"]
    assert result["listing"] == ["model.keras"], "the inputs are reachable from the cwd by name"
    assert result["text"] == "not really a model"
    again = worker.run("cwd", {})
    assert again["cwd"] != result["cwd"] and again["task_dir"] != result["task_dir"], "every task gets fresh dirs"
    assert again["listing"] == []
    with pytest.raises(TaskFailed, match="Read-only file system|Permission denied"):
        worker.run("write_into_task_dir", {}, files={"model.keras": source})


def test_run_with_output_fetches_numpy_data(worker):
    from grader.sandbox.untrusted import read_npy

    result, data = worker.run_with_output("write_output", {"out": "pred.npy"}, None, "pred.npy", max_bytes=4096)
    assert result == {"how": "npy"} and len(data) == 152
    array = read_npy(data, dtype="float32", max_bytes=24)
    assert array.tolist() == [[0, 1, 2], [3, 4, 5]] and str(array.dtype) == "float32"


def test_an_output_over_its_bound_is_refused_before_it_is_read(worker):
    with pytest.raises(TaskFailed, match="over the 100 bytes it may take"):
        worker.run_with_output("write_output", {"out": "pred.npy"}, None, "pred.npy", max_bytes=100)


def test_a_declared_shape_is_checked_before_any_data_is_read(worker):
    from grader.sandbox.untrusted import UntrustedOutput, read_npy

    _, data = worker.run_with_output("write_output", {"out": "pred.npy", "how": "bomb"}, None, "pred.npy",
                                     max_bytes=4096)
    assert len(data) == 128
    with pytest.raises(UntrustedOutput, match=r"declares shape \(1099511627776,\)"):
        read_npy(data, dtype="float32", max_bytes=2**26)
    with pytest.raises(UntrustedOutput, match="holds float32 values; expected float64"):
        read_npy(data, dtype="float64", max_bytes=2**60)


def test_a_reply_over_its_bound_is_refused_unparsed(worker):
    with pytest.raises(WorkerCrashed, match="reply longer than 64 KiB"):
        worker.run("big", {"mb": 1}, reply_limit=64 * 1024)
    assert worker.run("echo", {"a": 1}, reply_limit=64 * 1024) == {"a": 1}, "a new worker serves the next task"


@pytest.mark.parametrize("how, message", [
    ("none", "produced no pred.npy"),
    ("symlink", "cannot be read"),
    ("fifo", "not a regular file"),
])
def test_run_with_output_refuses_what_is_not_a_file_the_worker_wrote(worker, how, message):
    with pytest.raises(TaskFailed, match=message):
        worker.run_with_output("write_output", {"out": "pred.npy", "how": how, "target": "/etc/hostname"},
                               None, "pred.npy", max_bytes=4096, timeout=5)


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "..", "."])
def test_task_file_names_must_be_plain(worker, tmp_path, name):
    source = tmp_path / "f"
    source.write_text("x")
    with pytest.raises(ValueError, match="plain file name"):
        worker.run("echo", {}, files={name: source})


def test_environment_is_scrubbed(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter3")
    with plain_worker() as own:
        result = own.run("env", {})
    environ = result["environ"]
    assert "GRADER_TEST_SECRET" not in environ and "AWS_SECRET_ACCESS_KEY" not in environ
    assert "hunter2" not in repr(environ)
    assert environ["PYTHONHASHSEED"] == "0" and environ["PYTHONDONTWRITEBYTECODE"] == "1"
    assert environ["LANG"] == "C.UTF-8" and environ["OMP_NUM_THREADS"] == "1"
    home = Path(environ["HOME"])
    for name in ("KERAS_HOME", "MPLCONFIGDIR", "TMPDIR"):
        assert Path(environ[name]).is_relative_to(home)
    if own.isolation["level"] == "bubblewrap":
        # the private scratch, gone with the worker; the grader and test ops at their mount points, never host paths
        assert home == Path("/tmp") and environ["TMPDIR"] == "/tmp"
        assert environ["PYTHONPATH"].split(os.pathsep) == ["/opt/rnn-grader", "/opt/rnn-grader/extra0"]
    else:
        assert home.name == "home" and home.parent.name.startswith("grader-plain-worker-")
        assert str(REPO) in environ["PYTHONPATH"].split(os.pathsep)
    assert "TF_CPP_MIN_LOG_LEVEL" not in environ, "plain workers have no TensorFlow settings"


def test_file_size_limit(worker):
    result = worker.run("write_file", {"mb": worker.limits.file_mb + 1})
    assert "File too large" in result["error"]


def test_timeout_kills_and_replaces_the_worker(fresh_worker):
    first = fresh_worker.pid
    with pytest.raises(TaskTimeout, match=r"^timed out after 0.5 s$"):
        fresh_worker.run("sleep", {"seconds": 30}, timeout=0.5)
    assert fresh_worker.pid is None
    assert fresh_worker.run("echo", {"again": 1}) == {"again": 1}
    assert fresh_worker.restarts == 1
    assert fresh_worker.pid != first


def test_memory_limit_is_reported_and_worker_survives(fresh_worker):
    pid = fresh_worker.pid
    with pytest.raises(MemoryExceeded, match=r"^exceeded the 1024 MiB memory limit$"):
        fresh_worker.run("allocate", {"mb": 3072})
    assert fresh_worker.run("allocate", {"mb": 64}) == {"bytes": 64 * 2**20}
    assert fresh_worker.pid == pid and fresh_worker.restarts == 0


@pytest.mark.parametrize("signal_name, message", [
    ("SIGSEGV", r"^the worker process crashed \(signal SIGSEGV\)$"),
    ("SIGKILL", r"^the worker process crashed \(signal SIGKILL\), possibly out of memory \(limit 1024 MiB\)$"),
])
def test_crash_is_reported_and_worker_recovers(fresh_worker, signal_name, message):
    with pytest.raises(WorkerCrashed, match=message):
        fresh_worker.run("crash", {"signal": signal_name})
    assert fresh_worker.run("echo", {"ok": True}) == {"ok": True}
    assert fresh_worker.restarts == 1
    assert fresh_worker.tasks_run == 2


def test_close_kills_the_process_and_removes_scratch():
    own = plain_worker()
    own.start()
    pid = own.pid
    scratch = own.scratch_dir
    assert scratch is not None and scratch.exists()
    group = own._launch.group   # the worker's cgroup, where the machine lets the grader make one
    own.close()
    assert own.pid is None and own.scratch_dir is None
    assert not scratch.exists()
    assert group is None or not any(folder.exists() for folder in group.folders), "the cgroup is removed too"
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    with pytest.raises(SandboxError, match="closed"):
        own.run("echo", {})
    own.close()


def test_missing_ops_module_fails_to_start():
    with pytest.raises(WorkerStartFailed, match="failed to start.*No module named 'tests.no_such_ops'"):
        Worker("plain", PLAIN, "tests.no_such_ops", extra_pythonpath=[REPO]).start()


def test_run_once_uses_a_fresh_worker(tmp_path):
    source = tmp_path / "solution.py"
    source.write_text("x = 1\n")
    result = run_once("plain", "cwd", {}, files={"solution.py": source}, limits=PLAIN, ops=OPS,
                      extra_pythonpath=[REPO])
    assert result["listing"] == ["solution.py"]
    again = run_once("plain", "cwd", {}, files={"solution.py": source}, limits=PLAIN, ops=OPS,
                     extra_pythonpath=[REPO])
    assert again["task_dir"] != result["task_dir"]


@needs_root
def test_each_worker_runs_as_a_uid_of_its_own(worker):
    first, count = PLAIN.uids.first, PLAIN.uids.count
    identity = worker.run("whoami", {})
    assert first <= identity["uid"] < first + count and identity["gid"] == identity["uid"]
    assert identity["euid"] == identity["uid"] and identity["groups"] == []
    assert worker.isolation["uid"] == identity["uid"] and worker.isolation["no_new_privs"] is True
    with plain_worker() as other:
        assert other.run("whoami", {})["uid"] != identity["uid"]


@needs_root
def test_worker_cannot_read_root_only_files(worker):
    with tempfile.NamedTemporaryFile(prefix="grader-secret-") as secret:
        secret.write(b"answers")
        secret.flush()
        os.chmod(secret.name, 0o600)
        # Process isolation: the file's permissions stop it (EACCES); bubblewrap: it is not in the view (ENOENT).
        expected = 2 if worker.isolation["level"] == "bubblewrap" else 13
        assert worker.run("read_file", {"path": secret.name})["errno"] == expected


@needs_root
def test_worker_has_no_network(worker):
    assert worker.isolation["netns"] is True
    result = worker.run("net", {})
    for target in ("loopback", "remote"):
        assert result[target]["connected"] is False
        # an empty network namespace answers "unreachable"; the seccomp filter refuses the socket itself
        assert "unreachable" in result[target]["error"] or "not permitted" in result[target]["error"]


def _processes_of(uid: int) -> list[int]:
    """Host pids of live processes whose real uid is ``uid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and "Z" not in fields["State"].split()[0]:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\tZ (zombie)" not in status


@needs_root
def test_processes_that_leave_the_session_die_with_the_worker(fresh_worker):
    assert fresh_worker.isolation["pidns"] is True
    uid = fresh_worker.isolation["uid"]
    fresh_worker.run("orphan", {})
    assert _processes_of(uid)   # the orphan (and the worker) run as the worker's own uid
    fresh_worker.close()
    deadline = time.monotonic() + 5
    while _processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes_of(uid)


def test_pool_reuses_its_workers():
    with WorkerPool(2, "plain", PLAIN, OPS, extra_pythonpath=[REPO]) as pool:
        pool.start()
        pool_pids = {w.pid for w in pool.workers}
        seen: list[int] = []
        errors: list[BaseException] = []

        def task(i: int) -> None:
            try:
                with pool.acquire() as w:
                    assert w.run("sleep", {"seconds": 0.1}) == {"slept": 0.1}
                    assert w.run("echo", {"i": i}) == {"i": i}
                    seen.append(w.pid)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=task, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors
        assert len(seen) == 6
        assert set(seen) == pool_pids and len(pool_pids) == 2
        assert sum(w.tasks_run for w in pool.workers) == 12
        assert all(w.restarts == 0 for w in pool.workers)


def test_isolated_pool_gives_a_new_worker_per_task():
    pool = WorkerPool(2, "plain", PLAIN, OPS, isolate=True, extra_pythonpath=[REPO])
    pids = []
    for i in range(3):
        with pool.acquire() as w:
            assert w.run("echo", {"i": i}) == {"i": i}
            pids.append(w.pid)
        assert w.pid is None
    pool.close()
    assert len(set(pids)) == 3
    with pytest.raises(SandboxError, match="closed"):
        with pool.acquire():
            pass


def test_importing_the_sandbox_imports_no_tensorflow():
    code = ("import sys, grader.sandbox.process, grader.sandbox.worker; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_keras_worker_imports_tensorflow_only_in_the_worker():
    # Other test modules may import TensorFlow in this process; then only the worker side can be checked.
    tensorflow_here_before = "tensorflow" in sys.modules
    with Worker("keras", Limits.from_course({}, "keras"), OPS, extra_pythonpath=[REPO]) as keras_worker:
        assert keras_worker.run("modules", {}) == {"tensorflow": True, "keras": True}
        environ = keras_worker.run("env", {})["environ"]
        assert environ["CUDA_VISIBLE_DEVICES"] == "" and environ["KERAS_BACKEND"] == "tensorflow"
        assert environ["TF_NUM_INTRAOP_THREADS"] == "1"
        assert keras_worker.isolation["rlimit_as_mb"] == 4096
        if IS_ROOT:
            assert keras_worker.run("whoami", {})["uid"] == keras_worker.isolation["uid"] != 0
    if not tensorflow_here_before:
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
