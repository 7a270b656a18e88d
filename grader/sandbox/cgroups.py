"""A control group per worker, where the machine lets the grader make one.

Rlimits bound each process; a worker that forks can still hold ``children x memory_mb``,
and a private tmpfs's pages belong to no process at all. A cgroup bounds the worker and all
it starts together: ``memory.max`` (which counts tmpfs pages) and ``pids.max``.

The group is made under the grader's own cgroup (so a delegated subtree works as well as
the root), with cgroup v2 where the memory and pids controllers are enabled there, else with
the v1 ``memory`` and ``pids`` hierarchies. Where neither can be written (no root, a
container without delegation), :func:`make_group` returns None and the isolation report
says so; the rlimits still apply.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WorkerGroup", "make_group"]

ROOT = Path("/sys/fs/cgroup")
PREFIX = "rnn-grader-"
STALE_SECONDS = 60.0


@dataclass
class WorkerGroup:
    """The cgroup folders (one for v2, one per controller for v1) a worker joins before it starts."""

    version: int
    folders: list[Path]
    memory_mb: int
    pids: int
    applied: dict[str, int] = field(default_factory=dict)

    def join(self) -> None:
        """Move the calling process into the group; runs in the child between fork and exec."""
        for folder in self.folders:
            with open(folder / "cgroup.procs", "w") as handle:
                handle.write("0")

    def remove(self) -> None:
        """Delete the group's folders, killing what is left in them first; never raises.

        The kernel empties a PID namespace asynchronously after its init dies, so a folder
        can stay busy for a moment after the worker was reaped.
        """
        for folder in self.folders:
            _remove(folder)


def _remove(folder: Path, tries: int = 100) -> bool:
    for _ in range(tries):
        try:
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            try:
                pids = (folder / "cgroup.procs").read_text().split()
            except OSError:
                return False
            for pid in pids:
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.02)
    return False


def _sweep(parent: Path) -> None:
    """Remove groups a crashed grader left under ``parent`` (empty, and older than a minute)."""
    now = time.time()
    for folder in parent.glob(f"{PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - folder.stat().st_mtime > STALE_SECONDS and not (folder / "cgroup.procs").read_text().strip():
                folder.rmdir()


def _own_path(controller: str | None) -> str | None:
    """The grader's cgroup path in the v2 hierarchy (controller None) or a v1 ``controller``."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if (controller is None and names == "") or (controller is not None and controller in names.split(",")):
            return path
    return None


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _v2(memory_mb: int, pids: int, name: str) -> WorkerGroup | None:
    own = _own_path(None)
    if own is None or not (ROOT / "cgroup.controllers").exists():
        return None
    parent = ROOT / own.lstrip("/")
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    if not {"memory", "pids"} <= set(enabled):
        return None
    folder = parent / name
    _sweep(parent)
    try:
        folder.mkdir()
        _write(folder / "memory.max", str(memory_mb * 2**20))
        if (folder / "memory.swap.max").exists():
            _write(folder / "memory.swap.max", "0")
        _write(folder / "pids.max", str(pids))
    except OSError:
        with contextlib.suppress(OSError):
            folder.rmdir()
        return None
    return WorkerGroup(2, [folder], memory_mb, pids, {"memory_mb": memory_mb, "pids": pids})


def _v1(memory_mb: int, pids: int, name: str) -> WorkerGroup | None:
    folders = []
    applied: dict[str, int] = {}
    for controller, setting, value, key in (("memory", "memory.limit_in_bytes", memory_mb * 2**20, "memory_mb"),
                                            ("pids", "pids.max", pids, "pids")):
        own = _own_path(controller)
        hierarchy = ROOT / controller
        if own is None or not hierarchy.is_dir():
            continue
        folder = hierarchy / own.lstrip("/") / name
        _sweep(folder.parent)
        try:
            folder.mkdir()
            _write(folder / setting, str(value))
            if controller == "memory" and (folder / "memory.memsw.limit_in_bytes").exists():
                with contextlib.suppress(OSError):
                    _write(folder / "memory.memsw.limit_in_bytes", str(value))
        except OSError:
            with contextlib.suppress(OSError):
                folder.rmdir()
            continue
        folders.append(folder)
        applied[key] = memory_mb if key == "memory_mb" else pids
    if not folders:
        return None
    return WorkerGroup(1, folders, memory_mb, pids, applied)


def make_group(memory_mb: int, pids: int) -> WorkerGroup | None:
    """A new cgroup bounding memory (tmpfs included) and process count, or None where none can be made."""
    name = f"{PREFIX}{secrets.token_hex(6)}"
    if os.geteuid() != 0:
        return _v2(memory_mb, pids, name)  # an unprivileged grader may still own a delegated v2 subtree
    return _v2(memory_mb, pids, name) or _v1(memory_mb, pids, name)
