"""Plausible wrong answers for every task, each with the checks it must fail.

These are the grader's own regression corpus: the reference model passes every
check, and each variant here fails exactly the checks listed in ``fails``
(visible checks only; forecast accuracy is judged separately).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from reference_models.builders import FEATURES, HORIZON, OUTPUTS, VECTOR_FEATURES, VIDEO_CLASSES, VIDEO_SHAPE


@dataclass(frozen=True)
class Variant:
    task: str
    name: str
    fails: frozenset[str]
    build: Callable[[], object] | None = None   # Keras model builder
    source: str | None = None                   # for q6: the Python source


def _k():
    import keras

    return keras, keras.layers


def _seq(name: str, inputs, *stack, clipnorm=None):
    keras, _ = _k()
    model = keras.Sequential([keras.Input(inputs), *stack], name=name)
    kwargs = {"clipnorm": clipnorm} if clipnorm else {}
    model.compile(optimizer=keras.optimizers.Adam(**kwargs), loss="mse")
    return model


def q1_seq2seq_top_returns_vector():
    _, L = _k()
    return _seq("v", (None, FEATURES), L.SimpleRNN(8), L.Dense(OUTPUTS))


def q1_seq2seq_no_recurrence():
    _, L = _k()
    return _seq("v", (None, FEATURES), L.Conv1D(8, 3, padding="causal"), L.Dense(OUTPUTS))


def q1_seq2vec_pooled_over_features():
    # channels_first pools the last axis: the features, not the time steps; (batch, T) goes on.
    _, L = _k()
    return _seq("v", (12, FEATURES), L.GRU(8, return_sequences=True),
                L.GlobalAveragePooling1D(data_format="channels_first"), L.Dense(OUTPUTS))


def q1_seq2vec_outputs_sequence():
    _, L = _k()
    return _seq("v", (None, FEATURES), L.GRU(8, return_sequences=True), L.Dense(OUTPUTS))


def q1_vec2seq_returns_vector():
    _, L = _k()
    return _seq("v", (VECTOR_FEATURES,), L.RepeatVector(6), L.LSTM(8), L.Dense(OUTPUTS))


def q1_vec2seq_dense_reshape():
    _, L = _k()
    return _seq("v", (VECTOR_FEATURES,), L.Dense(6 * OUTPUTS), L.Reshape((6, OUTPUTS)))


def q1_vec2seq_sequence_input():
    _, L = _k()
    return _seq("v", (None, FEATURES), L.LSTM(8, return_sequences=True), L.Dense(OUTPUTS))


def q3_seq2seq_top_returns_vector():
    _, L = _k()
    return _seq("v", (None, FEATURES), L.LSTM(8, return_sequences=True), L.LSTM(8), L.Dense(OUTPUTS))


def q3_seq2seq_single_layer():
    _, L = _k()
    return _seq("v", (None, FEATURES), L.LSTM(8, return_sequences=True), L.Dense(OUTPUTS))


def q3_seq2seq_lower_layer_repeated():
    _, L = _k()
    return _seq("v", (12, FEATURES), L.LSTM(8), L.RepeatVector(12), L.LSTM(8, return_sequences=True), L.Dense(OUTPUTS))


def q3_seq2vec_top_returns_sequences_pooled():
    _, L = _k()
    return _seq("v", (None, FEATURES), L.LSTM(8, return_sequences=True), L.LSTM(8, return_sequences=True),
                L.GlobalMaxPooling1D(), L.Dense(OUTPUTS))


def q3_seq2vec_lower_layer_repeated():
    _, L = _k()
    return _seq("v", (12, FEATURES), L.LSTM(8), L.RepeatVector(12), L.LSTM(8), L.Dense(OUTPUTS))


def q3_seq2vec_single_layer():
    _, L = _k()
    return _seq("v", (None, FEATURES), L.LSTM(8), L.Dense(OUTPUTS))


def q4_one_day():
    _, L = _k()
    return _seq("v", (None, 1), L.LSTM(16), L.Dense(1))


def q4_no_recurrence():
    _, L = _k()
    return _seq("v", (56, 1), L.Flatten(), L.Dense(HORIZON))


def q4_two_features():
    _, L = _k()
    return _seq("v", (None, 2), L.LSTM(16), L.Dense(HORIZON))


def q5_single_layer():
    _, L = _k()
    return _seq("v", (None, 1), L.LSTM(16, dropout=0.1), L.Dense(HORIZON), clipnorm=1.0)


def q5_relu_simple_rnn():
    _, L = _k()
    return _seq("v", (None, 1), L.SimpleRNN(16, activation="relu", return_sequences=True), L.LayerNormalization(),
                L.SimpleRNN(16, activation="relu"), L.Dense(HORIZON), clipnorm=1.0)


def q5_no_remedy():
    _, L = _k()
    return _seq("v", (None, 1), L.SimpleRNN(16, return_sequences=True), L.SimpleRNN(16), L.Dense(HORIZON))


def q7_unstrided_conv():
    _, L = _k()
    return _seq("v", (None, 1), L.Conv1D(16, 3), L.GRU(16), L.Dense(HORIZON))


def q7_conv_after_rnn():
    _, L = _k()
    return _seq("v", (None, 1), L.GRU(16, return_sequences=True), L.Conv1D(16, 4, strides=2),
                L.GlobalAveragePooling1D(), L.Dense(HORIZON))


def q7_causal_without_dilation():
    _, L = _k()
    return _seq("v", (None, 1), L.Conv1D(16, 2, padding="causal"), L.Conv1D(16, 2, padding="causal"),
                L.GRU(16), L.Dense(HORIZON))


def q8_no_softmax():
    _, L = _k()
    return _seq("v", VIDEO_SHAPE, L.TimeDistributed(L.Conv2D(4, 3)), L.TimeDistributed(L.GlobalAveragePooling2D()),
                L.LSTM(8), L.Dense(VIDEO_CLASSES))


def q8_frames_flattened():
    _, L = _k()
    return _seq("v", VIDEO_SHAPE, L.TimeDistributed(L.Conv2D(4, 3)), L.TimeDistributed(L.GlobalAveragePooling2D()),
                L.Flatten(), L.Dense(VIDEO_CLASSES, activation="softmax"))


def q8_sequence_output():
    _, L = _k()
    return _seq("v", VIDEO_SHAPE, L.TimeDistributed(L.Conv2D(4, 3)), L.TimeDistributed(L.GlobalAveragePooling2D()),
                L.LSTM(8, return_sequences=True), L.Dense(VIDEO_CLASSES, activation="softmax"))


_Q6_GATES_SWAPPED = '''
import numpy as np

def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, o, g = np.split(z, 4, axis=-1)          # wrong: Keras orders the gates i, f, c, o
    s = lambda v: 1 / (1 + np.exp(-v))
    c = s(f) * c + s(i) * np.tanh(g)
    return s(o) * np.tanh(c), c
'''

_Q6_NO_TANH_ON_STATE = '''
import numpy as np

def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    s = lambda v: 1 / (1 + np.exp(-v))
    c = s(f) * c + s(i) * np.tanh(g)
    return s(o) * c, c                             # wrong: h = o * tanh(c)
'''

_Q6_WRONG_SIGNATURE = '''
import numpy as np

def lstm_step(x, state, kernel, recurrent_kernel, bias):
    h, c = state
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    s = lambda v: 1 / (1 + np.exp(-v))
    c = s(f) * c + s(i) * np.tanh(g)
    return s(o) * np.tanh(c), c
'''


VARIANTS: tuple[Variant, ...] = (
    Variant("q1_seq2seq", "top_returns_vector", frozenset({"top_returns_sequences", "output_shape"}), q1_seq2seq_top_returns_vector),
    Variant("q1_seq2seq", "no_recurrence", frozenset({"top_returns_sequences"}), q1_seq2seq_no_recurrence),
    Variant("q1_seq2vec", "pooled_over_features", frozenset({"seq2vec_return_sequences"}), q1_seq2vec_pooled_over_features),
    Variant("q1_seq2vec", "outputs_sequence", frozenset({"seq2vec_return_sequences", "output_shape"}), q1_seq2vec_outputs_sequence),
    Variant("q1_vec2seq", "returns_vector", frozenset({"top_returns_sequences", "output_shape"}), q1_vec2seq_returns_vector),
    Variant("q1_vec2seq", "dense_reshape", frozenset({"top_returns_sequences"}), q1_vec2seq_dense_reshape),
    Variant("q1_vec2seq", "sequence_input", frozenset({"input_shape"}), q1_vec2seq_sequence_input),
    Variant("q3_deep_seq2seq", "top_returns_vector", frozenset({"seq2seq_return_sequences", "output_shape"}), q3_seq2seq_top_returns_vector),
    Variant("q3_deep_seq2seq", "single_layer", frozenset({"stacked_recurrent_layers"}), q3_seq2seq_single_layer),
    Variant("q3_deep_seq2seq", "lower_layer_repeated", frozenset({"seq2seq_return_sequences"}), q3_seq2seq_lower_layer_repeated),
    Variant("q3_deep_seq2vec", "top_returns_sequences_pooled", frozenset({"seq2vec_return_sequences"}), q3_seq2vec_top_returns_sequences_pooled),
    Variant("q3_deep_seq2vec", "lower_layer_repeated", frozenset({"seq2vec_return_sequences"}), q3_seq2vec_lower_layer_repeated),
    Variant("q3_deep_seq2vec", "single_layer", frozenset({"stacked_recurrent_layers"}), q3_seq2vec_single_layer),
    Variant("q4_forecaster", "one_day", frozenset({"output_shape"}), q4_one_day),
    Variant("q4_forecaster", "no_recurrence", frozenset({"recurrent_layer"}), q4_no_recurrence),
    Variant("q4_forecaster", "two_features", frozenset({"input_shape"}), q4_two_features),
    Variant("q5_stable_rnn", "single_layer", frozenset({"stacked_recurrent_layers"}), q5_single_layer),
    Variant("q5_stable_rnn", "relu_simple_rnn", frozenset({"bounded_recurrent_activation"}), q5_relu_simple_rnn),
    Variant("q5_stable_rnn", "no_remedy", frozenset({"gradient_remedies"}), q5_no_remedy),
    Variant("q7_conv_rnn", "unstrided_conv", frozenset({"conv1d_frontend"}), q7_unstrided_conv),
    Variant("q7_conv_rnn", "conv_after_rnn", frozenset({"conv1d_frontend"}), q7_conv_after_rnn),
    Variant("q7_conv_rnn", "causal_without_dilation", frozenset({"conv1d_frontend"}), q7_causal_without_dilation),
    Variant("q8_video_classifier", "no_softmax", frozenset({"softmax_output", "probability_output"}), q8_no_softmax),
    Variant("q8_video_classifier", "frames_flattened", frozenset({"video_frontend"}), q8_frames_flattened),
    Variant("q8_video_classifier", "sequence_output", frozenset({"video_frontend", "output_shape"}), q8_sequence_output),
    Variant("q6_lstm_cell", "gates_swapped", frozenset({"lstm_step_matches_keras"}), source=_Q6_GATES_SWAPPED),
    Variant("q6_lstm_cell", "no_tanh_on_state", frozenset({"lstm_step_matches_keras"}), source=_Q6_NO_TANH_ON_STATE),
    Variant("q6_lstm_cell", "wrong_signature", frozenset({"lstm_step_signature", "lstm_step_matches_keras"}), source=_Q6_WRONG_SIGNATURE),
)


def variants_for(task: str) -> list[Variant]:
    return [v for v in VARIANTS if v.task == task]
