"""Sandboxed worker processes: where student models are loaded and student Python runs.

Loading a ``.keras`` file or importing a student's ``.py`` is code execution, so it happens
in a separate process (``python -m grader.sandbox.worker``, see :mod:`grader.sandbox.worker`) that the grader
can kill. The parent, this module, never imports TensorFlow.

Isolation is applied as far as the OS allows and recorded in :attr:`Worker.isolation`:

* a scrubbed environment with ``HOME``, ``TMPDIR``, ``KERAS_HOME`` and ``MPLCONFIGDIR`` in a
  private scratch directory that is removed when the worker ends;
* a new session, so a timeout kills the worker and everything it started;
* resource limits: address space (``Limits.memory_mb``), file size, open files, no core dumps;
* when the grader runs as root: a network namespace with nothing in it (not even loopback),
  a PID namespace that dies with the worker, and the worker drops to ``nobody`` itself after
  its imports (the interpreter may live under a 0700 ``/root`` that ``nobody`` cannot read);
  ``no_new_privs`` then stops setuid programs from giving root back.

Typical use::

    with Worker("keras", Limits.from_course(course.limits, "keras")) as worker:
        result = worker.run("probe_model", {"file": "model.keras", "kind": "forecaster"},
                            files={"model.keras": path})

Everything a worker returns is as trustworthy as the code that ran in it: an op that runs
student code can forge its own result, so compare against references in the parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import pwd
import queue
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from grader.sandbox.worker import (
    EXIT_OUT_OF_MEMORY,
    KERAS_ENV,
    KINDS,
    MESSAGE_LIMIT,
    REPLY_LIMIT,
    THREAD_ENV,
)

__all__ = [
    "Limits", "SandboxError", "TaskTimeout", "MemoryExceeded", "WorkerCrashed", "TaskFailed",
    "WorkerStartFailed", "Worker", "WorkerPool", "run_once", "sandbox_user",
]

CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
NOBODY = 65534
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
OPEN_FILES = 1024
# RLIMIT_NPROC counts every thread of the user, summed over all workers sharing "nobody".
PROCESSES = max(1024, 128 * (os.cpu_count() or 1))
LOG_LIMIT = 1024 * 1024
TAIL_LIMIT = 4096
CRASH_GRACE_SECONDS = 5.0
PASSTHROUGH_ENV = ("LD_LIBRARY_PATH",)

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]   # the folder holding grader/

Files = Mapping[str, "str | os.PathLike[str]"]


@dataclass(frozen=True)
class Limits:
    """What one worker may use: wall clock per task, address space and file size."""

    seconds: float = 60.0
    memory_mb: int = 4096
    file_mb: int = 256

    @classmethod
    def from_course(cls, limits_cfg: Mapping[str, Any], kind: str) -> Limits:
        """Limits for a ``kind`` worker from a course's ``[limits]`` table (defaults for absent keys)."""
        _check_kind(kind)
        memory_key, memory_default = ("memory_mb", 4096) if kind == "keras" else ("plain_memory_mb", 1024)
        return cls(seconds=float(limits_cfg.get("task_seconds", 60.0)),
                   memory_mb=int(limits_cfg.get(memory_key, memory_default)),
                   file_mb=int(limits_cfg.get("file_mb", 256)))


class SandboxError(Exception):
    """A sandboxed task did not produce a result; ``str(e)`` is one line a student can read."""


class TaskTimeout(SandboxError):
    """The task ran past its wall-clock limit and the worker was killed."""


class MemoryExceeded(SandboxError):
    """The task ran out of the worker's memory limit."""


class WorkerCrashed(SandboxError):
    """The worker process died or broke the protocol while running the task."""


class TaskFailed(SandboxError):
    """The op raised; the message is the worker's one-line ``"Type: message"``."""


class WorkerStartFailed(SandboxError):
    """The worker could not start: a problem with the grader's setup, not with a submission."""


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown worker kind {kind!r} (expected one of: {', '.join(KINDS)})")


def _one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 1024:g} KiB" if n >= 1024 else f"{n} bytes"


def _memory_message(limits: Limits) -> str:
    return f"exceeded the {limits.memory_mb} MiB memory limit"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def python_path(extra: Sequence[str | os.PathLike] = ()) -> str:
    """``PYTHONPATH`` for a worker: where ``grader`` and ``reference_models`` live, then ``extra``.

    Computed from the installed package, so it works from a source checkout and from a wheel.
    """
    entries = [str(_PACKAGE_ROOT)]
    try:
        spec = importlib.util.find_spec("reference_models")
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        entries.append(str(Path(location).resolve().parent))
    entries.extend(str(Path(item).resolve()) for item in extra)
    return os.pathsep.join(dict.fromkeys(entries))


def sandbox_user() -> tuple[int, int] | None:
    """The uid/gid a worker drops to, or None when the grader is not root (nothing to drop)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return NOBODY, NOBODY


_libc_handle: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL | None:
    global _libc_handle
    if _libc_handle is None:
        try:
            _libc_handle = ctypes.CDLL(None, use_errno=True)
        except OSError:
            return None
    return _libc_handle


def _make_preexec(rlimits: list[tuple[int, int]], unshare_flags: int) -> Callable[[], None]:
    # Everything is computed here, in the parent: the child between fork and exec should
    # only make system calls.
    libc = _libc() if unshare_flags else None
    unshare = getattr(libc, "unshare", None)

    def preexec() -> None:
        if unshare is not None and unshare(unshare_flags) != 0:
            unshare(CLONE_NEWNET)  # where PID namespaces are refused a network one may not be
        for which, value in rlimits:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass

    return preexec


def _rlimit_plan(limits: Limits, dropping: bool) -> list[tuple[int, int]]:
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
        os.chmod(destination, 0o600)
    else:
        raise FileNotFoundError(f"{source} does not exist or is not a regular file")


def _check_file_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"task file name {name!r} must be a plain file name, like 'model.keras'")


class _StderrDrain(threading.Thread):
    """Copies the worker's stderr into a bounded log so the pipe never fills up.

    Nothing read here feeds a decision; it is for people debugging the grader.
    """

    def __init__(self, stream: Any, log_path: Path, echo: bool) -> None:
        super().__init__(name="grader-worker-stderr", daemon=True)
        self._fd = stream.fileno()
        self._stream = stream
        self._log = open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self._echo = echo
        self._logged = 0
        self._stopping = threading.Event()
        self.tail = b""

    def stop(self) -> None:
        self._stopping.set()

    def _take(self, data: bytes) -> None:
        self.tail = (self.tail + data)[-TAIL_LIMIT:]
        if self._logged < LOG_LIMIT:
            chunk = data[: LOG_LIMIT - self._logged]
            self._log.write(chunk)
            self._logged += len(chunk)
            if self._logged >= LOG_LIMIT:
                self._log.write(b"\n[log truncated]\n")
            self._log.flush()
        if self._echo:
            try:
                sys.stderr.buffer.write(data)
                sys.stderr.flush()
            except (AttributeError, ValueError, OSError):
                pass

    def run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while True:
                events = poller.poll(200)
                if not events:
                    if self._stopping.is_set():
                        return
                    continue
                try:
                    data = os.read(self._fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self._take(data)
        finally:
            with contextlib.suppress(OSError, ValueError):
                self._log.close()
            with contextlib.suppress(OSError, ValueError):
                self._stream.close()


class _ChannelClosed(Exception):
    pass


class _Deadline(Exception):
    pass


class _ProtocolError(Exception):
    pass


class Worker:
    """One sandboxed worker process, restarted automatically after a timeout or a crash.

    ``run()`` sends one op at a time; use one Worker per thread (a :class:`WorkerPool` hands
    them out). ``ops`` names the module whose ``OPS`` the worker serves.
    """

    def __init__(self, kind: str = "keras", limits: Limits | None = None, ops: str = "grader.sandbox.ops",
                 extra_pythonpath: Sequence[str | os.PathLike] = ()) -> None:
        _check_kind(kind)
        self.kind = kind
        self.limits = limits if limits is not None else Limits.from_course({}, kind)
        self.ops = ops
        self.extra_pythonpath = tuple(extra_pythonpath)
        self.startup_timeout = max(120.0, self.limits.seconds)
        self.startup_seconds: float | None = None
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reply_fd: int | None = None
        self._buffer = b""
        self._drain: _StderrDrain | None = None
        self._base: Path | None = None
        self._isolation: dict[str, Any] = {}
        self._user = sandbox_user()
        self._next_id = 0
        self._starts = 0
        self._closed = False
        self.tasks_run = 0

    # -- public -------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The current worker process id, or None when no worker is running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def isolation(self) -> dict[str, Any]:
        """What the current (or last) worker actually got: namespaces, uid/gid, limits."""
        return dict(self._isolation)

    @property
    def restarts(self) -> int:
        """How many times a worker was started again after the first one."""
        return max(0, self._starts - 1)

    @property
    def alive(self) -> bool:
        """Whether a worker process is running and ready for a task."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the worker process (if none is running) and wait until it is ready.

        Raises WorkerStartFailed if it exits or is not ready within ``startup_timeout``.
        """
        with self._lock:
            if self._closed:
                raise SandboxError("the worker is closed")
            if self.alive:
                return
            self._discard()
            self._starts += 1
            began = time.monotonic()
            try:
                self._spawn()
                ready = self._read_message(began + self.startup_timeout)
            except _Deadline:
                self._discard()
                raise WorkerStartFailed(f"the {self.kind} worker was not ready within "
                                        f"{self.startup_timeout:g} s") from None
            except (_ChannelClosed, _ProtocolError):
                message = self._startup_failure()
                self._discard()
                raise WorkerStartFailed(message) from None
            except BaseException:
                self._discard()
                raise
            if not ready.get("ready"):
                self._discard()
                raise WorkerStartFailed(_one_line(f"the {self.kind} worker failed to start: "
                                                  f"{ready.get('error', 'no reason given')}"))
            self.startup_seconds = time.monotonic() - began
            self._record_isolation(ready)

    def run(self, op: str, payload: Mapping[str, Any] | None = None, files: Files | None = None,
            timeout: float | None = None, reply_limit: int = REPLY_LIMIT) -> dict[str, Any]:
        """Run ``op`` on ``payload`` in a fresh task directory holding copies of ``files``.

        ``files`` maps a plain file name in the task directory to the source path copied
        there (originals are never opened by the worker). The op's cwd is the task
        directory, which is deleted afterwards. ``timeout`` defaults to ``limits.seconds``.
        Returns the op's result dict, or raises TaskTimeout, MemoryExceeded, WorkerCrashed
        or TaskFailed (all SandboxError); after the first three the next run() starts a new
        worker process. A reply longer than ``reply_limit`` bytes is refused unread
        (WorkerCrashed): pass what the op can legitimately return.
        """
        result, _ = self._run(op, payload, files, timeout, output=None, reply_limit=reply_limit)
        return result

    def run_with_output(self, op: str, payload: Mapping[str, Any] | None, files: Files | None, output: str,
                        max_bytes: int, timeout: float | None = None,
                        reply_limit: int = REPLY_LIMIT) -> tuple[dict[str, Any], bytes]:
        """Like :meth:`run`, and also fetch the bytes of the file ``output`` the op wrote in its task directory.

        The file must be a regular file the worker created, of at most ``max_bytes`` (and
        ``limits.file_mb`` MiB): its size is checked before a byte is read. Otherwise, or if
        it is missing, TaskFailed is raised. The bytes are untrusted: parse them with a
        reader that checks what they declare (:func:`grader.sandbox.untrusted.read_npy`).
        """
        _check_file_name(output)
        result, data = self._run(op, payload, files, timeout, output=output, reply_limit=reply_limit,
                                 max_bytes=max_bytes)
        assert data is not None
        return result, data

    def _run(self, op: str, payload: Mapping[str, Any] | None, files: Files | None, timeout: float | None,
             output: str | None, reply_limit: int = REPLY_LIMIT,
             max_bytes: int | None = None) -> tuple[dict[str, Any], bytes | None]:
        seconds = self.limits.seconds if timeout is None else float(timeout)
        with self._lock:
            for name in files or {}:
                _check_file_name(name)
            self.start()
            task_dir = self._make_task_dir(files or {})
            try:
                self._next_id += 1
                request_id = self._next_id
                request = {"id": request_id, "op": op, "payload": dict(payload or {}), "dir": str(task_dir)}
                data = json.dumps(request).encode("utf-8") + b"\n"
                self.tasks_run += 1
                deadline = time.monotonic() + seconds
                try:
                    self._send(data, deadline)
                    reply = self._read_message(deadline, min(reply_limit, REPLY_LIMIT))
                except _Deadline:
                    self._kill()
                    raise TaskTimeout(f"timed out after {seconds:g} s") from None
                except _ChannelClosed:
                    raise self._crash_error() from None
                except _ProtocolError as exc:
                    self._kill()
                    raise WorkerCrashed(f"the worker broke the reply protocol ({exc})") from None
                except BaseException:
                    self._kill()
                    raise
                # More output than one reply means something besides the worker loop wrote to
                # the channel: this process is not trusted with another task.
                tampered = bool(self._buffer)
                result = self._result(reply, request_id)
                fetched = self._fetch_output(task_dir, output, max_bytes) if output is not None else None
            finally:
                shutil.rmtree(task_dir, ignore_errors=True)
            if tampered:
                self._kill()
            return result, fetched

    def _fetch_output(self, task_dir: Path, name: str, max_bytes: int | None) -> bytes:
        """The bytes of ``name`` in the task dir, refusing anything the worker could use to make
        the grader (often root) read another file: links, FIFOs, files it does not own."""
        limit = self.limits.file_mb * 2**20 if max_bytes is None else min(max_bytes, self.limits.file_mb * 2**20)
        try:
            fd = os.open(task_dir / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise TaskFailed(f"the task produced no {name}") from None
        except OSError as exc:
            raise TaskFailed(_one_line(f"the task's {name} cannot be read ({exc.strerror})")) from None
        try:
            info = os.fstat(fd)
            owner = self._user[0] if self._user is not None else os.geteuid()
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_uid != owner:
                raise TaskFailed(f"the task's {name} is not a regular file it wrote")
            if info.st_size > limit:
                raise TaskFailed(f"the task's {name} is {_size(info.st_size)}, over the {_size(limit)} it may take")
            chunks = []
            size = 0
            while size <= limit:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > limit:
                raise TaskFailed(f"the task's {name} grew past the {_size(limit)} it may take")
            return b"".join(chunks)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Kill the worker and remove its scratch directory; safe to call more than once."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            self._closed = True
            self._discard()

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<Worker kind={self.kind} pid={self.pid} tasks_run={self.tasks_run} restarts={self.restarts}>"

    # -- process ------------------------------------------------------------------

    def _environment(self, home: Path) -> dict[str, str]:
        env = {
            "PATH": SAFE_PATH,
            "HOME": str(home),
            "TMPDIR": str(home / "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONPATH": python_path(self.extra_pythonpath),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "PYTHONNOUSERSITE": "1",
            "KERAS_HOME": str(home / ".keras"),
            "MPLCONFIGDIR": str(home / ".matplotlib"),
            "MPLBACKEND": "Agg",
            "GRADER_WORKER_KIND": self.kind,
            **THREAD_ENV,
        }
        if self.kind == "keras":
            env.update(KERAS_ENV)
        for name in PASSTHROUGH_ENV:
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    def _spawn(self) -> None:
        user = self._user
        base = Path(tempfile.mkdtemp(prefix=f"grader-{self.kind}-worker-"))
        self._base = base
        home = base / "home"
        for directory in (home, home / "tmp", home / ".keras", home / ".matplotlib"):
            directory.mkdir(mode=0o700)
        if user is not None:
            _chown_tree(home, *user)
            # Root-owned and unlistable: the worker can reach its own directories but
            # cannot rename them, nor list or enter another worker's.
            base.chmod(0o711)
        self._drain = None
        read_fd, write_fd = os.pipe()
        self._reply_fd = read_fd
        command = [sys.executable, "-P", "-m", "grader.sandbox.worker", "--kind", self.kind, "--ops", self.ops,
                   "--reply-fd", str(write_fd)]
        if user is not None:
            command += ["--uid", str(user[0]), "--gid", str(user[1])]
        unshare_flags = CLONE_NEWNET | CLONE_NEWPID if user is not None else 0
        preexec = _make_preexec(_rlimit_plan(self.limits, user is not None), unshare_flags)
        try:
            self._proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=(write_fd,), env=self._environment(home), cwd=home, close_fds=True,
                start_new_session=True, preexec_fn=preexec,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise WorkerStartFailed(_one_line(f"could not start the {self.kind} worker: {exc}")) from None
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        assert self._proc.stdin is not None and self._proc.stderr is not None
        os.set_blocking(self._proc.stdin.fileno(), False)
        self._drain = _StderrDrain(self._proc.stderr, base / "worker.log", os.environ.get("GRADER_DEBUG") == "1")
        self._drain.start()

    def _record_isolation(self, ready: Mapping[str, Any]) -> None:
        assert self._proc is not None
        pid = self._proc.pid
        worker_net = _namespace(pid, "net")
        isolation: dict[str, Any] = {
            "netns": worker_net is not None and worker_net != _namespace("self", "net"),
            "pidns": bool(ready.get("pidns")),
            "uid": ready.get("uid"),
            "gid": ready.get("gid"),
            "no_new_privs": bool(ready.get("no_new_privs")),
            "env_scrubbed": True,
        }
        isolation.update(_applied_limits(pid))
        self._isolation = isolation

    def _startup_failure(self) -> str:
        status = self._wait_exit()
        detail = ""
        if self._drain is not None:
            self._drain.join(1.0)
            lines = [line for line in self._drain.tail.decode("utf-8", "replace").splitlines() if line.strip()]
            detail = f": {lines[-1]}" if lines else ""
        return _one_line(f"the {self.kind} worker failed to start ({status}){detail}")

    def _wait_exit(self) -> str:
        assert self._proc is not None
        try:
            code = self._proc.wait(CRASH_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self._kill_group()
            self._proc.wait()
            return "closed its reply channel"
        if code < 0:
            return f"signal {_signal_name(-code)}"
        return f"exit code {code}"

    def _crash_error(self) -> SandboxError:
        """The error for a worker whose reply channel closed mid-task; reaps it."""
        assert self._proc is not None
        try:
            code: int | None = self._proc.wait(CRASH_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        self._discard()
        if code is None:
            return WorkerCrashed("the worker process closed its reply channel and was killed")
        if code == EXIT_OUT_OF_MEMORY:
            return MemoryExceeded(_memory_message(self.limits))
        if code >= 0:
            return WorkerCrashed(f"the worker process exited unexpectedly (exit code {code})")
        name = _signal_name(-code)
        message = f"the worker process crashed (signal {name})"
        if -code in (signal.SIGABRT, signal.SIGKILL):
            message += f", possibly out of memory (limit {self.limits.memory_mb} MiB)"
        return WorkerCrashed(message)

    def _kill_group(self) -> None:
        if self._proc is None:
            return
        # The worker leads its own session and group; its namespace init and any children
        # are in the group, and the kernel kills the rest of the PID namespace with the init.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            self._proc.kill()

    def _kill(self) -> None:
        self._discard()

    def _discard(self) -> None:
        """Kill and reap the current process (if any), close its pipes, delete its scratch."""
        proc = getattr(self, "_proc", None)
        if proc is not None:
            self._kill_group()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            self._proc = None
        if self._reply_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._reply_fd)
            self._reply_fd = None
        if self._drain is not None:
            self._drain.stop()
            self._drain = None
        self._buffer = b""
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    # -- channel ------------------------------------------------------------------

    def _make_task_dir(self, files: Files) -> Path:
        assert self._base is not None
        # Filled while still root-owned and 0700, and only then handed to the worker, so a
        # process left behind by an earlier task cannot plant links in it.
        task_dir = Path(tempfile.mkdtemp(prefix="task-", dir=self._base))
        try:
            for name, source in files.items():
                _copy_in(Path(source), task_dir / name)
            if self._user is not None:
                _chown_tree(task_dir, *self._user)
        except BaseException:
            shutil.rmtree(task_dir, ignore_errors=True)
            raise
        return task_dir

    def _send(self, data: bytes, deadline: float) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        fd = self._proc.stdin.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Deadline
            if not poller.poll(max(1, int(remaining * 1000))):
                continue
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise _ChannelClosed from None

    def _read_message(self, deadline: float, limit: int = REPLY_LIMIT) -> dict[str, Any]:
        """The next JSON line from the reply channel, within the deadline and ``limit`` bytes.

        The size is checked before the line is parsed: a reply is untrusted input.
        """
        assert self._reply_fd is not None
        poller = select.poll()
        poller.register(self._reply_fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while b"\n" not in self._buffer:
            if len(self._buffer) > limit:
                raise _ProtocolError(f"reply longer than {_size(limit)}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Deadline
            if not poller.poll(max(1, int(remaining * 1000))):
                continue
            try:
                chunk = os.read(self._reply_fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                raise _ChannelClosed
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > limit:
            raise _ProtocolError(f"reply longer than {_size(limit)}")
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            raise _ProtocolError("reply is not JSON") from None
        if not isinstance(message, dict):
            raise _ProtocolError("reply is not a JSON object")
        return message

    def _result(self, reply: Mapping[str, Any], request_id: int) -> dict[str, Any]:
        if reply.get("id") != request_id:
            self._kill()
            raise WorkerCrashed("the worker broke the reply protocol (reply for another request)")
        if reply.get("ok") is True and isinstance(reply.get("result"), dict):
            return reply["result"]
        if reply.get("ok") is False:
            if reply.get("kind") == "memory":
                raise MemoryExceeded(_memory_message(self.limits))
            raise TaskFailed(_one_line(str(reply.get("error") or "the op failed without a message")))
        self._kill()
        raise WorkerCrashed("the worker broke the reply protocol (malformed reply)")


class WorkerPool:
    """Long-lived workers for batch grading: each imports TensorFlow once, not per submission.

    ``acquire()`` hands a free worker to one thread at a time. With ``isolate=True`` every
    acquire gets a brand-new worker that is closed on release (``size`` then bounds how many
    run at once); use it when a task must not share a process with any other.
    """

    def __init__(self, size: int, kind: str = "keras", limits: Limits | None = None, ops: str = "grader.sandbox.ops",
                 isolate: bool = False, extra_pythonpath: Sequence[str | os.PathLike] = ()) -> None:
        if size < 1:
            raise ValueError(f"pool size must be at least 1, got {size}")
        _check_kind(kind)
        self.size = size
        self.kind = kind
        self.limits = limits if limits is not None else Limits.from_course({}, kind)
        self.ops = ops
        self.isolate = isolate
        self.extra_pythonpath = tuple(extra_pythonpath)
        self._closed = False
        self._slots = threading.BoundedSemaphore(size)
        self._workers = [] if isolate else [self._new_worker() for _ in range(size)]
        self._free: queue.Queue[Worker] = queue.Queue()
        for worker in self._workers:
            self._free.put(worker)

    @property
    def workers(self) -> list[Worker]:
        """The long-lived workers (empty with ``isolate=True``)."""
        return list(self._workers)

    def _new_worker(self) -> Worker:
        return Worker(self.kind, self.limits, self.ops, self.extra_pythonpath)

    def start(self) -> None:
        """Start every long-lived worker now, in parallel, instead of on first use."""
        errors: list[BaseException] = []

        def start(worker: Worker) -> None:
            try:
                worker.start()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(worker,)) for worker in self._workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    @contextlib.contextmanager
    def acquire(self) -> Iterator[Worker]:
        """A worker for this thread alone until the block ends; blocks until one is free."""
        if self._closed:
            raise SandboxError("the worker pool is closed")
        if self.isolate:
            with self._slots:
                worker = self._new_worker()
                try:
                    yield worker
                finally:
                    worker.close()
            return
        worker = self._free.get()
        try:
            if self._closed:
                raise SandboxError("the worker pool is closed")
            yield worker
        finally:
            self._free.put(worker)

    def close(self) -> None:
        """Close every worker; later ``acquire()`` calls raise SandboxError."""
        self._closed = True
        for worker in self._workers:
            worker.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run_once(kind: str, op: str, payload: Mapping[str, Any] | None = None, files: Files | None = None,
             limits: Limits | None = None, ops: str = "grader.sandbox.ops", timeout: float | None = None,
             extra_pythonpath: Sequence[str | os.PathLike] = (), reply_limit: int = REPLY_LIMIT) -> dict[str, Any]:
    """Run one op in a brand-new worker that is closed afterwards (for student Python); returns its result dict."""
    worker = Worker(kind, limits, ops, extra_pythonpath)
    try:
        return worker.run(op, payload, files, timeout, reply_limit=reply_limit)
    finally:
        worker.close()
