"""Why a sandboxed task produced no result: the SandboxError family, each with one line a student can read."""

from __future__ import annotations

import signal

from grader.core.errors import GraderError
from grader.core.terminal import printable  # text from a worker never carries a terminal escape
from grader.sandbox.limits import Limits
from grader.sandbox.worker import EXIT_OUT_OF_MEMORY, MESSAGE_LIMIT

__all__ = ["SandboxError", "TaskTimeout", "MemoryExceeded", "WorkerCrashed", "TaskFailed", "WorkerStartFailed"]


class SandboxError(GraderError):
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


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` with its whitespace collapsed and control characters replaced, cut to ``limit`` characters."""
    line = printable(" ".join(str(text).split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def memory_message(limits: Limits) -> str:
    """The message of a MemoryExceeded under ``limits``."""
    return f"exceeded the {limits.memory_mb} MiB memory limit"


def signal_name(number: int) -> str:
    """``"SIGKILL"`` for 9; ``"signal N"`` for a number that names no signal."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def crash_error(code: int | None, limits: Limits) -> SandboxError:
    """The error for a worker that ended mid-task with return code ``code`` (None: it had to be killed)."""
    if code is None:
        return WorkerCrashed("the worker process closed its reply channel and was killed")
    if code == EXIT_OUT_OF_MEMORY:
        return MemoryExceeded(memory_message(limits))
    if code > 128 and code - 128 in signal.valid_signals():
        code = 128 - code   # bubblewrap (and a namespace init) report a signal death as 128 + signal
    if code >= 0:
        return WorkerCrashed(f"the worker process exited unexpectedly (exit code {code})")
    name = signal_name(-code)
    message = f"the worker process crashed (signal {name})"
    if -code in (signal.SIGABRT, signal.SIGKILL):
        message += f", possibly out of memory (limit {limits.memory_mb} MiB)"
    return WorkerCrashed(message)
