"""Every rule of the submission contract as a pure function.

A check takes the :class:`Evidence` gathered for one task (the static model
description, the sandboxed probe's shapes and numbers, the forecast
evaluation) and the :class:`~grader.core.bank.Task`, and returns an
:class:`~grader.core.results.Outcome` whose message names the layer and the fix.
Nothing here imports TensorFlow or touches a file, so every rule can be tested
with hand-built descriptions.

``CHECKS`` maps the check names used in the question bank to their specs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from grader.static.description import (CONV1D_CLASSES, CONV2D_CLASSES, CONV3D_CLASSES, POOL1D_CLASSES, Layer,
                                ModelDescription)
from grader.core.results import Outcome

HORIZON = 7

SEQUENCE_KINDS = {"seq2seq", "seq2vec", "deep_seq2seq", "deep_seq2vec"}
FORECAST_KINDS = {"forecaster", "stable_forecaster", "conv_forecaster"}
TASK_WORDS = {
    "seq2seq": "a sequence-to-sequence RNN", "deep_seq2seq": "a deep sequence-to-sequence RNN",
    "seq2vec": "a sequence-to-vector RNN", "deep_seq2vec": "a deep sequence-to-vector RNN",
    "vec2seq": "a vector-to-sequence RNN", "forecaster": "a 7-day forecaster",
    "stable_forecaster": "a 7-day forecaster", "conv_forecaster": "a 7-day forecaster",
    "video_classifier": "a video classifier",
}
# Activations that do not saturate: inside a recurrence they let the state and
# the gradients grow step after step.
UNBOUNDED_ACTIVATIONS = frozenset({
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "linear", "softplus",
    "exponential", "mish", "celu", "hard_silu", "hard_swish", "squareplus", "sparse_plus", "glu",
})
NORMALIZATION_CLASSES = frozenset({"LayerNormalization", "RMSNormalization"})
DROPOUT_CLASSES = frozenset({"Dropout", "SpatialDropout1D", "AlphaDropout", "GaussianDropout"})


@dataclass(frozen=True)
class Evidence:
    """What is known about one task's file when the checks run.

    ``probe`` is the worker's answer for model tasks::

        {"outputs": 1, "runs": [{"input_shape": [3, 12, 3], "output_shape": [3, 12, 2],
                                 "finite": true, "min": -0.4, "max": 0.7,
                                 "row_sum_error": 0.0}, ...]}

    or, for q6, ``{"cases": [{"h_error": 0.0, "c_error": 0.0, "batch": 4, ...}]}``.
    ``source`` is the static description of a Python task file
    (``{"functions": {"lstm_step": {"positional": 6, "defaults": 0, "varargs": False}}}``).
    ``forecast`` is the evaluation dict from ``grader.forecast.metrics``.
    """

    description: ModelDescription | None = None
    probe: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    forecast: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckSpec:
    name: str
    needs: str            # "static", "probe", "source", "forecast"
    run: Callable[[Evidence, Any], Outcome]
    visibility: str = "visible"


# --------------------------------------------------------------------------- helpers

def _shape_text(shape: Any) -> str:
    if shape is None:
        return "unknown"
    return "(" + ", ".join("None" if v is None else str(v) for v in shape) + (",)" if len(shape) == 1 else ")")


def top_recurrent_layers(desc: ModelDescription) -> list[Layer]:
    """Recurrent layers with no recurrent layer downstream: the top of each stack.

    Whether a top hands a sequence on is :func:`returns_sequences`'s call: return_sequences=True
    followed only by ``h[:, -1]`` is a vector.
    """
    recurrent = desc.recurrent_layers()
    keys = {layer.key for layer in recurrent}
    return [layer for layer in recurrent if not (desc.descendants(layer) & keys)]


def _readers(desc: ModelDescription, layer: Layer) -> list[Layer]:
    """The layers and op nodes that read ``layer``'s output directly."""
    return [desc.by_key(dst) for src, dst in desc.edges if src == layer.key]


def last_step_slices(desc: ModelDescription, layer: Layer) -> list[Layer]:
    """The op nodes keeping only the last time step (``h[:, -1]``) of ``layer``'s output, when they are all
    that reads it; else an empty list.

    A unidirectional layer's last output has seen the whole sequence (with go_backwards too: Keras
    returns that sequence reversed), so ``h[:, -1]`` of it is exactly what return_sequences=False
    returns. At the last step of a Bidirectional layer the backward direction has seen only the last
    input, so it does not count.
    """
    if not layer.return_sequences or layer.bidirectional or layer.key in desc.outputs:
        return []
    readers = _readers(desc, layer)
    return readers if readers and all(reader.takes_last_step for reader in readers) else []


def returns_sequences(desc: ModelDescription, layer: Layer) -> bool:
    """Whether a recurrent layer hands a whole sequence on: return_sequences=True, unless all that reads
    it is ``h[:, -1]`` (see :func:`last_step_slices`), which makes it a vector."""
    return bool(layer.return_sequences) and not last_step_slices(desc, layer)


def _returns_vector_text(desc: ModelDescription, layer: Layer) -> str:
    """How ``layer`` comes to return a vector, for messages: "has return_sequences=False" or the slice."""
    slices = last_step_slices(desc, layer)
    if slices:
        return f"returns sequences but {slices[0].label} keeps only the last step (h[:, -1])"
    return "has return_sequences=False"


def _step_slice_note(desc: ModelDescription, layer: Layer) -> str:
    """Why a slice after a sequence-returning ``layer`` does not make it return its last output ('' if none)."""
    for reader in _readers(desc, layer):
        step = reader.time_step
        if step is None:
            continue
        if step != -1:
            return (f"; {reader.label} keeps step {step} (h[:, {step}]), not the last one: only the last step "
                    "has seen the whole sequence")
        if layer.bidirectional:
            return (f"; {reader.label} keeps the last step (h[:, -1]), where the backward direction of a "
                    "Bidirectional layer has seen only the last input")
    return ""


def first_recurrent_layers(desc: ModelDescription) -> list[Layer]:
    """Recurrent layers with no recurrent layer upstream: the bottom of each stack."""
    recurrent = desc.recurrent_layers()
    keys = {layer.key for layer in recurrent}
    return [layer for layer in recurrent if not (desc.ancestors(layer) & keys)]


def _feeds(desc: ModelDescription, layer: Layer) -> list[Layer]:
    """The recurrent layers downstream of ``layer``."""
    below = desc.descendants(layer)
    return [other for other in desc.recurrent_layers() if other.key in below]


def _no_recurrent(kind: str) -> Outcome:
    return Outcome.fail(f"no recurrent layer (SimpleRNN, LSTM, GRU, or one wrapped in Bidirectional) was found: "
                        f"{TASK_WORDS.get(kind, 'this task')} needs at least one")


# --------------------------------------------------------------------------- static checks

def input_shape(ev: Evidence, task: Any) -> Outcome:
    """The declared input has the rank and feature count the task demands."""
    desc = ev.description
    assert desc is not None
    if len(desc.input_shapes) > 1:
        return Outcome.fail(f"the model has {len(desc.input_shapes)} inputs: this task feeds it a single input")
    shape = desc.input_shape
    if shape is None:
        return Outcome.fail("the model was saved without an input shape: start it with keras.Input(shape=...) "
                            "so its input is declared")
    kind = task.kind
    got = _shape_text(shape)
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


def recurrent_layer(ev: Evidence, task: Any) -> Outcome:
    """At least one recurrent layer lies between the input and the output."""
    desc = ev.description
    assert desc is not None
    recurrent = desc.recurrent_layers()
    if not recurrent:
        return _no_recurrent(task.kind)
    outputs = set(desc.outputs)
    connected = [layer for layer in recurrent if layer.key in outputs or desc.descendants(layer) & outputs]
    if not connected:
        return Outcome.fail(f"{recurrent[0].label} does not feed the model's output: the forecast must come through the RNN")
    return Outcome.ok(f"recurrent layer: {connected[0].label}")


def stacked_recurrent_layers(ev: Evidence, task: Any) -> Outcome:
    """At least two recurrent layers, one feeding the other."""
    desc = ev.description
    assert desc is not None
    recurrent = desc.recurrent_layers()
    if not recurrent:
        return _no_recurrent(task.kind)
    if len(recurrent) == 1:
        return Outcome.fail(f"only one recurrent layer ({recurrent[0].label}): a deep RNN stacks at least two, "
                            "each feeding the next")
    for layer in recurrent:
        above = _feeds(desc, layer)
        if above:
            return Outcome.ok(f"{len(recurrent)} recurrent layers; {layer.label} feeds {above[0].label}")
    names = " and ".join(layer.label for layer in recurrent[:2])
    return Outcome.fail(f"{names} run side by side, not stacked: a deep RNN feeds one recurrent layer's outputs into the next")


def top_returns_sequences(ev: Evidence, task: Any) -> Outcome:
    """The top recurrent layer emits its output at every step (seq2seq and vec2seq)."""
    desc = ev.description
    assert desc is not None
    tops = top_recurrent_layers(desc)
    if not tops:
        if task.kind == "vec2seq":
            return Outcome.fail("no recurrent layer was found: a vector-to-sequence RNN repeats the input vector "
                                "over time (RepeatVector) and runs a recurrent layer with return_sequences=True over it")
        return _no_recurrent(task.kind)
    for layer in tops:
        if not returns_sequences(desc, layer):
            if task.kind == "vec2seq":
                why = "a vector-to-sequence RNN must emit one output per generated step"
            else:
                why = "in a sequence-to-sequence RNN the top recurrent layer must return an output at every time step"
            return Outcome.fail(f"{layer.label} {_returns_vector_text(desc, layer)}: {why}, otherwise the time axis "
                                f"is lost (got {layer.shape_text(False)}, expected {layer.shape_text(True)})",
                                layer=layer.name)
    return Outcome.ok(f"{tops[0].label} returns sequences")


def seq2seq_return_sequences(ev: Evidence, task: Any) -> Outcome:
    """Every recurrent layer of a sequence-to-sequence stack returns sequences."""
    desc = ev.description
    assert desc is not None
    recurrent = desc.recurrent_layers()
    if not recurrent:
        return _no_recurrent(task.kind)
    wrong = [layer for layer in recurrent if not returns_sequences(desc, layer)]
    if wrong:
        layer = wrong[0]
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        return Outcome.fail(f"{layer.label} {_returns_vector_text(desc, layer)}{more}: in a sequence-to-sequence "
                            "stack every recurrent layer must return sequences, otherwise the time axis is lost "
                            f"(got {layer.shape_text(False)}, expected {layer.shape_text(True)})", layer=layer.name)
    return Outcome.ok(f"all {len(recurrent)} recurrent layers return sequences")


def seq2vec_return_sequences(ev: Evidence, task: Any) -> Outcome:
    """Every recurrent layer but the top returns sequences; the top returns a vector."""
    desc = ev.description
    assert desc is not None
    recurrent = desc.recurrent_layers()
    if not recurrent:
        return _no_recurrent(task.kind)
    tops = top_recurrent_layers(desc)
    top_keys = {layer.key for layer in tops}
    for layer in recurrent:
        if layer.key in top_keys or returns_sequences(desc, layer):
            continue
        above = _feeds(desc, layer)
        target = above[0].label if above else "the next recurrent layer"
        feeds = "before" if last_step_slices(desc, layer) else "but feeds"
        return Outcome.fail(f"{layer.label} {_returns_vector_text(desc, layer)} {feeds} {target}: every recurrent "
                            "layer below the top one must return sequences so the next one sees every time step "
                            f"(got {layer.shape_text(False)}, expected {layer.shape_text(True)})", layer=layer.name)
    for layer in tops:
        if returns_sequences(desc, layer):
            return Outcome.fail(f"{layer.label} has return_sequences=True: in a sequence-to-vector RNN the top "
                                "recurrent layer must return only its last output (return_sequences=False) "
                                f"(got {layer.shape_text(True)}, expected {layer.shape_text(False)})"
                                f"{_step_slice_note(desc, layer)}", layer=layer.name)
    top = tops[0]
    slices = last_step_slices(desc, top)
    how = (f"returns sequences and {slices[0].label} keeps only the last step (h[:, -1]), its last output"
           if slices else "returns only its last output")
    if len(recurrent) == 1:
        return Outcome.ok(f"{top.label} {how}")
    return Outcome.ok(f"lower recurrent layers return sequences and {top.label} {how}")


def conv1d_frontend(ev: Evidence, task: Any) -> Outcome:
    """Conv1D layers before the first recurrent layer shorten the sequence or dilate causally."""
    desc = ev.description
    assert desc is not None
    firsts = first_recurrent_layers(desc)
    if not firsts:
        return _no_recurrent(task.kind)
    for first in firsts:
        upstream = desc.ancestors(first)
        convs = [layer for layer in desc.layers if layer.key in upstream and layer.class_name in CONV1D_CLASSES
                 and not layer.time_distributed]
        if not convs:
            continue
        strided = [layer for layer in convs if layer.strides and max(layer.strides) >= 2]
        if strided:
            return Outcome.ok(f"{strided[0].label} (strides={strided[0].strides[0]}) shortens the sequence before {first.label}")
        pools = [layer for layer in desc.layers if layer.key in upstream and layer.class_name in POOL1D_CLASSES
                 and layer.strides and max(layer.strides) >= 2 and desc.ancestors(layer) & {c.key for c in convs}]
        if pools:
            return Outcome.ok(f"{convs[0].label} followed by {pools[0].label} shortens the sequence before {first.label}")
        causal = [layer for layer in convs if layer.padding == "causal"]
        rates = [max(layer.dilation_rate or (1,)) for layer in causal]
        if len(causal) >= 2 and any(b > a for a, b in zip(rates, rates[1:])):
            return Outcome.ok(f"{len(causal)} causal Conv1D layers with dilation rates "
                              f"{', '.join(map(str, rates))} before {first.label}")
        layer = convs[0]
        if len(causal) >= 2:
            return Outcome.fail(f"the causal Conv1D stack before {first.label} has dilation rates "
                                f"{', '.join(map(str, rates))}: they must grow along the stack (e.g. 1, 2, 4, 8) "
                                "so the receptive field covers long patterns")
        return Outcome.fail(f"{layer.label} has strides={(layer.strides or (1,))[0]} and padding={layer.padding!r}: "
                            "the convolutional front end must shorten the sequence (strides >= 2) or be a causal "
                            "stack with growing dilation rates (e.g. 1, 2, 4, 8)", layer=layer.name)
    convs_anywhere = [layer for layer in desc.layers if layer.class_name in CONV1D_CLASSES]
    if convs_anywhere:
        return Outcome.fail(f"{convs_anywhere[0].label} comes after the first recurrent layer {firsts[0].label}: "
                            "put the Conv1D layers in front of the RNN so it reads their shortened sequence")
    return Outcome.fail(f"no Conv1D layer before the first recurrent layer {firsts[0].label}: put Conv1D layers "
                        "(strided, or causal with growing dilation) in front of the RNN")


def gradient_remedies(ev: Evidence, task: Any) -> Outcome:
    """At least two remedies for unstable gradients or short memory."""
    desc = ev.description
    assert desc is not None
    recurrent = desc.recurrent_layers()
    if not recurrent:
        return _no_recurrent(task.kind)
    found: list[str] = []
    optimizer = desc.optimizer
    if optimizer is not None and optimizer.clips:
        setting = next(f"{key}={value:g}" for key, value in (("clipnorm", optimizer.clipnorm),
                       ("clipvalue", optimizer.clipvalue), ("global_clipnorm", optimizer.global_clipnorm))
                       if value not in (None, 0, 0.0))
        found.append(f"gradient clipping ({optimizer.class_name} {setting})")
    norms = [layer for layer in desc.layers if layer.class_name in NORMALIZATION_CLASSES]
    if norms:
        found.append(f"layer normalization ({norms[0].label})")
    dropped = [layer for layer in recurrent if layer.dropout > 0 or layer.recurrent_dropout > 0]
    dropped += [layer for layer in desc.layers if layer.class_name in DROPOUT_CLASSES and (layer.rate or 0) > 0]
    if dropped:
        found.append(f"dropout ({dropped[0].label})")
    if all(layer.is_gated for layer in recurrent):
        found.append("gated cells (" + ", ".join(sorted({layer.class_name for layer in recurrent})) + ")")
    if len(found) >= 2:
        return Outcome.ok(f"{len(found)} remedies: " + "; ".join(found), remedies=found)
    hint = ""
    if optimizer is None:
        hint = " (the model was saved without a compiled optimizer, so gradient clipping cannot count: compile before saving)"
    have = f"only one remedy, {found[0]}," if found else "no remedy"
    stack = ", ".join(layer.label for layer in recurrent[:3])
    return Outcome.fail(f"the recurrent stack ({stack}) has {have} for unstable gradients or short memory: "
                        "apply at least two of gradient clipping saved with the optimizer "
                        "(e.g. Adam(clipnorm=1.0)), LayerNormalization between recurrent layers, dropout or "
                        f"recurrent_dropout > 0, gated cells (LSTM or GRU){hint}", remedies=found)


def bounded_recurrent_activation(ev: Evidence, task: Any) -> Outcome:
    """No recurrent layer uses a non-saturating activation inside its recurrence."""
    desc = ev.description
    assert desc is not None
    recurrent = desc.recurrent_layers()
    if not recurrent:
        return _no_recurrent(task.kind)
    for layer in recurrent:
        activation = layer.activation or "linear"
        if activation in UNBOUNDED_ACTIVATIONS:
            return Outcome.fail(f"{layer.label} uses activation={activation!r} inside the recurrence: a "
                                "non-saturating activation lets the state and the gradients grow at every step; "
                                "keep the default 'tanh'", layer=layer.name)
    return Outcome.ok("every recurrent layer uses a saturating activation")


def video_frontend(ev: Evidence, task: Any) -> Outcome:
    """A per-frame CNN feeding a sequence-to-vector recurrent layer, or 3-D convolutions."""
    desc = ev.description
    assert desc is not None
    conv3d = [layer for layer in desc.layers if layer.class_name in CONV3D_CLASSES and not layer.time_distributed]
    if conv3d:
        return Outcome.ok(f"{conv3d[0].label} convolves over time and space")
    conv_lstm = [layer for layer in desc.layers if layer.class_name in ("ConvLSTM2D", "ConvLSTM3D")]
    frame_convs = [layer for layer in desc.layers if layer.time_distributed and layer.class_name in CONV2D_CLASSES]
    tops = top_recurrent_layers(desc)
    if conv_lstm and not any(returns_sequences(desc, layer) for layer in tops):
        return Outcome.ok(f"{conv_lstm[0].label} convolves each frame inside the recurrence")
    if not frame_convs and not conv_lstm:
        return Outcome.fail("no per-frame CNN (Conv2D inside TimeDistributed) and no Conv3D layer: a video "
                            "classifier must extract features from the frames' pixels")
    if not tops:
        return Outcome.fail(f"{frame_convs[0].label} is not followed by a recurrent layer: feed the per-frame "
                            "features to a sequence-to-vector RNN (e.g. LSTM with return_sequences=False), "
                            "or use Conv3D layers")
    for top in tops:
        if returns_sequences(desc, top):
            return Outcome.fail(f"{top.label} has return_sequences=True: to classify the whole video the top "
                                "recurrent layer must return one vector (return_sequences=False) "
                                f"(got {top.shape_text(True)}, expected {top.shape_text(False)})"
                                f"{_step_slice_note(desc, top)}", layer=top.name)
    fed = [top for top in tops if desc.ancestors(top) & {conv.key for conv in frame_convs + conv_lstm}]
    if not fed:
        return Outcome.fail(f"{tops[0].label} does not read the per-frame CNN's features: put the recurrent layer "
                            "after the TimeDistributed CNN")
    source = (frame_convs or conv_lstm)[0]
    return Outcome.ok(f"{source.label} feeds {fed[0].label}, which returns one vector per video")


def softmax_output(ev: Evidence, task: Any) -> Outcome:
    """The output layer applies a softmax."""
    desc = ev.description
    assert desc is not None
    outputs = desc.output_layers()
    if len(outputs) != 1:
        return Outcome.fail(f"the model has {len(outputs)} outputs: a classifier has one, the class probabilities")
    layer = outputs[0]
    if layer.class_name == "Softmax" or layer.activation == "softmax":
        return Outcome.ok(f"{layer.label} applies a softmax")
    activation = layer.activation or "linear"
    return Outcome.fail(f"the output {layer.label} has activation={activation!r}: a classifier must end in a softmax "
                        "so each row is a probability distribution (e.g. Dense(n_classes, activation='softmax'))",
                        layer=layer.name)


# --------------------------------------------------------------------------- probe checks

def _probe_runs(ev: Evidence) -> tuple[list[dict], Outcome | None]:
    probe = ev.probe or {}
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
    runs, problem = _probe_runs(ev)
    if problem:
        return problem
    kind = task.kind
    for run in runs:
        given, got = run["input_shape"], run["output_shape"]
        shown = f"output {_shape_text(got)} for input {_shape_text(given)}"
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
    shapes = "; ".join(f"{_shape_text(r['input_shape'])} -> {_shape_text(r['output_shape'])}" for r in runs)
    return Outcome.ok(f"forward pass: {shapes}", runs=[{"input": r["input_shape"], "output": r["output_shape"]} for r in runs])


def probability_output(ev: Evidence, task: Any) -> Outcome:
    """Every output row is a probability distribution."""
    runs, problem = _probe_runs(ev)
    if problem:
        return problem
    for run in runs:
        low, error = run.get("min"), run.get("row_sum_error")
        if low is None or error is None or not run.get("finite", True):
            return Outcome.fail("the output contains NaN or infinite values, so it is not a probability distribution")
        if low < -1e-6 or error > 1e-3:
            return Outcome.fail(f"output rows are not probability distributions (smallest value {low:.3g}, rows sum "
                                f"to 1 within {error:.3g}): end the model with a softmax over the classes")
    return Outcome.ok("every output row is non-negative and sums to 1")


# --------------------------------------------------------------------------- q6

LSTM_STEP_PARAMS = ("x", "h", "c", "kernel", "recurrent_kernel", "bias")


def lstm_step_signature(ev: Evidence, task: Any) -> Outcome:
    """The file defines lstm_step callable with the six contract arguments."""
    source = ev.source or {}
    if source.get("error"):
        return Outcome.fail(str(source["error"]))
    function = (source.get("functions") or {}).get("lstm_step")
    wanted = f"lstm_step({', '.join(LSTM_STEP_PARAMS)})"
    if function is None:
        return Outcome.fail(f"{task.file} defines no top-level function {wanted}")
    positional, defaults, varargs = function["positional"], function["defaults"], function["varargs"]
    required = positional - defaults
    if required > 6 or (positional < 6 and not varargs):
        return Outcome.fail(f"lstm_step takes {positional} positional argument(s) ({', '.join(function.get('names', []))}): "
                            f"the contract calls it as {wanted}")
    return Outcome.ok(f"{wanted} is defined")


def lstm_step_matches_keras(ev: Evidence, task: Any) -> Outcome:
    """lstm_step agrees with Keras's LSTM cell on random inputs and weights.

    The cases' seed is kept in the details (``cases_seed``) so that an instructor can
    reproduce a grading; it is never part of the message.
    """
    probe = ev.probe or {}
    seed = {"cases_seed": probe["seed"]} if "seed" in probe else {}
    if probe.get("error"):
        return Outcome.fail(str(probe["error"]), **seed)
    cases = probe.get("cases") or []
    if not cases:
        return Outcome.error("lstm_step was not run (no probe result)")
    tolerance = probe.get("tolerance", 1e-5)
    for number, case in enumerate(cases, 1):
        if case.get("error"):
            return Outcome.fail(f"case {number}: {case['error']}", **seed)
        worst = max(case["h_error"], case["c_error"])
        if not math.isfinite(worst) or worst > tolerance:
            which = "h" if not math.isfinite(case["h_error"]) or case["h_error"] >= case["c_error"] else "c"
            hint = case.get("hint") or "check the gate order (i, f, c, o), the sigmoid gates, and h = o * tanh(c)"
            return Outcome.fail(f"case {number} (batch {case['batch']}, input {case['input_dim']}, units "
                                f"{case['units']}): {which} differs from Keras's LSTM cell by up to {worst:.3g} "
                                f"(tolerance {tolerance:g}): {hint}", worst=worst, **seed)
    worst = max(max(c["h_error"], c["c_error"]) for c in cases)
    return Outcome.ok(f"matches Keras's LSTM cell on {len(cases)} random cases (max error {worst:.1e})",
                      worst=worst, **seed)


# --------------------------------------------------------------------------- forecasting

def forecast_accuracy(ev: Evidence, task: Any) -> Outcome:
    """Partial credit between the seasonal-naive and the reference MAE on held-out windows."""
    forecast = ev.forecast or {}
    if forecast.get("grader_error"):
        # The grader could not evaluate (references missing, course broken): not the student's fault.
        return Outcome.error(f"forecast accuracy could not be evaluated: {forecast['grader_error']}; "
                             "a person will review this result", needs_review=True)
    if forecast.get("error"):
        return Outcome.fail(str(forecast["error"]))
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


CHECKS: dict[str, CheckSpec] = {spec.name: spec for spec in (
    CheckSpec("input_shape", "static", input_shape),
    CheckSpec("recurrent_layer", "static", recurrent_layer),
    CheckSpec("stacked_recurrent_layers", "static", stacked_recurrent_layers),
    CheckSpec("top_returns_sequences", "static", top_returns_sequences),
    CheckSpec("seq2seq_return_sequences", "static", seq2seq_return_sequences),
    CheckSpec("seq2vec_return_sequences", "static", seq2vec_return_sequences),
    CheckSpec("conv1d_frontend", "static", conv1d_frontend),
    CheckSpec("gradient_remedies", "static", gradient_remedies),
    CheckSpec("bounded_recurrent_activation", "static", bounded_recurrent_activation),
    CheckSpec("video_frontend", "static", video_frontend),
    CheckSpec("softmax_output", "static", softmax_output),
    CheckSpec("output_shape", "probe", output_shape),
    CheckSpec("probability_output", "probe", probability_output),
    CheckSpec("lstm_step_signature", "source", lstm_step_signature),
    CheckSpec("lstm_step_matches_keras", "probe", lstm_step_matches_keras),
    CheckSpec("forecast_accuracy", "forecast", forecast_accuracy, visibility="hidden"),
)}
