"""Final red-team pass: attacks that worked when written (each test asserts the secure behaviour)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.core.contract import HORIZON
from grader.forecast.evaluation import forward_pass_groups
from grader.static.errors import BrokenModel, UnsafeModel

WINDOW = 56

# A statically valid forecaster (no Lambda, no custom objects): keras.ops.roll over the batch axis
# (accepted) feeds a stateful linear SimpleRNN, so each row's state after one batch is carried into
# the next batch; the forward-pass groups run as consecutive batches of one model.predict.
STATEFUL_MODEL = textwrap.dedent("""
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np, keras
    inp = keras.Input(batch_shape=(6, 56, 1))
    x = keras.ops.roll(inp, shift=-1, axis=0)
    x = keras.layers.SimpleRNN(1, stateful=True, activation="linear", name="carry")(x)
    model = keras.Model(inp, keras.layers.Dense(7)(x), name="q4_forecaster")
    model.get_layer("carry").set_weights([np.ones((1, 1)), np.ones((1, 1)), np.zeros(1)])
    model.save(sys.argv[1])
""")


@pytest.mark.slow
def test_stateful_rnn_cannot_carry_targets_across_forward_pass_groups(tmp_path: Path):
    """A stateful RNN must not let a window's forecast depend on an earlier group's window that holds its targets."""
    from grader.sandbox.headers import SandboxHeaderReader
    from grader.sandbox.prober import PredictFailed, SandboxProber
    from grader.static.model_file import inspect_model_file

    path = tmp_path / "q4_forecaster.keras"
    subprocess.run([sys.executable, "-c", STATEFUL_MODEL, str(path)], check=True, capture_output=True, timeout=120)
    with SandboxHeaderReader() as headers:
        try:
            inspect_model_file(path, read_headers=headers)
        except (UnsafeModel, BrokenModel):
            return   # refused up front: secure
    origins = np.arange(359)                      # daily held-out windows, as in the default course
    groups = forward_pass_groups(origins, WINDOW + HORIZON)
    group_of = {index: number for number, group in enumerate(groups) for index in group}
    inputs = np.random.default_rng(0).normal(size=(len(origins), WINDOW, 1)).astype("float32")
    i, j = 1, 63                                  # window 63's inputs hold window 1's last target day
    assert origins[i] < origins[j] <= origins[i] + WINDOW + HORIZON - 1 and group_of[j] < group_of[i]
    changed = inputs.copy()
    changed[j] += 5.0
    prober = SandboxProber({})
    try:
        try:
            base = np.asarray(prober.predict(path, inputs, groups=groups))
            other = np.asarray(prober.predict(path, changed, groups=groups))
        except PredictFailed:   # the worker refusing to run the model at all is secure too
            return
    finally:
        close = getattr(prober, "close", None)
        if close is not None:
            close()
    assert np.allclose(base[i], other[i]), (
        f"window {i}'s forecast moved by {np.abs(base[i] - other[i]).max():.1f} when only window {j} "
        f"(group {group_of[j]}, whose inputs hold window {i}'s targets) changed")
