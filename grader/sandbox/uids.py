"""One uid per worker: leased from a configured range, held for the worker's life.

Workers that share a uid can signal each other, write into each other's files and share one
RLIMIT_NPROC, so a fork bomb in one starves the others. Each worker (every slot of a pool
and every one-off run of student Python) therefore runs as a uid of its own, taken from
``[sandbox] first_uid`` .. ``first_uid + uid_count - 1``. The range holds no real accounts;
the uids need no ``/etc/passwd`` entry.

A lease is a file lock (``filelock``) on ``<lock dir>/<uid>.lock``, so two grader processes
on one machine (two batches, or a batch and a self-check) never hand out the same uid. The
lock dies with the process that holds it, so a crashed grader leaks nothing.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from grader.core.errors import GraderError

__all__ = ["UidRange", "UidLease", "UidsExhausted", "lease_uid", "lock_dir"]


class UidsExhausted(GraderError, RuntimeError):
    """Every uid of the range is held by a running worker."""


@dataclass(frozen=True)
class UidRange:
    """The uids workers may run as: ``first`` .. ``first + count - 1`` (gid = uid)."""

    first: int
    count: int

    def __post_init__(self) -> None:
        if self.first < 1000 or self.count < 1 or self.first + self.count > 2**32 - 2:
            raise ValueError(f"uid range {self.first}+{self.count} must lie between 1000 and 4294967293")


@dataclass
class UidLease:
    """A uid held until :meth:`release`; gid is the same number."""

    uid: int
    _lock: FileLock = field(repr=False)

    @property
    def gid(self) -> int:
        return self.uid

    def release(self) -> None:
        self._lock.release(force=True)


def lock_dir() -> Path:
    """Where leases are kept: ``/run/rnn-grader/uids`` for root, a per-user temp folder otherwise."""
    base = Path("/run/rnn-grader/uids") if os.geteuid() == 0 else Path(tempfile.gettempdir()) / f"rnn-grader-uids-{os.geteuid()}"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    return base


def lease_uid(uids: UidRange, start_at: int = 0) -> UidLease:
    """The first free uid of ``uids``, searching from offset ``start_at``; raises UidsExhausted."""
    folder = lock_dir()
    for step in range(uids.count):
        uid = uids.first + (start_at + step) % uids.count
        lock = FileLock(str(folder / f"{uid}.lock"), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        return UidLease(uid, lock)
    raise UidsExhausted(f"all {uids.count} sandbox uids from {uids.first} are in use; "
                        "raise [sandbox] uid_count in course.toml or run fewer workers")
