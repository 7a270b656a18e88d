"""Every rule by the name the question bank uses: ``CHECKS[name].run(evidence, task) -> Outcome``.

Names, needs and visibility come from :data:`grader.core.contract.CHECK_CATALOGUE`;
this module pairs each with its function, and refuses to import if the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from grader.checks import architecture, forecast_accuracy, lstm_cell, return_sequences, shapes
from grader.checks.evidence import Evidence
from grader.core.contract import CHECK_CATALOGUE
from grader.core.results import Outcome


@dataclass(frozen=True)
class CheckSpec:
    name: str
    needs: str            # "static", "probe", "source", "forecast"
    run: Callable[[Evidence, Any], Outcome]
    visibility: str = "visible"


RULES: dict[str, Callable[[Evidence, Any], Outcome]] = {
    "input_shape": shapes.input_shape,
    "recurrent_layer": return_sequences.recurrent_layer,
    "stacked_recurrent_layers": return_sequences.stacked_recurrent_layers,
    "top_returns_sequences": return_sequences.top_returns_sequences,
    "seq2seq_return_sequences": return_sequences.seq2seq_return_sequences,
    "seq2vec_return_sequences": return_sequences.seq2vec_return_sequences,
    "conv1d_frontend": architecture.conv1d_frontend,
    "gradient_remedies": architecture.gradient_remedies,
    "bounded_recurrent_activation": architecture.bounded_recurrent_activation,
    "video_frontend": architecture.video_frontend,
    "softmax_output": architecture.softmax_output,
    "output_shape": shapes.output_shape,
    "probability_output": shapes.probability_output,
    "lstm_step_signature": lstm_cell.lstm_step_signature,
    "lstm_step_matches_keras": lstm_cell.lstm_step_matches_keras,
    "forecast_accuracy": forecast_accuracy.forecast_accuracy,
}
if set(RULES) != set(CHECK_CATALOGUE):
    raise ImportError(f"checks and catalogue disagree: {sorted(set(RULES) ^ set(CHECK_CATALOGUE))}")

CHECKS: dict[str, CheckSpec] = {name: CheckSpec(name, info.needs, RULES[name], info.visibility)
                                for name, info in CHECK_CATALOGUE.items()}
