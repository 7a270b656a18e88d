"""Sandboxed worker processes: where student models are loaded and student Python runs.

Loading a ``.keras`` file or importing a student's ``.py`` is code execution, so it happens
in a separate process (``python -m grader.sandbox.worker``, see :mod:`grader.sandbox.worker`) that the grader
can kill. The parent, this module, never imports TensorFlow.

Isolation is applied as far as the OS allows and recorded in :attr:`Worker.isolation`; what
the process gets is set up in :mod:`grader.sandbox.isolation`, and requests and replies
travel through :mod:`grader.sandbox.channel`.

Typical use::

    with Worker("keras", Limits.from_course(course.limits, "keras")) as worker:
        result = worker.run("probe_model", {"file": "model.keras", "kind": "forecaster"},
                            files={"model.keras": path})

Everything a worker returns is as trustworthy as the code that ran in it: an op that runs
student code can forge its own result, so compare against references in the parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping, Sequence

from grader.sandbox.channel import (ChannelClosed, Deadline, ProtocolError, ReplyReader, decode_output, read_result,
                                    send)
from grader.sandbox.errors import (SandboxError, TaskTimeout, WorkerCrashed, WorkerStartFailed, crash_error, one_line,
                                   signal_name)
from grader.sandbox.isolation import Files, check_file_name, isolation_report, make_task_dir
from grader.sandbox.launch import Launch, plan_launch, read_bwrap_info
from grader.sandbox.levels import choose_level
from grader.sandbox.limits import Limits, check_kind
from grader.sandbox.uids import UidLease, UidsExhausted, lease_uid
from grader.sandbox.stderr_log import StderrDrain
from grader.sandbox.worker import REPLY_LIMIT

__all__ = ["Worker"]

CRASH_GRACE_SECONDS = 5.0
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")


class Worker:
    """One sandboxed worker process, restarted automatically after a timeout or a crash.

    ``run()`` sends one op at a time; use one Worker per thread (a
    :class:`grader.sandbox.pool.WorkerPool` hands them out). ``ops`` names the module whose
    ``OPS`` the worker serves.
    """

    def __init__(self, kind: str = "keras", limits: Limits | None = None, ops: str = "grader.sandbox.ops",
                 extra_pythonpath: Sequence[str | os.PathLike] = ()) -> None:
        check_kind(kind)
        self.kind = kind
        self.limits = limits if limits is not None else Limits.from_course({}, kind)
        self.ops = ops
        self.extra_pythonpath = tuple(extra_pythonpath)
        self.startup_timeout = max(120.0, self.limits.seconds)
        self.startup_seconds: float | None = None
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._replies: ReplyReader | None = None
        self._drain: StderrDrain | None = None
        self._launch: Launch | None = None
        self._isolation: dict[str, Any] = {}
        self._lease: UidLease | None = None
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

    def _lease_user(self) -> tuple[int, int] | None:
        """The uid/gid this worker runs as, leased on first start and kept until close (None when the grader is not root)."""
        if self._lease is None and os.geteuid() == 0:
            try:
                self._lease = lease_uid(self.limits.uids, start_at=id(self) % self.limits.uids.count)
            except UidsExhausted as exc:       # a setup limit, reported like any worker that cannot start
                raise WorkerStartFailed(str(exc)) from None
        return (self._lease.uid, self._lease.gid) if self._lease is not None else None

    @property
    def scratch_dir(self) -> Path | None:
        """The host folder holding this worker's task folders and log; removed when the worker ends."""
        return self._launch.base if self._launch is not None else None

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
                assert self._replies is not None
                ready = self._replies.read_message(began + self.startup_timeout)
            except Deadline:
                self._discard()
                raise WorkerStartFailed(f"the {self.kind} worker was not ready within "
                                        f"{self.startup_timeout:g} s") from None
            except (ChannelClosed, ProtocolError):
                message = self._startup_failure()
                self._discard()
                raise WorkerStartFailed(message) from None
            except BaseException:
                self._discard()
                raise
            if not ready.get("ready"):
                self._discard()
                raise WorkerStartFailed(one_line(f"the {self.kind} worker failed to start: "
                                                 f"{ready.get('error', 'no reason given')}"))
            self.startup_seconds = time.monotonic() - began
            assert self._proc is not None and self._launch is not None
            self._isolation = {**isolation_report(self._sandbox_pid(), ready), **self._launch.report()}

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
        check_file_name(output)
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
                check_file_name(name)
            self.start()
            assert self._launch is not None
            task_dir = make_task_dir(self._launch.task_root, files or {})
            try:
                self._next_id += 1
                request_id = self._next_id
                request: dict[str, Any] = {"id": request_id, "op": op, "payload": dict(payload or {}),
                                           "dir": self._launch.task_path(task_dir)}
                if output is not None:
                    output_limit = min(max_bytes if max_bytes is not None else REPLY_LIMIT, self.limits.file_mb * 2**20)
                    request["output"] = {"name": output, "limit": output_limit}
                    allowance = 4 * ((output_limit + 2) // 3)   # the output file, base64-encoded
                else:
                    allowance = 0
                data = json.dumps(request).encode("utf-8") + b"\n"
                self.tasks_run += 1
                deadline = time.monotonic() + seconds
                try:
                    assert self._proc is not None and self._proc.stdin is not None and self._replies is not None
                    send(self._proc.stdin.fileno(), data, deadline)
                    reply = self._replies.read_message(deadline, min(reply_limit, REPLY_LIMIT) + allowance)
                except Deadline:
                    self._kill()
                    raise TaskTimeout(f"timed out after {seconds:g} s") from None
                except ChannelClosed:
                    raise self._crash_error() from None
                except ProtocolError as exc:
                    self._kill()
                    raise WorkerCrashed(f"the worker broke the reply protocol ({exc})") from None
                except BaseException:
                    self._kill()
                    raise
                # More output than one reply means something besides the worker loop wrote to
                # the channel: this process is not trusted with another task.
                tampered = self._replies.unread
                try:
                    result = read_result(reply, request_id, self.limits)
                    fetched = decode_output(reply, output, output_limit) if output is not None else None
                except WorkerCrashed:
                    self._kill()
                    raise
            finally:
                shutil.rmtree(task_dir, ignore_errors=True)
            if tampered:
                self._kill()
            return result, fetched

    def stop(self) -> None:
        """Kill the current process (the next run() starts a fresh one); the worker stays usable."""
        with self._lock:
            self._discard()

    def close(self) -> None:
        """Kill the worker and remove its scratch directory; safe to call more than once."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            self._closed = True
            self._discard()
            if self._lease is not None:
                self._lease.release()
                self._lease = None

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

    def _spawn(self) -> None:
        level = choose_level(self.limits.isolation)
        user = self._lease_user()
        read_fd, write_fd = os.pipe()
        self._replies = ReplyReader(read_fd)
        self._drain = None
        try:
            launch = plan_launch(self.kind, self.ops, self.limits, level, user, write_fd, self.extra_pythonpath)
        except BaseException:
            os.close(write_fd)
            raise
        self._launch = launch
        try:
            # bwrap --die-with-parent ties the worker's life to the *thread* that forks it, so
            # every worker is forked by one thread that lives as long as the grader.
            self._proc = _SPAWNER.submit(
                subprocess.Popen, launch.command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, pass_fds=launch.pass_fds, env=launch.env, cwd=launch.cwd, close_fds=True,
                start_new_session=True, preexec_fn=launch.preexec,
            ).result()
        except (OSError, subprocess.SubprocessError) as exc:
            raise WorkerStartFailed(one_line(f"could not start the {self.kind} worker: {exc}")) from None
        finally:
            os.close(write_fd)
            launch.started()
        os.set_blocking(read_fd, False)
        assert self._proc.stdin is not None and self._proc.stderr is not None
        os.set_blocking(self._proc.stdin.fileno(), False)
        self._drain = StderrDrain(self._proc.stderr, launch.base / "worker.log", os.environ.get("GRADER_DEBUG") == "1")
        self._drain.start()

    def _sandbox_pid(self) -> int:
        """The host pid of the sandbox's first process (bwrap reports it), else the worker's own."""
        assert self._proc is not None and self._launch is not None
        if self._launch.info_read is not None:
            info = read_bwrap_info(self._launch.info_read)
            if isinstance(info.get("child-pid"), int):
                return info["child-pid"]
        return self._proc.pid

    def _startup_failure(self) -> str:
        status = self._wait_exit()
        detail = ""
        if self._drain is not None:
            self._drain.join(1.0)
            lines = [line for line in self._drain.tail.decode("utf-8", "replace").splitlines() if line.strip()]
            detail = f": {lines[-1]}" if lines else ""
        return one_line(f"the {self.kind} worker failed to start ({status}){detail}")

    def _wait_exit(self) -> str:
        assert self._proc is not None
        try:
            code = self._proc.wait(CRASH_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self._kill_group()
            self._proc.wait()
            return "closed its reply channel"
        if code < 0:
            return f"signal {signal_name(-code)}"
        return f"exit code {code}"

    def _crash_error(self) -> SandboxError:
        """The error for a worker whose reply channel closed mid-task; reaps it."""
        assert self._proc is not None
        try:
            code: int | None = self._proc.wait(CRASH_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        self._discard()
        return crash_error(code, self.limits)

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
        if self._replies is not None:
            self._replies.close()
            self._replies = None
        if self._drain is not None:
            self._drain.stop()
            self._drain = None
        if self._launch is not None:
            self._launch.abandon()
            shutil.rmtree(self._launch.base, ignore_errors=True)
            self._launch = None
