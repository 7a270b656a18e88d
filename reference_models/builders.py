"""Builders of the reference model for every model task.

Each builder returns a fresh, compiled Keras model that satisfies its task's
contract. Keras is imported inside the builders so that importing this module
(for the registry) costs nothing.
"""

from __future__ import annotations

FEATURES = 3          # features per step of the generic sequence tasks
OUTPUTS = 2           # k, the per-step / per-sequence output size of the generic tasks
VECTOR_FEATURES = 4   # features of the vec2seq input vector
VEC2SEQ_STEPS = 6
HORIZON = 7
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


def build_q1_seq2seq():
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((None, FEATURES)),
        layers.SimpleRNN(8, return_sequences=True),
        layers.Dense(OUTPUTS),
    ], name="q1_seq2seq")
    return _compile(model)


def build_q1_seq2vec():
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((None, FEATURES)),
        layers.GRU(8),
        layers.Dense(OUTPUTS),
    ], name="q1_seq2vec")
    return _compile(model)


def build_q1_vec2seq():
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((VECTOR_FEATURES,)),
        layers.RepeatVector(VEC2SEQ_STEPS),
        layers.LSTM(8, return_sequences=True),
        layers.TimeDistributed(layers.Dense(OUTPUTS)),
    ], name="q1_vec2seq")
    return _compile(model)


def build_q3_deep_seq2seq():
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((None, FEATURES)),
        layers.LSTM(8, return_sequences=True),
        layers.LSTM(8, return_sequences=True),
        layers.Dense(OUTPUTS),
    ], name="q3_deep_seq2seq")
    return _compile(model)


def build_q3_deep_seq2vec():
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((None, FEATURES)),
        layers.LSTM(8, return_sequences=True),
        layers.LSTM(8),
        layers.Dense(OUTPUTS),
    ], name="q3_deep_seq2vec")
    return _compile(model)


def build_q4_forecaster():
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((None, 1)),
        layers.GRU(32),
        layers.Dense(HORIZON),
    ], name="q4_forecaster")
    return _compile(model, learning_rate=3e-3)


def build_q5_stable_rnn():
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((None, 1)),
        layers.GRU(32, return_sequences=True),
        layers.LayerNormalization(),
        layers.GRU(32),
        layers.Dense(HORIZON),
    ], name="q5_stable_rnn")
    return _compile(model, learning_rate=3e-3, clipnorm=1.0)


def build_q7_conv_rnn():
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((None, 1)),
        layers.Conv1D(32, kernel_size=4, strides=2, activation="relu"),
        layers.GRU(32),
        layers.Dense(HORIZON),
    ], name="q7_conv_rnn")
    return _compile(model, learning_rate=3e-3)


def build_q8_video_classifier():
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(VIDEO_SHAPE),
        layers.TimeDistributed(layers.Conv2D(8, 3, activation="relu")),
        layers.TimeDistributed(layers.MaxPooling2D(2)),
        layers.TimeDistributed(layers.GlobalAveragePooling2D()),
        layers.LSTM(16),
        layers.Dense(VIDEO_CLASSES, activation="softmax"),
    ], name="q8_video_classifier")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
