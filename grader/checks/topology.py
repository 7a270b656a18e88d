"""Questions about a model's data flow that several rules ask: which recurrent layers are the top or the
bottom of a stack, whether a layer hands on a sequence or (through ``h[:, -1]``) a vector."""

from __future__ import annotations

from typing import Any

from grader.core.contract import TASK_WORDS
from grader.core.results import Outcome
from grader.static.description import Layer, ModelDescription


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


def no_recurrent(kind: str) -> Outcome:
    return Outcome.fail(f"no recurrent layer (SimpleRNN, LSTM, GRU, or one wrapped in Bidirectional) was found: "
                        f"{TASK_WORDS.get(kind, 'this task')} needs at least one")
