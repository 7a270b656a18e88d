"""What a sandboxed worker process gets: its environment, directories, limits and user.

Isolation is applied as far as the OS allows and recorded in
:attr:`grader.sandbox.process.Worker.isolation` (see :func:`isolation_report`):

* a scrubbed environment with ``HOME``, ``TMPDIR``, ``KERAS_HOME`` and ``MPLCONFIGDIR`` in a
  private scratch directory that is removed when the worker ends;
* a new session, so a timeout kills the worker and everything it started;
* resource limits: address space (``Limits.memory_mb``), file size, open files, no core dumps;
* when the grader runs as root: the worker drops to a uid of its own
  (:mod:`grader.sandbox.uids`) itself after its imports (the interpreter may live under a
  0700 ``/root`` that uid cannot read); ``no_new_privs`` then stops setuid programs from
  giving root back;
* at the "process" level (:mod:`grader.sandbox.levels`), as root: a network namespace with
  nothing in it (not even loopback) and a PID namespace that dies with the worker. At the
  "bubblewrap" level, bubblewrap makes those and the filesystem view (:mod:`grader.sandbox.bwrap`).

Each task runs in a fresh task directory holding copies of its files (:func:`make_task_dir`).
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from grader.sandbox.limits import Limits
from grader.sandbox.worker import KERAS_ENV, THREAD_ENV

__all__ = ["Files", "python_path", "worker_environment", "make_home", "make_preexec",
           "rlimit_plan", "isolation_report", "check_file_name", "make_task_dir"]

CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
OPEN_FILES = 1024
# RLIMIT_NPROC counts every thread of the uid; each worker has a uid of its own (grader.sandbox.uids).
PROCESSES = max(1024, 128 * (os.cpu_count() or 1))
PASSTHROUGH_ENV = ("LD_LIBRARY_PATH",)

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]   # the folder holding grader/

Files = Mapping[str, "str | os.PathLike[str]"]


def python_path(extra: Sequence[str | os.PathLike] = ()) -> str:
    """``PYTHONPATH`` for a worker: where ``grader`` lives, then ``extra``.

    Computed from the installed package, so it works from a source checkout and from a wheel.
    Workers never need ``reference_models`` (the reference solutions), so it is not added.
    """
    entries = [str(_PACKAGE_ROOT)]
    entries.extend(str(Path(item).resolve()) for item in extra)
    return os.pathsep.join(dict.fromkeys(entries))


def worker_environment(kind: str, home: Path, extra_pythonpath: Sequence[str | os.PathLike] = (),
                       pythonpath: str | None = None) -> dict[str, str]:
    """The whole environment of a ``kind`` worker living in ``home``; of the grader's own, only :data:`PASSTHROUGH_ENV`.

    ``pythonpath`` replaces the host's (:func:`python_path`) for a worker that sees another root.
    """
    env = {
        "PATH": SAFE_PATH,
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": pythonpath if pythonpath is not None else python_path(extra_pythonpath),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONNOUSERSITE": "1",
        "KERAS_HOME": str(home / ".keras"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "MPLBACKEND": "Agg",
        "GRADER_WORKER_KIND": kind,
        **THREAD_ENV,
    }
    if kind == "keras":
        env.update(KERAS_ENV)
    for name in PASSTHROUGH_ENV:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def make_home(base: Path, user: tuple[int, int] | None) -> Path:
    """Create ``base/home`` (with ``tmp``, ``.keras``, ``.matplotlib``) for a worker running as ``user``."""
    home = base / "home"
    for directory in (home, home / "tmp", home / ".keras", home / ".matplotlib"):
        directory.mkdir(mode=0o700)
    if user is not None:
        _chown_tree(home, *user)
        # Root-owned and unlistable: the worker can reach its own directories but
        # cannot rename them, nor list or enter another worker's.
        base.chmod(0o711)
    return home


_libc_handle: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL | None:
    global _libc_handle
    if _libc_handle is None:
        try:
            _libc_handle = ctypes.CDLL(None, use_errno=True)
        except OSError:
            return None
    return _libc_handle


def make_preexec(rlimits: list[tuple[int, int]], unshare_flags: int,
                 join_group: Callable[[], None] | None = None) -> Callable[[], None]:
    """What the child runs between fork and exec: join its cgroup (``join_group``), unshare
    ``unshare_flags`` (failing that, the network alone), then set each of ``rlimits`` as both
    soft and hard limit."""
    # Everything is computed here, in the parent: the child between fork and exec should
    # only make system calls.
    libc = _libc() if unshare_flags else None
    unshare = getattr(libc, "unshare", None)

    def preexec() -> None:
        if join_group is not None:
            join_group()
        if unshare is not None and unshare(unshare_flags) != 0:
            unshare(CLONE_NEWNET)  # where PID namespaces are refused a network one may not be
        for which, value in rlimits:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass

    return preexec


def rlimit_plan(limits: Limits, dropping: bool) -> list[tuple[int, int]]:
    """(resource, value) pairs for a worker under ``limits``, none above the grader's own hard
    limit; RLIMIT_NPROC only when the worker drops to another user (``dropping``)."""
    plan = [
        (resource.RLIMIT_AS, limits.memory_mb * 2**20),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, limits.file_mb * 2**20),
        (resource.RLIMIT_NOFILE, OPEN_FILES),
    ]
    if dropping:
        plan.append((resource.RLIMIT_NPROC, PROCESSES))
    adjusted = []
    for which, value in plan:
        _, hard = resource.getrlimit(which)
        adjusted.append((which, value if hard == resource.RLIM_INFINITY else min(value, hard)))
    return adjusted


def _namespace(pid: int | str, name: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{name}")
    except OSError:
        return None


_LIMIT_ROWS = {
    "Max address space": ("rlimit_as_mb", 2**20),
    "Max file size": ("rlimit_fsize_mb", 2**20),
    "Max open files": ("rlimit_nofile", 1),
    "Max processes": ("rlimit_nproc", 1),
    "Max core file size": ("rlimit_core", 1),
}


def _applied_limits(pid: int) -> dict[str, int | None]:
    """The soft limits process ``pid`` runs under (None: unlimited), read from /proc.

    /proc rather than prlimit(): containers often withhold CAP_SYS_RESOURCE, which prlimit
    needs for a process of another user.
    """
    applied: dict[str, int | None] = {}
    try:
        lines = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    except OSError:
        return applied
    for line in lines:
        row = _LIMIT_ROWS.get(line[:26].strip())
        fields = line[26:].split()
        if row is None or not fields:
            continue
        name, scale = row
        applied[name] = None if fields[0] == "unlimited" else int(fields[0]) // scale
    return applied


def isolation_report(pid: int, ready: Mapping[str, Any]) -> dict[str, Any]:
    """What worker ``pid`` got: namespaces, uid/gid, no_new_privs (from its ``ready`` message) and limits (from /proc)."""
    worker_net = _namespace(pid, "net")
    isolation: dict[str, Any] = {
        "netns": worker_net is not None and worker_net != _namespace("self", "net"),
        "pidns": bool(ready.get("pidns")) or _namespace(pid, "pid") not in (None, _namespace("self", "pid")),
        "uid": ready.get("uid"),
        "gid": ready.get("gid"),
        "no_new_privs": bool(ready.get("no_new_privs")),
        "env_scrubbed": True,
    }
    isolation.update(_applied_limits(pid))
    return isolation


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.lchown(path, uid, gid)
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), uid, gid)


def _copy_in(source: Path, destination: Path) -> None:
    if source.is_symlink():
        raise ValueError(f"{source} is a symbolic link; copy the file it points to instead")
    if source.is_dir():
        shutil.copytree(source, destination, symlinks=True)
    elif source.is_file():
        shutil.copyfile(source, destination)
        os.chmod(destination, 0o644)
    else:
        raise FileNotFoundError(f"{source} does not exist or is not a regular file")


def check_file_name(name: str) -> None:
    """Raise ValueError unless ``name`` is a plain file name, with no directory part."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"task file name {name!r} must be a plain file name, like 'model.keras'")


def make_task_dir(base: Path, files: Files) -> Path:
    """A fresh directory in ``base`` holding read-only copies of ``files`` (name -> source path).

    The grader owns the folder and the copies: the worker may read them but never write
    there (bubblewrap also binds the folder read-only), so a task cannot fill the host's disk
    or plant links for the grader; it writes in its private, size-limited scratch instead.
    """
    task_dir = Path(tempfile.mkdtemp(prefix="task-", dir=base))
    try:
        for name, source in files.items():
            _copy_in(Path(source), task_dir / name)
        task_dir.chmod(0o755)
    except BaseException:
        shutil.rmtree(task_dir, ignore_errors=True)
        raise
    return task_dir
