"""Where a submitted model file is accepted or refused: the entry point of static inspection.

No TensorFlow, no deserialisation, no student code. ``inspect_model_file(path)``
reads a Keras 3 ``.keras`` zip (or a legacy ``.h5``) as data, refuses anything
unsafe or broken with one line saying what is wrong and what to do, and
otherwise returns a :class:`~grader.static.description.ModelDescription`.

Refusals, in the order they are tried, and the module that makes each:

* missing, empty, truncated or wrong-type files (here);
* zip members other than the ones Keras writes, absolute or ``..`` names,
  symlinks, encryption, oversized members or suspicious compression ratios
  (a 1 GB ``config.json`` inside a 1 MB file; in :mod:`grader.static.archive`);
* any object in the config (inside wrappers, nested models and the compile
  config too) that is not a built-in Keras class from a Keras module (the
  pure keras.ops operations a functional model records, Keras 2's model and
  legacy optimizer modules, and built-in loss, metric and activation
  functions are accepted by name; see :mod:`grader.static.allowlist`;
  checked in :mod:`grader.static.config_check`);
* HDF5 external links, virtual or externally stored datasets, unknown
  compression filters, non-numeric data, or declared dataset sizes over the
  bound, checked before any data is read (:mod:`grader.static.hdf5`);
  ``.npz`` weights holding pickled objects or oversized arrays, from their
  headers alone (:mod:`grader.static.archive`);
* declared sizes that would stall or crash the worker that loads the model:
  a layer's units, filters, vocabulary, kernel, dilation, padding, upsampling
  or repeat factor over its bound, or, for the whole model at one probe
  sample, too many recurrent steps, too much upsampling along a path, too
  many weights or too large a layer output (:mod:`grader.static.bounds`,
  called when the config is described).

The bounds are :class:`~grader.static.limits.InspectionLimits`; the exceptions
are in :mod:`grader.static.errors`. :mod:`grader.static.graph` turns an
accepted config into the description; ``RNN(StackedRNNCells([...]))`` is
described as the stack of recurrent layers it computes, one per cell.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from grader.static.archive import inspect_keras_zip
from grader.static.description import ModelDescription
from grader.core.near_miss import missing_hint
from grader.static.errors import BrokenModel
from grader.static.hdf5 import HeaderReader, check_hdf5, inspect_h5
from grader.static.limits import DEFAULT_INSPECTION_LIMITS, MB, InspectionLimits

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def sniff(path: Path) -> str:
    """'zip', 'hdf5' or 'unknown' from the first bytes of ``path``."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    return "unknown"


def inspect_model_file(path: str | os.PathLike, limits: InspectionLimits = DEFAULT_INSPECTION_LIMITS,
                       read_headers: HeaderReader = check_hdf5) -> ModelDescription:
    """Describe the model saved at ``path`` or raise :class:`InspectionError`.

    ``read_headers`` walks HDF5 files (a legacy ``.h5``, the weights inside a ``.keras``) with
    libhdf5, C code fed a hostile file: the grader passes
    :class:`grader.sandbox.headers.SandboxHeaderReader`, which does it in a sandboxed process.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise BrokenModel(f"{name} is missing: save your model with model.save('{name}') and add it to the "
                          f"submission{missing_hint(path.parent, name)}")
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise BrokenModel(f"{name} is not a regular file: submit the saved model file itself")
    if info.st_size == 0:
        raise BrokenModel(f"{name} is empty (0 bytes): save the model again with model.save('{name}')")
    if info.st_size > limits.file_mb * MB:
        raise BrokenModel(f"{name} is {info.st_size / MB:.0f} MiB, over the {limits.file_mb} MiB limit: "
                          "a model for this task needs far fewer weights")
    kind = sniff(path)
    suffix = path.suffix.lower()
    if suffix == ".keras":
        if kind == "hdf5":
            raise BrokenModel(f"{name} is a legacy HDF5 file renamed .keras: save with model.save('{name}') "
                              f"in Keras 3, or submit it as {path.stem}.h5")
        if kind != "zip":
            raise BrokenModel(f"{name} is not a Keras model file (no zip header): save it with model.save('{name}')")
        return inspect_keras_zip(path, limits, read_headers)
    if suffix in (".h5", ".hdf5"):
        if kind != "hdf5":
            raise BrokenModel(f"{name} is not an HDF5 file: save it with model.save('{path.stem}.keras')")
        return inspect_h5(path, limits, read_headers)
    raise BrokenModel(f"{name}: unsupported model file type '{suffix}': save it with model.save('{path.stem}.keras')")
