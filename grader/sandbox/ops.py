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
that runs student Python without it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from grader.sandbox.worker import MESSAGE_LIMIT   # a failed op's reply is one line this long

PROBE_BATCH = 3
PROBE_STEPS = (8, 11)      # two lengths, so "same time axis" is tested, not assumed
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
    :func:`keras2_to_keras3`); ``task`` names the file to re-save when even that fails.
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
        # clear_session runs a full garbage collection (~0.2 s): do it now and then, not per model.
        keras.backend.clear_session()
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files
        if not is_keras2_file(path):
            raise RuntimeError(f"Keras could not load the file: {_error_line(exc)}") from None
        model = _load_keras2(task_dir, path, task)
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


# --------------------------------------------------------------------------- Keras 2 files
#
# Keras 3 refuses some configs Keras 2 (keras 2.x, tf-keras) wrote for built-in layers. The
# parent has already allowlisted every object of the config; the rewrite below deletes keys,
# adds an InputLayer, names the Keras 3 module of a Keras 2 model class, and fixes two numbers
# (node indices of nested models, a one-element axis list), so the sanitised copy holds no
# class or module the original did not hold or allow, and it too is loaded with safe_mode=True.

# Keys Keras 2 layers saved that no Keras 3 layer accepts.
KERAS2_ONLY_KEYS = frozenset({"time_major"})
# Keras 2 model modules (see grader.static.allowlist.KERAS2_MODULES) -> the Keras 3 module of the same class.
KERAS2_MODEL_MODULES = {"Functional": "keras.src.models.functional",
                        "Sequential": "keras.src.models.sequential",
                        "Model": "keras.src.models.model"}
_KERAS2_MODULE_PREFIXES = ("tf_keras.", "keras.engine.", "keras.src.engine.")
MAX_KERAS2_ATTEMPTS = 8
_CONFIG_BOUND = 8 * 1024 * 1024


def is_keras2_file(path: Path) -> bool:
    """True for an HDF5 file whose ``keras_version`` is 2.x, or a .keras file written by Keras 2."""
    import json
    import zipfile

    try:
        if path.suffix.lower() in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r", locking=False) as handle:
                version = handle.attrs.get("keras_version")
            if isinstance(version, bytes):
                version = version.decode("utf-8", "replace")
            return isinstance(version, str) and version.startswith("2.")
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "metadata.json" in names:
                with archive.open("metadata.json") as handle:
                    metadata = json.loads(handle.read(64 * 1024).decode("utf-8"))
                version = metadata.get("keras_version") if isinstance(metadata, dict) else None
                if isinstance(version, str) and version.startswith("2."):
                    return True
            with archive.open("config.json") as handle:
                raw = handle.read(_CONFIG_BOUND).decode("utf-8", "replace")
        return any(f'"{prefix}' in raw for prefix in _KERAS2_MODULE_PREFIXES)
    except Exception:  # an unreadable file is not a Keras 2 file; the first error stands
        return False


def keras2_to_keras3(config: Any, drop: dict[str, set[str]] | None = None) -> Any:
    """A copy of a Keras 2 model config that Keras 3 accepts.

    * drops :data:`KERAS2_ONLY_KEYS` from every object, and ``drop[class_name]`` from every
      object of that class (the keyword arguments a Keras 3 class was seen to reject);
    * gives a Sequential whose first layer declares ``batch_input_shape`` an explicit
      InputLayer with that shape, and drops ``batch_input_shape`` from every other layer
      (wrapped inner layers included), which Keras 3 layers do not accept;
    * names the Keras 3 module of a Keras 2 model class (``tf_keras.src.engine.functional``
      -> ``keras.src.models.functional``), which Keras 3 would otherwise not find;
    * renumbers the calls of nested models the way Keras 3 counts them;
    * turns a one-element ``axis`` list (BatchNormalization's ``[2]``) into the integer, as
      Keras 3's own legacy HDF5 loader does.
    """
    import copy

    drop = drop or {}
    config = copy.deepcopy(config)

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        class_name = node.get("class_name")
        module = node.get("module")
        if isinstance(module, str) and module.startswith(_KERAS2_MODULE_PREFIXES) \
                and class_name in KERAS2_MODEL_MODULES:
            node["module"] = KERAS2_MODEL_MODULES[class_name]
        inner = node.get("config")
        if isinstance(class_name, str) and isinstance(inner, dict):
            for key in KERAS2_ONLY_KEYS | drop.get(class_name, set()):
                inner.pop(key, None)
            axis = inner.get("axis")
            if isinstance(axis, list) and len(axis) == 1 and isinstance(axis[0], int):
                inner["axis"] = axis[0]   # as Keras 3 itself does for legacy HDF5 configs
            if class_name == "Sequential" and isinstance(inner.get("layers"), list):
                _give_input_layer(inner["layers"])
            if class_name in KERAS2_MODEL_MODULES and isinstance(inner.get("layers"), list):
                _renumber_nested_model_nodes(inner)
            if class_name != "InputLayer":
                inner.pop("batch_input_shape", None)
        for value in node.values():
            walk(value)

    walk(config)
    return config


def _give_input_layer(layers: list) -> None:
    """Put an InputLayer holding the first layer's ``batch_input_shape`` in front of it."""
    first = layers[0] if layers else None
    if not isinstance(first, dict) or first.get("class_name") == "InputLayer":
        return
    inner = first.get("config")
    shape = inner.get("batch_input_shape") if isinstance(inner, dict) else None
    if not isinstance(shape, list):
        return
    name = inner.get("name") if isinstance(inner.get("name"), str) else "layer"
    settings: dict[str, Any] = {"batch_shape": shape, "name": f"{name}_input"}
    if isinstance(inner.get("dtype"), str):
        settings["dtype"] = inner["dtype"]
    input_layer: dict[str, Any] = {"class_name": "InputLayer", "config": settings}
    if "module" in first:   # the .keras format names modules; legacy HDF5 configs do not
        input_layer = {"module": "keras.layers", **input_layer, "registered_name": None}
    layers.insert(0, input_layer)


def _skips_first_node(spec: Any) -> tuple[bool, bool]:
    """(Keras 2 numbered its nodes from 1, Keras 3 does so only for ``output_layers``) for a nested model.

    Keras 2 gave a nested model built on an input (a Functional, or a Sequential given an
    input shape) a node of its own and left it out of the saved node numbering, so the
    first call is node 1; Keras 3 numbers a nested model's calls from 0 in ``inbound_nodes``,
    and still from 1 in ``input_layers`` / ``output_layers``, but only for Functional models.
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        return False, False
    inner = spec["config"]
    layers = inner.get("layers")
    if spec.get("class_name") == "Sequential" and isinstance(layers, list) and layers:
        first = layers[0] if isinstance(layers[0], dict) else {}
        built = first.get("class_name") == "InputLayer" or \
            isinstance((first.get("config") or {}).get("batch_input_shape"), list)
        return built, False
    if spec.get("class_name") in ("Functional", "Model") and "input_layers" in inner:
        return True, True
    return False, False


def _renumber_nested_model_nodes(model: dict) -> None:
    """Shift Keras 2's node numbers of nested models to the ones Keras 3 looks up (see :func:`_skips_first_node`)."""
    skips: dict[str, bool] = {}
    for spec in model["layers"]:
        name = spec.get("name") if isinstance(spec, dict) else None
        skipped, keras3_skips_too = _skips_first_node(spec)
        if isinstance(name, str) and skipped:
            skips[name] = keras3_skips_too

    def shift(ref: Any, endpoint: bool) -> None:
        if isinstance(ref, list) and len(ref) >= 3 and isinstance(ref[0], str) and isinstance(ref[1], int) \
                and not isinstance(ref[1], bool):
            if ref[0] in skips and ref[1] >= 1 and not (endpoint and skips[ref[0]]):
                ref[1] -= 1
        elif isinstance(ref, list):
            for item in ref:
                shift(item, endpoint)

    if not skips:
        return
    for spec in model["layers"]:
        nodes = spec.get("inbound_nodes") if isinstance(spec, dict) else None
        if isinstance(nodes, list):
            for node in nodes:
                if isinstance(node, list):    # Keras 2's [[name, node, tensor, kwargs], ...]
                    for ref in node:
                        shift(ref, endpoint=False)
    for key in ("input_layers", "output_layers"):
        shift(model.get(key), endpoint=True)


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a nested deserialisation error (Keras wraps it once per enclosing object),
    without Keras's advice about custom objects, which does not apply to a student's built-in layers."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    marker = "Exception encountered:"
    inner = text.rsplit(marker, 1)[1].strip() if marker in text else ""
    line = inner.splitlines()[0].strip() if inner else _error_line(exc)
    return re.split(r"(?<=\.) (?:Please ensure|Make sure)\b", line, maxsplit=1)[0][:240].rstrip(".")


def _rejected_keywords(exc: BaseException) -> tuple[str, set[str]] | None:
    """(class name, keyword names) of a "Keras 3 does not accept these arguments" error, else None."""
    import ast
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    for line in text.splitlines():
        found = re.search(r"Unrecognized keyword arguments passed to (\w+): (\{.*\})\s*$", line)
        if found:
            try:
                kwargs = ast.literal_eval(found.group(2))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return None
            if isinstance(kwargs, dict) and all(isinstance(key, str) for key in kwargs):
                return found.group(1), set(kwargs)
            return None
        found = re.search(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", line)
        if found:
            return found.group(1), {found.group(2)}
    return None


def _read_config(path: Path) -> Any:
    """The model config of a .keras zip or a legacy HDF5 file."""
    import json
    import zipfile

    if path.suffix.lower() in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r", locking=False) as handle:
            raw = handle.attrs["model_config"]
        return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    with zipfile.ZipFile(path) as archive, archive.open("config.json") as handle:
        raw = handle.read(_CONFIG_BOUND + 1)
    if len(raw) > _CONFIG_BOUND:
        raise ValueError("config.json is too large")
    return json.loads(raw.decode("utf-8"))


def write_sanitized_copy(path: Path, config: Any, dest: Path) -> None:
    """``path`` copied to ``dest`` with its model config replaced by ``config``.

    A .keras zip keeps every other member as it is; an HDF5 file is copied and its
    ``model_config`` attribute rewritten.
    """
    import json
    import shutil
    import zipfile

    text = json.dumps(config)
    if path.suffix.lower() in (".h5", ".hdf5"):
        import h5py

        shutil.copyfile(path, dest)
        with h5py.File(dest, "r+", locking=False) as handle:
            handle.attrs["model_config"] = text
        return
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(dest, "w") as target:
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=member.date_time)
            info.compress_type = member.compress_type
            if member.filename == "config.json":
                target.writestr(info, text)
                continue
            with source.open(member) as src, target.open(info, "w") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def _load_keras2(task_dir: Path, path: Path, task: str | None):
    """Load a Keras 2 file from sanitised copies, learning which keywords Keras 3 rejects."""
    import keras

    target = f"{task}.keras" if task else "a .keras file"
    dest = task_dir / f"keras3-{path.stem}{path.suffix.lower()}"
    drop: dict[str, set[str]] = {}
    problem = "its config could not be read"
    try:
        config = _read_config(path)
    except Exception as exc:
        config = None
        problem = _error_line(exc)
    for _ in range(MAX_KERAS2_ATTEMPTS if config is not None else 0):
        write_sanitized_copy(path, keras2_to_keras3(config, drop), dest)
        keras.backend.clear_session()
        try:
            return keras.saving.load_model(dest, compile=False, safe_mode=True)
        except Exception as exc:
            problem = _root_cause(exc)
            rejected = _rejected_keywords(exc)
            if rejected is None or rejected[1] <= drop.get(rejected[0], set()):
                break
            drop.setdefault(rejected[0], set()).update(rejected[1])
        finally:
            dest.unlink(missing_ok=True)
    head = "this file was saved with Keras 2 and could not be loaded by Keras 3 ("
    advice = f"): re-save it with Keras 3 as {target}"
    # The reply is one line of at most MESSAGE_LIMIT characters, "RuntimeError: " included:
    # shorten Keras's reason so the advice survives whole.
    room = max(MESSAGE_LIMIT - len("RuntimeError: ") - len(head) - len(advice), 40)
    if len(problem) > room:
        problem = problem[: room - 1] + "…"
    raise RuntimeError(head + problem + advice)


def probe_model(payload: dict, task_dir: Path) -> dict:
    """Load the model safely and run it on inputs of known shape; report shapes and value statistics."""
    np = _np()
    model = _load(task_dir, payload["file"], payload.get("task"))
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
    model = _load(task_dir, payload["file"], payload.get("task"))
    inputs = np.load(task_dir / os.path.basename(payload["inputs"]), allow_pickle=False)
    batch = int(payload.get("batch_size", 512))
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
            results.append({"h_shape": list(h_new.shape)[:8], "c_shape": list(c_new.shape)[:8]})
            continue
        results.append({"h": h_new.tolist(), "c": c_new.tolist()})
    return {"results": results}


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
            from reference_models.lstm_cell import __file__ as reference_source

            rng = np.random.default_rng(0)
            case = {"x": rng.normal(size=(1, 2)).tolist(), "h": [[0.0, 0.0]], "c": [[0.0, 0.0]],
                    "kernel": rng.normal(size=(2, 8)).tolist(), "recurrent_kernel": rng.normal(size=(2, 8)).tolist(),
                    "bias": [0.0] * 8}
            (tmp_path / "warmup_cell.py").write_text(Path(reference_source).read_text())
            run_lstm_step({"file": "warmup_cell.py", "cases": [case]}, tmp_path)
            broken = tmp_path / "warmup_broken.py"
            broken.write_text("raise ValueError('warm-up')\n")
            run_lstm_step({"file": broken.name, "cases": [case]}, tmp_path)
            sys.modules.pop("student_lstm_cell", None)
            return
        import h5py  # noqa: F401
        import keras

        model = keras.Sequential([keras.Input((None, 1)), keras.layers.LSTM(2), keras.layers.Dense(7)])
        np.save(tmp_path / "inputs.npy", np.zeros((2, 56, 1), "float32"), allow_pickle=False)
        for name in ("w.keras", "w.h5"):
            model.save(tmp_path / name)
            probe_model({"file": name, "kind": "seq2vec", "declared": [None, None, 1]}, tmp_path)
            probe_model({"file": name, "kind": "forecaster", "declared": [None, None, 1]}, tmp_path)
            predict({"file": name, "inputs": "inputs.npy", "out": "out.npy"}, tmp_path)
        _CACHE.clear()
    keras.backend.clear_session()


OPS = {
    "probe_model": probe_model,
    "predict": predict,
    "run_lstm_step": run_lstm_step,
}
WARMUP = warmup
