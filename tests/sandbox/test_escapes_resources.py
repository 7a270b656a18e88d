"""Resource escapes: processes, threads, memory, disk and time are bounded per worker; nothing outlives it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from escape_kit import PLAIN, REFUSED, MiB, attack, fork_bomb, processes_marked, token
from grader.sandbox.errors import TaskTimeout

FORK_BOMB = fork_bomb(5)

THREAD_BOMB = r'''
import threading
gate = threading.Event()
threads, error = [], None
while len(threads) < 20000:
    thread = threading.Thread(target=gate.wait, daemon=True)
    try:
        thread.start()
    except Exception as exc:
        error = type(exc).__name__
        break
    threads.append(thread)
gate.set()
for thread in threads:
    thread.join()
result = {"started": len(threads), "error": error}
'''


def survivors(bystander, spawn) -> None:
    """The grader can start processes; a bystander worker and a brand-new one both answer."""
    assert subprocess.run(["true"]).returncode == 0
    assert attack(bystander, "result = os.getpid()") > 0 and bystander.restarts == 0
    assert attack(spawn(), "result = 1") == 1


@pytest.mark.parametrize("bomb, key", [(FORK_BOMB, "forked"), (THREAD_BOMB, "started")], ids=["fork", "thread"])
def test_process_and_thread_bombs_are_refused(spawn, bomb, key):
    """Fork (cap 5000) or start threads (cap 20000) until refused: the worker fails first; others survive."""
    bystander, attacker = spawn(), spawn()
    try:
        outcome = attack(attacker, bomb, timeout=30)
    except REFUSED:
        outcome = None
    if outcome is not None:
        assert outcome[key] >= 2, "the bomb works at all"
        assert outcome["error"] is not None, f"never refused: {outcome}"
    survivors(bystander, spawn)


def test_numpy_4gib_allocation_fails(worker):
    """np.ones of 4 GiB (touched) in a 1 GiB worker: MemoryExceeded or an error, never success."""
    source = r'''
import numpy as np
small = np.ones(64 << 20, dtype=np.uint8)
result = {"control": int(small.sum())}
del small
try:
    big = np.ones(4 << 30, dtype=np.uint8)
    result["big"] = int(big[::4096].sum())
except MemoryError as exc:
    result["error"] = failure(exc)
'''
    try:
        result = attack(worker, source)
    except REFUSED:
        return
    assert result["control"] == 64 * MiB, "a 64 MiB allocation works"
    assert "big" not in result and result["error"]["error"] == "MemoryError", result


HOLD = r'''
import select

def hold(n, mb):
    report_r, report_w = os.pipe()
    release_r, release_w = os.pipe()
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os.close(report_r)
            os.close(release_w)
            try:
                block = b"\x01" * (mb << 20)
                os.write(report_w, b"H")
            except MemoryError:
                os.write(report_w, b"M")
                os._exit(1)
            os.read(release_r, 1)
            os._exit(0)
        pids.append(pid)
    os.close(report_w)
    os.close(release_r)
    reports, dead = b"", {}
    deadline = time.monotonic() + args["wait"]
    while time.monotonic() < deadline and len(reports) + sum(1 for s in dead.values() if s > 0) < n:
        ready, _, _ = select.select([report_r], [], [], 0.2)
        if ready:
            reports += os.read(report_r, 64)
        for pid in pids:
            if pid not in dead:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    dead[pid] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)
    time.sleep(0.5)
    for pid in pids:
        if pid not in dead:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                dead[pid] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)
    alive = len(pids) - len(dead)
    os.close(release_w)
    for pid in pids:
        if pid not in dead:
            os.waitpid(pid, 0)
    os.close(report_r)
    return {"holding_at_once": alive, "reports": reports.decode(), "deaths": sorted(dead.values())}

result = hold(args["n"], args["mb"])
'''


def test_memory_summed_across_forked_children_is_bounded(spawn):
    """8 forked children each touch 400 MiB under a 1024 MiB worker limit: they cannot all hold it at once."""
    control = attack(spawn(), HOLD, {"n": 1, "mb": 400, "wait": 8})
    assert control["holding_at_once"] == 1, f"one child can hold 400 MiB: {control}"
    try:
        result = attack(spawn(), HOLD, {"n": 8, "mb": 400, "wait": 15}, timeout=30)
    except REFUSED:
        return
    assert result["holding_at_once"] * 400 <= PLAIN.memory_mb, result


def test_a_2gib_file_in_the_task_folder_is_bounded(worker):
    """Write 2 GiB to one file in the task folder: stopped at the file-size limit with an error."""
    source = r'''
written, error = 0, None
chunk = b"\0" * (1 << 20)
try:
    with open("big.bin", "wb") as handle:
        while written < 2048 << 20:
            handle.write(chunk)
            written += len(chunk)
except OSError as exc:
    error = failure(exc)
result = {"bytes": os.path.getsize("big.bin"), "error": error}
'''
    try:
        result = attack(worker, source, timeout=30)
    except REFUSED:
        return
    assert result["bytes"] >= MiB, "the file is written at all"
    assert result["error"] is not None and result["bytes"] <= PLAIN.file_mb * MiB, result


def test_many_files_in_the_task_folder_are_bounded(worker):
    """Write 30 MiB files into the task folder up to 1 GiB: the task folder itself is read-only, and the
    working folder is the private scratch, so the writes stop at the scratch size and none reach the host disk."""
    source = r'''
total, error, index = 0, None, 0
chunk = b"\x5a" * (1 << 20)
try:
    while total < 1024 << 20:
        with open(f"part{index}.bin", "wb") as handle:
            for _ in range(30):
                handle.write(chunk)
                total += len(chunk)
        index += 1
except OSError as exc:
    error = failure(exc)
result = {"total_mb": total >> 20, "files": index, "error": error}
'''
    try:
        result = attack(worker, source, timeout=30)
    except REFUSED:
        return
    assert result["total_mb"] >= 30, f"one 30 MiB file fits: {result}"
    assert result["total_mb"] <= PLAIN.scratch_mb and result["error"] is not None, result


def test_an_infinite_loop_times_out(worker):
    """while True: pass -> TaskTimeout, and the worker serves the next task."""
    with pytest.raises(TaskTimeout):
        attack(worker, "while True:\n    pass\n", timeout=1)
    assert attack(worker, "result = 'back'") == "back"


DETACH = r'''
marker = args["marker"]
pid = os.fork()
if pid == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 65536)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            try:
                sleeper = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(1)"
                os.execv(sys.executable, [sys.executable, "-c", sleeper, marker])
            except OSError:
                libc.prctl(15, marker[:15].encode(), 0, 0, 0)  # PR_SET_NAME
                while True:
                    time.sleep(1)
    finally:
        os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.5)
result = {"spawned": True}
while args.get("hang"):
    pass
'''


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def kill_marked(marker: str) -> None:
    for pid in processes_marked(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_detached_child_dies_when_the_worker_closes(spawn):
    """A child leaves the session (setsid, double fork, ignores SIGTERM/SIGHUP): gone once the worker closes."""
    marker = token()
    worker = spawn()
    try:
        assert attack(worker, DETACH, {"marker": marker}) == {"spawned": True}
        assert wait_until(lambda: processes_marked(marker), 3), "the detached child runs"
        worker.close()
        assert wait_until(lambda: not processes_marked(marker), 5), f"survivors: {processes_marked(marker)}"
    finally:
        kill_marked(marker)


def test_a_detached_child_dies_when_the_task_times_out(spawn):
    """A child detaches, then the task loops forever: after TaskTimeout the child is gone too."""
    marker = token()
    worker = spawn()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = attack(worker, DETACH, {"marker": marker, "hang": True}, timeout=3)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        seen = wait_until(lambda: processes_marked(marker), 3)
        thread.join(30)
        assert seen, "the detached child ran while the task did"
        assert isinstance(outcome.get("error"), TaskTimeout), outcome
        assert wait_until(lambda: not processes_marked(marker), 5), f"survivors: {processes_marked(marker)}"
    finally:
        thread.join(30)
        kill_marked(marker)
