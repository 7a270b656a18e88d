"""Where ``return_sequences`` is judged: recurrent layers present, stacked, and returning sequences or
vectors as sequence-to-sequence, sequence-to-vector and vector-to-sequence models need."""

from __future__ import annotations

from typing import Any

from grader.checks.evidence import Evidence
from grader.checks.topology import (
    described,
    last_step_slices,
    no_recurrent,
    recurrent_above,
    returns_sequences,
    returns_vector_text,
    time_removed_by,
    top_recurrent_layers,
    top_returning_sequences,
)
from grader.core.results import Outcome


def recurrent_layer(ev: Evidence, task: Any) -> Outcome:
    """At least one recurrent layer lies between the input and the output."""
    desc, recurrent = described(ev)
    if not recurrent:
        return no_recurrent(task.kind, desc)
    outputs = set(desc.outputs)
    connected = [layer for layer in recurrent if layer.key in outputs or desc.descendants(layer) & outputs]
    if not connected:
        return Outcome.fail(f"{recurrent[0].label} does not feed the model's output: the forecast must come through the RNN")
    return Outcome.ok(f"recurrent layer: {connected[0].label}")


def stacked_recurrent_layers(ev: Evidence, task: Any) -> Outcome:
    """At least two recurrent layers, one feeding the other."""
    desc, recurrent = described(ev)
    if not recurrent:
        return no_recurrent(task.kind, desc)
    if len(recurrent) == 1:
        return Outcome.fail(f"only one recurrent layer ({recurrent[0].label}): a deep RNN stacks at least two, "
                            "each feeding the next")
    for layer in recurrent:
        above = recurrent_above(desc, layer)
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
        return no_recurrent(task.kind, desc)
    for layer in tops:
        if not returns_sequences(desc, layer):
            if task.kind == "vec2seq":
                why = "a vector-to-sequence RNN must emit one output per generated step"
            else:
                why = "in a sequence-to-sequence RNN the top recurrent layer must return an output at every time step"
            return Outcome.fail(f"{layer.label} {returns_vector_text(desc, layer)}: {why}, otherwise the time axis "
                                f"is lost (got {layer.shape_text(False)}, expected {layer.shape_text(True)})",
                                layer=layer.name)
    return Outcome.ok(f"{tops[0].label} returns sequences")


def seq2seq_return_sequences(ev: Evidence, task: Any) -> Outcome:
    """Every recurrent layer of a sequence-to-sequence stack returns sequences."""
    desc, recurrent = described(ev)
    if not recurrent:
        return no_recurrent(task.kind, desc)
    wrong = [layer for layer in recurrent if not returns_sequences(desc, layer)]
    if wrong:
        layer = wrong[0]
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        return Outcome.fail(f"{layer.label} {returns_vector_text(desc, layer)}{more}: in a sequence-to-sequence "
                            "stack every recurrent layer must return sequences, otherwise the time axis is lost "
                            f"(got {layer.shape_text(False)}, expected {layer.shape_text(True)})", layer=layer.name)
    return Outcome.ok(f"all {len(recurrent)} recurrent layers return sequences")


def seq2vec_return_sequences(ev: Evidence, task: Any) -> Outcome:
    """Every recurrent layer but the top returns sequences; the top returns a vector."""
    desc, recurrent = described(ev)
    if not recurrent:
        return no_recurrent(task.kind, desc)
    tops = top_recurrent_layers(desc)
    top_keys = {layer.key for layer in tops}
    for layer in recurrent:
        if layer.key in top_keys or returns_sequences(desc, layer):
            continue
        above = recurrent_above(desc, layer)
        target = above[0].label if above else "the next recurrent layer"
        feeds = "before" if last_step_slices(desc, layer) else "but feeds"
        return Outcome.fail(f"{layer.label} {returns_vector_text(desc, layer)} {feeds} {target}: every recurrent "
                            "layer below the top one must return sequences so the next one sees every time step "
                            f"(got {layer.shape_text(False)}, expected {layer.shape_text(True)})", layer=layer.name)
    pooled = [(top, time_removed_by(desc, top)) for top in tops if returns_sequences(desc, top)]
    if getattr(task, "kind", "") == "seq2vec" and pooled and all(remover for _, remover in pooled):
        top, remover = pooled[0]
        return Outcome.ok(f"{top.label} returns sequences and {remover.label} removes the time axis: one vector "
                          "per sequence")
    why = "in a sequence-to-vector RNN the top recurrent layer must return only its last output"
    if any(remover for _, remover in pooled):
        remover = next(r for _, r in pooled if r)
        why = (f"this question is about return_sequences itself, so although {remover.label} removes the time "
               "axis, the top recurrent layer of a deep sequence-to-vector RNN must return only its last output")
    sequence_top = top_returning_sequences(desc, tops, why)
    if sequence_top:
        return sequence_top
    top = tops[0]
    slices = last_step_slices(desc, top)
    how = (f"returns sequences and {slices[0].label} keeps only the last step (h[:, -1]), its last output"
           if slices else "returns only its last output")
    if len(recurrent) == 1:
        return Outcome.ok(f"{top.label} {how}")
    return Outcome.ok(f"lower recurrent layers return sequences and {top.label} {how}")
