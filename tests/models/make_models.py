"""Regenerate tests/models/: correct-but-unusual and legacy model files, plus subtle wrong ones.

Every file is named ``<task>__<what>.<ext>``; ``tests/test_checks_unusual.py``
holds the verdict each must get from static inspection and the static checks.

Keras 3 files (``.keras`` and Keras 3's legacy ``.h5``)::

    python tests/models/make_models.py

Keras 2 files (``k2_*``) come from tf-keras, which is NOT a project dependency.
Install it outside the environment, matching the TensorFlow version, and run::

    pip install --no-deps --target /tmp/tfk tf-keras==2.21.0
    PYTHONPATH=/tmp/tfk python tests/models/make_models.py --keras2

The files were generated once and are committed; nothing is built at test time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

HERE = Path(__file__).resolve().parent
H = 7          # forecast horizon
F = 3          # features of the generic sequence tasks
K = 2          # outputs of the generic sequence tasks


def _compile(model, keras, **optimizer_kwargs):
    model.compile(optimizer=keras.optimizers.Adam(**optimizer_kwargs), loss="mse")
    return model


def keras3_models() -> dict[str, object]:
    """File name -> builder returning a compiled Keras 3 model."""
    import keras
    from keras import layers as L

    def functional(inputs, outputs, name="m", loss="mse", **opt):
        model = keras.Model(inputs, outputs, name=name)
        model.compile(optimizer=keras.optimizers.Adam(**opt), loss=loss)
        return model

    def seq(stack, name="m", **opt):
        return _compile(keras.Sequential(stack, name=name), keras, **opt)

    # ------------------------------------------------------------------ q1 seq2seq
    def q1_seq2seq__functional():
        x = keras.Input((None, F))
        return functional(x, L.Dense(K)(L.SimpleRNN(8, return_sequences=True)(x)))

    def q1_seq2seq__bidirectional_time_distributed():
        return seq([keras.Input((None, F)), L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum"),
                    L.TimeDistributed(L.Dense(K))])

    def q1_seq2seq__rnn_lstmcell():
        x = keras.Input((None, F))
        return functional(x, L.Dense(K)(L.RNN(L.LSTMCell(8), return_sequences=True)(x)))

    def q1_seq2seq__wrong_nested_top_vector():
        x = keras.Input((None, F))
        stack = keras.Sequential([L.LSTM(8, return_sequences=True), L.LSTM(8)], name="stack")
        return functional(x, L.Dense(K)(stack(x)))

    # ------------------------------------------------------------------ q1 seq2vec
    def q1_seq2vec__gru_reset_after_false():
        x = keras.Input((None, F))
        return functional(x, L.Dense(K)(L.GRU(8, reset_after=False)(x)))

    def q1_seq2vec__bidirectional():
        return seq([keras.Input((None, F)), L.Bidirectional(L.LSTM(4)), L.Dense(K)])

    def q1_seq2vec__rnn_gru_cell():
        return seq([keras.Input((12, F)), L.RNN(L.GRUCell(8)), L.Dense(K)])

    def q1_seq2vec__last_step_slice():
        # h[:, -1] of a sequence-returning layer is exactly what return_sequences=False returns.
        x = keras.Input((None, F))
        h = L.GRU(8, return_sequences=True)(x)
        return functional(x, L.Dense(K)(h[:, -1, :]))

    def q1_seq2vec__wrong_first_step_slice():
        # h[:, 0] is the output after the first step only: it has seen one input, not the sequence.
        x = keras.Input((None, F))
        h = L.GRU(8, return_sequences=True)(x)
        return functional(x, L.Dense(K)(h[:, 0, :]))

    def q1_seq2vec__wrong_bidirectional_last_step_slice():
        # At the last step the backward direction of a Bidirectional layer has seen only the last input.
        x = keras.Input((None, F))
        h = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
        return functional(x, L.Dense(K)(h[:, -1]))

    def q1_seq2vec__bidirectional_pooled_over_time():
        x = keras.Input((None, F))
        h = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
        return functional(x, L.Dense(K)(L.GlobalAveragePooling1D()(h)))

    # ------------------------------------------------------------------ q1 vec2seq
    def q1_vec2seq__encoder_decoder_repeat_vector():
        x = keras.Input((4,))
        h = L.RepeatVector(6)(L.Dense(8, activation="relu")(x))
        h = L.LSTM(8, return_sequences=True)(h)
        return functional(x, L.TimeDistributed(L.Dense(K))(h))

    def q1_vec2seq__wrong_nested_decoder_vector():
        x = keras.Input((4,))
        decoder = keras.Sequential([L.RepeatVector(6), L.LSTM(8)], name="decoder")
        return functional(x, L.Dense(K)(decoder(x)))

    # ------------------------------------------------------------------ q3 deep seq2seq
    def q3_deep_seq2seq__functional_three_gru():
        x = keras.Input((None, F))
        h = x
        for _ in range(3):
            h = L.GRU(6, return_sequences=True)(h)
        return functional(x, L.Dense(K)(h))

    def q3_deep_seq2seq__nested_sequential_stack():
        x = keras.Input((None, F))
        stack = keras.Sequential([L.LSTM(8, return_sequences=True), L.LSTM(8, return_sequences=True)], name="stack")
        return functional(x, L.TimeDistributed(L.Dense(K))(stack(x)))

    def q3_deep_seq2seq__bidirectional_stack():
        return seq([keras.Input((None, F)), L.Bidirectional(L.LSTM(4, return_sequences=True)),
                    L.Bidirectional(L.LSTM(4, return_sequences=True)), L.TimeDistributed(L.Dense(K))])

    def q3_deep_seq2seq__rnn_stacked_cells():
        x = keras.Input((None, F))
        h = L.RNN(L.StackedRNNCells([L.LSTMCell(6), L.LSTMCell(6)]), return_sequences=True)(x)
        return functional(x, L.Dense(K)(h))

    def q3_deep_seq2seq__wrong_nested_top_vector():
        x = keras.Input((None, F))
        stack = keras.Sequential([L.LSTM(8, return_sequences=True), L.LSTM(8)], name="stack")
        h = L.RepeatVector(5)(stack(x))
        return functional(x, L.Dense(K)(h))

    # ------------------------------------------------------------------ q3 deep seq2vec
    def q3_deep_seq2vec__functional_bidirectional():
        x = keras.Input((None, F))
        h = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
        h = L.Bidirectional(L.LSTM(4))(h)
        return functional(x, L.Dense(K)(h))

    def q3_deep_seq2vec__nested_sequential_stack():
        x = keras.Input((None, F))
        stack = keras.Sequential([L.GRU(8, return_sequences=True), L.LayerNormalization(), L.GRU(8)], name="stack")
        return functional(x, L.Dense(K)(stack(x)))

    def q3_deep_seq2vec__rnn_stacked_cells():
        return seq([keras.Input((None, F)), L.RNN(L.StackedRNNCells([L.GRUCell(6), L.GRUCell(6)])), L.Dense(K)])

    def q3_deep_seq2vec__wrong_bidirectional_top_sequences():
        x = keras.Input((None, F))
        stack = keras.Sequential([L.Bidirectional(L.LSTM(4, return_sequences=True)),
                                  L.Bidirectional(L.LSTM(4, return_sequences=True))], name="stack")
        return functional(x, L.Dense(K)(L.GlobalMaxPooling1D()(stack(x))))

    def q3_deep_seq2vec__wrong_nested_lower_vector():
        x = keras.Input((12, F))
        stack = keras.Sequential([L.LSTM(8), L.RepeatVector(12), L.LSTM(8)], name="stack")
        return functional(x, L.Dense(K)(stack(x)))

    # ------------------------------------------------------------------ q4 forecaster
    def q4_forecaster__fixed_window_functional():
        x = keras.Input((56, 1))
        return functional(x, L.Dense(H)(L.LSTM(16)(x)))

    def q4_forecaster__variable_window_gru():
        return seq([keras.Input((None, 1)), L.GRU(16), L.Dense(H)])

    def q4_forecaster__seq2seq_outputs():
        x = keras.Input((None, 1))
        h = L.LSTM(16, return_sequences=True)(x)
        return functional(x, L.TimeDistributed(L.Dense(H))(h))

    def q4_forecaster__nested_rnn_block():
        x = keras.Input((None, 1))
        block = keras.Sequential([L.SimpleRNN(16, return_sequences=True), L.SimpleRNN(16)], name="rnn_block")
        return functional(x, L.Dense(H)(block(x)))

    def q4_forecaster__masking_last_step():
        # Masking adds NotEqual/Any operation nodes; h[:, -1] adds a GetItem node.
        x = keras.Input((None, 1))
        h = L.LSTM(16, return_sequences=True)(L.Masking(0.0)(x))
        return functional(x, L.Dense(H)(h[:, -1, :]), loss=keras.losses.mean_squared_error)

    def q4_forecaster__wrong_no_recurrence():
        x = keras.Input((56, 1))
        h = L.Conv1D(8, 3, activation="relu")(x)
        return functional(x, L.Dense(H)(L.GlobalAveragePooling1D()(h)))

    # ------------------------------------------------------------------ q5 stable rnn
    def q5_stable_rnn__gru_layernorm_recurrent_dropout():
        return seq([keras.Input((None, 1)), L.GRU(16, return_sequences=True, recurrent_dropout=0.1),
                    L.LayerNormalization(), L.GRU(16, recurrent_dropout=0.1), L.Dense(H)])

    def q5_stable_rnn__simple_rnn_clipvalue_layernorm():
        x = keras.Input((56, 1))
        h = L.SimpleRNN(16, return_sequences=True)(x)
        h = L.LayerNormalization()(h)
        h = L.SimpleRNN(16)(h)
        return functional(x, L.Dense(H)(h), clipvalue=0.5)

    def q5_stable_rnn__stacked_cells_global_clipnorm():
        return seq([keras.Input((None, 1)), L.RNN(L.StackedRNNCells([L.LSTMCell(8), L.LSTMCell(8)])), L.Dense(H)],
                   global_clipnorm=1.0)

    def q5_stable_rnn__nested_dropout_clipnorm():
        x = keras.Input((None, 1))
        block = keras.Sequential([L.SimpleRNN(16, return_sequences=True), L.Dropout(0.2), L.SimpleRNN(16)],
                                 name="block")
        return functional(x, L.Dense(H)(block(x)), clipnorm=1.0)

    def q5_stable_rnn__wrong_nested_relu():
        x = keras.Input((None, 1))
        block = keras.Sequential([L.GRU(16, return_sequences=True), L.LayerNormalization(),
                                  L.GRU(16, activation="relu")], name="block")
        return functional(x, L.Dense(H)(block(x)), clipnorm=1.0)

    # ------------------------------------------------------------------ q7 conv rnn
    def q7_conv_rnn__wavenet_dilated():
        x = keras.Input((None, 1))
        h = x
        for rate in (1, 2, 4, 8, 1, 2, 4, 8):
            h = L.Conv1D(8, 2, padding="causal", dilation_rate=rate, activation="relu")(h)
        return functional(x, L.Dense(H)(L.GRU(16)(h)))

    def q7_conv_rnn__conv_maxpool():
        return seq([keras.Input((None, 1)), L.Conv1D(8, 3, padding="same", activation="relu"), L.MaxPooling1D(2),
                    L.GRU(16), L.Dense(H)])

    def q7_conv_rnn__nested_strided_frontend():
        x = keras.Input((56, 1))
        frontend = keras.Sequential([L.Conv1D(8, 4, strides=2, activation="relu"),
                                     L.Conv1D(8, 4, strides=2, activation="relu")], name="frontend")
        return functional(x, L.Dense(H)(L.LSTM(16)(frontend(x))))

    def q7_conv_rnn__wrong_conv_after_rnn():
        x = keras.Input((None, 1))
        h = L.GRU(16, return_sequences=True)(x)
        h = L.Conv1D(8, 4, strides=2)(h)
        return functional(x, L.Dense(H)(L.GlobalAveragePooling1D()(h)))

    # ------------------------------------------------------------------ q8 video classifier
    def q8_video_classifier__conv_lstm2d():
        return seq([keras.Input((None, 16, 16, 3)), L.ConvLSTM2D(4, 3), L.GlobalAveragePooling2D(),
                    L.Dense(5, activation="softmax")])

    def q8_video_classifier__nested_frame_cnn():
        frame = keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                                  L.GlobalAveragePooling2D()], name="frame_cnn")
        x = keras.Input((None, 16, 16, 3))
        h = L.TimeDistributed(frame)(x)
        h = L.LSTM(8)(h)
        return functional(x, L.Dense(5, activation="softmax")(h))

    def q8_video_classifier__conv3d():
        x = keras.Input((8, 16, 16, 3))
        h = L.Conv3D(4, 3, activation="relu")(x)
        h = L.GlobalAveragePooling3D()(h)
        h = L.Dense(5)(h)
        return functional(x, L.Activation("softmax")(h))

    def q8_video_classifier__bidirectional_softmax_layer():
        return seq([keras.Input((8, 16, 16, 3)), L.TimeDistributed(L.Conv2D(4, 3)),
                    L.TimeDistributed(L.GlobalAveragePooling2D()), L.Bidirectional(L.GRU(4)), L.Dense(5),
                    L.Softmax()])

    def q8_video_classifier__nested_sequence_pooled_over_time():
        frame = keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(4, 3), L.GlobalAveragePooling2D()],
                                 name="frame_cnn")
        x = keras.Input((None, 16, 16, 3))
        h = L.LSTM(8, return_sequences=True)(L.TimeDistributed(frame)(x))
        return functional(x, L.Dense(5, activation="softmax")(L.GlobalAveragePooling1D()(h)))

    def q8_video_classifier__wrong_nested_per_frame_output():
        frame = keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(4, 3), L.GlobalAveragePooling2D()],
                                 name="frame_cnn")
        x = keras.Input((None, 16, 16, 3))
        h = L.LSTM(8, return_sequences=True)(L.TimeDistributed(frame)(x))
        return functional(x, L.Dense(5, activation="softmax")(h))

    builders = {name: fn for name, fn in locals().items() if name.startswith("q") and callable(fn)}
    files = {f"{name}.keras": fn for name, fn in builders.items()}
    # The same kinds of model in Keras 3's legacy HDF5 format.
    for name in ("q1_seq2seq__functional", "q1_vec2seq__encoder_decoder_repeat_vector",
                 "q3_deep_seq2vec__functional_bidirectional", "q3_deep_seq2seq__nested_sequential_stack",
                 "q4_forecaster__fixed_window_functional", "q5_stable_rnn__nested_dropout_clipnorm",
                 "q7_conv_rnn__wavenet_dilated", "q8_video_classifier__nested_frame_cnn",
                 "q3_deep_seq2vec__wrong_bidirectional_top_sequences"):
        files[f"{name}.h5"] = builders[name]
    return files


def keras2_models() -> dict[str, object]:
    """File name -> builder returning a compiled Keras 2 (tf-keras) model."""
    import tf_keras as keras
    from tf_keras import layers as L

    def q3_deep_seq2vec__k2_sequential_lstm():
        model = keras.Sequential([L.LSTM(8, return_sequences=True, input_shape=(None, F)), L.LSTM(8), L.Dense(K)])
        return _compile(model, keras)

    def q3_deep_seq2seq__k2_functional_bidirectional():
        x = keras.Input((None, F))
        h = L.Bidirectional(L.GRU(4, return_sequences=True))(x)
        h = L.Bidirectional(L.GRU(4, return_sequences=True))(h)
        return _compile(keras.Model(x, L.TimeDistributed(L.Dense(K))(h)), keras)

    def q5_stable_rnn__k2_clipnorm():
        model = keras.Sequential([L.SimpleRNN(16, return_sequences=True, input_shape=(None, 1)),
                                  L.LayerNormalization(), L.SimpleRNN(16), L.Dense(H)])
        return _compile(model, keras, clipnorm=1.0)

    def q5_stable_rnn__k2_legacy_optimizer_clipvalue():
        model = keras.Sequential([L.SimpleRNN(16, return_sequences=True, dropout=0.1, input_shape=(56, 1)),
                                  L.SimpleRNN(16), L.Dense(H)])
        model.compile(optimizer=keras.optimizers.legacy.RMSprop(clipvalue=0.5), loss="mse")
        return model

    def q5_stable_rnn__k2_wrong_no_clipping():
        model = keras.Sequential([L.SimpleRNN(16, return_sequences=True, input_shape=(None, 1)),
                                  L.SimpleRNN(16), L.Dense(H)])
        return _compile(model, keras)

    def q7_conv_rnn__k2_nested_frontend():
        x = keras.Input((56, 1))
        frontend = keras.Sequential([L.Conv1D(8, 4, strides=2, activation="relu", input_shape=(56, 1))],
                                    name="frontend")
        return _compile(keras.Model(x, L.Dense(H)(L.GRU(16)(frontend(x)))), keras)

    def q8_video_classifier__k2_time_distributed_cnn():
        model = keras.Sequential([
            L.TimeDistributed(L.Conv2D(4, 3, activation="relu"), input_shape=(None, 16, 16, 3)),
            L.TimeDistributed(L.GlobalAveragePooling2D()), L.LSTM(8), L.Dense(5, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    builders = {name: fn for name, fn in locals().items() if name.startswith("q") and callable(fn)}
    files = {}
    for name, fn in builders.items():
        files[f"{name}.h5"] = fn
        files[f"{name}.keras"] = fn
    return files


README_HEAD = """# Correct-but-unusual and legacy model files

Generated by `tests/models/make_models.py` (Keras 3 files) and `make_models.py --keras2` (the `k2_`
files, written by tf-keras 2.21, which is not a project dependency: see the script's docstring).
`tests/test_checks_unusual.py` holds the verdict each file must get from static inspection and the
static checks of its task (the part of the name before `__`). Names containing `wrong_` are subtle
wrong answers; every other file is a correct answer.

| file | format | what is unusual about it |
| --- | --- | --- |
"""


def write_readme() -> None:
    rows = []
    for path in sorted(HERE.iterdir()):
        if path.suffix not in (".keras", ".h5"):
            continue
        what = path.stem.split("__", 1)[1]
        keras2 = what.startswith("k2_")
        fmt = ("Keras 2 " if keras2 else "Keras 3 ") + (".keras" if path.suffix == ".keras" else "legacy HDF5")
        rows.append(f"| `{path.name}` | {fmt} | {DESCRIPTIONS[path.stem]} |")
    (HERE / "README.md").write_text(README_HEAD + "\n".join(rows) + "\n")


DESCRIPTIONS = {
    "q1_seq2seq__functional": "Functional API instead of Sequential",
    "q1_seq2seq__bidirectional_time_distributed": "Bidirectional(GRU, merge_mode='sum'), TimeDistributed(Dense) head",
    "q1_seq2seq__rnn_lstmcell": "generic RNN(LSTMCell) layer",
    "q1_seq2seq__wrong_nested_top_vector": "WRONG: the top LSTM of a nested Sequential stack has return_sequences=False",
    "q1_seq2vec__gru_reset_after_false": "GRU(reset_after=False) in a Functional model",
    "q1_seq2vec__bidirectional": "Bidirectional(LSTM) returning a vector",
    "q1_seq2vec__rnn_gru_cell": "generic RNN(GRUCell) with a fixed-length input",
    "q1_seq2vec__last_step_slice": "GRU(return_sequences=True) then h[:, -1, :] (a keras.ops GetItem node)",
    "q1_seq2vec__bidirectional_pooled_over_time": "the Bidirectional layer returns sequences, pooled over time: "
                                                  "one vector per sequence",
    "q1_seq2vec__wrong_first_step_slice": "WRONG: GRU(return_sequences=True) then h[:, 0, :], the first step only",
    "q1_seq2vec__wrong_bidirectional_last_step_slice": "WRONG: Bidirectional(LSTM, return_sequences=True) then "
                                                       "h[:, -1], where the backward direction saw one input",
    "q1_vec2seq__encoder_decoder_repeat_vector": "Dense encoder, RepeatVector, LSTM decoder, TimeDistributed(Dense)",
    "q1_vec2seq__wrong_nested_decoder_vector": "WRONG: a nested decoder whose LSTM has return_sequences=False",
    "q3_deep_seq2seq__functional_three_gru": "three stacked GRUs in a Functional model",
    "q3_deep_seq2seq__nested_sequential_stack": "the LSTM stack is a Sequential nested in a Functional model",
    "q3_deep_seq2seq__bidirectional_stack": "two Bidirectional(LSTM) layers, both returning sequences",
    "q3_deep_seq2seq__rnn_stacked_cells": "one RNN(StackedRNNCells([LSTMCell, LSTMCell])) layer",
    "q3_deep_seq2seq__k2_functional_bidirectional": "Functional Bidirectional(GRU) stack, TimeDistributed head",
    "q3_deep_seq2seq__wrong_nested_top_vector": "WRONG: the top LSTM of a nested stack returns a vector, "
                                                "RepeatVector restores a time axis",
    "q3_deep_seq2vec__functional_bidirectional": "Bidirectional stack: lower returns sequences, top a vector",
    "q3_deep_seq2vec__nested_sequential_stack": "GRU, LayerNormalization, GRU in a nested Sequential",
    "q3_deep_seq2vec__rnn_stacked_cells": "one RNN(StackedRNNCells([GRUCell, GRUCell])) layer",
    "q3_deep_seq2vec__k2_sequential_lstm": "Sequential LSTM stack declared with input_shape= (batch_input_shape)",
    "q3_deep_seq2vec__wrong_bidirectional_top_sequences": "WRONG: nested Bidirectional stack whose top returns "
                                                          "sequences, then GlobalMaxPooling1D",
    "q3_deep_seq2vec__wrong_nested_lower_vector": "WRONG: nested stack whose lower LSTM returns a vector, then "
                                                  "RepeatVector",
    "q4_forecaster__fixed_window_functional": "fixed (56, 1) window, Functional API",
    "q4_forecaster__variable_window_gru": "variable (None, 1) window, GRU",
    "q4_forecaster__seq2seq_outputs": "sequence-to-sequence forecaster, output (batch, T, 7)",
    "q4_forecaster__nested_rnn_block": "SimpleRNN stack in a nested Sequential",
    "q4_forecaster__masking_last_step": "Masking (adds NotEqual/Any operation nodes), last step by slicing, "
                                        "loss given as a function",
    "q4_forecaster__wrong_no_recurrence": "WRONG: Conv1D and pooling, no recurrent layer",
    "q5_stable_rnn__gru_layernorm_recurrent_dropout": "GRU + LayerNormalization + recurrent_dropout",
    "q5_stable_rnn__simple_rnn_clipvalue_layernorm": "SimpleRNN stack, LayerNormalization, Adam(clipvalue=0.5)",
    "q5_stable_rnn__stacked_cells_global_clipnorm": "RNN(StackedRNNCells of LSTMCells), Adam(global_clipnorm=1.0)",
    "q5_stable_rnn__nested_dropout_clipnorm": "SimpleRNN stack with Dropout in a nested Sequential, Adam(clipnorm=1.0)",
    "q5_stable_rnn__k2_clipnorm": "SimpleRNN + LayerNormalization, Adam(clipnorm=1.0) saved as Keras 2 'Custom>Adam'",
    "q5_stable_rnn__k2_legacy_optimizer_clipvalue": "SimpleRNN with dropout, optimizers.legacy.RMSprop(clipvalue=0.5)",
    "q5_stable_rnn__k2_wrong_no_clipping": "WRONG: SimpleRNN stack with no remedy at all",
    "q5_stable_rnn__wrong_nested_relu": "WRONG: the top GRU of a nested block uses activation='relu'",
    "q7_conv_rnn__wavenet_dilated": "WaveNet-like causal Conv1D stack, dilation 1, 2, 4, 8, 1, 2, 4, 8, then GRU",
    "q7_conv_rnn__conv_maxpool": "Conv1D + MaxPooling1D(2) before the GRU",
    "q7_conv_rnn__nested_strided_frontend": "two strided Conv1D layers in a nested Sequential, fixed window",
    "q7_conv_rnn__k2_nested_frontend": "strided Conv1D front end in a nested Sequential",
    "q7_conv_rnn__wrong_conv_after_rnn": "WRONG: the strided Conv1D comes after the GRU",
    "q8_video_classifier__conv_lstm2d": "ConvLSTM2D video model",
    "q8_video_classifier__nested_frame_cnn": "per-frame CNN as a nested Sequential wrapped in TimeDistributed",
    "q8_video_classifier__conv3d": "Conv3D video model with a separate Activation('softmax')",
    "q8_video_classifier__bidirectional_softmax_layer": "TimeDistributed CNN, Bidirectional(GRU), Softmax layer",
    "q8_video_classifier__k2_time_distributed_cnn": "TimeDistributed CNN declared with input_shape=",
    "q8_video_classifier__nested_sequence_pooled_over_time": "the LSTM after a nested per-frame CNN returns "
                                                             "sequences, pooled over time: one vector per clip",
    "q8_video_classifier__wrong_nested_per_frame_output": "WRONG: the LSTM after a nested per-frame CNN returns "
                                                          "sequences and the softmax classifies every frame",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras2", action="store_true", help="write the Keras 2 (tf-keras) files instead")
    parser.add_argument("--readme", action="store_true", help="only rewrite README.md")
    args = parser.parse_args(argv)
    if args.readme:
        write_readme()
        return 0
    if args.keras2:
        try:
            import tf_keras  # noqa: F401
        except ImportError:
            print("tf_keras is not importable: see this script's docstring", file=sys.stderr)
            return 1
        files = keras2_models()
        import tf_keras as keras
    else:
        files = keras3_models()
        import keras
    keras.utils.set_random_seed(0)
    for file_name, build in sorted(files.items()):
        model = build()
        target = HERE / file_name
        target.unlink(missing_ok=True)
        model.save(target)
        keras.backend.clear_session()
        print(f"{file_name}: {target.stat().st_size} bytes")
    write_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
