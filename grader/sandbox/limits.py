"""What one sandboxed worker may use, and the kinds of worker there are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from grader.sandbox.worker import KINDS

__all__ = ["Limits", "check_kind"]


@dataclass(frozen=True)
class Limits:
    """What one worker may use: wall clock per task, address space and file size."""

    seconds: float = 60.0
    memory_mb: int = 4096
    file_mb: int = 256

    @classmethod
    def from_course(cls, limits_cfg: Mapping[str, Any], kind: str) -> Limits:
        """Limits for a ``kind`` worker from a course's ``[limits]`` table (defaults for absent keys)."""
        check_kind(kind)
        memory_key, memory_default = ("memory_mb", 4096) if kind == "keras" else ("plain_memory_mb", 1024)
        return cls(seconds=float(limits_cfg.get("task_seconds", 60.0)),
                   memory_mb=int(limits_cfg.get(memory_key, memory_default)),
                   file_mb=int(limits_cfg.get("file_mb", 256)))


def check_kind(kind: str) -> None:
    """Return if ``kind`` is a worker kind (:data:`grader.sandbox.worker.KINDS`); raise ValueError otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown worker kind {kind!r} (expected one of: {', '.join(KINDS)})")
