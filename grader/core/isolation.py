"""The isolation levels a grading run can record, and how a person reads a recorded one.

The sandbox (:mod:`grader.sandbox.levels`) decides and applies the level; the gradebook
stores the record (``grading_runs.isolation``); reports and Gradescope show it with
:func:`describe_isolation`.
"""

from __future__ import annotations

__all__ = ["FULL", "WEAK", "describe_isolation"]

FULL = "bubblewrap"
WEAK = "process"


def describe_isolation(record: dict | None) -> str:
    """One line for a person: how a run's student code was isolated."""
    if not record:
        return "not recorded"
    if record.get("level") == FULL:
        parts = ["bubblewrap (own filesystem view, namespaces)"]
    else:
        parts = ["process isolation only (host files not hidden)"]
    if record.get("uid_per_worker"):
        parts.append("a uid per worker")
    if record.get("seccomp"):
        parts.append("seccomp")
    cgroup = record.get("cgroup")
    if isinstance(cgroup, dict) and cgroup:
        parts.append(f"cgroup v{cgroup.get('version')} ({', '.join(f'{k} {v}' for k, v in cgroup.items() if k != 'version')})")
    elif "cgroup" in record:
        parts.append("no cgroup")
    return ", ".join(parts)
