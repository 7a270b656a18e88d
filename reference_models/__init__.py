"""Reference solutions for every task of the bank, and plausible wrong variants.

``BUILDERS`` maps a model task id to a function returning a compiled Keras
model; ``q6_lstm_cell`` maps to the path of the reference NumPy source.
``BUILDER_VERSIONS`` changes whenever a builder's architecture or training
changes, so cached reference models are rebuilt.
"""

from __future__ import annotations

from pathlib import Path

from reference_models import builders

LSTM_CELL_SOURCE = Path(__file__).with_name("lstm_cell.py")

BUILDERS = {
    "q1_seq2seq": builders.build_q1_seq2seq,
    "q1_seq2vec": builders.build_q1_seq2vec,
    "q1_vec2seq": builders.build_q1_vec2seq,
    "q3_deep_seq2seq": builders.build_q3_deep_seq2seq,
    "q3_deep_seq2vec": builders.build_q3_deep_seq2vec,
    "q4_forecaster": builders.build_q4_forecaster,
    "q5_stable_rnn": builders.build_q5_stable_rnn,
    "q6_lstm_cell": LSTM_CELL_SOURCE,
    "q7_conv_rnn": builders.build_q7_conv_rnn,
    "q8_video_classifier": builders.build_q8_video_classifier,
}

BUILDER_VERSIONS = {task: 1 for task in BUILDERS}

FORECAST_TASKS = ("q4_forecaster", "q5_stable_rnn", "q7_conv_rnn")
