"""Builders of the reference model for every model task.

Each builder returns a fresh, compiled Keras model that satisfies its task's
contract. Keras is imported inside the builders so that importing this module
(for the registry) costs nothing.
"""

from __future__ import annotations

from typing import Any, Callable

from grader.core.contract import HORIZON

FEATURES = 3          # features per step of the generic sequence tasks
OUTPUTS = 2           # k, the per-step / per-sequence output size of the generic tasks
VECTOR_FEATURES = 4   # features of the vec2seq input vector
VEC2SEQ_STEPS = 6
VIDEO_SHAPE = (8, 32, 32, 3)
VIDEO_CLASSES = 5


def _keras():
    import keras

    return keras


def _compile(model, **optimizer_kwargs):
    keras = _keras()
    # Huber: holiday dips are outliers that a squared loss chases at the expense of ordinary days.
    model.compile(optimizer=keras.optimizers.Adam(**optimizer_kwargs), loss=keras.losses.Huber(delta=0.1))
    return model


def _sequential(name: str, input_shape: tuple, stack: Callable[[Any], list]):
    """An uncompiled ``keras.Sequential`` named ``name``: ``keras.Input(input_shape)``, then ``stack(keras.layers)``.

    ``stack`` is handed the layers module so that Keras is imported only when a model is built.
    """
    keras = _keras()
    return keras.Sequential([keras.Input(input_shape), *stack(keras.layers)], name=name)


def build_q1_seq2seq():
    return _compile(_sequential("q1_seq2seq", (None, FEATURES), lambda layers: [
        layers.SimpleRNN(8, return_sequences=True),
        layers.Dense(OUTPUTS),
    ]))


def build_q1_seq2vec():
    return _compile(_sequential("q1_seq2vec", (None, FEATURES), lambda layers: [
        layers.GRU(8),
        layers.Dense(OUTPUTS),
    ]))


def build_q1_vec2seq():
    return _compile(_sequential("q1_vec2seq", (VECTOR_FEATURES,), lambda layers: [
        layers.RepeatVector(VEC2SEQ_STEPS),
        layers.LSTM(8, return_sequences=True),
        layers.TimeDistributed(layers.Dense(OUTPUTS)),
    ]))


def build_q3_deep_seq2seq():
    return _compile(_sequential("q3_deep_seq2seq", (None, FEATURES), lambda layers: [
        layers.LSTM(8, return_sequences=True),
        layers.LSTM(8, return_sequences=True),
        layers.Dense(OUTPUTS),
    ]))


def build_q3_deep_seq2vec():
    return _compile(_sequential("q3_deep_seq2vec", (None, FEATURES), lambda layers: [
        layers.LSTM(8, return_sequences=True),
        layers.LSTM(8),
        layers.Dense(OUTPUTS),
    ]))


def build_q4_forecaster():
    return _compile(_sequential("q4_forecaster", (None, 1), lambda layers: [
        layers.GRU(32),
        layers.Dense(HORIZON),
    ]), learning_rate=3e-3)


def build_q5_stable_rnn():
    return _compile(_sequential("q5_stable_rnn", (None, 1), lambda layers: [
        layers.GRU(32, return_sequences=True),
        layers.LayerNormalization(),
        layers.GRU(32),
        layers.Dense(HORIZON),
    ]), learning_rate=3e-3, clipnorm=1.0)


def build_q7_conv_rnn():
    return _compile(_sequential("q7_conv_rnn", (None, 1), lambda layers: [
        layers.Conv1D(32, kernel_size=4, strides=2, activation="relu"),
        layers.GRU(32),
        layers.Dense(HORIZON),
    ]), learning_rate=3e-3)


def build_q8_video_classifier():
    model = _sequential("q8_video_classifier", VIDEO_SHAPE, lambda layers: [
        layers.TimeDistributed(layers.Conv2D(8, 3, activation="relu")),
        layers.TimeDistributed(layers.MaxPooling2D(2)),
        layers.TimeDistributed(layers.GlobalAveragePooling2D()),
        layers.LSTM(16),
        layers.Dense(VIDEO_CLASSES, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
