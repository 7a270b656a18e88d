"""Ops of the header worker: libhdf5 walks a student's HDF5 file here, never in the grader.

A plain (no TensorFlow) sandboxed worker serves ``hdf5_headers``: it runs the static
walker :func:`grader.static.hdf5.check_hdf5` on the copy in its task folder and returns the
root attributes that are strings, or the refusal. It also serves ``weight_samples`` for
``grader similarity``: after the same walk, a fingerprint of every weight tensor (its shape,
the SHA-256 of its float32 values, and a fixed sample of them). The grader reads every
reply as untrusted (:mod:`grader.sandbox.headers`).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from grader.static.errors import BrokenModel, InspectionError, UnsafeModel
from grader.static.hdf5 import check_hdf5
from grader.static.limits import InspectionLimits

FILE = "headers.h5"
SAMPLE = 256                  # values kept of each tensor: all of a smaller one, else evenly spaced
MAX_TENSORS = 64              # tensors fingerprinted per file (a model with more is cut, and says so)
MAX_ELEMENTS = 16 * 2**20     # a larger tensor is listed by shape only
OPTIMIZER_GROUPS = ("optimizer", "optimizer_weights")    # Keras 3 .keras weights; legacy .h5


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


def weight_samples(payload: dict, task_dir: Path) -> dict:
    """For each file of ``payload["files"]`` (its name in the task folder, and a label): the fingerprint
    ``{"tensors": [{"shape", "sha256", "sample"}, ...], "cut": bool}`` of its weight tensors, in file
    order, or a refusal ``{"refused": "unsafe" | "broken", "message": ...}`` as for the headers.

    ``sha256`` is taken over the values as C-ordered float32 (the same weights give the same
    digest whatever the file's names, order or metadata); ``sample`` holds the values, to six
    significant digits, at positions fixed by the size alone, so two tensors of one shape are
    sampled alike.
    """
    limits = InspectionLimits(**payload["limits"])
    models = {}
    for name, label in payload["files"]:
        try:
            check_hdf5(task_dir / name, str(label), limits, True)
        except UnsafeModel as exc:
            models[name] = {"refused": "unsafe", "message": str(exc)}
            continue
        except (BrokenModel, InspectionError) as exc:
            models[name] = {"refused": "broken", "message": str(exc)}
            continue
        models[name] = _fingerprint(task_dir / name)
    return {"models": models}


def _fingerprint(path: Path) -> dict:
    import h5py
    import numpy as np

    found: list = []
    with h5py.File(path, "r", locking=False) as handle:
        # check_hdf5 refused links, so visititems reaches every dataset once, by its hard link.
        # The optimizer's state is not the model: a re-saved copy may carry none of it.
        handle.visititems(lambda name, item: found.append(item) if isinstance(item, h5py.Dataset)
                          and name.split("/", 1)[0] not in OPTIMIZER_GROUPS else None)
        tensors = []
        for item in found[:MAX_TENSORS]:
            if item.dtype.kind not in "fiu" or item.size == 0:
                continue
            entry = {"shape": [int(n) for n in item.shape], "sha256": None, "sample": []}
            if item.size <= MAX_ELEMENTS:
                values = np.ascontiguousarray(item[()], dtype="float32").reshape(-1)
                entry["sha256"] = hashlib.sha256(values.tobytes()).hexdigest()
                picked = values if values.size <= SAMPLE else values[np.linspace(0, values.size - 1, SAMPLE).astype("int64")]
                entry["sample"] = [float(f"{v:.6g}") if math.isfinite(v) else 0.0 for v in picked.tolist()]
            tensors.append(entry)
    return {"tensors": tensors, "cut": len(found) > MAX_TENSORS}


def _warmup() -> None:
    import h5py  # noqa: F401  (imported before the worker drops its privileges)


OPS = {"hdf5_headers": hdf5_headers, "weight_samples": weight_samples}
WARMUP = _warmup
