"""How strongly a worker is isolated, and what a caller may settle for.

Two levels:

* ``"bubblewrap"`` (full): the worker runs in its own filesystem view and namespaces
  (:mod:`grader.sandbox.bwrap`), as its own uid, under a seccomp filter and, where the
  machine allows, a cgroup;
* ``"process"`` (weak): today's process isolation, for machines without bubblewrap or
  without the right to create namespaces (a student's laptop, macOS, some containers): a
  scrubbed environment, rlimits and, as root, an empty network namespace, a PID namespace
  and a uid of its own. It does not hide the host's files.

Callers say what they require: ``"full"`` refuses to start a worker without bubblewrap
(``grade`` and ``batch``); ``"auto"`` takes the strongest level the machine offers
(``check``, ``demo``, Gradescope, ``--weak-sandbox``); ``"weak"`` forces process isolation
(tests and benchmarks that compare the two).
"""

from __future__ import annotations

import os

from grader.core.isolation import FULL, WEAK, describe_isolation
from grader.sandbox.bwrap import bwrap_usable
from grader.sandbox.errors import WorkerStartFailed

__all__ = ["FULL", "WEAK", "REQUIREMENTS", "SandboxUnavailable", "choose_level", "weak_notice", "isolation_summary",
           "describe_isolation"]

REQUIREMENTS = ("auto", "full", "weak")


class SandboxUnavailable(WorkerStartFailed):
    """The full sandbox was required and this machine cannot provide it; the message says why and what to do."""


def choose_level(requirement: str) -> str:
    """The isolation level a worker gets under ``requirement`` ("auto", "full" or "weak") on this machine."""
    if requirement not in REQUIREMENTS:
        raise ValueError(f"unknown sandbox requirement {requirement!r} (expected one of: {', '.join(REQUIREMENTS)})")
    if requirement == "weak":
        return WEAK
    reason = bwrap_usable()
    if reason is None:
        return FULL
    if requirement == "full":
        raise SandboxUnavailable(f"{reason}; student code is only run in the full sandbox. Install it "
                                 "(apt-get install bubblewrap) or, on a machine you trust with this code, "
                                 "pass --weak-sandbox")
    return WEAK


def weak_notice() -> str | None:
    """The one line to print when "auto" falls back to process isolation here; None when it does not."""
    reason = bwrap_usable()
    if reason is None:
        return None
    return (f"{reason}, so student code runs with process isolation only "
            "(it can read this machine's files); install bubblewrap for the full sandbox")


def isolation_summary(report: dict) -> dict:
    """The part of a worker's isolation report worth keeping with a grade: the level and what was applied."""
    own_uid = os.geteuid()
    uid = report.get("uid")
    return {
        "level": report.get("level", WEAK),
        "uid_per_worker": isinstance(uid, int) and uid != own_uid and uid != 0,
        "seccomp": bool(report.get("seccomp")),
        "cgroup": report.get("cgroup"),
        "netns": bool(report.get("netns")),
        "pidns": bool(report.get("pidns")),
        "no_new_privs": bool(report.get("no_new_privs")),
        "memory_mb": report.get("rlimit_as_mb"),
    }
