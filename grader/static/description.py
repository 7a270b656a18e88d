"""A plain description of a saved Keras model, read without running it.

Static inspection (``grader.static.model_file``) produces a :class:`ModelDescription`;
the checks (``grader.checks.rules``) are pure functions over it. Nothing here imports
TensorFlow or Keras.

Layers are listed in data-flow order with nested models and wrappers expanded:
a layer inside ``TimeDistributed`` inside a nested ``Sequential`` called ``cnn``
has ``path == ("cnn", "time_distributed", "conv2d")`` and
``wrappers == ("TimeDistributed",)``. ``index`` counts from 1 over the
non-input layers, which is how messages number them ("layer 3 'lstm_2'").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

# Keras class names (Keras 3 and Keras 2 spellings) by role.
RECURRENT_CLASSES = frozenset({
    "SimpleRNN", "LSTM", "GRU", "RNN", "CuDNNLSTM", "CuDNNGRU",
    "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
})
GATED_RECURRENT_CLASSES = frozenset({"LSTM", "GRU", "CuDNNLSTM", "CuDNNGRU",
                                     "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"})
GATED_CELL_CLASSES = frozenset({"LSTMCell", "GRUCell"})
CONV1D_CLASSES = frozenset({"Conv1D", "Convolution1D", "SeparableConv1D",
                            "SeparableConvolution1D", "DepthwiseConv1D"})
CONV2D_CLASSES = frozenset({"Conv2D", "Convolution2D", "SeparableConv2D",
                            "SeparableConvolution2D", "DepthwiseConv2D"})
CONV3D_CLASSES = frozenset({"Conv3D", "Convolution3D"})
POOL1D_CLASSES = frozenset({"MaxPooling1D", "AveragePooling1D", "MaxPool1D", "AvgPool1D"})
MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})


def reachable(edges: Iterable[tuple[str, str]], starts: Iterable[str], *, downstream: bool) -> set[str]:
    """Keys reachable from ``starts`` along ``edges`` (with the data flow when ``downstream``, else against it)."""
    links: dict[str, set[str]] = {}
    for src, dst in edges:
        a, b = (src, dst) if downstream else (dst, src)
        links.setdefault(a, set()).add(b)
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        for nxt in links.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


@dataclass(frozen=True)
class Layer:
    """One layer as saved, with the settings the checks read."""

    index: int
    name: str
    class_name: str
    path: tuple[str, ...]
    wrappers: tuple[str, ...] = ()
    inbound: tuple[str, ...] = ()        # path strings of the layers feeding this one
    units: int | None = None
    return_sequences: bool | None = None
    return_state: bool | None = None
    go_backwards: bool | None = None
    activation: str | None = None
    recurrent_activation: str | None = None
    cell_class: str | None = None         # the cell of a generic RNN layer
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    rate: float | None = None             # Dropout layers
    filters: int | None = None
    kernel_size: tuple[int, ...] | None = None
    strides: tuple[int, ...] | None = None
    pool_size: tuple[int, ...] | None = None
    padding: str | None = None
    dilation_rate: tuple[int, ...] | None = None
    merge_mode: str | None = None         # Bidirectional
    n: int | None = None                  # RepeatVector
    batch_shape: tuple[int | None, ...] | None = None   # InputLayer
    time_step: int | None = None          # a GetItem op node taking one time step, h[:, t] or h[:, t, :]
    built_input: tuple[int | None, ...] | None = None   # the input shape the saved layer was built for
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        return "/".join(self.path)

    @property
    def is_input(self) -> bool:
        return self.class_name == "InputLayer"

    @property
    def is_recurrent(self) -> bool:
        return self.class_name in RECURRENT_CLASSES

    @property
    def is_gated(self) -> bool:
        if self.class_name == "RNN":
            return self.cell_class in GATED_CELL_CLASSES
        return self.class_name in GATED_RECURRENT_CLASSES

    @property
    def takes_last_step(self) -> bool:
        """An op node keeping only the last time step of its input, ``h[:, -1]`` / ``h[:, -1, :]``."""
        return self.time_step == -1

    @property
    def bidirectional(self) -> bool:
        return "Bidirectional" in self.wrappers

    @property
    def time_distributed(self) -> bool:
        return "TimeDistributed" in self.wrappers

    @property
    def label(self) -> str:
        """How messages name the layer: ``layer 3 'lstm_2' (LSTM)``."""
        shown = self.class_name
        if self.class_name == "RNN" and self.cell_class:
            shown = f"RNN({self.cell_class})"
        for wrapper in reversed(self.wrappers):
            shown = f"{wrapper}({shown})"
        return f"layer {self.index} '{self.name}' ({shown})"

    def output_units(self) -> int | None:
        """Features per step this recurrent layer emits (doubled by a concat Bidirectional)."""
        if self.units is None:
            return None
        if self.bidirectional and (self.merge_mode or "concat") == "concat":
            return 2 * self.units
        return self.units

    def _built_output(self, returns_sequences: bool) -> tuple[int | None, ...] | None:
        """The layer's real symbolic output shape (batch axis first) from the input it was built for, if known."""
        from grader.static.output_shapes import output_shape

        built = self.built_input
        if not built or self.wrappers or len(built) < 3:
            return None
        config = {**self.config, "return_sequences": returns_sequences}
        shape = output_shape(self.class_name, config, [tuple(built[1:])], width=self.output_units())
        return None if shape is None else (None, *shape)

    def shape_text(self, returns_sequences: bool | None = None) -> str:
        """The output shape of a recurrent layer as text, e.g. ``(None, T, 32)``."""
        rs = self.return_sequences if returns_sequences is None else returns_sequences
        real = self._built_output(bool(rs))
        if real is not None:     # the time axis of a variable-length sequence reads as T
            shown = ["T" if rs and i == 1 and v is None else "None" if v is None else str(v) for i, v in enumerate(real)]
            return "(" + ", ".join(shown) + ")"
        if self.class_name.startswith("ConvLSTM"):      # (None, T, *space, filters)
            space = {"ConvLSTM1D": "L", "ConvLSTM2D": "H, W", "ConvLSTM3D": "D, H, W"}.get(self.class_name, "...")
            k = "filters" if self.filters is None else str(self.filters)
            return f"(None, T, {space}, {k})" if rs else f"(None, {space}, {k})"
        units = self.output_units()
        k = "k" if units is None else str(units)
        return f"(None, T, {k})" if rs else f"(None, {k})"


@dataclass(frozen=True)
class Optimizer:
    """The saved optimizer's identity and gradient-clipping settings."""

    class_name: str
    clipnorm: float | None = None
    clipvalue: float | None = None
    global_clipnorm: float | None = None

    @property
    def clips(self) -> bool:
        return any(v not in (None, 0, 0.0) for v in (self.clipnorm, self.clipvalue, self.global_clipnorm))


@dataclass(frozen=True)
class ModelDescription:
    """Everything static inspection learned about one saved model."""

    path: str
    format: str                                   # "keras" (Keras 3 zip) or "h5"
    keras_version: str | None
    model_class: str
    input_shapes: tuple[tuple[int | None, ...], ...]
    layers: tuple[Layer, ...]
    outputs: tuple[str, ...]                      # keys of the output layers
    optimizer: Optimizer | None = None
    edges: tuple[tuple[str, str], ...] = ()       # (from key, to key), data flow

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        return self.input_shapes[0] if len(self.input_shapes) == 1 else None

    def recurrent_layers(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.is_recurrent]

    def by_key(self, key: str) -> Layer:
        for layer in self.layers:
            if layer.key == key:
                return layer
        raise KeyError(key)

    def _reach(self, layer: Layer, downstream: bool) -> set[str]:
        return reachable(self.edges, [layer.key], downstream=downstream)

    def ancestors(self, layer: Layer) -> set[str]:
        """Keys of every layer upstream of ``layer`` in the data flow."""
        return self._reach(layer, downstream=False)

    def descendants(self, layer: Layer) -> set[str]:
        """Keys of every layer downstream of ``layer`` in the data flow."""
        return self._reach(layer, downstream=True)

    def output_layers(self) -> list[Layer]:
        return [self.by_key(key) for key in self.outputs]
