"""Loading Keras 2 files that Keras 3 refuses: inside a sandboxed worker, from a sanitised copy.

A model saved by Keras 2 (keras 2.x, tf-keras) that ``keras.saving.load_model`` rejects is
rewritten into a config Keras 3 accepts (:func:`keras2_to_keras3`), copied with that config
(:func:`write_sanitized_copy`) and loaded again, dropping each keyword Keras 3 names as
unrecognised (:func:`load_keras2`). :func:`error_line` and :func:`_root_cause` turn Keras's
long exceptions into the one line a student reads; :func:`_rejected_keywords` finds the
keywords to drop.

Like :mod:`grader.sandbox.ops`, which imports it, this runs only in worker processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.sandbox.worker import MESSAGE_LIMIT   # a failed op's reply is one line this long

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


def error_line(exc: BaseException) -> str:
    """The informative line of a Keras/TensorFlow exception, without colour codes."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception encountered", "Arguments received", "•", "Traceback"))]
    return (useful or lines or [type(exc).__name__])[0][:240]


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
    line = inner.splitlines()[0].strip() if inner else error_line(exc)
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


def load_keras2(task_dir: Path, path: Path, task: str | None):
    """Load a Keras 2 file from sanitised copies, learning which keywords Keras 3 rejects."""
    import keras

    target = f"{task}.keras" if task else "a .keras file"
    dest = Path.cwd() / f"keras3-{path.stem}{path.suffix.lower()}"   # the op's scratch folder; the task folder is read-only
    drop: dict[str, set[str]] = {}
    problem = "its config could not be read"
    try:
        config = _read_config(path)
    except Exception as exc:
        config = None
        problem = error_line(exc)
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
