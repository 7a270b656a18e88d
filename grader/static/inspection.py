"""Static inspection of student model files: no TensorFlow, no deserialisation, no student code.

``inspect_model_file(path)`` reads a Keras 3 ``.keras`` zip (or a legacy
``.h5``) as data, refuses anything unsafe or broken with one line saying what
is wrong and what to do, and otherwise returns a
:class:`~grader.static.description.ModelDescription`.

Refusals, in the order they are tried:

* missing, empty, truncated or wrong-type files;
* zip members other than the ones Keras writes, absolute or ``..`` names,
  symlinks, encryption, oversized members or suspicious compression ratios
  (a 1 GB ``config.json`` inside a 1 MB file);
* any object in the config (inside wrappers, nested models and the compile
  config too) that is not a built-in Keras class from a Keras module (the
  pure keras.ops operations a functional model records, Keras 2's model and
  legacy optimizer modules, and built-in loss, metric and activation
  functions are accepted by name; see :mod:`grader.static.allowlist`);
* HDF5 external links, virtual or externally stored datasets, unknown
  compression filters, non-numeric data, or declared dataset sizes over the
  bound, checked before any data is read; ``.npz`` weights holding pickled
  objects or oversized arrays, from their headers alone.

``RNN(StackedRNNCells([...]))`` is described as the stack of recurrent layers
it computes, one per cell.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from grader.static import allowlist
from grader.static.description import MODEL_CLASSES, Layer, ModelDescription, Optimizer

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


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


DEFAULT_LIMITS = InspectionLimits()
_MB = 1024 * 1024


class InspectionError(Exception):
    """A model file cannot be graded; ``str()`` is one line for the student."""


class UnsafeModel(InspectionError):
    """The file names code or resources a grader must never load."""


class BrokenModel(InspectionError):
    """The file is missing, empty, truncated, of the wrong type or malformed."""


# --------------------------------------------------------------------------- files

def sniff(path: Path) -> str:
    """'zip', 'hdf5' or 'unknown' from the first bytes of ``path``."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    return "unknown"


def inspect_model_file(path: str | os.PathLike, limits: InspectionLimits = DEFAULT_LIMITS) -> ModelDescription:
    """Describe the model saved at ``path`` or raise :class:`InspectionError`."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise BrokenModel(f"{name} is missing: save your model with model.save('{name}') and add it to the submission")
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise BrokenModel(f"{name} is not a regular file: submit the saved model file itself")
    if info.st_size == 0:
        raise BrokenModel(f"{name} is empty (0 bytes): save the model again with model.save('{name}')")
    if info.st_size > limits.file_mb * _MB:
        raise BrokenModel(f"{name} is {info.st_size / _MB:.0f} MiB, over the {limits.file_mb} MiB limit: "
                          "a model for this task needs far fewer weights")
    kind = sniff(path)
    suffix = path.suffix.lower()
    if suffix == ".keras":
        if kind == "hdf5":
            raise BrokenModel(f"{name} is a legacy HDF5 file renamed .keras: save with model.save('{name}') "
                              f"in Keras 3, or submit it as {path.stem}.h5")
        if kind != "zip":
            raise BrokenModel(f"{name} is not a Keras model file (no zip header): save it with model.save('{name}')")
        return _inspect_keras_zip(path, limits)
    if suffix in (".h5", ".hdf5"):
        if kind != "hdf5":
            raise BrokenModel(f"{name} is not an HDF5 file: save it with model.save('{path.stem}.keras')")
        return _inspect_h5(path, limits)
    raise BrokenModel(f"{name}: unsupported model file type '{suffix}': save it with model.save('{path.stem}.keras')")


# --------------------------------------------------------------------------- zip

_KERAS_MEMBERS = {"metadata.json", "config.json", "model.weights.h5", "model.weights.npz"}


def _check_member_name(member: zipfile.ZipInfo, zip_name: str) -> None:
    raw = member.filename
    if "\\" in raw or raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise UnsafeModel(f"{zip_name} contains a member with an absolute or Windows path ({raw!r}); save the model again with model.save()")
    parts = PurePosixPath(raw).parts
    if ".." in parts:
        raise UnsafeModel(f"{zip_name} contains a member that escapes the archive ({raw!r}); save the model again with model.save()")
    mode = member.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeModel(f"{zip_name} contains a symbolic link ({raw!r}); save the model again with model.save()")
    if member.flag_bits & 0x1:
        raise UnsafeModel(f"{zip_name} contains an encrypted member ({raw!r}); save the model again with model.save()")
    if raw not in _KERAS_MEMBERS and not (raw.startswith("assets/") and len(parts) >= 1):
        raise UnsafeModel(f"{zip_name} contains an unexpected member {raw!r}: a .keras file holds only "
                          "config.json, metadata.json and model.weights.h5; save it again with model.save()")


def _read_bounded(archive: zipfile.ZipFile, member: zipfile.ZipInfo, bound: int, zip_name: str) -> bytes:
    # Header sizes can lie: read at most bound + 1 bytes and refuse past it.
    with archive.open(member) as handle:
        data = handle.read(bound + 1)
    if len(data) > bound:
        raise UnsafeModel(f"{zip_name}: {member.filename} expands to more than {bound // _MB} MiB; refused")
    return data


def _copy_bounded(archive: zipfile.ZipFile, member: zipfile.ZipInfo, bound: int, dest: Path, zip_name: str) -> None:
    written = 0
    with archive.open(member) as src, open(dest, "wb") as out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > bound:
                raise UnsafeModel(f"{zip_name}: {member.filename} expands to more than {bound // _MB} MiB; refused")
            out.write(chunk)


def _inspect_keras_zip(path: Path, limits: InspectionLimits) -> ModelDescription:
    name = path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BrokenModel(f"{name} is truncated or corrupt ({exc}); save the model again with model.save('{name}')") from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise UnsafeModel(f"{name} has {len(members)} members; a .keras file has 3: save it again with model.save()")
        seen: set[str] = set()
        total = 0
        for member in members:
            _check_member_name(member, name)
            if member.filename in seen:
                raise UnsafeModel(f"{name} contains {member.filename!r} twice; save the model again with model.save()")
            seen.add(member.filename)
            total += member.file_size
            if member.file_size > _MB and member.compress_size > 0 \
                    and member.file_size / member.compress_size > limits.max_ratio:
                raise UnsafeModel(f"{name}: {member.filename} claims {member.file_size / _MB:.0f} MiB packed into "
                                  f"{member.compress_size / 1024:.0f} KiB (a zip bomb); refused")
        if total > (limits.config_mb + limits.weights_mb + 1) * _MB:
            raise UnsafeModel(f"{name} expands to {total / _MB:.0f} MiB; refused")
        if "config.json" not in seen:
            raise BrokenModel(f"{name} has no config.json, so it is not a Keras 3 model file: save it with model.save('{name}')")
        by_name = {m.filename: m for m in members}
        try:
            raw_config = _read_bounded(archive, by_name["config.json"], limits.config_mb * _MB, name)
            metadata = {}
            if "metadata.json" in by_name:
                metadata = _loads(_read_bounded(archive, by_name["metadata.json"], 64 * 1024, name), name, "metadata.json")
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, InspectionError):
                raise
            raise BrokenModel(f"{name} is truncated or corrupt ({exc}); save the model again") from None
        config = _loads(raw_config, name, "config.json")
        member = next((m for m in ("model.weights.h5", "model.weights.npz") if m in by_name), None)
        if member is None:
            raise BrokenModel(f"{name} has no weights (model.weights.h5): save it with model.save('{name}')")
        with tempfile.TemporaryDirectory(prefix="grader-inspect-") as tmp:
            weights = Path(tmp) / member
            try:
                _copy_bounded(archive, by_name[member], limits.weights_mb * _MB, weights, name)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise BrokenModel(f"{name}: the weights are truncated or corrupt ({exc}); save the model again") from None
            if member.endswith(".h5"):
                check_hdf5(weights, f"{name}: {member}", limits, weights_only=True)
            else:
                check_npz(weights, f"{name}: {member}", limits)
    if not isinstance(config, dict):
        raise BrokenModel(f"{name}: config.json is not a model config")
    check_config(config, name, limits)
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    return describe(config, str(path), "keras", version if isinstance(version, str) else None, limits)


def _loads(raw: bytes, file_name: str, member: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise UnsafeModel(f"{file_name}: {member} is nested too deeply; refused") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BrokenModel(f"{file_name}: {member} is not valid JSON ({str(exc)[:80]}); save the model again") from None


def check_npz(path: Path, label: str, limits: InspectionLimits) -> None:
    """Read only the headers of an ``.npz`` weights file; refuse pickled objects, odd names and oversized arrays."""
    import numpy as np  # no TensorFlow; only the .npy headers are parsed (literal_eval, never pickle)

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BrokenModel(f"{label} is not a readable .npz file ({exc}); save the model again") from None
    declared = 0
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_h5_objects:
            raise UnsafeModel(f"{label}: more than {limits.max_h5_objects} arrays; refused")
        for member in members:
            raw = member.filename
            parts = PurePosixPath(raw).parts
            if "\\" in raw or raw.startswith("/") or ".." in parts or not raw.endswith(".npy"):
                raise UnsafeModel(f"{label}: unexpected member {raw!r}; refused")
            if member.flag_bits & 0x1 or stat.S_ISLNK(member.external_attr >> 16):
                raise UnsafeModel(f"{label}: member {raw!r} is encrypted or a link; refused")
            if member.file_size > _MB and member.compress_size > 0 \
                    and member.file_size / member.compress_size > limits.max_ratio:
                raise UnsafeModel(f"{label}: {raw} claims {member.file_size / _MB:.0f} MiB packed into "
                                  f"{member.compress_size / 1024:.0f} KiB (a zip bomb); refused")
            try:
                with archive.open(member) as handle:
                    version = np.lib.format.read_magic(handle)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
                    else:
                        raise ValueError(f"unsupported .npy version {version}")
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, SyntaxError) as exc:
                raise BrokenModel(f"{label}: {raw} is not a readable array ({str(exc)[:80]}); save the model again") from None
            if dtype.hasobject or dtype.kind not in "fiub":
                raise UnsafeModel(f"{label}: {raw} holds {dtype} data (pickled Python objects), not numbers; "
                                  "save the model with model.save(), which writes HDF5 weights; refused")
            count = 1
            for dim in shape:
                count *= int(dim)
            declared += count * dtype.itemsize
            if declared > limits.weights_mb * _MB:
                raise UnsafeModel(f"{label}: the arrays declare more than {limits.weights_mb} MiB of weights; refused")


# --------------------------------------------------------------------------- hdf5

def check_hdf5(path: Path, label: str, limits: InspectionLimits, *, weights_only: bool = False) -> dict[str, Any]:
    """Walk an HDF5 file without reading data; return the root attributes that are strings.

    Refuses external links, soft links, virtual or externally stored datasets,
    non-numeric datasets and declared sizes over ``limits.weights_mb``.
    """
    import h5py  # no TensorFlow; h5py parses headers only here

    try:
        handle = h5py.File(path, "r", locking=False)
    except Exception as exc:  # h5py raises OSError subclasses and others for corrupt files
        raise BrokenModel(f"{label} is not a readable HDF5 file ({str(exc).splitlines()[0][:80]}); save the model again") from None
    budget = limits.weights_mb * _MB
    declared = 0
    visited = 0
    try:
        with handle:
            stack: list[tuple[Any, int]] = [(handle, 0)]
            while stack:
                group, depth = stack.pop()
                if depth > limits.max_depth:
                    raise UnsafeModel(f"{label}: groups nested deeper than {limits.max_depth}; refused")
                _check_attributes(group, label, limits)
                for key in group.keys():
                    visited += 1
                    if visited > limits.max_h5_objects:
                        raise UnsafeModel(f"{label}: more than {limits.max_h5_objects} objects; refused")
                    link = group.get(key, getlink=True)
                    if isinstance(link, h5py.ExternalLink):
                        raise UnsafeModel(f"{label}: '{key}' is an external link to {link.filename!r}; refused")
                    if isinstance(link, h5py.SoftLink):
                        raise UnsafeModel(f"{label}: '{key}' is a soft link; Keras never writes these; refused")
                    item = group.get(key)
                    if isinstance(item, h5py.Group):
                        stack.append((item, depth + 1))
                    elif isinstance(item, h5py.Dataset):
                        declared += _check_dataset(item, key, label, limits)
                        if declared > budget:
                            raise UnsafeModel(f"{label}: the datasets declare more than {limits.weights_mb} MiB of weights; refused")
                    else:
                        raise UnsafeModel(f"{label}: '{key}' is not a group or dataset; refused")
            attrs = {}
            for key in handle.attrs.keys():
                value = handle.attrs[key]
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                if isinstance(value, str):
                    attrs[key] = value
            return attrs
    except InspectionError:
        raise
    except Exception as exc:
        raise BrokenModel(f"{label} is corrupt ({str(exc).splitlines()[0][:80]}); save the model again") from None


# Filters built into HDF5 and h5py: deflate, shuffle, fletcher32, szip, nbit, scaleoffset, lzf.
_HDF5_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})


def _check_dataset(dataset: Any, key: str, label: str, limits: InspectionLimits) -> int:
    if dataset.is_virtual:
        raise UnsafeModel(f"{label}: dataset '{key}' is a virtual dataset that reads other files; refused")
    plist = dataset.id.get_create_plist()
    if plist.get_external_count() > 0:
        raise UnsafeModel(f"{label}: dataset '{key}' stores its data in an external file; refused")
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _HDF5_FILTERS:
            # Reading it would make HDF5 search its plugin path for a shared library.
            raise UnsafeModel(f"{label}: dataset '{key}' is compressed with unknown HDF5 filter {code}; refused")
    dtype = dataset.dtype
    if dtype.kind not in "fiub" or dtype.itemsize > 16:
        raise UnsafeModel(f"{label}: dataset '{key}' holds {dtype} data, not numbers; refused")
    count = 1
    for dim in dataset.shape or ():
        count *= int(dim)
    size = count * dtype.itemsize
    if size > limits.weights_mb * _MB:
        raise UnsafeModel(f"{label}: dataset '{key}' declares shape {dataset.shape} ({size / _MB:.0f} MiB), "
                          f"over the {limits.weights_mb} MiB limit; refused")
    _check_attributes(dataset, label, limits)
    return size


def _check_attributes(obj: Any, label: str, limits: InspectionLimits) -> None:
    import h5py

    for key in obj.attrs.keys():
        attr = h5py.h5a.open(obj.id, key.encode() if isinstance(key, str) else key)
        count = 1
        for dim in attr.shape or ():
            count *= int(dim)
        itemsize = attr.dtype.itemsize
        if count * max(itemsize, 1) > limits.config_mb * _MB:
            raise UnsafeModel(f"{label}: attribute '{key}' declares {count * itemsize / _MB:.0f} MiB; refused")


def _inspect_h5(path: Path, limits: InspectionLimits) -> ModelDescription:
    name = path.name
    attrs = check_hdf5(path, name, limits)
    raw = attrs.get("model_config")
    if not raw:
        raise BrokenModel(f"{name} holds weights only (no model_config): save the whole model with model.save('{path.stem}.keras')")
    if len(raw) > limits.config_mb * _MB:
        raise UnsafeModel(f"{name}: model_config is over {limits.config_mb} MiB; refused")
    config = _loads(raw.encode("utf-8"), name, "model_config")
    if not isinstance(config, dict):
        raise BrokenModel(f"{name}: model_config is not a model config")
    training = attrs.get("training_config")
    if training:
        training_config = _loads(training.encode("utf-8"), name, "training_config")
        check_config(training_config, name, limits)
        if isinstance(training_config, dict):
            config = dict(config)
            config["compile_config"] = {"optimizer": training_config.get("optimizer_config")}
    check_config(config, name, limits)
    return describe(config, str(path), "h5", attrs.get("keras_version"), limits)


# --------------------------------------------------------------------------- allowlist

def check_config(config: Any, file_name: str, limits: InspectionLimits = DEFAULT_LIMITS) -> None:
    """Refuse any object in ``config`` that is not a built-in Keras class from a Keras module."""
    count = 0
    for obj, where in _objects(config, "", 0, limits, file_name):
        count += 1
        if count > limits.max_layers * 20:
            raise UnsafeModel(f"{file_name}: the config holds too many objects; refused")
        class_name = obj.get("class_name")
        if not isinstance(class_name, str):
            raise UnsafeModel(f"{file_name}: an object at {where or 'the top'} has a non-string class_name; refused")
        module = obj.get("module")
        if module is not None and not isinstance(module, str):
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} has a non-string module; refused")
        stripped = class_name.removeprefix(allowlist.CUSTOM_PREFIX)
        plain = stripped if stripped in allowlist.OPTIMIZERS else class_name
        if class_name in allowlist.FORBIDDEN_LAYERS or class_name == "__lambda__":
            reason = allowlist.FORBIDDEN_LAYERS.get(class_name, "it carries Python bytecode")
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} is a {class_name} layer: {reason}; refused")
        # Checked before the module: a custom layer names both its own module and its
        # registered name, and the registered name is what the student recognises.
        registered = obj.get("registered_name")
        if registered not in (None, class_name, plain):
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} is registered as custom object {registered!r}; "
                              "custom objects are not accepted; use built-in layers")
        if class_name == "function":
            _check_function(obj, where, module, file_name)
            continue
        if "function" in obj and plain not in allowlist.ALLOWED_CLASSES:
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} carries a function; refused")
        if module in allowlist.MODULE_CLASSES:
            if plain not in allowlist.MODULE_CLASSES[module]:
                raise UnsafeModel(f"{file_name}: {_where(obj, where)} names {module}.{class_name}, which is not a "
                                  "built-in Keras layer or operation a submitted model may use; refused")
        elif module is not None and module not in allowlist.ALLOWED_MODULES:
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} names module {module!r}: only built-in Keras "
                              "classes may appear in a submitted model; refused")
        elif plain not in allowlist.ALLOWED_CLASSES:
            if module is None and plain in allowlist.OPERATION_CLASSES:
                raise BrokenModel(f"{file_name}: {_where(obj, where)} is a keras.ops call ({class_name}) that the "
                                  "legacy HDF5 format cannot reload; save the model with model.save('"
                                  f"{Path(file_name).stem}.keras')")
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} is of class {class_name!r}, which is not a built-in "
                              "Keras class: custom layers and objects are not accepted; use built-in layers")
        inner = obj.get("config")
        if isinstance(inner, dict):
            for key in ("activation", "recurrent_activation"):
                value = inner.get(key)
                if isinstance(value, str) and value not in allowlist.ACTIVATIONS:
                    raise UnsafeModel(f"{file_name}: {_where(obj, where)} uses activation {value!r}, which is not a "
                                      "built-in Keras activation; use one such as 'tanh' or 'relu'")


def _check_function(obj: dict, where: str, module: str | None, file_name: str) -> None:
    name = obj.get("config")
    if module not in allowlist.FUNCTION_MODULES or not isinstance(name, str) or name not in allowlist.FUNCTIONS:
        shown = f"{module}.{name}" if isinstance(name, str) else repr(module)
        raise UnsafeModel(f"{file_name}: the object at {where or 'the top'} names function {shown}, which is not a "
                          "built-in Keras activation, loss or metric; refused")


def _where(obj: dict, where: str) -> str:
    inner = obj.get("config")
    name = inner.get("name") if isinstance(inner, dict) else None
    return f"layer '{name}'" if isinstance(name, str) else f"the object at {where or 'the top'}"


def _objects(node: Any, where: str, depth: int, limits: InspectionLimits, file_name: str) -> Iterator[tuple[dict, str]]:
    if depth > limits.max_depth * 4:
        raise UnsafeModel(f"{file_name}: the config is nested too deeply; refused")
    if isinstance(node, dict):
        if "class_name" in node:
            yield node, where
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                yield from _objects(value, f"{where}.{key}" if where else str(key), depth + 1, limits, file_name)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                yield from _objects(value, f"{where}[{i}]", depth + 1, limits, file_name)


# --------------------------------------------------------------------------- description

def _shape(value: Any) -> tuple[int | None, ...] | None:
    if isinstance(value, dict) and value.get("class_name") == "__tuple__":
        value = value.get("config", {}).get("value")
    if isinstance(value, (list, tuple)) and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value):
        return tuple(value)
    return None


def _ints(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    return None


def _activation(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("config")
        if isinstance(inner, str):
            return inner
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
        if isinstance(value.get("class_name"), str):
            return value["class_name"].lower()
    return None


def _number(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


@dataclass
class _Node:
    """A leaf layer while the graph is being flattened."""

    name: str
    class_name: str
    path: tuple[str, ...]
    wrappers: tuple[str, ...]
    config: dict[str, Any]
    wrapper_config: dict[str, Any]
    time_step: int | None = None


def _full_slice(item: Any) -> bool:
    """``:`` as Keras 3 saves it, ``{"class_name": "__slice__", "config": {start, stop, step all None}}``."""
    if not isinstance(item, dict) or item.get("class_name") != "__slice__":
        return False
    config = item.get("config")
    return isinstance(config, dict) and all(config.get(key) is None for key in ("start", "stop", "step"))


def _time_step(spec: dict) -> int | None:
    """The time step a GetItem op node keeps, ``t`` of ``h[:, t]`` / ``h[:, t, :]``, read from its one call.

    Only a key of a full slice on the batch axis, an integer on the time axis, and nothing but
    full slices (or one trailing ``...``) after it counts; anything else is None.
    """
    nodes = spec.get("inbound_nodes")
    if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], dict):
        return None
    args = nodes[0].get("args")
    if not isinstance(args, list) or len(args) != 2:
        return None
    tensor, key = args
    if isinstance(tensor, dict) and tensor.get("class_name") == "__keras_tensor__":
        shape = (tensor.get("config") or {}).get("shape")
        if isinstance(shape, list) and len(shape) < 3:
            return None        # no time axis to select from
    if isinstance(key, dict) and key.get("class_name") == "__tuple__":
        key = (key.get("config") or {}).get("value")
    if not isinstance(key, list) or len(key) < 2 or not _full_slice(key[0]):
        return None
    step = key[1]
    if not isinstance(step, int) or isinstance(step, bool):
        return None
    rest = key[2:]
    if rest and isinstance(rest[-1], dict) and rest[-1].get("class_name") == "__ellipsis__":
        rest = rest[:-1]
    return step if all(_full_slice(item) for item in rest) else None


class _Graph:
    def __init__(self, file_name: str, limits: InspectionLimits):
        self.nodes: dict[str, _Node] = {}
        self.order: list[str] = []
        self.edges: list[tuple[str, str]] = []
        self.file_name = file_name
        self.limits = limits

    def add(self, node: _Node) -> str:
        key = "/".join(node.path)
        if key in self.nodes:
            return key
        if len(self.nodes) >= self.limits.max_layers:
            raise UnsafeModel(f"{self.file_name}: more than {self.limits.max_layers} layers; refused")
        self.nodes[key] = node
        self.order.append(key)
        return key

    def connect(self, sources: list[str], targets: list[str]) -> None:
        for src in sources:
            for dst in targets:
                if src != dst and (src, dst) not in self.edges:
                    self.edges.append((src, dst))


def _layer_name(spec: dict) -> str:
    config = spec.get("config")
    if isinstance(config, dict) and isinstance(config.get("name"), str):
        return config["name"]
    if isinstance(spec.get("name"), str):
        return spec["name"]
    return str(spec.get("class_name", "layer")).lower()


def _expand(spec: dict, prefix: tuple[str, ...], wrappers: tuple[str, ...], graph: _Graph,
            depth: int, wrapper_config: dict | None = None,
            outer: tuple[str, ...] | None = None) -> tuple[list[str], list[str], tuple | None]:
    """Add ``spec`` to ``graph``; return (entry keys, exit keys, declared input shape).

    ``outer`` is the path of the outermost wrapper around ``spec``, if any.
    """
    if depth > graph.limits.max_depth:
        raise UnsafeModel(f"{graph.file_name}: models nested deeper than {graph.limits.max_depth}; refused")
    class_name = spec.get("class_name")
    config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    name = _layer_name(spec)
    path = prefix + (name,)
    if class_name in MODEL_CLASSES:
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise BrokenModel(f"{graph.file_name}: nested model '{name}' has no layer list")
        if class_name == "Sequential" or "input_layers" not in config:
            return _expand_sequential(config, layers, path, wrappers, graph, depth, outer)
        return _expand_functional(config, layers, path, wrappers, graph, depth, outer)
    if class_name in ("TimeDistributed", "Bidirectional"):
        inner = config.get("layer")
        if not isinstance(inner, dict):
            raise BrokenModel(f"{graph.file_name}: wrapper '{name}' has no wrapped layer")
        entries, exits, shape = _expand(inner, path, wrappers + (class_name,), graph, depth + 1,
                                        wrapper_config=config if class_name == "Bidirectional" else wrapper_config,
                                        outer=outer or path)
        if shape is None:
            shape = _shape(config.get("batch_input_shape")) or _shape(config.get("batch_shape"))
        return entries, exits, shape
    # Messages use the name students see in model.summary(): the outermost wrapper's.
    shown = _shown_name(path, wrappers, outer)
    shape = _shape(config.get("batch_shape")) or _shape(config.get("batch_input_shape"))
    cell = config.get("cell")
    if class_name == "RNN" and isinstance(cell, dict) and cell.get("class_name") == "StackedRNNCells":
        keys = _expand_stacked_cells(config, cell, shown, path, wrappers, graph, wrapper_config or {})
        return keys[:1], keys[-1:], shape
    time_step = _time_step(spec) if class_name == "GetItem" else None
    key = graph.add(_Node(shown, str(class_name), path, wrappers, config, wrapper_config or {}, time_step))
    return [key], [key], shape


def _expand_stacked_cells(config: dict, cell: dict, shown: str, path: tuple[str, ...], wrappers: tuple[str, ...],
                          graph: _Graph, wrapper_config: dict) -> list[str]:
    """``RNN(StackedRNNCells([c1, c2]))`` computes what ``RNN(c1, return_sequences=True)`` then ``RNN(c2)`` do:
    describe it as that stack, one recurrent layer per cell, so depth, gating and return_sequences read right."""
    cells = (cell.get("config") or {}).get("cells") if isinstance(cell.get("config"), dict) else None
    if not isinstance(cells, list) or not cells or not all(isinstance(c, dict) for c in cells):
        raise BrokenModel(f"{graph.file_name}: layer '{shown}' stacks no recurrent cells")
    keys: list[str] = []
    for i, inner in enumerate(cells):
        cell_name = _layer_name(inner) if isinstance(inner.get("config"), dict) and inner["config"].get("name") \
            else f"cell_{i}"
        merged = {**config, "cell": inner}
        if i < len(cells) - 1:
            # Inside the stack every lower cell hands its output to the next cell at every step.
            merged["return_sequences"] = True
            merged["return_state"] = False
        key = graph.add(_Node(f"{shown}/{cell_name}", "RNN", path + (cell_name,), wrappers, merged, wrapper_config))
        graph.connect(keys[-1:], [key])
        keys.append(key)
    return keys


def _shown_name(path: tuple[str, ...], wrappers: tuple[str, ...], outer: tuple[str, ...] | None) -> str:
    """The outermost wrapper's name, as model.summary() shows it; a layer of a model nested inside the
    wrapper (TimeDistributed(frame_cnn)) is shown as ``time_distributed/conv2d``."""
    if not wrappers or not outer:
        return path[-1]
    # Each wrapper adds one element to the path; anything more is a nested model.
    if len(path) == len(outer) + len(wrappers):
        return outer[-1]
    return f"{outer[-1]}/{path[-1]}"


def _expand_sequential(config: dict, layers: list, path: tuple[str, ...], wrappers: tuple[str, ...],
                       graph: _Graph, depth: int,
                       outer: tuple[str, ...] | None = None) -> tuple[list[str], list[str], tuple | None]:
    entries: list[str] = []
    previous: list[str] = []
    declared = _shape(config.get("build_input_shape"))
    first_shape = None
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict):
            raise BrokenModel(f"{graph.file_name}: layer {i} of '{path[-1]}' is not a layer config")
        layer_entries, layer_exits, shape = _expand(spec, path, wrappers, graph, depth + 1, outer=outer)
        if i == 0:
            entries = layer_entries
            first_shape = shape
        graph.connect(previous, layer_entries)
        previous = layer_exits
    return entries, previous, first_shape or declared


def _history_names(node: Any) -> Iterator[str]:
    """Names of the layers whose tensors feed a Keras 3 or Keras 2 inbound node."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            history = node.get("config", {}).get("keras_history")
            if isinstance(history, list) and history and isinstance(history[0], str):
                yield history[0]
            return
        for value in node.values():
            yield from _history_names(value)
    elif isinstance(node, list):
        # Keras 2: [layer_name, node_index, tensor_index, kwargs]
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int) and isinstance(node[2], int):
            yield node[0]
            if len(node) > 3:
                yield from _history_names(node[3])
            return
        for value in node:
            yield from _history_names(value)


def _endpoint_names(value: Any) -> list[str]:
    if isinstance(value, dict) and value.get("class_name") == "__tuple__":
        value = value.get("config", {}).get("value")
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int):
        return [value[0]]
    names: list[str] = []
    if isinstance(value, list):
        for item in value:
            names.extend(_endpoint_names(item))
    elif isinstance(value, dict):
        for item in value.values():
            names.extend(_endpoint_names(item))
    return names


def _expand_functional(config: dict, layers: list, path: tuple[str, ...], wrappers: tuple[str, ...],
                       graph: _Graph, depth: int,
                       outer: tuple[str, ...] | None = None) -> tuple[list[str], list[str], tuple | None]:
    spans: dict[str, tuple[list[str], list[str], tuple | None]] = {}
    inbound: dict[str, list[str]] = {}
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict):
            raise BrokenModel(f"{graph.file_name}: layer {i} of '{path[-1]}' is not a layer config")
        name = spec.get("name") if isinstance(spec.get("name"), str) else _layer_name(spec)
        spans[name] = _expand(spec, path, wrappers, graph, depth + 1, outer=outer)
        inbound[name] = list(dict.fromkeys(_history_names(spec.get("inbound_nodes", []))))
    for name, sources in inbound.items():
        for source in sources:
            if source not in spans:
                raise BrokenModel(f"{graph.file_name}: layer '{name}' takes input from unknown layer '{source}'")
            graph.connect(spans[source][1], spans[name][0])
    input_names = _endpoint_names(config.get("input_layers"))
    output_names = _endpoint_names(config.get("output_layers"))
    for endpoint in input_names + output_names:
        if endpoint not in spans:
            raise BrokenModel(f"{graph.file_name}: model '{path[-1]}' names unknown endpoint layer '{endpoint}'")
    entries = [key for name in input_names for key in spans[name][0]]
    exits = [key for name in output_names for key in spans[name][1]]
    shapes = [spans[name][2] for name in input_names]
    return entries, exits, shapes[0] if len(shapes) == 1 else None


def _topological(graph: _Graph) -> list[str]:
    parents: dict[str, set[str]] = {key: set() for key in graph.order}
    for src, dst in graph.edges:
        parents[dst].add(src)
    done: list[str] = []
    placed: set[str] = set()
    pending = list(graph.order)
    while pending:
        for key in pending:
            if parents[key] <= placed:
                done.append(key)
                placed.add(key)
                pending.remove(key)
                break
        else:
            raise BrokenModel(f"{graph.file_name}: the layer graph has a cycle")
    return done


def _layer(index: int, node: _Node, inbound: tuple[str, ...]) -> Layer:
    c = node.config
    cell = c.get("cell") if isinstance(c.get("cell"), dict) else None
    settings = c
    cell_class = None
    if cell is not None:
        cell_class = cell.get("class_name")
        if isinstance(cell.get("config"), dict):
            settings = {**c, **cell["config"]}
            if cell_class == "StackedRNNCells":
                cells = cell["config"].get("cells") or []
                last = cells[-1] if cells and isinstance(cells[-1], dict) else {}
                settings = {**c, **(last.get("config") or {})}
    strides = _ints(c.get("strides"))
    pool = _ints(c.get("pool_size"))
    if strides is None and pool is not None:
        strides = pool
    units = settings.get("units")
    return Layer(
        index=index,
        name=node.name,
        class_name=node.class_name,
        path=node.path,
        wrappers=node.wrappers,
        inbound=inbound,
        units=units if isinstance(units, int) and not isinstance(units, bool) else None,
        return_sequences=bool(c["return_sequences"]) if "return_sequences" in c else None,
        return_state=bool(c["return_state"]) if "return_state" in c else None,
        go_backwards=bool(c["go_backwards"]) if "go_backwards" in c else None,
        activation=_activation(settings.get("activation")),
        recurrent_activation=_activation(settings.get("recurrent_activation")),
        cell_class=cell_class if isinstance(cell_class, str) else None,
        dropout=_number(settings.get("dropout")),
        recurrent_dropout=_number(settings.get("recurrent_dropout")),
        rate=_number(c.get("rate"), 0.0) if "rate" in c else None,
        filters=c.get("filters") if isinstance(c.get("filters"), int) else None,
        kernel_size=_ints(c.get("kernel_size")),
        strides=strides,
        pool_size=pool,
        padding=c.get("padding") if isinstance(c.get("padding"), str) else None,
        dilation_rate=_ints(c.get("dilation_rate")),
        merge_mode=node.wrapper_config.get("merge_mode", "concat") if "Bidirectional" in node.wrappers else None,
        n=c.get("n") if isinstance(c.get("n"), int) else None,
        batch_shape=_shape(c.get("batch_shape")) or _shape(c.get("batch_input_shape")),
        time_step=node.time_step,
        config=c,
    )


def _optimizer(config: dict) -> Optimizer | None:
    compile_config = config.get("compile_config")
    if not isinstance(compile_config, dict):
        return None
    spec = compile_config.get("optimizer")
    if isinstance(spec, str):
        return Optimizer(spec)
    if not isinstance(spec, dict):
        return None
    class_name = str(spec.get("class_name", "")).removeprefix(allowlist.CUSTOM_PREFIX)
    inner = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    if class_name == "LossScaleOptimizer" and isinstance(inner.get("inner_optimizer"), dict):
        return _optimizer({"compile_config": {"optimizer": inner["inner_optimizer"]}})

    def clip(key: str) -> float | None:
        value = inner.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return Optimizer(class_name, clip("clipnorm"), clip("clipvalue"), clip("global_clipnorm"))


def describe(config: dict, path: str, fmt: str, keras_version: str | None,
             limits: InspectionLimits = DEFAULT_LIMITS) -> ModelDescription:
    """Flatten a checked model config into a :class:`ModelDescription` in data-flow order."""
    file_name = Path(path).name
    class_name = config.get("class_name")
    if class_name not in MODEL_CLASSES:
        raise BrokenModel(f"{file_name}: the saved object is a {class_name!r}, not a Keras model; save the model itself")
    graph = _Graph(file_name, limits)
    entries, exits, shape = _expand(config, (), (), graph, 0)
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    if shape is None:
        build = config.get("build_config") if isinstance(config.get("build_config"), dict) else {}
        shape = _shape(build.get("input_shape")) or _shape(inner.get("build_input_shape"))
    input_shapes: list[tuple] = []
    if class_name == "Sequential" or "input_layers" not in inner:
        if shape is not None:
            input_shapes.append(shape)
    else:
        for key in entries:
            node = graph.nodes[key]
            layer_shape = _shape(node.config.get("batch_shape")) or _shape(node.config.get("batch_input_shape"))
            if layer_shape is not None:
                input_shapes.append(layer_shape)
    keys = _topological(graph)
    parents: dict[str, list[str]] = {}
    for src, dst in graph.edges:
        parents.setdefault(dst, []).append(src)
    layers = []
    index = 0
    for key in keys:
        node = graph.nodes[key]
        if node.class_name != "InputLayer":
            index += 1
        layers.append(_layer(index if node.class_name != "InputLayer" else 0, node, tuple(parents.get(key, ()))))
    # Sequential models with a leading InputLayer point their entry at it; the
    # outputs are the exits of the top-level model.
    return ModelDescription(
        path=path, format=fmt, keras_version=keras_version, model_class=str(class_name),
        input_shapes=tuple(input_shapes), layers=tuple(layers), outputs=tuple(exits),
        optimizer=_optimizer(config), edges=tuple(graph.edges),
    )


# --------------------------------------------------------------------------- python task files

def inspect_python_file(path: str | os.PathLike, max_kb: int = 256) -> dict[str, Any]:
    """Parse (never run) a student's Python file; list its top-level functions' signatures.

    Returns ``{"functions": {name: {"positional": n, "defaults": d, "varargs": bool, "names": [...]}}}``
    or raises :class:`BrokenModel` with one line for a missing, empty, oversized or unparsable file.
    """
    import ast

    path = Path(path)
    name = path.name
    if not path.exists():
        raise BrokenModel(f"{name} is missing: add it to the submission")
    if not path.is_file() or path.is_symlink():
        raise BrokenModel(f"{name} is not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise BrokenModel(f"{name} is empty: it must define lstm_step")
    if size > max_kb * 1024:
        raise BrokenModel(f"{name} is {size // 1024} KiB, over the {max_kb} KiB limit for a source file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BrokenModel(f"{name} is not UTF-8 text: submit the Python source file") from None
    try:
        tree = ast.parse(text, filename=name)
    except SyntaxError as exc:
        raise BrokenModel(f"{name} line {exc.lineno}: {exc.msg}: fix it so the file imports") from None
    except (ValueError, RecursionError, MemoryError):
        raise BrokenModel(f"{name} cannot be parsed as Python") from None
    functions: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            functions[node.name] = {
                "positional": len(positional),
                "defaults": len(args.defaults),
                "varargs": args.vararg is not None,
                "names": [a.arg for a in positional],
            }
    return {"functions": functions}
