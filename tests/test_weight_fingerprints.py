"""Weight fingerprints read in the sandbox (header_ops.weight_samples), and the reply checked as untrusted."""

from __future__ import annotations

import math

import pytest

from grader.sandbox.headers import _accept_weights
from grader.static.errors import BrokenModel

GOOD = {"tensors": [{"shape": [2, 3], "sha256": "ab" * 32, "sample": [0.5] * 6}], "cut": False}


@pytest.mark.parametrize("reply", [
    None, [], {"tensors": []}, {**GOOD, "extra": 1},
    {"tensors": [{**GOOD["tensors"][0], "sample": [math.inf]}], "cut": False},
    {"tensors": [{**GOOD["tensors"][0], "sample": [1] * 3}], "cut": False},          # ints are not what it sends
    {"tensors": [{**GOOD["tensors"][0], "sample": [0.5] * 300}], "cut": False},      # over the sample size
    {"tensors": [{**GOOD["tensors"][0], "shape": [1] * 9}], "cut": False},           # over the rank
    {"tensors": [{**GOOD["tensors"][0], "shape": [-1, 3]}], "cut": False},
    {"tensors": [{**GOOD["tensors"][0], "sha256": "not hex" * 9}], "cut": False},
    {"tensors": [GOOD["tensors"][0]] * 65, "cut": False},                              # over the tensor count
    {"tensors": GOOD["tensors"], "cut": "no"},
])
def test_a_forged_or_oversized_reply_is_refused(reply):
    with pytest.raises(BrokenModel, match="could not be read"):
        _accept_weights(reply, "q4_forecaster.keras", 64, 256)


def test_a_well_formed_reply_is_accepted():
    assert _accept_weights(GOOD, "q4_forecaster.keras", 64, 256) == GOOD


@pytest.mark.slow
def test_a_resaved_renamed_or_fine_tuned_copy_is_found_and_an_independent_model_is_not(tmp_path):
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from grader.sandbox.headers import SandboxHeaderReader
    from grader.similarity.models import ModelPrint, compare_models
    from grader.static.archive import copy_weights_file
    from grader.static.limits import DEFAULT_INSPECTION_LIMITS

    def build(seed: int, names: str = "gru") -> keras.Model:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((56, 1)), keras.layers.GRU(16, name=f"{names}_1"),
                                  keras.layers.Dense(7, name=f"{names}_out")])
        model.compile("adam", "mse")
        return model

    x, y = np.random.default_rng(0).random((64, 56, 1)), np.random.default_rng(1).random((64, 7))
    original = build(1)
    original.fit(x, y, epochs=1, verbose=0)
    original.save(tmp_path / "a.keras")
    keras.saving.load_model(tmp_path / "a.keras").save(tmp_path / "resaved.keras")
    renamed = build(99, names="mine")
    renamed.set_weights(original.get_weights())
    renamed.save(tmp_path / "renamed.keras")
    tuned = keras.saving.load_model(tmp_path / "a.keras")
    tuned.fit(x * 0.9, y, epochs=2, verbose=0)
    tuned.save(tmp_path / "tuned.keras")
    other = build(2)
    other.fit(x, y, epochs=1, verbose=0)
    other.save(tmp_path / "other.keras")

    names = ["a", "resaved", "renamed", "tuned", "other"]
    files = {n: copy_weights_file(tmp_path / f"{n}.keras", DEFAULT_INSPECTION_LIMITS, tmp_path / f"{n}.h5")
             for n in names}
    with SandboxHeaderReader() as reader:
        replies = reader.weights(files, DEFAULT_INSPECTION_LIMITS)
    prints = {n: ModelPrint.from_reply(replies[n]) for n in names}
    assert compare_models(prints["a"], prints["resaved"]).kind == "same weights"
    assert compare_models(prints["a"], prints["renamed"]).kind == "same weights"
    assert compare_models(prints["a"], prints["tuned"]).kind == "same origin"
    assert compare_models(prints["a"], prints["other"]).kind is None
