"""Host-side helpers for the escape suite: the attack prelude, running an attack, and host observations.

Attack sources run inside the worker through ``attack_ops``' "exec" op. Every source gets PRELUDE first,
which gives it ``attempt`` (call, catch, report), ``syscall`` (raw syscalls through ctypes), ``in_child``
(run a function in a forked child so a seccomp kill only takes the child) and ``read_probe`` (read a path
four ways: open, os.open, numpy.fromfile and libc open through ctypes).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterable, Mapping

from grader.sandbox.errors import MemoryExceeded, TaskTimeout, WorkerCrashed
from grader.sandbox.limits import Limits

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OPS = "attack_ops"
PLAIN = Limits(seconds=10, memory_mb=1024, file_mb=32)
MiB = 2**20

# A defence that kills the worker or stops the task counts as "the call failed". TaskFailed does not: every
# attack catches its own exceptions, so a TaskFailed means the attack itself broke (an import refused by a
# policy, a bug) and proves nothing -- the test must fail rather than pass vacuously.
REFUSED = (MemoryExceeded, TaskTimeout, WorkerCrashed)

PRELUDE = r'''
import ctypes
import errno
import json
import os
import signal
import socket
import stat
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
libc.open.restype = ctypes.c_int
libc.read.restype = ctypes.c_ssize_t
libc.read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]

NR = {
    "x86_64": {"getpid": 39, "ptrace": 101, "setuid": 105, "mount": 165, "add_key": 248, "keyctl": 250,
               "unshare": 272, "perf_event_open": 298, "setns": 308, "bpf": 321, "userfaultfd": 323,
               "io_uring_setup": 425},
    "aarch64": {"getpid": 172, "ptrace": 117, "setuid": 146, "mount": 40, "add_key": 217, "keyctl": 219,
                "unshare": 97, "perf_event_open": 241, "setns": 268, "bpf": 280, "userfaultfd": 282,
                "io_uring_setup": 425},
}[os.uname().machine]


def failure(exc):
    return {"ok": False, "error": type(exc).__name__, "errno": getattr(exc, "errno", None),
            "detail": str(exc)[:200]}


def attempt(fn, *args, **kwargs):
    try:
        return {"ok": True, "value": fn(*args, **kwargs)}
    except Exception as exc:
        return failure(exc)


def syscall(name, *args):
    converted = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(NR[name]), *converted)
    err = ctypes.get_errno()
    if ret == -1:
        return {"ok": False, "ret": ret, "errno": err, "error": errno.errorcode.get(err, str(err))}
    return {"ok": True, "ret": ret}


def in_child(fn):
    """fn() in a forked child; its JSON result, or how the child died."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            try:
                out = fn()
            except BaseException as exc:
                out = failure(exc)
            os.write(write_end, json.dumps(out, default=repr).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        return {"ok": False, "error": "child died", "signal": sig, "status": status}
    return json.loads(b"".join(chunks))


def read_bytes(path, limit=4096):
    with open(path, "rb") as handle:
        return handle.read(limit)


def _os_read(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _np_read(path):
    import numpy as np
    return np.fromfile(path, dtype=np.uint8, count=4096).tobytes()


def _ctypes_read(path):
    fd = libc.open(os.fsencode(path), os.O_RDONLY)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    try:
        buf = ctypes.create_string_buffer(4096)
        n = libc.read(fd, buf, 4096)
        if n < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return buf.raw[:n]
    finally:
        libc.close(fd)


def read_probe(path):
    return {"open": attempt(read_bytes, path), "os.open": attempt(_os_read, path),
            "np.fromfile": attempt(_np_read, path), "ctypes": attempt(_ctypes_read, path)}


def listing(path):
    return attempt(lambda: sorted(os.listdir(path)))
'''

# Reads every path in args["paths"] four ways and lists every folder in args["list"].
READ_PROBE = r'''
result = {"reads": {path: read_probe(path) for path in args["paths"]},
          "listings": {path: listing(path) for path in args.get("list", [])}}
'''

# Writes args["token"] to every path in args["paths"]; the control write goes to the task folder.
WRITE_PROBE = r'''
def _write(path):
    with open(path, "w") as handle:
        handle.write(args["token"])
    with open(path) as handle:
        return handle.read()

result = {"control": attempt(_write, os.path.join(os.getcwd(), "control.txt")),
          "writes": {path: attempt(_write, path) for path in args["paths"]}}
'''

# Kills every process it may signal; the attacker's own child proves the signal went out.
KILL_ALL = r'''
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
time.sleep(0.2)
result = {"kill": attempt(os.kill, -1, signal.SIGKILL)}
_, status = os.waitpid(child, 0)
result["own_child"] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
'''


def make_worker(kind: str = "plain", limits: Limits = PLAIN):
    """A worker (not started) that can import attack_ops from tests/sandbox and nothing else of the repository."""
    from grader.sandbox.process import Worker

    return Worker(kind, limits, OPS, extra_pythonpath=[HERE])


def token() -> str:
    """A fresh canary: unguessable, greppable."""
    return f"CANARY{secrets.token_hex(16)}"


def attack(worker, source: str, args: Mapping[str, Any] | None = None, files: Mapping[str, Path] | None = None,
           timeout: float | None = None) -> Any:
    """The ``result`` of attack ``source`` run in ``worker`` (the prelude prepended)."""
    payload = {"source": PRELUDE + "\n" + source, "args": dict(args or {})}
    return worker.run("exec", payload, files=dict(files or {}), timeout=timeout)["result"]


def as_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def control_file(folder: Path, secret: str) -> Path:
    """A host file the grader hands to the task as ``mine.txt``: reading it proves the probe works."""
    path = folder / f"control-{secret}.txt"
    path.write_text(f"control {secret}\n")
    return path


def assert_probe_works(result: Mapping[str, Any], path: str, secret: str) -> None:
    """Every read method of the probe read ``path`` (a task-folder file) and found ``secret``."""
    for method, outcome in result["reads"][path].items():
        assert outcome["ok"] and secret in outcome["value"], f"control read by {method} failed: {outcome}"


def succeeded(outcomes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The methods (or targets) of a probe that succeeded."""
    return [name for name, outcome in outcomes.items() if outcome.get("ok")]


def processes_marked(marker: str) -> list[int]:
    """Host pids whose argv or comm holds ``marker`` (a /proc scan; no psutil)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            comm = Path(f"/proc/{entry}/comm").read_text()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        if marker.encode() in cmdline or marker[:15] in comm:
            found.append(int(entry))
    return found


def host_descendants(pid: int) -> list[int]:
    """``pid`` and every host process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def remove_quietly(paths: Iterable[Path]) -> None:
    import shutil

    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass


def fork_bomb(child_seconds: float) -> str:
    """Attack source: fork up to 5000 children that each sleep ``child_seconds``; reports how many and the error."""
    return r'''
count, error = 0, None
while count < 5000:
    try:
        pid = os.fork()
    except OSError as exc:
        error = type(exc).__name__
        break
    if pid == 0:
        try:
            time.sleep(%r)
        finally:
            os._exit(0)
    count += 1
result = {"forked": count, "error": error}
''' % child_seconds
