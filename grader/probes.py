"""Operations run inside sandboxed worker processes (``grader.worker``).

Everything here executes next to untrusted files, so it lives only in worker
processes. ``OPS`` maps an operation name to ``fn(payload, task_dir) -> dict``;
file names in payloads are relative to ``task_dir``, the worker's private
scratch directory, into which the parent copied the student's file. Results
are plain JSON; arrays travel as ``.npy`` / ``.npz`` files in ``task_dir``
and are read back by the parent with ``allow_pickle=False``.

TensorFlow is imported lazily, so the same module serves the "plain" worker
that runs student Python without it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

PROBE_BATCH = 3
PROBE_STEPS = (12, 17)     # two lengths, so "same time axis" is tested, not assumed
VIDEO_DEFAULTS = (6, 32, 32, 3)
LSTM_CASES = ((4, 3, 5), (2, 7, 3), (1, 1, 8))   # (batch, input_dim, units)
MAX_PREDICT_BYTES = 64 * 1024 * 1024


def _np():
    import numpy as np

    return np


_CACHE: dict[str, Any] = {}
_LSTM_CASES: dict[tuple, dict[str, Any]] = {}


def _load(task_dir: Path, file: str):
    """Load the model safely; the last model is kept, so probing then predicting loads it once."""
    import hashlib

    import keras

    path = task_dir / os.path.basename(file)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() + path.suffix
    if _CACHE.get("digest") == digest:
        return _CACHE["model"]
    _CACHE.clear()
    keras.backend.clear_session()
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files
        raise RuntimeError(f"Keras could not load the file: {_error_line(exc)}") from None
    _CACHE.update(digest=digest, model=model)
    return model


def _probe_inputs(kind: str, declared: list | None) -> list[tuple[int, ...]]:
    """Input shapes to run: the declared shape with None filled in (two lengths for a free time axis)."""
    forecaster = kind in ("forecaster", "stable_forecaster", "conv_forecaster")
    if not declared:
        declared = {"vec2seq": [None, 4], "video_classifier": [None, None, None, None, 3]}.get(
            kind, [None, None, 1 if forecaster else 3])
    dims = list(declared[1:])
    if len(declared) == 5:
        dims = [d if d is not None else default for d, default in zip(dims, VIDEO_DEFAULTS)]
    elif len(declared) == 3 and dims[0] is None:
        features = dims[1] if dims[1] is not None else 1
        steps = (56,) if forecaster else PROBE_STEPS
        return [(PROBE_BATCH, n, features) for n in steps]
    dims = [d if d is not None else 4 for d in dims]
    return [(PROBE_BATCH, *dims)]


def _error_line(exc: BaseException) -> str:
    """The informative line of a Keras/TensorFlow exception, without colour codes."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception encountered", "Arguments received", "•", "Traceback"))]
    return (useful or lines or [type(exc).__name__])[0][:240]


def probe_model(payload: dict, task_dir: Path) -> dict:
    """Load the model safely and run it on inputs of known shape; report shapes and value statistics."""
    np = _np()
    model = _load(task_dir, payload["file"])
    outputs = model.outputs if getattr(model, "outputs", None) is not None else None
    if outputs is not None and len(outputs) != 1:
        return {"outputs": len(outputs), "runs": []}
    rng = np.random.default_rng(0)
    runs = []
    for shape in _probe_inputs(payload["kind"], payload.get("declared")):
        x = rng.normal(size=shape).astype("float32")
        try:
            y = model(x, training=False)
        except Exception as exc:
            return {"outputs": 1, "runs": [], "error": f"the model fails on input of shape {tuple(shape)}: {_error_line(exc)}"}
        if isinstance(y, (list, tuple, dict)):
            return {"outputs": len(y), "runs": []}
        y = np.asarray(y, dtype="float64")
        finite = bool(np.isfinite(y).all())
        run: dict[str, Any] = {"input_shape": list(shape), "output_shape": list(y.shape), "finite": finite}
        if finite and y.size:
            run["min"] = float(y.min())
            run["max"] = float(y.max())
            run["row_sum_error"] = float(np.abs(y.sum(axis=-1) - 1.0).max())
        runs.append(run)
    return {"outputs": 1, "runs": runs}


def predict(payload: dict, task_dir: Path) -> dict:
    """Predict on ``payload['inputs']`` (.npy) in batches; write ``payload['out']`` (.npy)."""
    np = _np()
    model = _load(task_dir, payload["file"])
    inputs = np.load(task_dir / os.path.basename(payload["inputs"]), allow_pickle=False)
    batch = int(payload.get("batch_size", 256))
    parts = []
    for start in range(0, len(inputs), batch):
        y = model(inputs[start:start + batch], training=False)
        if isinstance(y, (list, tuple, dict)):
            raise ValueError(f"the model returns {len(y)} outputs; it must return one tensor")
        parts.append(np.asarray(y, dtype="float32"))
    result = np.concatenate(parts, axis=0) if parts else np.zeros((0, 7), "float32")
    if result.nbytes > MAX_PREDICT_BYTES:
        raise ValueError(f"the predictions take {result.nbytes >> 20} MiB; expected a (windows, 7) forecast")
    np.save(task_dir / os.path.basename(payload["out"]), result, allow_pickle=False)
    return {"shape": list(result.shape)}


def keras_lstm_cases(payload: dict, task_dir: Path) -> dict:
    """Random inputs and weights, and Keras's own LSTMCell output for each, saved to ``cases.npz``."""
    np = _np()
    import keras

    cases = [tuple(c) for c in payload.get("cases", LSTM_CASES)]
    key = (int(payload.get("seed", 0)), tuple(cases))
    if key in _LSTM_CASES:
        np.savez(task_dir / "cases.npz", **_LSTM_CASES[key])
        return {"cases": [list(c) for c in cases]}
    rng = np.random.default_rng(key[0])
    arrays: dict[str, Any] = {}
    for n, (batch, input_dim, units) in enumerate(cases):
        x = rng.normal(size=(batch, input_dim)).astype("float32")
        h = rng.normal(scale=0.5, size=(batch, units)).astype("float32")
        c = rng.normal(scale=0.5, size=(batch, units)).astype("float32")
        cell = keras.layers.LSTMCell(units)
        cell.build((batch, input_dim))
        kernel = rng.normal(scale=0.5, size=(input_dim, 4 * units)).astype("float32")
        recurrent = rng.normal(scale=0.5, size=(units, 4 * units)).astype("float32")
        bias = rng.normal(scale=0.5, size=(4 * units,)).astype("float32")
        cell.set_weights([kernel, recurrent, bias])
        out, (h_new, c_new) = cell(x, [h, c])
        for key, value in (("x", x), ("h", h), ("c", c), ("kernel", kernel), ("recurrent_kernel", recurrent),
                           ("bias", bias), ("h_expected", h_new), ("c_expected", c_new)):
            arrays[f"{n}_{key}"] = np.asarray(value, dtype="float64")
    _LSTM_CASES[key] = arrays
    np.savez(task_dir / "cases.npz", **arrays)
    return {"cases": [list(c) for c in cases]}


def run_lstm_step(payload: dict, task_dir: Path) -> dict:
    """Import the student's file and call its ``lstm_step`` on every case of ``cases.npz``.

    Runs only in a fresh "plain" worker: the student's code never shares a
    process with anything else. Outputs go to ``outputs.npz``; the parent compares.
    """
    np = _np()
    path = task_dir / os.path.basename(payload["file"])
    spec = importlib.util.spec_from_file_location("student_lstm_cell", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["student_lstm_cell"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise RuntimeError(f"importing {path.name} failed: {type(exc).__name__}: {str(exc)[:200]}") from None
    step = getattr(module, "lstm_step", None)
    if not callable(step):
        raise RuntimeError(f"{path.name} defines no function lstm_step")
    with np.load(task_dir / "cases.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    outputs: dict[str, Any] = {}
    errors: dict[str, str] = {}
    n_cases = len({key.split("_", 1)[0] for key in arrays})
    for n in range(n_cases):
        args = [arrays[f"{n}_{key}"].copy() for key in ("x", "h", "c", "kernel", "recurrent_kernel", "bias")]
        try:
            result = step(*args)
            h_new, c_new = result
            outputs[f"{n}_h"] = np.asarray(h_new, dtype="float64")
            outputs[f"{n}_c"] = np.asarray(c_new, dtype="float64")
        except Exception as exc:
            errors[str(n)] = f"lstm_step raised {type(exc).__name__}: {str(exc)[:200]}"
    np.savez(task_dir / "outputs.npz", **outputs)
    return {"errors": errors}


def warmup() -> None:
    """Import and exercise what grading needs, before the worker drops privileges."""
    import math, typing, functools, itertools, dataclasses, collections  # noqa: F401,E401
    np = _np()
    if os.environ.get("GRADER_WORKER_KIND", "keras") != "keras":
        return
    import tempfile

    import h5py  # noqa: F401
    import keras

    with tempfile.TemporaryDirectory() as tmp:
        model = keras.Sequential([keras.Input((None, 1)), keras.layers.LSTM(2), keras.layers.Dense(1)])
        for name in ("w.keras", "w.h5"):
            model.save(os.path.join(tmp, name))
            loaded = keras.saving.load_model(os.path.join(tmp, name), compile=False, safe_mode=True)
            loaded(np.zeros((1, 3, 1), "float32"), training=False)
        cell = keras.layers.LSTMCell(2)
        cell(np.zeros((1, 1), "float32"), [np.zeros((1, 2), "float32")] * 2)
    keras.backend.clear_session()


OPS = {
    "probe_model": probe_model,
    "predict": predict,
    "keras_lstm_cases": keras_lstm_cases,
    "run_lstm_step": run_lstm_step,
}
WARMUP = warmup
