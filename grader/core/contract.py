"""The submission contract's constants, defined once: forecast horizon and window, task kinds, check names.

Every layer reads these; nothing here imports anything of the grader's.
"""

from __future__ import annotations

from dataclasses import dataclass

HORIZON = 7                 # days a forecaster predicts
DEFAULT_WINDOW = 56         # input days for a forecaster whose time axis is None

SEQUENCE_KINDS = frozenset({"seq2seq", "seq2vec", "deep_seq2seq", "deep_seq2vec"})
FORECAST_KINDS = frozenset({"forecaster", "stable_forecaster", "conv_forecaster"})
TASK_WORDS = {
    "seq2seq": "a sequence-to-sequence RNN", "deep_seq2seq": "a deep sequence-to-sequence RNN",
    "seq2vec": "a sequence-to-vector RNN", "deep_seq2vec": "a deep sequence-to-vector RNN",
    "vec2seq": "a vector-to-sequence RNN", "forecaster": "a 7-day forecaster",
    "stable_forecaster": "a 7-day forecaster", "conv_forecaster": "a 7-day forecaster",
    "video_classifier": "a video classifier",
}

# What each kind of task maps, for messages that ask for a different model ("submit the model that maps ...").
TASK_MAPS = {
    "seq2seq": "a sequence (batch, time steps, features) to one output per step (batch, time steps, k)",
    "deep_seq2seq": "a sequence (batch, time steps, features) to one output per step (batch, time steps, k)",
    "seq2vec": "a sequence (batch, time steps, features) to one vector (batch, k)",
    "deep_seq2vec": "a sequence (batch, time steps, features) to one vector (batch, k)",
    "vec2seq": "one vector (batch, features) to a sequence (batch, time steps, k)",
    "forecaster": "a window of the series (batch, T, 1) to the next 7 days (batch, 7)",
    "stable_forecaster": "a window of the series (batch, T, 1) to the next 7 days (batch, 7)",
    "conv_forecaster": "a window of the series (batch, T, 1) to the next 7 days (batch, 7)",
    "video_classifier": "a clip (batch, frames, height, width, 3) to class probabilities (batch, n_classes)",
}


@dataclass(frozen=True)
class CheckInfo:
    """What the question bank may say about a check: its name, what it needs, who sees its message.

    ``needs`` is "static" (the model description), "source" (a Python file's parse),
    "probe" (a sandboxed run) or "forecast" (the held-out evaluation).
    """

    name: str
    needs: str
    visibility: str = "visible"


CHECK_CATALOGUE: dict[str, CheckInfo] = {info.name: info for info in (
    CheckInfo("input_shape", "static"),
    CheckInfo("recurrent_layer", "static"),
    CheckInfo("stacked_recurrent_layers", "static"),
    CheckInfo("top_returns_sequences", "static"),
    CheckInfo("seq2seq_return_sequences", "static"),
    CheckInfo("seq2vec_return_sequences", "static"),
    CheckInfo("conv1d_frontend", "static"),
    CheckInfo("gradient_remedies", "static"),
    CheckInfo("bounded_recurrent_activation", "static"),
    CheckInfo("video_frontend", "static"),
    CheckInfo("softmax_output", "static"),
    CheckInfo("output_shape", "probe"),
    CheckInfo("probability_output", "probe"),
    CheckInfo("lstm_step_signature", "source"),
    CheckInfo("lstm_step_matches_keras", "probe"),
    CheckInfo("forecast_accuracy", "forecast", visibility="hidden"),
)}
