"""Reading what a sandboxed worker sends back: bounded, and checked against what the op returns.

A worker runs next to a student's file, so every byte it returns may be forged: a
reply can be any JSON, an ``.npy`` file can declare a shape of terabytes in a
few bytes of header. Nothing here materialises data before its declared size and
type have been checked against what the op is supposed to produce; whatever fails
the check raises :class:`UntrustedOutput` with one line a student can read.
"""

from __future__ import annotations

import io
import math
from typing import Any, Mapping

import numpy as np

from grader.core.errors import GraderError
from grader.sandbox.errors import one_line

NPY_HEADER_LIMIT = 4096
PROBE_REPLY_LIMIT = 16 * 1024
PREDICT_REPLY_LIMIT = 4 * 1024
MAX_RANK = 8


class UntrustedOutput(GraderError, ValueError):
    """What a worker returned is not what its op produces; ``str(e)`` is one line."""


def read_npy(data: bytes, *, dtype: str, max_bytes: int, name: str = "the output") -> np.ndarray:
    """The array in ``data`` (an ``.npy`` file), read only after its header passed the checks.

    The header must declare ``dtype`` exactly, a shape of at most :data:`MAX_RANK` axes
    whose data takes at most ``max_bytes``, and the file must hold exactly that data.
    """
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, declared = np.lib.format.read_array_header_1_0(stream, max_header_size=NPY_HEADER_LIMIT)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, declared = np.lib.format.read_array_header_2_0(stream, max_header_size=NPY_HEADER_LIMIT)
        else:
            raise UntrustedOutput(f"{name} is not a NumPy array file")
    except UntrustedOutput:
        raise
    except (ValueError, OSError, EOFError, SyntaxError, TypeError):
        raise UntrustedOutput(f"{name} is not a NumPy array file") from None
    if declared != np.dtype(dtype):
        raise UntrustedOutput(f"{name} holds {_dtype_name(declared)} values; expected {dtype}")
    if not isinstance(shape, tuple) or len(shape) > MAX_RANK or \
            not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise UntrustedOutput(f"{name} declares an impossible shape")
    nbytes = math.prod(shape) * declared.itemsize
    if nbytes > max_bytes:
        raise UntrustedOutput(f"{name} declares shape {shape} ({nbytes:,} bytes), over the {max_bytes:,} "
                              "bytes this output can take")
    offset = stream.tell()
    if len(data) - offset != nbytes:
        raise UntrustedOutput(f"{name} declares shape {shape} but holds {len(data) - offset:,} bytes of data, "
                              f"not {nbytes:,}")
    array = np.frombuffer(data, dtype=declared, count=math.prod(shape), offset=offset)
    return array.reshape(shape, order="F" if fortran else "C").copy()


def _dtype_name(dtype: Any) -> str:
    try:
        return str(np.dtype(dtype))
    except TypeError:
        return "unknown"


# --------------------------------------------------------------------------- the probe_model reply

def _int_list(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or len(value) > MAX_RANK or \
            not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**40 for n in value):
        raise UntrustedOutput(f"the probe result's {what} is not a shape")
    return list(value)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UntrustedOutput(f"the probe result's {what} is not a number")
    return float(value)


def validate_probe(reply: Mapping[str, Any]) -> dict[str, Any]:
    """The probe_model result with only the fields and types the checks read; UntrustedOutput otherwise."""
    outputs = reply.get("outputs")
    if isinstance(outputs, bool) or not isinstance(outputs, int) or not 0 <= outputs < 2**16:
        raise UntrustedOutput("the probe result does not say how many outputs the model has")
    runs = reply.get("runs")
    if not isinstance(runs, list) or len(runs) > 4:
        raise UntrustedOutput("the probe result holds no list of runs")
    clean: dict[str, Any] = {"outputs": outputs, "runs": []}
    for run in runs:
        if not isinstance(run, dict):
            raise UntrustedOutput("a probe run is not an object")
        entry: dict[str, Any] = {"input_shape": _int_list(run.get("input_shape"), "input shape"),
                                 "output_shape": _int_list(run.get("output_shape"), "output shape"),
                                 "finite": bool(run.get("finite") is True)}
        for key in ("min", "max", "row_sum_error"):
            if key in run:
                entry[key] = _number(run[key], key)
        clean["runs"].append(entry)
    error = reply.get("error")
    if error is not None:
        if not isinstance(error, str):
            raise UntrustedOutput("the probe result's error is not text")
        clean["error"] = one_line(error, 300)
    inputs = reply.get("inputs")
    if inputs is not None:
        if isinstance(inputs, bool) or not isinstance(inputs, int) or not 0 <= inputs < 2**16:
            raise UntrustedOutput("the probe result's input count is not a small integer")
        names = reply.get("input_names") or []
        if not isinstance(names, list) or len(names) > 8 or not all(isinstance(n, str) for n in names):
            raise UntrustedOutput("the probe result's input names are not a short list of text")
        clean["inputs"] = inputs
        clean["input_names"] = [one_line(name, 64) for name in names]
    return clean
