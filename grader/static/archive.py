"""Reading a Keras 3 ``.keras`` zip as data: member names, sizes and compression ratios, bounded reads, ``.npz`` headers."""

from __future__ import annotations

import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from grader.static.config_check import check_config, loads
from grader.static.description import ModelDescription
from grader.static.errors import BrokenModel, InspectionError, UnsafeModel
from grader.static.graph import describe
from grader.static.hdf5 import HeaderReader, check_hdf5
from grader.static.limits import MB, InspectionLimits

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
        raise UnsafeModel(f"{zip_name}: {member.filename} expands to more than {bound // MB} MiB; refused")
    return data


def _copy_bounded(archive: zipfile.ZipFile, member: zipfile.ZipInfo, bound: int, dest: Path, zip_name: str) -> None:
    written = 0
    with archive.open(member) as src, open(dest, "wb") as out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > bound:
                raise UnsafeModel(f"{zip_name}: {member.filename} expands to more than {bound // MB} MiB; refused")
            out.write(chunk)


def _checked_members(archive: zipfile.ZipFile, name: str, limits: InspectionLimits) -> dict[str, zipfile.ZipInfo]:
    """The members of a Keras 3 zip by name, after every one passed the checks (names, sizes, ratio)."""
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
        if member.file_size > MB and member.compress_size > 0 \
                and member.file_size / member.compress_size > limits.max_ratio:
            raise UnsafeModel(f"{name}: {member.filename} claims {member.file_size / MB:.0f} MiB packed into "
                              f"{member.compress_size / 1024:.0f} KiB (a zip bomb); refused")
    if total > (limits.config_mb + limits.weights_mb + 1) * MB:
        raise UnsafeModel(f"{name} expands to {total / MB:.0f} MiB; refused")
    if "config.json" not in seen:
        raise BrokenModel(f"{name} has no config.json, so it is not a Keras 3 model file: save it with model.save('{name}')")
    return {m.filename: m for m in members}


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BrokenModel(f"{path.name} is truncated or corrupt ({exc}); save the model again with "
                          f"model.save('{path.name}')") from None


def copy_weights_file(path: Path, limits: InspectionLimits, dest: Path) -> Path:
    """Copy the HDF5 weights of the Keras 3 zip at ``path`` to ``dest`` (bounded, members checked first)."""
    name = path.name
    with _open_zip(path) as archive:
        by_name = _checked_members(archive, name, limits)
        if "model.weights.h5" not in by_name:
            raise BrokenModel(f"{name} has no HDF5 weights (model.weights.h5)")
        try:
            _copy_bounded(archive, by_name["model.weights.h5"], limits.weights_mb * MB, dest, name)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise BrokenModel(f"{name}: the weights are truncated or corrupt ({exc})") from None
    return dest


def inspect_keras_zip(path: Path, limits: InspectionLimits, read_headers: HeaderReader = check_hdf5) -> ModelDescription:
    """Describe the Keras 3 zip at ``path`` or raise :class:`InspectionError`; every member is checked before any is read."""
    name = path.name
    archive = _open_zip(path)
    with archive:
        by_name = _checked_members(archive, name, limits)
        try:
            raw_config = _read_bounded(archive, by_name["config.json"], limits.config_mb * MB, name)
            metadata = {}
            if "metadata.json" in by_name:
                metadata = loads(_read_bounded(archive, by_name["metadata.json"], 64 * 1024, name), name, "metadata.json")
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, InspectionError):
                raise
            raise BrokenModel(f"{name} is truncated or corrupt ({exc}); save the model again") from None
        config = loads(raw_config, name, "config.json")
        member = next((m for m in ("model.weights.h5", "model.weights.npz") if m in by_name), None)
        if member is None:
            raise BrokenModel(f"{name} has no weights (model.weights.h5): save it with model.save('{name}')")
        with tempfile.TemporaryDirectory(prefix="grader-inspect-") as tmp:
            weights = Path(tmp) / member
            try:
                _copy_bounded(archive, by_name[member], limits.weights_mb * MB, weights, name)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise BrokenModel(f"{name}: the weights are truncated or corrupt ({exc}); save the model again") from None
            if member.endswith(".h5"):
                read_headers(weights, f"{name}: {member}", limits, True)
            else:
                check_npz(weights, f"{name}: {member}", limits)
    if not isinstance(config, dict):
        raise BrokenModel(f"{name}: config.json is not a model config")
    check_config(config, name, limits)
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    return describe(config, str(path), "keras", version if isinstance(version, str) else None, limits)


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
            if member.file_size > MB and member.compress_size > 0 \
                    and member.file_size / member.compress_size > limits.max_ratio:
                raise UnsafeModel(f"{label}: {raw} claims {member.file_size / MB:.0f} MiB packed into "
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
            if declared > limits.weights_mb * MB:
                raise UnsafeModel(f"{label}: the arrays declare more than {limits.weights_mb} MiB of weights; refused")
