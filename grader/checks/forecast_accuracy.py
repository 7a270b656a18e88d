"""The hidden rule: partial credit for forecast accuracy on the held-out windows."""

from __future__ import annotations

from typing import Any

from grader.checks.evidence import Evidence
from grader.core.results import Outcome

# Forecasting tasks that ask about RNNs: a forecaster without a recurrent layer answers another question.
RNN_FORECAST_KINDS = frozenset({"forecaster", "stable_forecaster"})


def forecast_accuracy(ev: Evidence, task: Any) -> Outcome:
    """Partial credit between the seasonal-naive and the reference MAE on held-out windows."""
    forecast = ev.forecast or {}
    if forecast.get("grader_error"):
        # The grader could not evaluate (references missing, course broken): not the student's fault.
        # The reason names the course's files: it goes to the details a reviewer reads, not to the student.
        return Outcome.error("forecast accuracy could not be evaluated on the grader's side (not a problem with "
                             "your model); a person will review this result", needs_review=True,
                             grader_error=str(forecast["grader_error"])[:300])
    if forecast.get("error"):
        return Outcome.fail(str(forecast["error"]))
    desc = ev.description
    if task.kind in RNN_FORECAST_KINDS and desc is not None and not desc.recurrent_layers():
        measured = f" (its held-out MAE was {forecast['mae']:,.0f})" if "mae" in forecast else ""
        return Outcome.fail("no accuracy credit: the model has no recurrent layer (SimpleRNN, LSTM or GRU), and this "
                            f"question asks how an RNN forecasts the next 7 days{measured}; add a recurrent layer, "
                            "or submit a purely convolutional model (WaveNet) for q7 instead",
                            **{k: v for k, v in forecast.items() if k != "fraction"})
    if "fraction" not in forecast:
        return Outcome.error("the forecast was not evaluated", needs_review=True)
    fraction = float(forecast["fraction"])
    mae, mase = forecast["mae"], forecast["mase"]
    full, zero = forecast["full_credit_mae"], forecast["zero_credit_mae"]
    message = (f"held-out MAE {mae:,.0f} (MASE {mase:.3f}) over {forecast['windows']} windows; full credit at "
               f"MAE <= {full:,.0f} ({task.full_credit_at.replace('_', '-')}), none at >= {zero:,.0f} "
               f"({task.zero_credit_at.replace('_', '-')})")
    status = "passed" if fraction >= 1.0 else "failed"
    return Outcome(status, message, fraction, {k: v for k, v in forecast.items() if k != "fraction"})
