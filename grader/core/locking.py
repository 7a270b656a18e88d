"""One writer per course at a time: ``batch``, ``grade``, ``submit``, ``override`` and ``reference build``.

SQLite already serialises single writes, but two batches over one course would each
decide "not graded yet" for the same student and grade it twice, and each would mark the
other's run as stale. The lock is a ``filelock`` lock on ``<course>/.grader.lock``: an
``flock`` the kernel drops when its holder dies, so a batch killed with SIGKILL never leaves
a lock behind. Who holds it (command, pid, since when) is kept in a separate
``.grader.lock.holder`` file, because opening the lock file truncates it.

A course folder we cannot write to (a read-only mount) is locked in the temporary
directory instead, under a name derived from the folder's path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from grader.core.errors import GraderError

LOCK_NAME = ".grader.lock"
HOLDER_SUFFIX = ".holder"


class CourseBusy(GraderError):
    """Another grader command holds the course's write lock and the caller chose not to wait."""


@dataclass(frozen=True)
class Holder:
    """Who holds a course lock, as that process wrote it down."""

    command: str
    pid: int
    host: str
    since: str

    def describe(self) -> str:
        return f"'grader {self.command}' (pid {self.pid} on {self.host}, since {self.since})"


def lock_path(course_root: Path) -> Path:
    """Where the lock of ``course_root`` lives: in the folder, or in the temp dir if it is read-only."""
    if os.access(course_root, os.W_OK):
        return course_root / LOCK_NAME
    digest = hashlib.sha256(str(course_root.resolve()).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "rnn-grader" / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{digest}.lock"


def read_holder(path: Path) -> Holder | None:
    """The holder recorded next to the lock at ``path``, or None if unknown or unreadable."""
    try:
        data = json.loads(path.with_name(path.name + HOLDER_SUFFIX).read_text(encoding="utf-8")[:4096])
        return Holder(str(data["command"]), int(data["pid"]), str(data["host"]), str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def course_lock(course_root: Path, command: str, *, wait: bool = True,
                on_wait: Callable[[str], None] = lambda message: None) -> Iterator[None]:
    """Hold the write lock of the course at ``course_root`` for the block.

    When another process holds it: with ``wait`` say so once through ``on_wait`` and
    block until it is free; without, raise :class:`CourseBusy` naming the holder.
    """
    path = lock_path(course_root)
    lock = FileLock(str(path), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = read_holder(path)
        who = holder.describe() if holder else "another grader command"
        if not wait:
            raise CourseBusy(f"{who} is writing to the course {course_root}; wait for it to finish, "
                             "or run again without --no-wait to queue behind it") from None
        on_wait(f"waiting for {who} to finish with the course {course_root} (Ctrl-C to stop)")
        lock.acquire()
    holder_file = path.with_name(path.name + HOLDER_SUFFIX)
    try:
        with contextlib.suppress(OSError):
            holder_file.write_text(json.dumps({
                "command": command, "pid": os.getpid(), "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}), encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            holder_file.unlink()
        lock.release()
