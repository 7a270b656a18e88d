"""Rules on shapes and values: the declared input, and the output of a real forward pass in the sandbox."""

from __future__ import annotations

from typing import Any

from grader.checks.evidence import Evidence
from grader.checks.topology import shape_text
from grader.core.contract import FORECAST_KINDS, HORIZON, SEQUENCE_KINDS, TASK_MAPS, TASK_WORDS
from grader.core.results import Outcome


def input_shape(ev: Evidence, task: Any) -> Outcome:
    """The declared input has the rank and feature count the task demands."""
    desc = ev.description
    assert desc is not None
    if len(desc.input_shapes) > 1:
        names = [layer.name for layer in desc.layers if layer.class_name == "InputLayer"]
        return Outcome.fail(several_inputs(task.kind, len(desc.input_shapes), names))
    shape = desc.input_shape
    if shape is None:
        return Outcome.fail("the model was saved without an input shape: start it with keras.Input(shape=...) "
                            "so its input is declared")
    kind = task.kind
    got = shape_text(shape)
    if kind in SEQUENCE_KINDS:
        if len(shape) != 3:
            return Outcome.fail(f"the input shape is {got}: an RNN takes 3-D input (batch, time steps, features), "
                                "e.g. keras.Input(shape=(None, 3))")
        if shape[2] is None:
            return Outcome.fail(f"the input shape is {got}: the number of features per step must be fixed")
        return Outcome.ok(f"input {got}: (batch, time steps, features)", shape=list(shape))
    if kind == "vec2seq":
        if len(shape) != 2:
            return Outcome.fail(f"the input shape is {got}: a vector-to-sequence RNN takes one vector per example, "
                                "(batch, features), e.g. keras.Input(shape=(4,)); repeat it over time inside the model")
        return Outcome.ok(f"input {got}: (batch, features)", shape=list(shape))
    if kind in FORECAST_KINDS:
        if len(shape) != 3 or shape[2] != 1:
            return Outcome.fail(f"the input shape is {got}: the forecaster reads windows of the univariate series, "
                                "(batch, T, 1), e.g. keras.Input(shape=(None, 1)) or (56, 1)")
        if shape[1] is not None and shape[1] < 1:
            return Outcome.fail(f"the input shape is {got}: the window length must be positive")
        return Outcome.ok(f"input {got}: windows of the univariate series", shape=list(shape))
    if kind == "video_classifier":
        if len(shape) != 5 or shape[4] != 3:
            return Outcome.fail(f"the input shape is {got}: a video classifier takes (batch, frames, height, width, 3), "
                                "e.g. keras.Input(shape=(None, 64, 64, 3))")
        return Outcome.ok(f"input {got}: (batch, frames, height, width, channels)", shape=list(shape))
    return Outcome.error(f"no input rule for task kind {kind!r}")


def several_inputs(kind: str, count: int, names: list[str]) -> str:
    """The sentence for a model with ``count`` inputs (an encoder-decoder saved for training, say)."""
    named = f" named {', '.join(names[:4])}" if names else ""
    return (f"this task feeds the model one input; this model has {count} inputs{named}: submit the inference "
            f"model that maps {TASK_MAPS.get(kind, 'the task input to its output')} (for an encoder-decoder, "
            "wrap the encoder and the decoding loop in one model with a single input)")


def _probe_runs(ev: Evidence, task: Any = None) -> tuple[list[dict], Outcome | None]:
    probe = ev.probe or {}
    if probe.get("inputs", 1) != 1:
        names = [str(n) for n in probe.get("input_names") or []]
        return [], Outcome.fail(several_inputs(getattr(task, "kind", ""), int(probe["inputs"]), names))
    if probe.get("error"):
        return [], Outcome.fail(str(probe["error"]))
    if probe.get("outputs", 1) != 1:
        return [], Outcome.fail(f"the model returns {probe['outputs']} outputs: it must return one tensor")
    runs = probe.get("runs") or []
    if not runs:
        return [], Outcome.error("the model was not run (no probe result)")
    return runs, None


def output_shape(ev: Evidence, task: Any) -> Outcome:
    """A real forward pass gives the output shape the task demands."""
    runs, problem = _probe_runs(ev, task)
    if problem:
        return problem
    kind = task.kind
    for run in runs:
        given, got = run["input_shape"], run["output_shape"]
        shown = f"output {shape_text(got)} for input {shape_text(given)}"
        if not run.get("finite", True):
            return Outcome.fail(f"{shown}: the output contains NaN or infinite values")
        if kind in ("seq2seq", "deep_seq2seq"):
            if len(got) != 3 or got[1] != given[1]:
                return Outcome.fail(f"{shown}: {TASK_WORDS[kind]} must output one vector per input step, "
                                    f"(batch, {given[1]}, k)", input=given, output=got)
        elif kind in ("seq2vec", "deep_seq2vec"):
            if len(got) != 2:
                return Outcome.fail(f"{shown}: {TASK_WORDS[kind]} must output one vector per sequence, (batch, k)",
                                    input=given, output=got)
        elif kind == "vec2seq":
            if len(got) != 3 or got[1] < 2:
                return Outcome.fail(f"{shown}: a vector-to-sequence RNN must output a sequence of at least 2 steps, "
                                    "(batch, time, k)", input=given, output=got)
        elif kind in FORECAST_KINDS:
            ok = (len(got) == 2 and got[1] == HORIZON) or (len(got) == 3 and got[1] == HORIZON and got[2] == 1) \
                or (len(got) == 3 and got[2] == HORIZON)
            if not ok:
                return Outcome.fail(f"{shown}: a 7-day forecaster must output (batch, 7), (batch, 7, 1), or a "
                                    "sequence (batch, T', 7) whose last step is the forecast", input=given, output=got)
        elif kind == "video_classifier":
            if len(got) != 2 or got[1] < 2:
                return Outcome.fail(f"{shown}: a video classifier must output one probability per class, "
                                    "(batch, n_classes) with n_classes >= 2", input=given, output=got)
        else:
            return Outcome.error(f"no output rule for task kind {kind!r}")
    shapes = "; ".join(f"{shape_text(r['input_shape'])} -> {shape_text(r['output_shape'])}" for r in runs)
    return Outcome.ok(f"forward pass: {shapes}", runs=[{"input": r["input_shape"], "output": r["output_shape"]} for r in runs])


def probability_output(ev: Evidence, task: Any) -> Outcome:
    """Every output row is a probability distribution."""
    runs, problem = _probe_runs(ev, task)
    if problem:
        return problem
    for run in runs:
        low, error = run.get("min"), run.get("row_sum_error")
        if low is None or error is None or not run.get("finite", True):
            return Outcome.fail("the output contains NaN or infinite values, so it is not a probability distribution")
        if low < -1e-6 or error > 1e-3:
            return Outcome.fail(f"output rows are not probability distributions (smallest value {low:.3g}; row "
                                f"sums differ from 1 by up to {error:.3g}): end the model with a softmax over "
                                "the classes")
    return Outcome.ok("every output row is non-negative and sums to 1")
