"""The size, count and depth bounds a file must stay within before anything in it is decoded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InspectionLimits:
    """Bounds applied before anything is decoded."""

    file_mb: int = 256
    config_mb: int = 8
    weights_mb: int = 256
    max_ratio: float = 100.0
    max_members: int = 64
    max_layers: int = 2000
    max_depth: int = 64
    max_h5_objects: int = 20000


DEFAULT_INSPECTION_LIMITS = InspectionLimits()
MB = 1024 * 1024
