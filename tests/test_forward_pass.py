"""The forecast pass: the windows' forward-pass groups run as separate batches, with what model.predict computes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

WINDOW = 56
GROUP = 6

# Rows of a batch are mixed (keras.ops.roll over axis 0, a legal layer): a forecast depends on
# which rows share its batch, so any change in how the groups are batched shows.
ROW_MIXING = textwrap.dedent("""
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras
    keras.utils.set_random_seed(0)
    inp = keras.Input((56, 1))
    x = keras.layers.Concatenate()([inp, keras.ops.roll(inp, shift=1, axis=0)])
    x = keras.layers.LSTM(4)(x)
    keras.Model(inp, keras.layers.Dense(7)(x), name="q4_forecaster").save(sys.argv[1])
    two = keras.layers.Dense(7)(x)
    keras.Model(inp, [keras.layers.Dense(7)(x), two], name="two_outputs").save(sys.argv[2])
""")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("forward_pass")
    one, two = folder / "row_mixing.keras", folder / "two_outputs.keras"
    subprocess.run([sys.executable, "-c", ROW_MIXING, str(one), str(two)], check=True, capture_output=True,
                   timeout=120)
    return one, two


def _inputs(count: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(count, WINDOW, 1)).astype("float32")


def test_forward_pass_computes_what_predict_computes_batch_by_batch(models):
    import keras

    from grader.sandbox.ops import forward_pass

    model = keras.saving.load_model(models[0], compile=False, safe_mode=True)
    batches = _inputs(4 * GROUP).reshape(4, GROUP, WINDOW, 1)
    expected = np.concatenate([model.predict(batch, batch_size=GROUP, verbose=0) for batch in batches])
    np.testing.assert_array_equal(forward_pass(model, batches), expected)


def test_sandboxed_forecast_keeps_each_group_in_a_batch_of_its_own_and_rows_in_input_order(models, prober):
    import keras

    from grader.forecast.evaluation import forward_pass_groups

    inputs = _inputs(40)
    groups = forward_pass_groups(np.arange(40), 8)     # uneven: the last group is padded with its own rows
    got = np.asarray(prober.predict(models[0], inputs, groups=groups))
    model = keras.saving.load_model(models[0], compile=False, safe_mode=True)
    size = max(len(group) for group in groups)
    expected = np.empty_like(got)
    for group in groups:
        batch = inputs[np.resize(np.asarray(group), size)]
        expected[group] = model.predict(batch, batch_size=size, verbose=0)[: len(group)]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_a_model_with_two_outputs_is_refused_with_their_number(models, tmp_path):
    from grader.sandbox.ops import predict

    (tmp_path / "model.keras").write_bytes(models[1].read_bytes())
    np.save(tmp_path / "inputs.npy", _inputs(GROUP))
    with pytest.raises(ValueError, match="returns 2 outputs; it must return one tensor"):
        predict({"file": "model.keras", "inputs": "inputs.npy", "out": "out.npy"}, tmp_path)
