"""The grader's HDF5 header reader: the walk runs in a sandboxed worker, the reply is checked here.

libhdf5 is C code, and an HDF5 file is a student's input; parsing one in the grader's own
process (often root) is what the sandbox exists to avoid. :class:`SandboxHeaderReader` is a
:data:`grader.static.hdf5.HeaderReader`: it copies the file into a long-lived plain worker
(no TensorFlow: it starts in a fraction of a second), asks for its headers
(:mod:`grader.sandbox.header_ops`) and accepts only a bounded map of names to text, or a
one-line refusal. A worker that hangs, crashes or answers anything else costs that file only.
"""

from __future__ import annotations

import atexit
import dataclasses
import threading
from pathlib import Path
from typing import Any

from grader.sandbox.errors import SandboxError, one_line
from grader.sandbox.limits import Limits
from grader.sandbox.worker import MESSAGE_LIMIT, REPLY_LIMIT
from grader.static.errors import BrokenModel, UnsafeModel
from grader.static.limits import InspectionLimits

__all__ = ["SandboxHeaderReader", "shared_header_reader"]

SECONDS = 30.0
MAX_ATTRIBUTES = 64
MAX_RANK = 8


class SandboxHeaderReader:
    """Walks HDF5 headers in one sandboxed plain worker, started on first use and shared by threads."""

    def __init__(self, limits: Limits | None = None) -> None:
        base = limits if limits is not None else Limits.from_course({}, "plain")
        self.limits = dataclasses.replace(base, seconds=min(base.seconds, SECONDS))
        self._worker = None
        self._lock = threading.Lock()

    def _get_worker(self):
        from grader.sandbox.process import Worker

        with self._lock:
            if self._worker is None:
                self._worker = Worker("plain", self.limits, ops="grader.sandbox.header_ops")
            return self._worker

    def __call__(self, path: Path, label: str, limits: InspectionLimits, weights_only: bool) -> dict[str, str]:
        from grader.sandbox.header_ops import FILE

        payload = {"label": label, "weights_only": weights_only, "limits": dataclasses.asdict(limits)}
        try:
            reply = self._get_worker().run("hdf5_headers", payload, {FILE: path}, reply_limit=REPLY_LIMIT)
        except SandboxError as exc:
            raise BrokenModel(f"{label} could not be read safely ({exc}); save the model again") from None
        return _accept(reply, label)

    def weights(self, files: dict[str, Path], limits: InspectionLimits) -> dict[str, dict[str, Any] | str]:
        """Label -> the fingerprint of every weight tensor of that HDF5 file, in one round trip.

        A fingerprint is ``{"tensors": [{"shape", "sha256", "sample"}], "cut": bool}`` (see
        ``header_ops.weight_samples``), checked here for exactly that shape and its bounds;
        a file refused, or the whole call failing, gives that label a one-line reason instead.
        """
        from grader.sandbox.header_ops import MAX_TENSORS, SAMPLE

        names = {f"w{i}.h5": label for i, label in enumerate(files)}
        payload = {"files": [[name, label] for name, label in names.items()], "limits": dataclasses.asdict(limits)}
        try:
            reply = self._get_worker().run("weight_samples", payload, {name: files[label] for name, label in names.items()},
                                           reply_limit=REPLY_LIMIT)
        except SandboxError as exc:
            return {label: f"could not be read safely ({exc})" for label in files}
        models = reply.get("models") if isinstance(reply, dict) and set(reply) == {"models"} else None
        if not isinstance(models, dict) or set(models) != set(names):
            return {label: "the weight reader's reply could not be read" for label in files}
        out: dict[str, dict[str, Any] | str] = {}
        for name, label in names.items():
            try:
                if isinstance(models[name], dict) and "refused" in models[name]:
                    _accept(models[name], label)    # raises the refusal, checked as for headers
                out[label] = _accept_weights(models[name], label, MAX_TENSORS, SAMPLE)
            except (BrokenModel, UnsafeModel) as exc:
                out[label] = str(exc)
        return out

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None

    def __enter__(self) -> SandboxHeaderReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _accept(reply: Any, label: str) -> dict[str, str]:
    """The attributes in ``reply`` if it has exactly the promised shape; a refusal re-raised here."""
    unreadable = BrokenModel(f"{label}: the header reader's reply could not be read; save the model again")
    if not isinstance(reply, dict):
        raise unreadable
    if "refused" in reply:
        message = reply.get("message")
        if reply["refused"] not in ("unsafe", "broken") or not isinstance(message, str):
            raise unreadable
        line = one_line(message, MESSAGE_LIMIT)   # the file's own names may be in it: no control characters
        raise (UnsafeModel if reply["refused"] == "unsafe" else BrokenModel)(line)
    attrs = reply.get("attrs")
    if set(reply) != {"attrs"} or not isinstance(attrs, dict) or len(attrs) > MAX_ATTRIBUTES:
        raise unreadable
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in attrs.items()):
        raise unreadable
    return attrs


def _accept_weights(reply: Any, label: str, max_tensors: int, sample: int) -> dict[str, Any]:
    """``reply`` if it is a weight fingerprint within its bounds (every number finite); else BrokenModel."""
    import math

    unreadable = BrokenModel(f"{label}: the weight reader's reply could not be read")
    if not isinstance(reply, dict) or set(reply) != {"tensors", "cut"} or not isinstance(reply["cut"], bool):
        raise unreadable
    tensors = reply["tensors"]
    if not isinstance(tensors, list) or len(tensors) > max_tensors:
        raise unreadable
    for tensor in tensors:
        if not isinstance(tensor, dict) or set(tensor) != {"shape", "sha256", "sample"}:
            raise unreadable
        shape, digest, values = tensor["shape"], tensor["sha256"], tensor["sample"]
        if not isinstance(shape, list) or len(shape) > MAX_RANK or \
                not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise unreadable
        if digest is not None and not (isinstance(digest, str) and len(digest) == 64
                                       and all(c in "0123456789abcdef" for c in digest)):
            raise unreadable
        if not isinstance(values, list) or len(values) > sample or \
                not all(isinstance(v, float) and math.isfinite(v) for v in values):
            raise unreadable
    return reply


_shared: SandboxHeaderReader | None = None
_shared_lock = threading.Lock()


def shared_header_reader() -> SandboxHeaderReader:
    """One reader for the whole process (default limits, strongest isolation available), for
    checks that run without a prober (``grader check --static-only``); closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SandboxHeaderReader()
            atexit.register(_shared.close)
        return _shared
