"""Static inspection refuses declared sizes that would stall or crash a worker (grader/static/bounds.py),
with one line naming the layer, what it declares, what is allowed and the fix, and accepts the sizes
real textbook models use.

Every model here is a hand-written Keras 3 config.json in a zip (no TensorFlow), with the weights
member of a corpus file: static inspection reads only the weights' headers, never matches them.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from grader.static.errors import UnsafeModel
from grader.static.limits import InspectionLimits
from grader.static.model_file import inspect_model_file

MODELS = Path(__file__).resolve().parent / "models"
DONOR = MODELS / "q4_forecaster__variable_window_gru.keras"


# --------------------------------------------------------------------------- configs without Keras

def layer(class_name: str, name: str, module: str = "keras.layers", **config: Any) -> dict:
    return {"module": module, "class_name": class_name, "config": {"name": name, **config}, "registered_name": None}


def op(class_name: str, name: str, **config: Any) -> dict:
    """A keras.ops call as a functional model records it."""
    return layer(class_name, name, module="keras.src.ops.numpy", **config)


def sequential(*layers: dict, shape: tuple | None = (None, 1), name: str = "m") -> dict:
    """``keras.Sequential([keras.Input(shape), *layers])``; ``shape`` excludes the batch axis."""
    first = [layer("InputLayer", f"{name}_input", batch_shape=[None, *shape])] if shape is not None else []
    return {"module": "keras", "class_name": "Sequential", "config": {"name": name, "layers": first + list(layers)},
            "registered_name": None}


class Functional:
    """Builds a functional config: ``x = g.input((None, 1)); y = g.add(layer(...), x); g.config(y)``."""

    def __init__(self, name: str = "m"):
        self.name = name
        self.layers: list[dict] = []
        self.inputs: list[str] = []

    def input(self, shape: tuple, name: str = "x") -> str:
        self.layers.append({**layer("InputLayer", name, batch_shape=[None, *shape]), "name": name, "inbound_nodes": []})
        self.inputs.append(name)
        return name

    def add(self, spec: dict, *sources: str) -> str:
        name = spec["config"]["name"]
        tensors = [{"class_name": "__keras_tensor__", "config": {"keras_history": [s, 0, 0]}} for s in sources]
        args = [tensors] if len(tensors) > 1 else tensors
        self.layers.append({**spec, "name": name, "inbound_nodes": [{"args": args, "kwargs": {}}]})
        return name

    def config(self, *outputs: str) -> dict:
        return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
                "config": {"name": self.name, "layers": self.layers,
                           "input_layers": [[name, 0, 0] for name in self.inputs],
                           "output_layers": [[name, 0, 0] for name in outputs]}}


def save(tmp_path: Path, config: dict, name: str = "q4_forecaster.keras") -> Path:
    with zipfile.ZipFile(DONOR) as donor:
        weights, metadata = donor.read("model.weights.h5"), donor.read("metadata.json")
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", metadata)
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights)
    return path


def refusal(tmp_path: Path, config: dict, limits: InspectionLimits | None = None) -> str:
    """The one-line refusal of ``config``; fails if it is accepted."""
    path = save(tmp_path, config)
    with pytest.raises(UnsafeModel) as info:
        inspect_model_file(path, limits) if limits else inspect_model_file(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(path.name + ": "), message
    assert str(tmp_path) not in message and str(MODELS.parent) not in message, message    # no server path
    return message


def accepted(tmp_path: Path, config: dict) -> None:
    inspect_model_file(save(tmp_path, config))


def forecaster(*body: dict, shape: tuple = (None, 1)) -> dict:
    """``Input(shape) -> *body -> GRU(16) -> Dense(7)``: the q4 skeleton around the layers under test."""
    return sequential(*body, layer("GRU", "gru", units=16), layer("Dense", "head", units=7), shape=shape)


# --------------------------------------------------------------------------- one layer's declared sizes

# id -> (build(value), a value just over the default bound, a realistic textbook value, a piece of the refusal)
PER_LAYER = {
    "dense_units": (lambda v: sequential(layer("Dense", "out", units=v)), 65537, 10000,
                    "has 65,537 units; at most 65,536"),
    "lstm_units": (lambda v: sequential(layer("LSTM", "lstm", units=v)), 65537, 1024, "has 65,537 units"),
    "conv_filters": (lambda v: forecaster(layer("Conv1D", "conv", filters=v, kernel_size=1)), 8193, 2048,
                     "has 8,193 filters; at most 8,192"),
    "kernel_size": (lambda v: forecaster(layer("Conv1D", "conv", filters=8, kernel_size=[v], padding="valid")),
                    4097, 251, "has kernel_size 4,097; at most 4,096"),
    "dilation_rate": (lambda v: forecaster(layer("Conv1D", "conv", filters=8, kernel_size=2, dilation_rate=v,
                                                 padding="causal")), 4097, 512, "has dilation_rate 4,097"),
    "causal_padding": (lambda v: forecaster(layer("Conv1D", "conv", filters=8, kernel_size=v, dilation_rate=4096,
                                                  padding="causal")), 4, 3, "pads 12,288 steps ((kernel_size - 1)"),
    "pool_size": (lambda v: forecaster(layer("MaxPooling1D", "pool", pool_size=[v], padding="same")), 4097, 2,
                  "pools windows of 4,097 steps"),
    "upsampling_1d": (lambda v: forecaster(layer("UpSampling1D", "up", size=v)), 65, 2,
                      "layer 'up' (UpSampling1D) repeats each step 65 times; at most 64 is allowed"),
    "upsampling_2d": (lambda v: sequential(layer("UpSampling2D", "up", size=[2, v]), shape=(8, 8, 3)), 65, 2,
                      "layer 'up' (UpSampling2D) repeats each step 65 times"),
    "upsampling_3d": (lambda v: sequential(layer("UpSampling3D", "up", size=v), shape=(4, 8, 8, 1)), 65, 2,
                      "(UpSampling3D) repeats each step 65 times"),
    "transpose_strides": (lambda v: forecaster(layer("Conv1DTranspose", "deconv", filters=4, kernel_size=2,
                                                     strides=v, padding="same")), 65, 2,
                          "stretches its input 65 times (strides)"),
    "repeat_vector": (lambda v: sequential(layer("RepeatVector", "repeat", n=v), layer("LSTM", "dec", units=8),
                                           shape=(4,)), 1025, 7, "repeats its input 1,025 times; at most 1,024"),
    "zero_padding_1d": (lambda v: forecaster(layer("ZeroPadding1D", "pad", padding=[v, 0])), 8193, 3,
                        "layer 'pad' (ZeroPadding1D) pads 8,193 steps; at most 8,192"),
    "zero_padding_2d": (lambda v: sequential(layer("ZeroPadding2D", "pad", padding=[[v, v], [1, 1]]),
                                             shape=(28, 28, 1)), 8193, 3, "pads 8,193 steps"),
    "reshape_dims": (lambda v: sequential(layer("Reshape", "reshape", target_shape=[v, 1]), shape=(56,)),
                     (1 << 20) + 1, 56, "declares a dimension of 1,048,577 (target_shape)"),
    "input_dims": (lambda v: forecaster(shape=(v, 1)), (1 << 20) + 1, 56, "declares an input dimension of 1,048,577"),
    "embedding_vocabulary": (lambda v: sequential(layer("Embedding", "embed", input_dim=v, output_dim=8),
                                                  shape=(None,)), (1 << 20) + 1, 50257,
                             "declares a vocabulary of 1,048,577 token ids (input_dim)"),
    "embedding_width": (lambda v: sequential(layer("Embedding", "embed", input_dim=100, output_dim=v),
                                             shape=(None,)), 65537, 128, "embeds each token in 65,537 dimensions"),
    "attention_width": (lambda v: sequential(layer("MultiHeadAttention", "mha", num_heads=v, key_dim=64),
                                             shape=(None, 64)), 1025, 8, "projects to 65,600 features (1025 heads"),
    "category_tokens": (lambda v: sequential(layer("CategoryEncoding", "onehot", num_tokens=v, output_mode="multi_hot"),
                                             shape=(1,)), (1 << 20) + 1, 10,
                        "encodes 1,048,577 categories (num_tokens)"),
    "resizing": (lambda v: sequential(layer("Resizing", "resize", height=v, width=8), shape=(8, 8, 3)),
                 (1 << 20) + 1, 224, "declares a dimension of 1,048,577 (height)"),
}


@pytest.mark.parametrize("case", sorted(PER_LAYER))
def test_a_declared_size_just_over_its_bound_is_refused(tmp_path, case):
    build, over, _, text = PER_LAYER[case]
    message = refusal(tmp_path, build(over))
    assert text in message, message
    assert "allowed: " in message       # and a fix follows


@pytest.mark.parametrize("case", sorted(PER_LAYER))
def test_the_same_size_at_a_textbook_value_is_accepted(tmp_path, case):
    build, _, realistic, _ = PER_LAYER[case]
    accepted(tmp_path, build(realistic))


def test_the_red_team_forecaster_is_refused_with_a_fix(tmp_path):
    message = refusal(tmp_path, forecaster(layer("UpSampling1D", "up", size=2000), shape=(56, 1)))
    assert "layer 'up' (UpSampling1D) repeats each step 2,000 times; at most 64 is allowed: " in message
    assert "RepeatVector(7)" in message


@pytest.mark.parametrize("build, text", [
    (lambda: sequential(layer("Dense", "out", units=1e9)), "has 1,000,000,000 units"),
    (lambda: forecaster(op("Repeat", "repeat", repeats=1000, axis=1)),
     "layer 'repeat' (Repeat) repeats its input 1,000"),
    (lambda: forecaster(op("Tile", "tile", repeats=[1, 500, 1])), "layer 'tile' (Tile) repeats its input 500 times"),
    (lambda: forecaster(op("Pad", "pad", pad_width=[[0, 0], [10 ** 7, 0], [0, 0]])),
     "layer 'pad' (Pad) pads 10,000,000"),
    (lambda: sequential(layer("Embedding", "embed", input_dim=10 ** 9, output_dim=1), shape=(None,)),
     "vocabulary of 1,000,000,000"),
], ids=["float_units", "ops_repeat", "ops_tile", "ops_pad", "embedding_1e9"])
def test_sizes_hidden_in_floats_and_keras_ops_are_bounded_too(tmp_path, build, text):
    assert text in refusal(tmp_path, build())


def test_the_bounds_are_the_limits_given(tmp_path):
    config = forecaster(layer("UpSampling1D", "up", size=8))
    accepted(tmp_path, config)
    assert "at most 4 is allowed" in refusal(tmp_path, config, InspectionLimits(max_upsampling=4))


# --------------------------------------------------------------------------- wrappers and nested models

def test_wrapped_and_nested_layers_are_bounded(tmp_path):
    td = layer("TimeDistributed", "td", layer=layer("Dense", "inner", units=10 ** 8))
    assert "layer 'td' (TimeDistributed(Dense)) has 100,000,000 units" in refusal(tmp_path, sequential(td))

    bi = layer("Bidirectional", "bi", layer=layer("LSTM", "forward_lstm", units=10 ** 6))
    assert "layer 'bi' (Bidirectional(LSTM)) has 1,000,000 units" in refusal(tmp_path, sequential(bi))

    backward = layer("Bidirectional", "bi", merge_mode="concat", layer=layer("LSTM", "forward_lstm", units=8),
                     backward_layer=layer("LSTM", "back", units=10 ** 6, go_backwards=True))
    assert "'back' (LSTM) in layer 'bi' (Bidirectional(LSTM)) has 1,000,000 units" \
        in refusal(tmp_path, sequential(backward))

    stack = layer("RNN", "rnn", cell=layer("StackedRNNCells", "cells", cells=[
        layer("LSTMCell", "low", units=8), layer("LSTMCell", "high", units=10 ** 6)]))
    assert "has 1,000,000 units" in refusal(tmp_path, sequential(stack))


def test_a_layer_of_a_nested_model_is_bounded(tmp_path):
    inner = sequential(layer("LSTM", "lstm", units=16, return_sequences=True), layer("UpSampling1D", "up", size=2000),
                       shape=None, name="decoder")
    g = Functional()
    y = g.add(layer("Dense", "head", units=7), g.add(inner, g.input((None, 1))))
    assert "layer 'up' (UpSampling1D) repeats each step 2,000 times" in refusal(tmp_path, g.config(y))


def test_time_distributed_over_a_nested_cnn_is_bounded(tmp_path):
    cnn = sequential(layer("Conv2D", "conv", filters=10 ** 5, kernel_size=[3, 3]),
                     layer("GlobalAveragePooling2D", "gap"), shape=(32, 32, 3), name="frame_cnn")
    model = sequential(layer("TimeDistributed", "td", layer=cnn), layer("LSTM", "lstm", units=8),
                       shape=(None, 32, 32, 3))
    assert "layer 'td/conv' (TimeDistributed(Conv2D)) has 100,000 filters" in refusal(tmp_path, model)


def test_a_dead_branch_is_bounded_too(tmp_path):
    """Keras builds every layer of the config when it loads the file, even one feeding no output."""
    g = Functional()
    x = g.input((None, 1))
    g.add(layer("Dense", "dead", units=10 ** 8), x)
    y = g.add(layer("Dense", "head", units=7), g.add(layer("GRU", "gru", units=8), x))
    assert "layer 'dead' (Dense) has 100,000,000 units" in refusal(tmp_path, g.config(y))


# --------------------------------------------------------------------------- the whole model

def test_upsampling_factors_multiply_along_a_path(tmp_path):
    ups = [layer("UpSampling1D", f"up{i}", size=8) for i in range(1, 4)]      # each allowed, 512 together
    message = refusal(tmp_path, forecaster(*ups))
    assert "layer 'up1' (UpSampling1D), layer 'up2' (UpSampling1D) and layer 'up3' (UpSampling1D) together " \
           "stretch their input 512 times; at most 256 is allowed" in message
    # Pooling first shrinks the axis the upsampling then stretches: an autoencoder nets 1.
    down = [layer("MaxPooling1D", f"pool{i}", pool_size=[2], strides=[2]) for i in range(3)]
    accepted(tmp_path, sequential(*down, *ups, layer("Dense", "out", units=1), shape=(64, 1)))


def test_upsampling_inside_time_distributed_and_nested_models_multiplies_too(tmp_path):
    inner = sequential(layer("TimeDistributed", "td_a", layer=layer("UpSampling1D", "up_a", size=32)),
                       shape=None, name="block")
    model = sequential(inner, layer("TimeDistributed", "td_b", layer=layer("UpSampling1D", "up_b", size=32)),
                       layer("Dense", "out", units=1), shape=(None, 8, 1))
    assert "together stretch their input 1,024 times" in refusal(tmp_path, model)


def test_weights_implied_by_the_config_are_bounded(tmp_path):
    # Each Dense is within max_units; together they imply 2 x 8192 x 8193 weights, 512 MiB as float32.
    wide = sequential(layer("Dense", "d1", units=8192), layer("Dense", "d2", units=8192), shape=(8192,))
    message = refusal(tmp_path, wide)
    assert "the layers declare 134,234,112 weights (512 MiB as float32), layer 'd1' (Dense) alone 67,117,056; " \
           "at most 256 MiB is allowed" in message
    accepted(tmp_path, sequential(layer("Dense", "d1", units=2048), layer("Dense", "d2", units=2048), shape=(2048,)))


@pytest.mark.parametrize("build, refused", [
    (lambda: sequential(layer("LSTM", "lstm", units=4096)), True),                 # 4 * (1 + 4096 + 1) * 4096
    (lambda: sequential(layer("LSTM", "lstm", units=2048)), False),
    (lambda: sequential(layer("Bidirectional", "bi", layer=layer("LSTM", "f", units=2900))), True),  # two copies
    (lambda: sequential(layer("LSTM", "lstm", units=2900)), False),
    (lambda: sequential(layer("Embedding", "e", input_dim=1_000_000, output_dim=128), shape=(None,)), True),
    (lambda: sequential(layer("Embedding", "e", input_dim=50257, output_dim=768), shape=(None,)), False),
    (lambda: sequential(layer("ConvLSTM1D", "c", filters=4096, kernel_size=3), shape=(None, 16, 1)), True),
    (lambda: sequential(layer("ConvLSTM1D", "c", filters=64, kernel_size=3), shape=(None, 16, 1)), False),
], ids=["lstm_4096", "lstm_2048", "bidirectional_2900", "lstm_2900", "embedding_1m_x_128", "gpt2_embedding",
        "conv_lstm_4096", "conv_lstm_64"])
def test_weight_formulas_for_recurrent_and_embedding_layers(tmp_path, build, refused):
    if refused:
        assert "MiB as float32)" in refusal(tmp_path, build())
    else:
        accepted(tmp_path, build())


def test_the_largest_layer_output_is_bounded_at_the_probe_length(tmp_path):
    # The free time axis is probed at 64 steps: 64 * 64 * 4 = 16384 steps of 8192 filters, 128 Mi values.
    model = sequential(layer("UpSampling1D", "up1", size=64), layer("UpSampling1D", "up2", size=4),
                       layer("Conv1D", "conv", filters=8192, kernel_size=1), layer("GlobalMaxPooling1D", "pool"),
                       shape=(None, 1))
    message = refusal(tmp_path, model)
    assert "layer 'conv' (Conv1D) would output (16,384, 8,192), 134,217,728 values a sample (512 MiB as float32) " \
           "for an input of 64 time steps; at most 67,108,864 are allowed" in message


def test_a_fixed_input_length_is_used_as_declared(tmp_path):
    fixed = sequential(layer("Conv1D", "conv", filters=8192, kernel_size=1), shape=(16384, 1))
    assert "would output (16,384, 8,192)" in refusal(tmp_path, fixed)
    accepted(tmp_path, sequential(layer("Conv1D", "conv", filters=8192, kernel_size=1), shape=(4096, 1)))


def test_attention_scores_count_as_an_output(tmp_path):
    long = sequential(layer("MultiHeadAttention", "mha", num_heads=8, key_dim=64), shape=(4096, 64))
    assert "layer 'mha' (MultiHeadAttention) would output (8, 4,096, 4,096)" in refusal(tmp_path, long)
    accepted(tmp_path, sequential(layer("MultiHeadAttention", "mha", num_heads=8, key_dim=64), shape=(200, 64)))


def test_recurrent_steps_are_bounded(tmp_path):
    message = refusal(tmp_path, forecaster(shape=(5000, 1)))
    assert "layer 'gru' (GRU) would run over 5,000 time steps; at most 4,096 are allowed" in message
    accepted(tmp_path, forecaster(shape=(500, 1)))
    # A free window is probed at 64 steps: 64 * 64 = 4096 is allowed, one more padded step is not.
    accepted(tmp_path, forecaster(layer("UpSampling1D", "up", size=64)))
    padded = forecaster(layer("UpSampling1D", "up", size=64), layer("ZeroPadding1D", "pad", padding=[1, 0]))
    message = refusal(tmp_path, padded)
    assert "would run over 4,097 time steps for an input of 64 time steps" in message


def test_a_variable_length_model_is_not_refused(tmp_path):
    accepted(tmp_path, sequential(layer("LSTM", "l1", units=512, return_sequences=True),
                                  layer("LSTM", "l2", units=512, return_sequences=True),
                                  layer("TimeDistributed", "td", layer=layer("Dense", "out", units=10000)),
                                  shape=(None, 16)))


def test_what_cannot_be_worked_out_is_skipped_not_guessed(tmp_path):
    # No feature count is declared, so the first Dense's weights are unknown: not refused for it.
    accepted(tmp_path, sequential(layer("Dense", "d", units=60000), shape=(None, None)))
    # An operation whose output is not worked out (ExpandDims) hides the shape from everything after it.
    g = Functional()
    h = g.add(op("ExpandDims", "expand", axis=1), g.input((None, 64)))
    y = g.add(layer("Dense", "head", units=60000), h)
    accepted(tmp_path, g.config(y))
