"""Rules on what a model is built from: the Conv1D front end (q7), remedies for unstable gradients and
saturating activations (q5), the video front end and softmax output (q8)."""

from __future__ import annotations

from typing import Any

from grader.checks.evidence import Evidence
from grader.checks.topology import (
    described,
    first_recurrent_layers,
    no_recurrent,
    returns_sequences,
    time_removed_by,
    top_recurrent_layers,
    top_returning_sequences,
)
from grader.core.results import Outcome
from grader.static.description import (
    CONV1D_CLASSES,
    CONV2D_CLASSES,
    CONV3D_CLASSES,
    POOL1D_CLASSES,
    Layer,
)

# Activations that do not saturate: inside a recurrence they let the state and
# the gradients grow step after step.
UNBOUNDED_ACTIVATIONS = frozenset({
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "linear", "softplus",
    "exponential", "mish", "celu", "hard_silu", "hard_swish", "squareplus", "sparse_plus", "glu",
})
NORMALIZATION_CLASSES = frozenset({"LayerNormalization", "RMSNormalization"})
DROPOUT_CLASSES = frozenset({"Dropout", "SpatialDropout1D", "AlphaDropout", "GaussianDropout"})


def conv1d_frontend(ev: Evidence, task: Any) -> Outcome:
    """Conv1D layers before the first recurrent layer shorten the sequence or dilate causally."""
    desc = ev.description
    assert desc is not None
    firsts = first_recurrent_layers(desc)
    if not firsts:
        return no_recurrent(task.kind, desc)
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
    desc, recurrent = described(ev)
    if not recurrent:
        return no_recurrent(task.kind, desc)
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
    desc, recurrent = described(ev)
    if not recurrent:
        return no_recurrent(task.kind, desc)
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
    def collapsed(layer: Layer) -> bool:   # one vector per video: no sequence, or the time axis pooled away
        return not returns_sequences(desc, layer) or time_removed_by(desc, layer) is not None

    if conv_lstm and all(collapsed(layer) for layer in tops):
        pooled = next((time_removed_by(desc, l) for l in tops if returns_sequences(desc, l)), None)
        how = f" and {pooled.label} pools over time and space" if pooled else ""
        return Outcome.ok(f"{conv_lstm[0].label} convolves each frame inside the recurrence{how}")
    if not frame_convs and not conv_lstm:
        return Outcome.fail("no per-frame CNN (Conv2D inside TimeDistributed) and no Conv3D layer: a video "
                            "classifier must extract features from the frames' pixels")
    if not tops:
        return Outcome.fail(f"{frame_convs[0].label} is not followed by a recurrent layer: feed the per-frame "
                            "features to a sequence-to-vector RNN (e.g. LSTM with return_sequences=False), "
                            "or use Conv3D layers")
    if not all(collapsed(top) for top in tops):
        sequence_top = top_returning_sequences(desc, [t for t in tops if not collapsed(t)],
                                               "to classify the whole video the top recurrent layer must return "
                                               "one vector, or its sequence must be pooled over time")
        if sequence_top:
            return sequence_top
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
