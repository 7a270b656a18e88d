"""Cross-worker escapes: two workers alive at once cannot signal, starve, read or plant into each other."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from escape_kit import (
    fork_bomb,
    KILL_ALL,
    REFUSED,
    as_text,
    attack,
    control_file,
    host_descendants,
    remove_quietly,
    token,
)

WHOAMI = r'''
status = read_bytes("/proc/self/status").decode()
nspid = [int(v) for line in status.splitlines() if line.startswith("NSpid:") for v in line.split()[1:]]
result = {"pid": os.getpid(), "ppid": os.getppid(), "nspid": nspid, "self": os.readlink("/proc/self"),
          "home": os.environ.get("HOME"), "tmpdir": os.environ.get("TMPDIR"), "cwd": os.getcwd(),
          "cwd_parent": os.path.dirname(os.getcwd())}
'''


def still_serving(worker) -> None:
    """The worker answers without having been restarted."""
    pid, restarts = worker.pid, worker.restarts
    assert attack(worker, "result = os.getpid()") > 0
    assert worker.pid == pid and worker.restarts == restarts == 0, "the worker was killed and replaced"


def test_kill_minus_one_spares_the_other_worker(spawn):
    """Worker A sends SIGKILL to -1 (every process it may signal): worker B and the grader survive."""
    a, b = spawn(), spawn()
    still_serving(b)
    try:
        outcome = attack(a, KILL_ALL)
        assert outcome["own_child"] == signal.SIGKILL, f"kill -1 works (it kills A's own child): {outcome}"
    except REFUSED:
        pass
    still_serving(b)
    assert subprocess.run(["true"]).returncode == 0


def test_kill_the_other_worker_by_pid(spawn):
    """Worker A SIGKILLs worker B by its host pids and every pid B reports of itself: B still answers."""
    a, b = spawn(), spawn()
    seen_by_b = attack(b, WHOAMI)
    targets = {b.pid, *host_descendants(b.pid), seen_by_b["pid"], seen_by_b["ppid"], *seen_by_b["nspid"],
               int(seen_by_b["self"])}
    source = r'''
me = os.getpid()
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
spare = (me, child, 0, 1)
result = {"kill": {pid: attempt(os.kill, pid, signal.SIGKILL) for pid in args["pids"] if pid not in spare},
          "stop": {pid: attempt(os.kill, pid, signal.SIGSTOP) for pid in args["pids"] if pid not in spare}}
os.kill(child, signal.SIGKILL)
_, status = os.waitpid(child, 0)
result["own_child"] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
'''
    try:
        outcome = attack(a, source, {"pids": sorted(targets)})
        assert outcome["own_child"] == signal.SIGKILL, "A can kill by pid (its own child)"
    except REFUSED:
        pass
    still_serving(b)


def test_files_planted_in_the_other_workers_tmp_and_home_are_not_seen(spawn, canary):
    """A writes a canary into B's HOME, TMPDIR, /tmp, /dev/shm and task parent: B sees none of it."""
    a, b = spawn(), spawn()
    paths_b = attack(b, WHOAMI)
    name = f"planted-{token()}.txt"
    folders = sorted({paths_b["home"], paths_b["tmpdir"], "/tmp", "/dev/shm", paths_b["cwd_parent"]} - {None})
    targets = [os.path.join(folder, name) for folder in folders]
    source = r'''
def _plant(path):
    with open(path, "w") as handle:
        handle.write(args["token"])
    return read_bytes(path)

result = {path: attempt(_plant, path) for path in args["paths"]}
result["control"] = attempt(_plant, os.path.join(os.getcwd(), "own.txt"))
'''
    planted = attack(a, source, {"paths": targets, "token": canary})
    assert planted["control"]["ok"], "A can write its own task folder"
    seen = attack(b, r'''
result = {path: attempt(read_bytes, path) for path in args["paths"]}
result["listings"] = {os.path.dirname(path): listing(os.path.dirname(path)) for path in args["paths"]}
''', {"paths": targets})
    assert canary not in as_text(seen)
    assert name not in as_text(seen["listings"])


def test_the_other_workers_task_folder_is_unreadable(spawn, tmp_path, canary):
    """While B works on a task holding a canary, A walks every folder it can reach: it never finds B's file."""
    a, b = spawn(), spawn()
    secret = tmp_path / "b.txt"
    secret.write_text(f"secret {canary}\n")
    own = token()
    b_result: dict = {}

    def run_b() -> None:
        b_result["value"] = attack(b, r'''
result = read_bytes("secret.txt").decode()
time.sleep(4)
''', files={"secret.txt": secret})

    thread = threading.Thread(target=run_b)
    thread.start()
    try:
        time.sleep(1.0)
        source = r'''
found = {}
roots = {os.getcwd(), os.path.dirname(os.getcwd()), os.path.dirname(os.path.dirname(os.getcwd())), "/",
         "/tmp", "/var/tmp", "/dev/shm", os.environ.get("HOME", "/"), os.environ.get("TMPDIR", "/tmp")}
for entry in os.listdir("/proc"):
    if entry.isdigit():
        roots.add(f"/proc/{entry}/cwd")
        roots.add(f"/proc/{entry}/root/tmp")
skip = ("/proc", "/sys", "/usr", "/lib", "/lib64", "/etc", "/dev/pts", "/root/.pyenv", "/work/venv", "/opt")
budget = [20000]
for root in sorted(roots):
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.join(folder, d).startswith(skip)]
        budget[0] -= 1
        if budget[0] < 0:
            break
        for name in files:
            if name.endswith(".txt"):
                found[os.path.join(folder, name)] = attempt(read_bytes, os.path.join(folder, name), 256)
result = found
'''
        seen = attack(a, source, files={"secret.txt": control_file(tmp_path, own)})
    finally:
        thread.join(30)
    assert canary in b_result["value"], "B's task really held the canary"
    assert own in as_text(seen), "A's walk finds a .txt task file (its own)"
    assert canary not in as_text(seen)


ROOM = r'''
import threading
gate = threading.Event()
threads = [threading.Thread(target=gate.wait) for _ in range(8)]
started = [attempt(t.start) for t in threads]
gate.set()
for t, s in zip(threads, started):
    if s["ok"]:
        t.join()

def _fork():
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    return os.WEXITSTATUS(os.waitpid(pid, 0)[1])

result = {"threads": sum(s["ok"] for s in started), "forks": [attempt(_fork) for _ in range(3)]}
'''

FORK_BOMB = fork_bomb(30)


def test_fork_bomb_in_one_worker_leaves_the_other_room(spawn):
    """A forks until refused (cap 5000, children linger); meanwhile B can still start threads and fork."""
    a, b = spawn(), spawn()
    before = attack(b, ROOM)
    assert before["threads"] == 8 and all(f["ok"] and f["value"] == 7 for f in before["forks"]), \
        f"B has room before the bomb: {before}"
    try:
        outcome = attack(a, FORK_BOMB, timeout=20)
        assert outcome["forked"] >= 2, "the bomb forks at all"
    except REFUSED:
        pass
    after = attack(b, ROOM)
    assert after == before, f"B is starved by A's bomb: {after}"
    assert subprocess.run(["true"]).returncode == 0, "the grader can still start processes"


def test_a_tmp_file_is_gone_in_a_new_worker(spawn, canary):
    """A worker leaves files in /tmp, /dev/shm, HOME and TMPDIR; a new worker (and the host) sees none."""
    first = spawn()
    name = f"left-{token()}.txt"
    source = r'''
def _leave(path):
    with open(path, "w") as handle:
        handle.write(args["token"])
    return read_bytes(path)

folders = {"/tmp", "/dev/shm", os.environ.get("HOME"), os.environ.get("TMPDIR")} - {None}
result = {os.path.join(folder, args["name"]): attempt(_leave, os.path.join(folder, args["name"]))
          for folder in folders}
'''
    left = attack(first, source, {"name": name, "token": canary})
    assert left["/tmp/" + name]["ok"], "a worker may use its own /tmp"
    first.close()
    second = spawn()
    try:
        seen = attack(second, r'''
result = {path: attempt(read_bytes, path) for path in args["paths"]}
''', {"paths": sorted(left)})
        assert canary not in as_text(seen)
        assert not Path("/tmp", name).exists() and not Path("/dev/shm", name).exists()
    finally:
        remove_quietly([Path("/tmp", name), Path("/dev/shm", name)])


@pytest.fixture(autouse=True)
def _no_stray_signal_damage():
    """The grader itself must survive every attack in this module."""
    yield
    assert os.getpid() > 0 and subprocess.run(["true"]).returncode == 0
