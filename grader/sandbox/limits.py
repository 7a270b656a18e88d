"""What one sandboxed worker may use, and the kinds of worker there are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from grader.core.config import LimitsConfig
from grader.sandbox.uids import UidRange
from grader.sandbox.worker import KINDS

__all__ = ["Limits", "check_kind"]


_DEFAULTS = LimitsConfig.from_table({})


@dataclass(frozen=True)
class Limits:
    """What one worker may use and how it is boxed: wall clock per task, address space, file
    size, private scratch (``/tmp``), the uids workers run as, and the isolation required
    (:mod:`grader.sandbox.levels`: "auto", "full" or "weak").

    The defaults are the course's (:data:`grader.core.config.DEFAULT_CONFIG`), for a Keras worker.
    """

    seconds: float = _DEFAULTS.task_seconds
    memory_mb: int = _DEFAULTS.memory_mb
    file_mb: int = _DEFAULTS.file_mb
    scratch_mb: int = _DEFAULTS.scratch_mb
    uids: UidRange = UidRange(_DEFAULTS.first_uid, _DEFAULTS.uid_count)
    isolation: str = "auto"

    @classmethod
    def from_course(cls, limits_cfg: LimitsConfig | Mapping[str, Any], kind: str, isolation: str = "auto") -> Limits:
        """Limits for a ``kind`` worker from a course's ``[limits]`` (a LimitsConfig or the raw table)."""
        check_kind(kind)
        cfg = LimitsConfig.from_table(limits_cfg)
        uids = UidRange(cfg.first_uid, cfg.uid_count)
        return cls(seconds=cfg.task_seconds, memory_mb=cfg.memory_mb if kind == "keras" else cfg.plain_memory_mb,
                   file_mb=cfg.file_mb, scratch_mb=cfg.scratch_mb, uids=uids, isolation=isolation)


def check_kind(kind: str) -> None:
    """Return if ``kind`` is a worker kind (:data:`grader.sandbox.worker.KINDS`); raise ValueError otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown worker kind {kind!r} (expected one of: {', '.join(KINDS)})")
