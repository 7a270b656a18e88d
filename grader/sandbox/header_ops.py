"""Ops of the header worker: libhdf5 walks a student's HDF5 file here, never in the grader.

A plain (no TensorFlow) sandboxed worker serves ``hdf5_headers``: it runs the static
walker :func:`grader.static.hdf5.check_hdf5` on the copy in its task folder and returns the
root attributes that are strings, or the refusal. The grader reads the reply as untrusted
(:mod:`grader.sandbox.headers`).
"""

from __future__ import annotations

from pathlib import Path

from grader.static.errors import BrokenModel, InspectionError, UnsafeModel
from grader.static.hdf5 import check_hdf5
from grader.static.limits import InspectionLimits

FILE = "headers.h5"


def hdf5_headers(payload: dict, task_dir: Path) -> dict:
    """``{"attrs": {name: text}}`` or ``{"refused": "unsafe" | "broken", "message": ...}``."""
    limits = InspectionLimits(**payload["limits"])
    try:
        attrs = check_hdf5(task_dir / FILE, str(payload["label"]), limits, bool(payload["weights_only"]))
    except UnsafeModel as exc:
        return {"refused": "unsafe", "message": str(exc)}
    except (BrokenModel, InspectionError) as exc:
        return {"refused": "broken", "message": str(exc)}
    return {"attrs": attrs}


def _warmup() -> None:
    import h5py  # noqa: F401  (imported before the worker drops its privileges)


OPS = {"hdf5_headers": hdf5_headers}
WARMUP = _warmup
