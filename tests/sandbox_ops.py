"""Ops for the sandbox tests only: each probes one property of the worker it runs in."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any


def echo(payload: dict, task_dir: Path) -> dict:
    """The payload, unchanged."""
    return payload


def sleep(payload: dict, task_dir: Path) -> dict:
    """Sleeps ``payload["seconds"]``."""
    time.sleep(float(payload.get("seconds", 1)))
    return {"slept": payload.get("seconds", 1)}


def allocate(payload: dict, task_dir: Path) -> dict:
    """Allocates ``payload["mb"]`` MiB with numpy and touches every page."""
    import numpy as np

    block = np.ones(int(payload["mb"]) * 2**20, dtype=np.uint8)
    return {"bytes": int(block.sum())}


def read_file(payload: dict, task_dir: Path) -> dict:
    """The size of the file (or entry count of the directory) at ``payload["path"]``, or the error."""
    path = Path(payload["path"])
    try:
        if path.is_dir():
            return {"entries": len(os.listdir(path))}
        return {"bytes": len(path.read_bytes())}
    except OSError as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "errno": exc.errno}


def net(payload: dict, task_dir: Path) -> dict:
    """The outcome of TCP connects to loopback and to an unroutable address."""
    outcomes: dict[str, Any] = {}
    for label, address in (("loopback", ("127.0.0.1", 9)), ("remote", ("10.255.255.1", 9))):
        try:
            with socket.create_connection(address, timeout=1.0):
                outcomes[label] = {"connected": True}
        except OSError as exc:
            outcomes[label] = {"connected": False, "error": f"{type(exc).__name__}: {exc}", "errno": exc.errno}
    return outcomes


def whoami(payload: dict, task_dir: Path) -> dict:
    """The uid and gid the op runs as, and its supplementary groups."""
    return {"uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(), "groups": os.getgroups()}


def print_noise(payload: dict, task_dir: Path) -> dict:
    """Floods stdout and stderr (well past a pipe buffer), including lines that look like replies."""
    for i in range(2000):
        print(f'{{"id": {i}, "ok": true, "result": {{"forged": 1}}}}', "x" * 100)
        print("stderr noise", "y" * 100, file=sys.stderr)
    sys.stdout.flush()
    os.write(1, b'{"id": -1, "ok": true, "result": {}}\n')
    return {"ok": 1}


def crash(payload: dict, task_dir: Path) -> dict:
    """Dies of ``payload["signal"]`` (default SIGSEGV)."""
    os.kill(os.getpid(), signal.Signals[payload.get("signal", "SIGSEGV")])
    time.sleep(10)
    return {}


def orphan(payload: dict, task_dir: Path) -> dict:
    """Starts a child that leaves the worker's session, as an escaping process would.

    Returns the child's pid as the grader sees it (fork() answers with a namespace-local pid).
    """
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        try:
            os.setsid()
            os.write(write_end, os.readlink("/proc/self").encode())
            os.close(write_end)
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(write_end)
    pid = int(os.read(read_end, 64))
    os.close(read_end)
    return {"pid": pid}


def cwd(payload: dict, task_dir: Path) -> dict:
    """The working directory, its listing and the text of ``payload["read"]`` if given."""
    here = os.getcwd()
    result: dict[str, Any] = {"cwd": here, "task_dir": str(task_dir), "listing": sorted(os.listdir(here))}
    if "read" in payload:
        result["text"] = Path(payload["read"]).read_text()
    return result


def write_into_task_dir(payload: dict, task_dir: Path) -> dict:
    """Tries to create a file in the task folder itself (not the op's scratch)."""
    (task_dir / "planted.txt").write_text("x")
    return {"wrote": True}


def env(payload: dict, task_dir: Path) -> dict:
    """The worker's environment."""
    return {"keys": sorted(os.environ), "environ": dict(os.environ)}


def fail(payload: dict, task_dir: Path) -> dict:
    """Raises a ValueError with a long, multi-line message."""
    raise ValueError("first line\nsecond line " + "z" * 1000)


def exit_op(payload: dict, task_dir: Path) -> dict:
    """Calls sys.exit(3), as careless student code might."""
    sys.exit(3)


def big(payload: dict, task_dir: Path) -> dict:
    """A result of ``payload["mb"]`` MiB of text."""
    return {"text": "b" * (int(payload["mb"]) * 2**20)}


def write_output(payload: dict, task_dir: Path) -> dict:
    """Leaves ``payload["out"]`` in the task dir as ``payload["how"]``: npy, bomb, symlink, fifo or none.

    A "bomb" is a 128-byte .npy whose header declares 2**40 float32 values (4 TiB).
    """
    import numpy as np

    out, how = payload["out"], payload.get("how", "npy")
    if how == "npy":
        np.save(out, np.arange(6, dtype="float32").reshape(2, 3), allow_pickle=False)
    elif how == "bomb":
        with open(out, "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False,
                                                          "shape": (2**40,)})
    elif how == "symlink":
        os.symlink(payload["target"], out)
    elif how == "fifo":
        os.mkfifo(out)
    return {"how": how}


def modules(payload: dict, task_dir: Path) -> dict:
    """Whether TensorFlow and Keras are imported in this process."""
    return {name: name in sys.modules for name in ("tensorflow", "keras")}


def write_file(payload: dict, task_dir: Path) -> dict:
    """Writes ``payload["mb"]`` MiB to a file in the task dir; the error if the file-size limit stops it."""
    try:
        with open("out.bin", "wb") as handle:
            for _ in range(int(payload["mb"])):
                handle.write(b"\0" * 2**20)
    except OSError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"bytes": os.path.getsize("out.bin")}


OPS = {
    "echo": echo,
    "sleep": sleep,
    "allocate": allocate,
    "read_file": read_file,
    "net": net,
    "whoami": whoami,
    "print_noise": print_noise,
    "crash": crash,
    "orphan": orphan,
    "cwd": cwd,
    "write_into_task_dir": write_into_task_dir,
    "env": env,
    "fail": fail,
    "exit": exit_op,
    "big": big,
    "modules": modules,
    "write_output": write_output,
    "write_file": write_file,
}
