"""How one worker process is started: its command line, environment, limits, uid and box.

:func:`plan_launch` turns a worker's kind, :class:`Limits` and isolation level into a
:class:`Launch`: everything ``subprocess.Popen`` needs plus what must be cleaned up after the
process ends. The parent-side rules:

* everything the child does between fork and exec is computed here first: it only joins
  its cgroup, unshares (process level only) and sets rlimits;
* a worker's uid is leased for the worker's life (:mod:`grader.sandbox.uids`), so a restart
  keeps it and nothing else ever shares it;
* the worker sees tasks at :attr:`Launch.task_mount`: with bubblewrap, the host folder
  :attr:`Launch.task_root` bound at ``/task``; with process isolation, the host path itself.
"""

from __future__ import annotations

import json
import os
import select
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from grader.sandbox import bwrap
from grader.sandbox.cgroups import WorkerGroup, make_group
from grader.sandbox.isolation import (CLONE_NEWNET, CLONE_NEWPID, PROCESSES, make_home, make_preexec, rlimit_plan,
                                      worker_environment)
from grader.sandbox.levels import FULL
from grader.sandbox.limits import Limits
from grader.sandbox.seccomp import seccomp_program

__all__ = ["Launch", "plan_launch", "read_bwrap_info"]

INFO_LIMIT = 4096


@dataclass
class Launch:
    """One worker start: pass ``command``, ``env``, ``cwd``, ``pass_fds`` and ``preexec`` to Popen,
    then call :meth:`started` (closes the parent's copies of the child's descriptors)."""

    level: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    pass_fds: tuple[int, ...]
    preexec: Callable[[], None]
    base: Path
    task_root: Path
    task_mount: str
    group: WorkerGroup | None
    seccomp: bool
    info_read: int | None = None
    handles: list[IO[bytes]] = field(default_factory=list)     # open only until the child has started
    child_fds: list[int] = field(default_factory=list)         # the child's ends, closed here after the start

    def started(self) -> None:
        """Close what only the child needed (seccomp program, bwrap's info pipe write end)."""
        for handle in self.handles:
            handle.close()
        self.handles.clear()
        for fd in self.child_fds:
            os.close(fd)
        self.child_fds.clear()

    def abandon(self) -> None:
        """Undo a launch that never became a process."""
        self.started()
        if self.info_read is not None:
            os.close(self.info_read)
            self.info_read = None
        if self.group is not None:
            self.group.remove()

    def task_path(self, task_dir: Path) -> str:
        """Where the worker sees ``task_dir`` (a folder in :attr:`task_root`)."""
        return f"{self.task_mount}/{task_dir.name}"

    def report(self) -> dict[str, Any]:
        """What the box adds beyond what the worker reports itself (see ``isolation_report``)."""
        return {
            "level": self.level,
            "seccomp": self.seccomp,
            "cgroup": dict(self.group.applied, version=self.group.version) if self.group else None,
            "filesystem": "task folder and private scratch only" if self.level == FULL else "host (not hidden)",
        }


def _worker_arguments(kind: str, ops: str, reply_fd: int, user: tuple[int, int] | None) -> list[str]:
    arguments = ["-m", "grader.sandbox.worker", "--kind", kind, "--ops", ops, "--reply-fd", str(reply_fd)]
    if user is not None:
        arguments += ["--uid", str(user[0]), "--gid", str(user[1])]
    return arguments


def plan_launch(kind: str, ops: str, limits: Limits, level: str, user: tuple[int, int] | None, reply_fd: int,
                extra_pythonpath: Sequence[str | os.PathLike] = ()) -> Launch:
    """Everything needed to start a ``kind`` worker serving ``ops`` at ``level``, replying on ``reply_fd``."""
    base = Path(tempfile.mkdtemp(prefix=f"grader-{kind}-worker-"))
    task_root = base / "tasks"
    task_root.mkdir(mode=0o711)
    if user is not None:
        base.chmod(0o711)
    # memory_mb bounds everything the worker holds at once: all its processes and its tmpfs.
    group = make_group(limits.memory_mb, PROCESSES)
    rlimits = rlimit_plan(limits, user is not None)
    join = group.join if group is not None else None
    worker_args = _worker_arguments(kind, ops, reply_fd, user)
    if level != FULL:
        home = make_home(base, user)
        env = worker_environment(kind, home, extra_pythonpath)
        flags = CLONE_NEWNET | CLONE_NEWPID if user is not None else 0
        return Launch(level, [sys.executable, "-P", *worker_args], env, home, (reply_fd,),
                      make_preexec(rlimits, flags, join), base, task_root, str(task_root), group, False)

    view = bwrap.runtime_view(tuple(str(Path(p).resolve()) for p in extra_pythonpath))
    program = seccomp_program()
    info_read, info_write = os.pipe()
    fds = [reply_fd, info_write] + ([program.fileno()] if program is not None else [])
    command = bwrap.bwrap_command(bwrap.find_bwrap() or "bwrap", view, task_root, scratch_mb=limits.scratch_mb,
                                  privileged=os.geteuid() == 0,
                                  seccomp_fd=program.fileno() if program is not None else None, info_fd=info_write)
    env = worker_environment(kind, Path(bwrap.SCRATCH), pythonpath=os.pathsep.join(view.pythonpath))
    env["TMPDIR"] = bwrap.SCRATCH
    return Launch(level, command + [view.python, "-P", *worker_args], env, base, tuple(fds),
                  make_preexec(rlimits, 0, join), base, task_root, bwrap.TASK_MOUNT, group, program is not None,
                  info_read=info_read, handles=[program] if program is not None else [], child_fds=[info_write])


def read_bwrap_info(fd: int, wait: float = 2.0) -> dict[str, Any]:
    """bwrap's ``--info-fd`` JSON (``{"child-pid": N, ...}``), read once at start, bounded; {} if absent."""
    data = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while len(data) < INFO_LIMIT and poller.poll(int(wait * 1000)):
        chunk = os.read(fd, INFO_LIMIT)
        if not chunk:
            break
        data += chunk
        if data.rstrip().endswith(b"}"):
            break
    try:
        info = json.loads(data.decode("utf-8"))
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}
