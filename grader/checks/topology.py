"""Questions about a model's data flow that several rules ask: which recurrent layers are the top or the
bottom of a stack, whether a layer hands on a sequence or (through ``h[:, -1]``) a vector."""

from __future__ import annotations

from typing import Any

from grader.core.contract import TASK_WORDS
from grader.core.results import Outcome
from grader.static.description import CONV1D_CLASSES, Layer, ModelDescription
from grader.static.output_shapes import ATTENTION_CLASSES, MERGE_CLASSES, SAME_SHAPE


def shape_text(shape: Any) -> str:
    if shape is None:
        return "unknown"
    return "(" + ", ".join("None" if v is None else str(v) for v in shape) + (",)" if len(shape) == 1 else ")")


def described(ev: Any) -> tuple[ModelDescription, list[Layer]]:
    """The task's static description and its recurrent layers (the evidence of a model task has one)."""
    desc = ev.description
    assert desc is not None, "a model rule ran without a static description"
    return desc, desc.recurrent_layers()


def top_recurrent_layers(desc: ModelDescription) -> list[Layer]:
    """Recurrent layers with no recurrent layer downstream: the top of each stack.

    Whether a top hands a sequence on is :func:`returns_sequences`'s call: return_sequences=True
    followed only by ``h[:, -1]`` is a vector.
    """
    recurrent = desc.recurrent_layers()
    keys = {layer.key for layer in recurrent}
    return [layer for layer in recurrent if not (desc.descendants(layer) & keys)]


def readers_of(desc: ModelDescription, layer: Layer) -> list[Layer]:
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
    readers = readers_of(desc, layer)
    return readers if readers and all(reader.takes_last_step for reader in readers) else []


def returns_sequences(desc: ModelDescription, layer: Layer) -> bool:
    """Whether a recurrent layer hands a whole sequence on: return_sequences=True, unless all that reads
    it is ``h[:, -1]`` (see :func:`last_step_slices`), which makes it a vector."""
    return bool(layer.return_sequences) and not last_step_slices(desc, layer)


# Readers that keep a sequence's time axis (they act per step or per feature), and those that remove it.
_KEEPS_TIME = SAME_SHAPE | ATTENTION_CLASSES | MERGE_CLASSES | frozenset({"Dense", "EinsumDense", "Concatenate"})
_TIME_POOLS = frozenset(f"Global{kind}{d}D" for kind in ("AveragePooling", "MaxPooling", "AvgPool", "MaxPool")
                        for d in (1, 3))


def time_removed_by(desc: ModelDescription, layer: Layer) -> Layer | None:
    """The layer that removes the time axis of ``layer``'s sequence on every path to the output, or None.

    The time axis goes with ``h[:, -1]``, a global pooling over time (``GlobalAveragePooling1D``, or
    the 3-D variants over time and space after a ConvLSTM2D; not with ``data_format="channels_first"``,
    which pools the features), or a Flatten of a fixed-length
    sequence; layers acting per step or per feature (Dense, Dropout, normalisation, anything in
    TimeDistributed), attention over the sequence and merges of sequences hand it on. Any other reader, or reaching the output first, keeps it.
    """
    fixed_length = any(l.is_input and l.batch_shape and len(l.batch_shape) >= 3 and l.batch_shape[1] is not None
                       for l in desc.layers)
    found: Layer | None = None
    frontier, seen = [layer], set()
    while frontier:
        current = frontier.pop()
        if current.key in seen:
            continue
        seen.add(current.key)
        readers = readers_of(desc, current)
        if current.key in desc.outputs or not readers:
            return None
        for reader in readers:
            pools_time = reader.class_name in _TIME_POOLS and reader.config.get("data_format") != "channels_first"
            # h[:, -1] of a Bidirectional layer is where its backward direction has seen one input.
            last_step = reader.takes_last_step and not (current is layer and layer.bidirectional)
            if last_step or pools_time or \
                    (reader.class_name == "Flatten" and fixed_length and not reader.time_distributed):
                found = found or reader
            elif reader.time_distributed or reader.class_name in _KEEPS_TIME:
                frontier.append(reader)
            else:
                return None
    return found


def returns_vector_text(desc: ModelDescription, layer: Layer) -> str:
    """How ``layer`` comes to return a vector, for messages: "has return_sequences=False" or the slice."""
    slices = last_step_slices(desc, layer)
    if slices:
        return f"returns sequences but {slices[0].label} keeps only the last step (h[:, -1])"
    return "has return_sequences=False"


def step_slice_note(desc: ModelDescription, layer: Layer) -> str:
    """Why a slice after a sequence-returning ``layer`` does not make it return its last output ('' if none)."""
    for reader in readers_of(desc, layer):
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


def top_returning_sequences(desc: ModelDescription, tops: list[Layer], why: str) -> Outcome | None:
    """The failure for the first top layer that hands on a sequence where a vector is due (None: none does)."""
    for top in tops:
        if returns_sequences(desc, top):
            return Outcome.fail(f"{top.label} has return_sequences=True: {why} (return_sequences=False) "
                                f"(got {top.shape_text(True)}, expected {top.shape_text(False)})"
                                f"{step_slice_note(desc, top)}", layer=top.name)
    return None


def first_recurrent_layers(desc: ModelDescription) -> list[Layer]:
    """Recurrent layers with no recurrent layer upstream: the bottom of each stack."""
    recurrent = desc.recurrent_layers()
    keys = {layer.key for layer in recurrent}
    return [layer for layer in recurrent if not (desc.ancestors(layer) & keys)]


def recurrent_above(desc: ModelDescription, layer: Layer) -> list[Layer]:
    """The recurrent layers downstream of ``layer``."""
    below = desc.descendants(layer)
    return [other for other in desc.recurrent_layers() if other.key in below]


def no_recurrent(kind: str, desc: ModelDescription | None = None) -> Outcome:
    """The failure for a model without a recurrent layer, naming the convolutional stack found instead."""
    found = ""
    convs = [layer for layer in (desc.layers if desc else ()) if layer.class_name in CONV1D_CLASSES]
    if convs:
        dilations = sorted({(layer.dilation_rate or (1,))[0] for layer in convs})
        dilated = f", dilation rates {', '.join(map(str, dilations))} (a WaveNet-style stack)" if len(dilations) > 1 else ""
        found = f"; found {len(convs)} Conv1D layer{'s' if len(convs) > 1 else ''}{dilated}"
    if kind == "conv_forecaster":
        return Outcome.fail(f"no recurrent layer (SimpleRNN, LSTM, GRU, or one wrapped in Bidirectional) was found"
                            f"{found}: this task combines 1D convolutions with an RNN, so add a recurrent layer "
                            "(e.g. GRU) after the convolutions")
    return Outcome.fail(f"no recurrent layer (SimpleRNN, LSTM, GRU, or one wrapped in Bidirectional) was found{found}: "
                        f"{TASK_WORDS.get(kind, 'this task')} needs at least one")
