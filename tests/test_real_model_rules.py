"""Rules that real textbook and keras.io models need: probe lengths the model accepts, one sentence
for a model that fails or has several inputs, and forecasting tasks that ask about RNNs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.checks.evidence import Evidence
from grader.checks.registry import CHECKS
from grader.grading.checking import check_task
from grader.static.model_file import inspect_model_file

# Fragments of TensorFlow's and Keras's own error text that a student must never see.
RAW = re.compile(r"\{\{function_node|/job:localhost|Traceback|tensorflow/|Pass inputs as a dict|"
                 r"Graph execution error|Exception encountered|Arguments received")


def _save(folder: Path, name: str, model) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / name)
    return folder


def _results(bank, prober, task_id: str, folder: Path) -> dict[str, object]:
    results, _ = check_task(bank.task(task_id), folder, prober=prober)
    return {r.check: r for r in results}


@pytest.fixture(scope="module")
def keras_layers():
    import keras

    return keras, keras.layers


def test_strided_convolutions_are_probed_at_lengths_they_accept(bank, prober, tmp_path, keras_layers):
    keras, L = keras_layers
    # SketchRNN-style classifier: three valid strided convolutions need 29+ steps.
    model = keras.Sequential([keras.Input((None, 3)), L.Conv1D(32, 5, strides=2), L.Conv1D(64, 5, strides=2),
                              L.Conv1D(96, 5, strides=2), L.GRU(16), L.Dense(4, activation="softmax")])
    results = _results(bank, prober, "q1_seq2vec", _save(tmp_path / "sketch", "q1_seq2vec.keras", model))
    shape = results["output_shape"]
    assert shape.status == "passed", shape.output
    steps = [run["input"][1] for run in shape.details["runs"]]
    assert len(steps) == 2 and min(steps) >= 29 and steps[0] != steps[1]


def test_a_model_failing_at_every_length_gets_one_sentence_naming_its_layer(bank, prober, tmp_path, keras_layers):
    keras, L = keras_layers
    model = keras.Sequential([keras.Input((None, 3)), L.Conv1D(8, 600, name="huge_kernel"), L.GRU(8),
                              L.Dense(4)])
    results = _results(bank, prober, "q1_seq2vec", _save(tmp_path / "huge", "q1_seq2vec.keras", model))
    message = results["output_shape"].output
    assert results["output_shape"].status == "failed"
    assert "'huge_kernel'" in message and "too short" in message and "512 steps" in message
    assert not RAW.search(message), message


def test_a_two_input_encoder_decoder_is_told_to_submit_its_inference_model(bank, prober, tmp_path, keras_layers):
    keras, L = keras_layers
    encoder_in = keras.Input((None, 71), name="encoder_inputs")
    decoder_in = keras.Input((None, 93), name="decoder_inputs")
    _, h, c = L.LSTM(16, return_state=True)(encoder_in)
    y = L.LSTM(16, return_sequences=True)(decoder_in, initial_state=[h, c])
    model = keras.Model([encoder_in, decoder_in], L.Dense(93, activation="softmax")(y))
    results = _results(bank, prober, "q1_seq2seq", _save(tmp_path / "encdec", "q1_seq2seq.keras", model))
    for check in ("input_shape", "output_shape"):
        message = results[check].output
        assert results[check].status == "failed"
        assert "2 inputs named" in message and "encoder_inputs" in message and "inference model" in message
        assert not RAW.search(message), message


def _wavenet(keras, L, window=None):
    x = keras.Input((window, 1))
    h = x
    for rate in (1, 2, 4, 8):
        h = L.Conv1D(8, 2, padding="causal", dilation_rate=rate, activation="relu")(h)
    return keras.Model(x, L.Dense(7)(L.GlobalAveragePooling1D()(h)))


def test_a_forecaster_without_recurrence_earns_no_accuracy_credit_on_rnn_questions(bank, tmp_path, keras_layers):
    keras, L = keras_layers
    folder = _save(tmp_path / "wavenet", "q4_forecaster.keras", _wavenet(keras, L))
    description = inspect_model_file(folder / "q4_forecaster.keras")
    forecast = {"fraction": 1.0, "mae": 1234.0, "mase": 0.5, "windows": 20,
                "full_credit_mae": 2000.0, "zero_credit_mae": 5000.0}
    for task_id in ("q4_forecaster", "q5_stable_rnn"):
        outcome = CHECKS["forecast_accuracy"].run(Evidence(description=description, forecast=forecast),
                                                  bank.task(task_id))
        assert outcome.status == "failed" and outcome.fraction == 0.0
        assert "no recurrent layer" in outcome.message and "1,234" in outcome.message
    q7 = CHECKS["forecast_accuracy"].run(Evidence(description=description, forecast=forecast), bank.task("q7_conv_rnn"))
    assert q7.fraction == 1.0                   # q7 keeps its own rule


def test_wavenet_submitted_for_q7_hears_about_its_dilated_stack(bank, tmp_path, keras_layers):
    keras, L = keras_layers
    folder = _save(tmp_path / "wavenet7", "q7_conv_rnn.keras", _wavenet(keras, L))
    description = inspect_model_file(folder / "q7_conv_rnn.keras")
    outcome = CHECKS["recurrent_layer"].run(Evidence(description=description), bank.task("q7_conv_rnn"))
    assert outcome.status == "failed"
    assert "4 Conv1D layers, dilation rates 1, 2, 4, 8 (a WaveNet-style stack)" in outcome.message
    assert "add a recurrent layer" in outcome.message and "7-day forecaster" not in outcome.message


def test_convlstm_pooled_over_time_and_space_is_a_video_classifier(bank, tmp_path, keras_layers):
    keras, L = keras_layers
    model = keras.Sequential([keras.Input((None, 16, 16, 3)),
                              L.ConvLSTM2D(8, 3, padding="same", return_sequences=True),
                              L.GlobalAveragePooling3D(), L.Dense(5, activation="softmax")])
    folder = _save(tmp_path / "convlstm", "q8_video_classifier.keras", model)
    outcome = CHECKS["video_frontend"].run(Evidence(description=inspect_model_file(folder / "q8_video_classifier.keras")),
                                           bank.task("q8_video_classifier"))
    assert outcome.status == "passed", outcome.message


def test_messages_quote_the_real_symbolic_shapes(bank, tmp_path, keras_layers):
    keras, L = keras_layers
    model = keras.Sequential([keras.Input((None, 16, 16, 3)),
                              L.ConvLSTM2D(8, 3, padding="same", return_sequences=True),
                              L.Dense(5, activation="softmax")])
    folder = _save(tmp_path / "convlstm_seq", "q8_video_classifier.keras", model)
    outcome = CHECKS["video_frontend"].run(Evidence(description=inspect_model_file(folder / "q8_video_classifier.keras")),
                                           bank.task("q8_video_classifier"))
    assert outcome.status == "failed"
    assert "got (None, T, 16, 16, 8), expected (None, 16, 16, 8)" in outcome.message
