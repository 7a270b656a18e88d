"""Keras 2 files (keras 2.x, tf-keras) that static inspection accepts also load, probe and score in the
sandbox: the worker falls back to a sanitised copy Keras 3 accepts (``grader.sandbox.keras2.keras2_to_keras3``),
which only deletes keys, adds an InputLayer, and renames Keras 2 model modules, so it can never let
through what static inspection refused.

The ``k2_`` files are the real tf-keras 2.21 files of tests/models/ (see its README); variants are
made here by editing their configs with json / h5py, never by loading them.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from grader.grading.checking import check_task
from grader.static.config_check import check_config
from grader.static.errors import UnsafeModel
from grader.static.model_file import inspect_model_file
from grader.sandbox.keras2 import (KERAS2_MODEL_MODULES, _rejected_keywords, _renumber_nested_model_nodes, is_keras2_file,
                                   keras2_to_keras3, write_sanitized_copy)

MODELS = Path(__file__).resolve().parent / "models"
HOSTILE = Path(__file__).resolve().parent / "hostile"
KERAS2_FILES = sorted(p.name for p in MODELS.iterdir() if "__k2_" in p.name)
# file -> the checks that must fail (every other check, the probe's included, must pass)
WRONG = {"q5_stable_rnn__k2_wrong_no_clipping.h5": {"gradient_remedies"},
         "q5_stable_rnn__k2_wrong_no_clipping.keras": {"gradient_remedies"}}
LEGACY_ADVICE = "this file was saved with Keras 2 and could not be loaded by Keras 3 ("


# --------------------------------------------------------------------------- config files without Keras

def _read_config(path: Path) -> dict:
    if path.suffix == ".h5":
        import h5py

        with h5py.File(path, "r") as handle:
            return json.loads(handle.attrs["model_config"])
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def _with_config(source: Path, dest: Path, edit) -> Path:
    """``source`` copied to ``dest`` with ``edit(config)`` applied to its model config."""
    config = _read_config(source)
    edit(config)
    write_sanitized_copy(source, config, dest)
    return dest


def _objects(node: Any):
    if isinstance(node, dict):
        if "class_name" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def _submission(tmp_path: Path, name: str, source: Path | None = None) -> tuple[str, Path]:
    """A submission folder holding ``source`` (default: the corpus file ``name``) under its task's file name."""
    task_id = name.split("__")[0]
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(source or MODELS / name, folder / f"{task_id}{Path(name).suffix}")
    return task_id, folder


def _drop_input_layer(config: dict) -> None:
    """Make a tf-keras 2.21 Sequential config look like an older Keras 2 one: no InputLayer, the shape on
    the first layer only."""
    layers = config["config"]["layers"]
    assert layers[0]["class_name"] == "InputLayer" and "batch_input_shape" in layers[1]["config"]
    del layers[0]


def _keras2_lambda(config: dict, keras_format: bool) -> None:
    """Put a Keras 2 Lambda layer (as tf-keras saves one) after the input of a Sequential config."""
    code = "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMEAAAAfABTAKkBTqkAKQHaAXhyAQAAAHIBAAAA+gE8bGFtYmRhPgEAAADzAAAAAA=="
    if keras_format:
        function: Any = {"class_name": "__lambda__", "config": {"code": code, "defaults": None, "closure": None}}
    else:
        function = [code, None, None]
    layer = {"class_name": "Lambda", "config": {"name": "lambda", "trainable": True, "dtype": "float32",
                                                "function": function, "function_type": "lambda",
                                                "module": "__main__", "output_shape": None, "arguments": {}}}
    if keras_format:
        layer = {"module": "keras.layers", **layer, "registered_name": None}
    config["config"]["layers"].insert(1, layer)


def test_the_corpus_has_keras2_files_of_both_formats():
    assert len(KERAS2_FILES) == 14
    assert {Path(name).suffix for name in KERAS2_FILES} == {".h5", ".keras"}


@pytest.mark.parametrize("name", KERAS2_FILES)
def test_keras2_files_are_recognised(name):
    assert is_keras2_file(MODELS / name)


@pytest.mark.parametrize("name", ["q1_seq2seq__functional.h5", "q1_seq2seq__functional.keras",
                                  "q7_conv_rnn__wavenet_dilated.h5", "q8_video_classifier__nested_frame_cnn.keras"])
def test_keras3_files_are_not_taken_for_keras2(name):
    assert not is_keras2_file(MODELS / name)


def _changes(original: Any, sanitized: Any, where: str = "") -> list[str]:
    """Every difference between two configs that is NOT a deleted key, an added InputLayer, a Keras 2 model
    module renamed, a one-element axis list made an int, or a nested model's node number lowered by one."""
    if isinstance(original, dict) and isinstance(sanitized, dict):
        found = [f"{where}.{key} added" for key in sanitized if key not in original]
        for key in sanitized.keys() & original.keys():
            before, after = original[key], sanitized[key]
            if key == "module" and before != after:
                if not (after == KERAS2_MODEL_MODULES.get(original.get("class_name"))
                        and before.startswith(("tf_keras.", "keras.engine.", "keras.src.engine."))):
                    found.append(f"{where}.module {before!r} -> {after!r}")
            elif key == "axis" and isinstance(before, list) and before == [after]:
                continue
            else:
                found += _changes(before, after, f"{where}.{key}")
        return found
    if isinstance(original, list) and isinstance(sanitized, list):
        if len(sanitized) == len(original) + 1 and isinstance(sanitized[0], dict) \
                and sanitized[0].get("class_name") == "InputLayer" and "layers" in where.rsplit(".", 1)[-1]:
            sanitized = sanitized[1:]
        if len(sanitized) != len(original):
            return [f"{where}: {len(original)} items -> {len(sanitized)}"]
        if len(original) >= 3 and isinstance(original[0], str) and isinstance(original[1], int) \
                and original[1] - sanitized[1] == 1 and original[0] == sanitized[0]:
            return []    # a node reference [layer, node, tensor, (kwargs)] renumbered
        return [c for i, (a, b) in enumerate(zip(original, sanitized)) for c in _changes(a, b, f"{where}[{i}]")]
    return [] if original == sanitized else [f"{where}: {original!r} -> {sanitized!r}"]


@pytest.mark.parametrize("name", KERAS2_FILES)
def test_sanitising_only_deletes_keys_or_adds_an_input_layer(name):
    original = _read_config(MODELS / name)
    sanitized = keras2_to_keras3(original, {"LSTM": {"unit_forget_bias"}})
    assert _changes(original, sanitized) == []
    check_config(sanitized, name)          # still nothing but built-in Keras classes
    classes = {(o.get("class_name"), o.get("module")) for o in _objects(original)}
    for obj in _objects(sanitized):
        key = (obj.get("class_name"), obj.get("module"))
        assert key in classes or key[0] == "InputLayer" or key[1] in KERAS2_MODEL_MODULES.values(), key
        inner = obj.get("config") if isinstance(obj.get("config"), dict) else {}
        assert "time_major" not in inner
        assert obj.get("class_name") == "InputLayer" or "batch_input_shape" not in inner
        if obj.get("class_name") == "LSTM":
            assert "unit_forget_bias" not in inner    # what Keras 3 was seen to reject goes too


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_sequential_without_input_layer_gets_one(suffix):
    config = _read_config(MODELS / f"q3_deep_seq2vec__k2_sequential_lstm{suffix}")
    _drop_input_layer(config)
    layers = keras2_to_keras3(config)["config"]["layers"]
    assert layers[0]["class_name"] == "InputLayer"
    assert layers[0]["config"]["batch_shape"] == [None, None, 3]
    assert layers[0]["config"]["name"] == "lstm_input"
    assert ("module" in layers[0]) == (suffix == ".keras")   # legacy HDF5 configs name no modules
    assert "batch_input_shape" not in layers[1]["config"]


def test_calls_of_nested_models_are_numbered_as_keras3_counts_them():
    config = _read_config(MODELS / "q7_conv_rnn__k2_nested_frontend.keras")
    gru = next(spec for spec in config["config"]["layers"] if spec["class_name"] == "GRU")
    assert gru["inbound_nodes"] == [[["frontend", 1, 0, {}]]]       # Keras 2 skipped the nested model's own node
    sanitized = keras2_to_keras3(config)
    assert sanitized["module"] == "keras.src.models.functional"
    gru = next(spec for spec in sanitized["config"]["layers"] if spec["class_name"] == "GRU")
    assert gru["inbound_nodes"] == [[["frontend", 0, 0, {}]]]


def test_endpoint_numbers_are_kept_for_functional_and_lowered_for_sequential():
    model = {"layers": [
        {"class_name": "InputLayer", "name": "x", "config": {}, "inbound_nodes": []},
        {"class_name": "Functional", "name": "inner", "config": {"layers": [], "input_layers": []},
         "inbound_nodes": [[["x", 0, 0, {}]]]},
        {"class_name": "Sequential", "name": "head", "config": {"layers": [{"class_name": "InputLayer", "config": {}}]},
         "inbound_nodes": [[["inner", 1, 0, {}]]]},
        {"class_name": "Sequential", "name": "unbuilt", "config": {"layers": [{"class_name": "Dense", "config": {}}]},
         "inbound_nodes": [[["head", 1, 0, {}]]]},
    ], "input_layers": [["x", 0, 0]], "output_layers": [["inner", 1, 0], ["head", 1, 0], ["unbuilt", 0, 0]]}
    _renumber_nested_model_nodes(model)
    assert [spec["inbound_nodes"] for spec in model["layers"][1:]] == [
        [[["x", 0, 0, {}]]], [[["inner", 0, 0, {}]]], [[["head", 0, 0, {}]]]]
    # Keras 3 itself subtracts one for a Functional endpoint, never for a Sequential one.
    assert model["output_layers"] == [["inner", 1, 0], ["head", 0, 0], ["unbuilt", 0, 0]]


@pytest.mark.parametrize("message, expected", [
    ("Unrecognized keyword arguments passed to LSTM: {'time_major': False}", ("LSTM", {"time_major"})),
    ("<class 'Sequential'> could not be deserialized.\n\nException encountered: Unrecognized keyword arguments "
     "passed to TimeDistributed: {'batch_input_shape': [None, None, 16, 16, 3]}",
     ("TimeDistributed", {"batch_input_shape"})),
    ("Orthogonal.__init__() got an unexpected keyword argument 'dtype'", ("Orthogonal", {"dtype"})),
    ("Could not locate class 'CuDNNLSTM'", None),
])
def test_rejected_keywords_are_read_from_keras_errors(message, expected):
    assert _rejected_keywords(ValueError(message)) == expected


# --------------------------------------------------------------------------- safety

class _NoLoading:
    """A prober that fails the test if anything reaches the sandbox."""

    def probe_model(self, *args):
        raise AssertionError("the file reached the loader")

    def lstm_step_cases(self, *args):
        raise AssertionError("the file reached the loader")

    def predict(self, *args):
        raise AssertionError("the file reached the loader")


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_keras2_lambda_is_refused_before_any_load(bank, tmp_path, suffix):
    source = MODELS / f"q3_deep_seq2vec__k2_sequential_lstm{suffix}"
    hostile = _with_config(source, tmp_path / f"k2_lambda{suffix}",
                           lambda config: _keras2_lambda(config, suffix == ".keras"))
    assert is_keras2_file(hostile)
    with pytest.raises(UnsafeModel, match="is a Lambda layer"):
        inspect_model_file(hostile)
    task_id, folder = _submission(tmp_path, f"q3_deep_seq2vec__x{suffix}", hostile)
    results, description = check_task(bank.task(task_id), folder, prober=_NoLoading())
    assert description is None
    assert [(r.check, r.status, r.score) for r in results] == [("file", "error", 0.0)]
    assert "is a Lambda layer" in results[0].output
    # Sanitising keeps every class: were it ever reached, the rewritten config is refused the same way.
    with pytest.raises(UnsafeModel, match="is a Lambda layer"):
        check_config(keras2_to_keras3(_read_config(hostile)), hostile.name)


def test_the_legacy_hostile_lambda_is_refused_before_any_load(bank, tmp_path):
    task_id, folder = _submission(tmp_path, "q3_deep_seq2vec__x.h5", HOSTILE / "legacy_lambda.h5")
    results, _ = check_task(bank.task(task_id), folder, prober=_NoLoading())
    assert [(r.check, r.status) for r in results] == [("file", "error")]
    assert "is a Lambda layer" in results[0].output


# --------------------------------------------------------------------------- the real sandbox

def _failed(results) -> set[str]:
    return {r.check for r in results if r.status != "passed"}


@pytest.mark.slow
@pytest.mark.parametrize("name", KERAS2_FILES)
def test_keras2_file_loads_and_probes_in_the_sandbox(bank, prober, tmp_path, name):
    task_id, folder = _submission(tmp_path, name)
    task = bank.task(task_id)
    results, description = check_task(task, folder, prober=prober)
    assert description is not None and description.keras_version == "2.21.0"
    assert {r.check for r in results} == {check for check, _ in task.checks if check != "forecast_accuracy"}
    assert "output_shape" in {r.check for r in results}
    assert _failed(results) == WRONG.get(name, set()), [r.output for r in results]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras2_sequential_without_input_layer_loads_in_the_sandbox(bank, prober, tmp_path, suffix):
    source = MODELS / f"q3_deep_seq2vec__k2_sequential_lstm{suffix}"
    old_style = _with_config(source, tmp_path / f"old{suffix}", _drop_input_layer)
    task_id, folder = _submission(tmp_path, f"q3_deep_seq2vec__x{suffix}", old_style)
    results, description = check_task(bank.task(task_id), folder, prober=prober)
    assert description.input_shape == (None, None, 3)
    assert _failed(results) == set(), [r.output for r in results]
    shapes = next(r for r in results if r.check == "output_shape").output
    assert "(3, 8, 3) -> (3, 2)" in shapes


def _unloadable(tmp_path: Path) -> Path:
    """A Keras 2 file static inspection accepts but Keras 3 cannot build: a CuDNNLSTM (Keras 2 only)."""
    def cudnn(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "LSTM":
                layer["class_name"] = "CuDNNLSTM"
    return _with_config(MODELS / "q3_deep_seq2vec__k2_sequential_lstm.h5", tmp_path / "cudnn.h5", cudnn)


@pytest.mark.slow
def test_an_unloadable_keras2_file_tells_the_student_to_resave_it(bank, prober, tmp_path):
    task_id, folder = _submission(tmp_path, "q3_deep_seq2vec__x.h5", _unloadable(tmp_path))
    results, description = check_task(bank.task(task_id), folder, prober=prober)
    assert description is not None                     # static inspection accepted it
    assert [(r.check, r.status, r.score) for r in results] == [("run", "error", 0.0)]
    message = results[0].output
    assert message.startswith("q3_deep_seq2vec.h5: ") and LEGACY_ADVICE in message, message
    assert "CuDNNLSTM" in message and "re-save it with Keras 3 as " in message and "\n" not in message


@pytest.mark.slow
def test_the_worker_names_the_file_to_resave_when_told_the_task(prober, tmp_path):
    from grader.sandbox.errors import TaskFailed

    payload = {"file": "model.h5", "kind": "deep_seq2vec", "declared": None, "task": "q3_deep_seq2vec"}
    with pytest.raises(TaskFailed) as failed:
        prober.worker.run("probe_model", payload, {"model.h5": _unloadable(tmp_path)})
    message = str(failed.value)
    assert LEGACY_ADVICE in message and "CuDNNLSTM" in message
    assert message.endswith("): re-save it with Keras 3 as q3_deep_seq2vec.keras"), message


@pytest.mark.slow
@pytest.mark.parametrize("name", KERAS2_FILES)
def test_keras2_weights_are_the_files_own(tmp_path, name):
    """The sanitised copy loads the saved weights, not fresh ones (Keras 3 only warns when it skips some)."""
    import h5py
    import numpy as np

    from grader.sandbox import ops as probes

    arrays: list[Any] = []

    def collect(path: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and "optimizer" not in path:
            arrays.append(np.asarray(obj))

    if name.endswith(".h5"):
        with h5py.File(MODELS / name, "r") as handle:
            handle["model_weights"].visititems(collect)
    else:
        with zipfile.ZipFile(MODELS / name) as archive, \
                h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as handle:
            handle.visititems(collect)
    shutil.copyfile(MODELS / name, tmp_path / f"model{Path(name).suffix}")
    model = probes._load(tmp_path, f"model{Path(name).suffix}")   # in this process: test only

    def fingerprint(values: list[Any]) -> list[tuple]:
        return sorted((a.shape, round(float(a.sum()), 5), round(float(np.abs(a).sum()), 5)) for a in values)

    assert fingerprint(model.get_weights()) == fingerprint(arrays)
    assert not list(tmp_path.glob("keras3-*")), "the sanitised copy is removed after loading"


@pytest.mark.parametrize("message, reason", [
    ("Unknown layer: 'CuDNNLSTM'. Please ensure you are using a `keras.utils.custom_object_scope`.",
     "Unknown layer: 'CuDNNLSTM'"),
    ("<class 'Sequential'> could not be deserialized properly.\n\nconfig={...}.\n\nException encountered: "
     "int() argument must be a string, a bytes-like object or a real number, not 'list'",
     "int() argument must be a string, a bytes-like object or a real number, not 'list'"),
])
def test_the_reason_shown_is_keras_innermost_one(message, reason):
    from grader.sandbox.keras2 import _root_cause

    assert _root_cause(TypeError(message)) == reason
