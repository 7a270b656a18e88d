"""Reading an HDF5 file (a legacy ``.h5`` model or ``model.weights.h5``) from its headers alone, never its data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from grader.static.config_check import check_config, loads
from grader.static.description import ModelDescription
from grader.static.errors import BrokenModel, InspectionError, UnsafeModel
from grader.static.graph import describe
from grader.static.limits import MB, InspectionLimits

# Reads an HDF5 file's headers and returns its root string attributes (see check_hdf5), or
# raises InspectionError. The grader passes one that runs in a sandboxed process
# (grader.sandbox.headers); check_hdf5 itself is the default only inside that process and in tests.
HeaderReader = Callable[[Path, str, InspectionLimits, bool], "dict[str, str]"]


def check_hdf5(path: Path, label: str, limits: InspectionLimits, weights_only: bool = False) -> dict[str, Any]:
    """Walk an HDF5 file without reading data; return the root attributes that are strings.

    Refuses external links, soft links, virtual or externally stored datasets,
    non-numeric datasets and declared sizes over ``limits.weights_mb``.
    """
    import h5py  # no TensorFlow; h5py parses headers only here

    try:
        handle = h5py.File(path, "r", locking=False)
    except Exception as exc:  # h5py raises OSError subclasses and others for corrupt files
        raise BrokenModel(f"{label} is not a readable HDF5 file ({str(exc).splitlines()[0][:80]}); save the model again") from None
    budget = limits.weights_mb * MB
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
    if size > limits.weights_mb * MB:
        raise UnsafeModel(f"{label}: dataset '{key}' declares shape {dataset.shape} ({size / MB:.0f} MiB), "
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
        if count * max(itemsize, 1) > limits.config_mb * MB:
            raise UnsafeModel(f"{label}: attribute '{key}' declares {count * itemsize / MB:.0f} MiB; refused")


def inspect_h5(path: Path, limits: InspectionLimits, read_headers: HeaderReader = check_hdf5) -> ModelDescription:
    """Describe the legacy HDF5 model at ``path`` or raise :class:`InspectionError`; the file is walked
    (by ``read_headers``) before its config is parsed here."""
    name = path.name
    attrs = read_headers(path, name, limits, False)
    raw = attrs.get("model_config")
    if not raw:
        raise BrokenModel(f"{name} holds weights only (no model_config): save the whole model with model.save('{path.stem}.keras')")
    if len(raw) > limits.config_mb * MB:
        raise UnsafeModel(f"{name}: model_config is over {limits.config_mb} MiB; refused")
    config = loads(raw.encode("utf-8"), name, "model_config")
    if not isinstance(config, dict):
        raise BrokenModel(f"{name}: model_config is not a model config")
    training = attrs.get("training_config")
    if training:
        training_config = loads(training.encode("utf-8"), name, "training_config")
        check_config(training_config, name, limits)
        if isinstance(training_config, dict):
            config = dict(config)
            config["compile_config"] = {"optimizer": training_config.get("optimizer_config")}
    check_config(config, name, limits)
    return describe(config, str(path), "h5", attrs.get("keras_version"), limits)
