"""Operations run inside sandboxed worker processes (``grader.sandbox.worker``).

Everything here executes next to untrusted files, so it lives only in worker
processes. ``OPS`` maps an operation name to ``fn(payload, task_dir) -> dict``;
file names in payloads are relative to ``task_dir``, the worker's private
scratch directory, into which the parent copied the student's file. Results
are plain JSON, small arrays included; the forecasts travel as a ``.npy`` file
in ``task_dir``. The parent trusts none of it: it bounds every reply's size and
checks every array's declared shape and dtype before reading it
(:mod:`grader.sandbox.untrusted`).

TensorFlow is imported lazily, so the same module serves the "plain" worker
that runs student Python without it. Keras 2 files that Keras 3 refuses are
loaded by :mod:`grader.sandbox.keras2`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

# Imported here, not when first needed: after dropping privileges the worker may no longer
# read the grader's own files, and a Keras 2 file can arrive with any task.
from grader.core.contract import DEFAULT_WINDOW
from grader.sandbox.keras2 import error_line, is_keras2_file, load_keras2

PROBE_BATCH = 3
# A free time axis is probed at the two shortest of these lengths the model accepts (two, so
# "same time axis" is tested, not assumed). Strided or dilated convolutions, pooling and
# cropping need a minimum length; the ladder finds it without reading every layer's arithmetic.
PROBE_LADDER = (8, 11, 16, 24, 32, 48, 64, 100, 128, 200, 256, 400, 512)
VIDEO_DEFAULTS = (6, 32, 32, 3)
LSTM_ARGUMENTS = ("x", "h", "c", "kernel", "recurrent_kernel", "bias")
MAX_PREDICT_BYTES = 64 * 1024 * 1024


def _np():
    import numpy as np

    return np


_CACHE: dict[str, Any] = {}
_LOADS = [0]


def _load(task_dir: Path, file: str, task: str | None = None):
    """Load the model safely; the last model is kept, so probing then predicting loads it once.

    A Keras 2 file that Keras 3 refuses is loaded from a sanitised copy instead (see
    :mod:`grader.sandbox.keras2`); ``task`` names the file to re-save when even that fails.
    """
    import hashlib

    import keras

    path = task_dir / os.path.basename(file)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() + path.suffix
    if _CACHE.get("digest") == digest:
        return _CACHE["model"]
    _CACHE.clear()
    _LOADS[0] += 1
    if _LOADS[0] % 64 == 0:
        # clear_session runs a full garbage collection: do it now and then, not per model.
        keras.backend.clear_session()
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files
        if not is_keras2_file(path):
            raise RuntimeError(f"Keras could not load the file: {error_line(exc)}") from None
        model = load_keras2(task_dir, path, task)
    _CACHE.update(digest=digest, model=model)
    return model


def _probe_inputs(kind: str, declared: list | None) -> list[tuple[int, ...]]:
    """Input shapes to run: the declared shape with None filled in (the ladder for a free time axis)."""
    forecaster = kind in ("forecaster", "stable_forecaster", "conv_forecaster")
    if not declared:
        declared = {"vec2seq": [None, 4], "video_classifier": [None, None, None, None, 3]}.get(
            kind, [None, None, 1 if forecaster else 3])
    batch = declared[0] if isinstance(declared[0], int) and declared[0] > 0 else PROBE_BATCH  # stateful: fixed
    dims = list(declared[1:])
    if len(declared) == 5:
        dims = [d if d is not None else default for d, default in zip(dims, VIDEO_DEFAULTS)]
    elif len(declared) == 3 and dims[0] is None:
        features = dims[1] if dims[1] is not None else 1
        ladder = [n for n in PROBE_LADDER if n > DEFAULT_WINDOW] if forecaster else list(PROBE_LADDER)
        steps = [DEFAULT_WINDOW, *ladder] if forecaster else ladder
        return [(batch, n, features) for n in steps]
    dims = [d if d is not None else 4 for d in dims]
    return [(batch, *dims)]


def model_failure(exc: BaseException, model: Any, shape: tuple[int, ...]) -> str:
    """One sentence for a student on why the model failed on an input of ``shape``; never TensorFlow's text.

    Keras names the class of the layer that raised ("Exception encountered when calling
    Conv1D.call()"); the sentence names the model's layers of that class and what went wrong.
    """
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = re.search(r"calling (\w+)\.call\(\)", text)
    where = ""
    if found:
        names = [layer.name for layer in model._flatten_layers(include_self=False)
                 if type(layer).__name__ == found.group(1)]
        shown = ", ".join(f"'{name}'" for name in names[:3]) + (" ..." if len(names) > 3 else "")
        where = f" in its {found.group(1)} layer{'s' if len(names) > 1 else ''} {shown}" if names else \
            f" in a {found.group(1)} layer"
    if re.search(r"empty output|negative|must be at least|too small|out of range", text, re.I):
        why = "the sequence becomes too short for the kernel sizes, strides, dilations or pooling"
    elif re.search(r"incompatible shapes|broadcast|shapes? .* (?:do not|don't) match|dimensions must be equal", text, re.I):
        why = "two tensors that are combined have different shapes"
    elif re.search(r"expected.*ndim|expected min_ndim|incompatible with the layer", text, re.I):
        why = "a layer receives a tensor of the wrong rank"
    else:
        why = f"it raised {type(exc).__name__}"
    steps = f" ({shape[1]} steps)" if len(shape) == 3 else ""
    return f"the model fails on input of shape {tuple(shape)}{steps}{where}: {why}"


def probe_model(payload: dict, task_dir: Path) -> dict:
    """Load the model safely and run it on inputs of known shape; report shapes and value statistics.

    A model with several inputs or outputs is not run: the reply says how many, and their names.
    A free time axis is tried along :data:`PROBE_LADDER` until the model accepts a length; the
    two shortest accepted lengths are reported (forecasters start at the window length).
    """
    np = _np()
    model = _load(task_dir, payload["file"], payload.get("task"))
    inputs = getattr(model, "inputs", None)
    if inputs is not None and len(inputs) != 1:
        return {"outputs": 1, "runs": [], "inputs": len(inputs),
                "input_names": [str(getattr(t, "name", "?"))[:64] for t in inputs][:8]}
    outputs = model.outputs if getattr(model, "outputs", None) is not None else None
    if outputs is not None and len(outputs) != 1:
        return {"outputs": len(outputs), "runs": []}
    rng = np.random.default_rng(0)
    shapes = _probe_inputs(payload["kind"], payload.get("declared"))
    ladder = len(shapes) > 1
    runs: list[dict[str, Any]] = []
    first_failure = ""
    for shape in shapes:
        x = rng.normal(size=shape).astype("float32")
        try:
            y = model(x, training=False)
        except Exception as exc:
            if not ladder or runs:
                return {"outputs": 1, "runs": [], "error": model_failure(exc, model, shape)}
            first_failure = first_failure or model_failure(exc, model, shape)
            continue                    # too short for this model: try the next length
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
        if len(runs) == 2 or not ladder:
            break
    if not runs:
        return {"outputs": 1, "runs": [], "error": f"{first_failure}; it also fails on every length up to "
                                                   f"{shapes[-1][1]} steps"}
    return {"outputs": 1, "runs": runs}


def predict(payload: dict, task_dir: Path) -> dict:
    """Predict on ``payload['inputs']`` (.npy); write ``payload['out']`` (.npy), rows in input order.

    ``payload['groups']`` (lists of row indices) says which rows may share a forward pass; by
    default all do. A model can mix the rows of one batch (``keras.ops.roll`` over axis 0 is a
    legal layer), so the grader never batches a held-out window with one whose inputs hold its
    targets. Each group is padded to the same size with repeats of its own rows, so the whole
    run is one traced function called once per group (:func:`forward_pass`).
    """
    np = _np()
    model = _load(task_dir, payload["file"], payload.get("task"))
    for layer in model._flatten_layers(include_self=False):
        # A stateful layer carries each row's state from one group's batch into the next: across groups.
        if getattr(layer, "stateful", False):
            raise RuntimeError(f"layer '{layer.name}' is stateful (stateful=True): its state would carry from one "
                               "held-out window into the next; forecasters are graded with stateful=False")
    inputs = np.load(task_dir / os.path.basename(payload["inputs"]), allow_pickle=False)
    count = len(inputs)
    groups = [np.asarray(group, dtype=np.int64) for group in payload.get("groups") or [range(count)] if len(group)]
    if not count or not groups:
        result = np.zeros((0, 7), "float32")
    else:
        size = max(len(group) for group in groups)
        order = np.concatenate([np.resize(group, size) for group in groups])
        if order.min() < 0 or order.max() >= count or len(np.unique(order)) != count:
            raise ValueError("the forward-pass groups do not cover the windows exactly once")
        batches = inputs[order].reshape(len(groups), size, *inputs.shape[1:])
        try:
            y = forward_pass(model, batches)
        except MultipleOutputs as exc:
            raise ValueError(f"the model returns {exc.args[0]} outputs; it must return one tensor") from None
        except Exception as exc:  # the student's layers raised: say so in one sentence
            raise RuntimeError(model_failure(exc, model, (size, *inputs.shape[1:]))) from None
        result = np.empty((count,) + y.shape[1:], dtype="float32")
        result[order] = y
    if result.nbytes > MAX_PREDICT_BYTES:
        raise ValueError(f"the predictions take {result.nbytes >> 20} MiB; expected a (windows, 7) forecast")
    np.save(os.path.basename(payload["out"]), result, allow_pickle=False)   # in the op's scratch folder (cwd)
    return {"shape": list(result.shape)}


class MultipleOutputs(Exception):
    """The model returned several tensors (their number is the argument)."""


def forward_pass(model: Any, batches: Any) -> Any:
    """The model's outputs on each batch of ``batches`` (groups, size, ...), concatenated in order (float32).

    What ``model.predict(..., batch_size=size)`` computes, one batch per forward pass, through
    one traced function, without predict's data pipeline, callbacks and distribution wrappers
    (0.1-0.2 s of CPU per model on the grading machine).
    """
    import tensorflow as tf

    np = _np()
    call = tf.function(lambda x: model(x, training=False))
    outputs = []
    for batch in batches:
        y = call(batch)
        if isinstance(y, (list, tuple, dict)):
            raise MultipleOutputs(len(y))
        outputs.append(np.asarray(y, dtype="float32"))
    return np.concatenate(outputs)


def _raised(exc: BaseException, path: Path) -> dict:
    """The exception's type name and the line of the student's file it came from; never its message.

    A message is whatever the student's code put there (file contents included), so it
    stays in the sandbox; the grader turns the name and line into the student's message.
    """
    import traceback

    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        line = exc.lineno
    return {"type": type(exc).__name__, "line": line}


def run_lstm_step(payload: dict, task_dir: Path) -> dict:
    """Import the student's file and call its ``lstm_step`` on the inputs of every case in the payload.

    Runs only in a fresh "plain" worker: the student's code never shares a process with
    anything else, and it is given inputs only (the grader keeps the expected values).
    Outputs of the expected (batch, units) shape come back as lists; anything else as its
    shape; exceptions as type name and line.
    """
    np = _np()
    path = task_dir / os.path.basename(payload["file"])
    cases = [{name: np.asarray(case[name], dtype="float64") for name in LSTM_ARGUMENTS}
             for case in payload["cases"]]
    spec = importlib.util.spec_from_file_location("student_lstm_cell", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["student_lstm_cell"] = module
    try:
        spec.loader.exec_module(module)
    except MemoryError:
        raise
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
        return {"import_error": _raised(exc, path)}
    step = getattr(module, "lstm_step", None)
    if not callable(step):
        return {"missing_function": True}
    results = []
    for case in cases:
        expected = (case["x"].shape[0], case["h"].shape[1])
        try:
            h_new, c_new = step(*(case[name].copy() for name in LSTM_ARGUMENTS))
            h_new = np.asarray(h_new, dtype="float64")
            c_new = np.asarray(c_new, dtype="float64")
        except MemoryError:
            raise
        except BaseException as exc:
            results.append({"raised": _raised(exc, path)})
            continue
        if h_new.shape != expected or c_new.shape != expected:
            # Only the ranks leave: the sizes are the student's to choose and could spell out a file.
            results.append({"h_rank": h_new.ndim, "c_rank": c_new.ndim})
            continue
        results.append({"h": h_new.tolist(), "c": c_new.tolist()})
    return {"results": results}


WARMUP_CELL = """
import numpy as np

def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    z = x @ kernel + h @ recurrent_kernel + bias
    parts = np.split(z, 4, axis=-1)
    gate = 1.0 / (1.0 + np.exp(-parts[0]))
    return gate * np.tanh(parts[2]), gate * c
"""


class _SealedImports:
    """A meta-path finder that refuses the grader's own packages to the code that runs after it."""

    SEALED = ("grader", "reference_models")

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in self.SEALED:
            raise ImportError(f"{name} cannot be imported here")
        return None


def seal_imports() -> None:
    """From now on this process imports nothing more of the grader's and cannot reach its reference cell.

    Called at the end of a plain worker's warm-up, before any student code: the worker has
    everything it needs loaded; the static policy of :mod:`grader.static.python_source` is the
    first line against a student's cell importing the grader, this is the second.
    """
    sys.meta_path.insert(0, _SealedImports())
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in _SealedImports.SEALED and hasattr(module, "__path__"):
            module.__path__ = []


def warmup() -> None:
    """Run every op once on our own files, before the worker drops privileges.

    After the drop the worker cannot read the Python installation any more, so
    every module an op imports lazily (numpy.random, zipfile codecs, Keras's
    saving and RNN code ...) must already be loaded: exercising the real ops is
    the only dependable way to load them all.
    """
    import math, typing, functools, itertools, dataclasses, collections, secrets  # noqa: F401,E401
    import tempfile

    np = _np()
    import numpy.random  # noqa: F401  (numpy 2 loads it lazily; it imports secrets)

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if os.environ.get("GRADER_WORKER_KIND", "keras") != "keras":
            rng = np.random.default_rng(0)
            case = {"x": rng.normal(size=(1, 2)).tolist(), "h": [[0.0, 0.0]], "c": [[0.0, 0.0]],
                    "kernel": rng.normal(size=(2, 8)).tolist(), "recurrent_kernel": rng.normal(size=(2, 8)).tolist(),
                    "bias": [0.0] * 8}
            # The NumPy a student's cell uses, but not an LSTM: the reference solution never enters the
            # process that runs student code.
            (tmp_path / "warmup_cell.py").write_text(WARMUP_CELL)
            run_lstm_step({"file": "warmup_cell.py", "cases": [case]}, tmp_path)
            broken = tmp_path / "warmup_broken.py"
            broken.write_text("raise ValueError('warm-up')\n")
            run_lstm_step({"file": broken.name, "cases": [case]}, tmp_path)
            sys.modules.pop("student_lstm_cell", None)
            seal_imports()
            return
        import h5py  # noqa: F401
        import keras

        model = keras.Sequential([keras.Input((None, 1)), keras.layers.LSTM(2), keras.layers.Dense(7)])
        np.save(tmp_path / "inputs.npy", np.zeros((2, DEFAULT_WINDOW, 1), "float32"), allow_pickle=False)
        # Each format is loaded and probed once, and one forecast pass runs: a forecaster's probe,
        # or the forecast of a model loaded from the other format, runs the same code again.
        for name in ("w.h5", "w.keras"):
            model.save(tmp_path / name)
            probe_model({"file": name, "kind": "seq2vec", "declared": [None, None, 1]}, tmp_path)
        predict({"file": "w.keras", "inputs": "inputs.npy", "out": "out.npy"}, tmp_path)
        _CACHE.clear()
    keras.backend.clear_session()   # and a full collection, before the worker freezes what is left


def forget(payload: dict, task_dir: Path) -> dict:
    """Drop the loaded model and Keras's graph state: a pooled worker keeps nothing of one
    submission when it moves on to the next (see WorkerPool's ``reset_op``)."""
    _CACHE.clear()
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    import gc

    gc.collect()
    return {"forgotten": True}


OPS = {
    "probe_model": probe_model,
    "predict": predict,
    "run_lstm_step": run_lstm_step,
    "forget": forget,
}
WARMUP = warmup
