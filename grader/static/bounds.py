"""Refusing a model whose declared sizes would stall or crash the worker that loads it.

A few bytes of config can ask for ``Dense(10**8)`` or ``UpSampling1D(2000)``: Keras would allocate
the weights, or run an LSTM over 112000 steps, before any check could time it out. Two passes, over
every layer of the config (dead branches, nested models and the layers inside wrappers included):

* **declared sizes**, one layer at a time: each attribute that creates weights or activations
  (units, filters, vocabulary, kernel, dilation, padding, upsampling and repeat factors, declared
  dimensions) against its own bound in :class:`~grader.static.limits.InspectionLimits`;
* **the whole model** at one probe sample: shapes are worked out along the graph
  (:mod:`grader.static.output_shapes`; a free time axis is given the nominal probe length), and
  the steps each recurrent layer runs, the product of upsampling factors along a path, the weights
  the config implies (as float32) and the largest layer output are bounded. Whatever cannot be
  worked out from the config is left out of the estimate, never guessed.

Each refusal is one line: the layer, what it declares, what is allowed, and what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Iterator

from grader.static import allowlist
from grader.static.errors import UnsafeModel
from grader.static.limits import MB, InspectionLimits
from grader.static.output_shapes import (ADAPTIVE_POOL_CLASSES, CONV_CLASSES, CONV_LSTM_CLASSES, GLOBAL_POOL_CLASSES,
                                         PADDING_CLASSES, POOL_CLASSES, RNN_CLASSES, TRANSPOSE_CLASSES,
                                         UPSAMPLING_CLASSES, Shape, elements, output_shape, per_axis, positive,
                                         spatial_rank, unwrap)

_GATES = {"LSTM": 4, "CuDNNLSTM": 4, "LSTMCell": 4, "GRU": 3, "CuDNNGRU": 3, "GRUCell": 3}
_EMBEDDINGS = frozenset({"Embedding", "ReversibleEmbedding"})
_SPECTROGRAMS = frozenset({"MelSpectrogram", "STFTSpectrogram"})
_RESHAPES = {"Reshape": "target_shape", "BroadcastTo": "shape"}


@dataclass(frozen=True)
class SizedLayer:
    """One layer of the config graph as the bounds read it (built by :func:`grader.static.graph.describe`)."""

    key: str
    name: str                              # as model.summary() shows it
    class_name: str
    wrappers: tuple[str, ...]
    config: dict[str, Any]
    wrapper_config: dict[str, Any]
    parents: tuple[str, ...]               # keys of the layers feeding it, its main input first
    declared: tuple[int | None, ...] | None = None   # the batch input shape declared for an entry layer
    time_step: int | None = None           # the step a GetItem node keeps

    @property
    def label(self) -> str:
        """``layer 'td' (TimeDistributed(Conv2D))``."""
        shown = self.class_name
        for wrapper in reversed(self.wrappers):
            shown = f"{wrapper}({shown})"
        return f"layer '{self.name}' ({shown})"

    @property
    def settings(self) -> dict[str, Any]:
        """The config with a generic RNN's cell config merged in, so ``units`` is found either way."""
        return _cell_settings(self.config)

    @property
    def gates(self) -> int:
        cell = self.config.get("cell")
        cell_class = cell.get("class_name") if isinstance(cell, dict) else None
        default = 4 if self.class_name in CONV_LSTM_CLASSES else 1
        return _GATES.get(self.class_name, _GATES.get(str(cell_class), default))


def check_bounds(layers: list[SizedLayer], file_name: str, limits: InspectionLimits) -> None:
    """Raise :class:`UnsafeModel` if any declared size, or the whole-model estimate, is over its bound.

    ``layers`` are in data-flow order; every parent comes before its children.
    """
    for layer in layers:
        for label, class_name, config in _declarations(layer):
            _check_declared(label, class_name, config, file_name, limits)
    _Estimate(file_name, limits).run(layers)


def _declarations(layer: SizedLayer) -> Iterator[tuple[str, str, dict]]:
    """The layer, and every layer config inside it: a Bidirectional's backward layer, a cell (of a
    stack of cells), the layer a SpectralNormalization wraps."""
    yield layer.label, layer.class_name, layer.settings
    nested = [layer.config]
    if "Bidirectional" in layer.wrappers:
        nested.append(layer.wrapper_config.get("backward_layer"))
    for inner in _layer_configs(nested):
        config = inner["config"]
        name = config.get("name") if isinstance(config.get("name"), str) else inner["class_name"]
        yield f"'{name}' ({inner['class_name']}) in {layer.label}", inner["class_name"], _cell_settings(config)


def _layer_configs(value: Any) -> Iterator[dict]:
    """Every ``{"class_name": <a Keras layer>, "config": {...}}`` inside ``value``, at any depth."""
    if isinstance(value, dict):
        if value.get("class_name") in allowlist.LAYERS and isinstance(value.get("config"), dict):
            yield value
        for item in value.values():
            yield from _layer_configs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _layer_configs(item)


# --------------------------------------------------------------------------- one layer's declared sizes

def _numbers(value: Any) -> list[float]:
    value = unwrap(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return []


def _largest(value: Any) -> float | None:
    numbers = _numbers(value)
    return max(numbers) if numbers else None


def _shown(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


_FEWER_UNITS = "use fewer units (a few hundred are plenty here; an output layer needs one per step or class)"
_UPSAMPLING_FIX = ("a model for these tasks needs no upsampling that large; use a smaller size, or RepeatVector(7) "
                   "to turn a vector into a 7-step sequence")


def _declared(class_name: str, c: dict) -> Iterator[tuple[Any, str, str, str]]:
    """(value, limit field, what the layer does with it, the fix) for every size ``c`` declares."""
    yield c.get("units"), "max_units", "has {} units", _FEWER_UNITS
    yield c.get("filters"), "max_filters", "has {} filters", "use fewer filters (tens to a few hundred)"
    yield c.get("depth_multiplier"), "max_filters", "multiplies each channel {} times (depth_multiplier)", \
        "use depth_multiplier=1"
    yield c.get("kernel_size"), "max_kernel_size", "has kernel_size {}", \
        "use a kernel of a few steps; dilation_rate widens what a layer sees cheaply"
    yield c.get("pool_size"), "max_kernel_size", "pools windows of {} steps", \
        "use a small pool_size, or a global pooling layer"
    yield c.get("dilation_rate"), "max_dilation", "has dilation_rate {}", \
        "a WaveNet-style stack doubles the rate up to a few hundred at most"
    for key in ("batch_shape", "batch_input_shape"):
        yield c.get(key), "max_dim", "declares an input dimension of {}", \
            "declare the real window length and number of features (None for a free time axis)"
    if class_name in _EMBEDDINGS:
        yield c.get("input_dim"), "max_vocabulary", "declares a vocabulary of {} token ids (input_dim)", \
            "set input_dim to the number of distinct token ids your data has"
        yield c.get("output_dim"), "max_units", "embeds each token in {} dimensions", \
            "use an output_dim of tens to a few hundred"
    for key in ("num_tokens", "num_bins", "num_classes"):
        yield c.get(key), "max_vocabulary", f"encodes {{}} categories ({key})", \
            f"set {key} to the number of categories your data has"
    if class_name in _SPECTROGRAMS:
        for key in ("fft_length", "sequence_length", "frame_length"):
            yield c.get(key), "max_kernel_size", f"uses windows of {{}} samples ({key})", \
                "use windows of at most a few thousand samples"
        yield c.get("num_mel_bins"), "max_units", "has {} mel bins", "use at most a few hundred mel bins"
    if class_name in UPSAMPLING_CLASSES:
        yield c.get("size"), "max_upsampling", "repeats each step {} times", _UPSAMPLING_FIX
    if class_name in TRANSPOSE_CLASSES:
        yield c.get("strides"), "max_upsampling", "stretches its input {} times (strides)", \
            "use strides of 2 to 4 and stack layers if you must upsample"
    if class_name in ("Repeat", "Tile"):
        yield c.get("repeats"), "max_upsampling", "repeats its input {} times", \
            "repeat a few times only, or use RepeatVector(7) to turn a vector into a 7-step sequence"
    if class_name in PADDING_CLASSES or class_name == "Pad":
        yield c.get("padding" if class_name != "Pad" else "pad_width"), "max_padding", "pads {} steps", \
            "pad by a few steps only"
    if class_name == "RepeatVector":
        yield c.get("n"), "max_repeat", "repeats its input {} times", \
            "repeat once per output step, e.g. RepeatVector(7) for a 7-step forecast"
    for key in ("target_shape", "newshape", "shape", "height", "width", "output_size"):
        if key != "shape" or class_name == "BroadcastTo":
            yield c.get(key), "max_dim", f"declares a dimension of {{}} ({key})", \
                "give the sizes your data really has"
    if class_name in ("MultiHeadAttention", "EinsumDense"):
        yield c.get("output_shape"), "max_units", "outputs {} features per position (output_shape)", _FEWER_UNITS
    yield from _attention_width(c)


def _attention_width(c: dict) -> Iterator[tuple[Any, str, str, str]]:
    heads = positive(c.get("num_heads", c.get("num_query_heads")))
    if heads is None:
        return
    for key in ("key_dim", "value_dim", "head_dim"):
        dim = positive(c.get(key))
        if dim is not None:
            yield heads * dim, "max_units", f"projects to {{}} features ({heads} heads x {key}={dim})", \
                "use fewer heads or a smaller key_dim (64 is usual)"


def _check_declared(label: str, class_name: str, config: dict, file_name: str, limits: InspectionLimits) -> None:
    for value, field, what, fix in _declared(class_name, config):
        largest = _largest(value)
        bound = getattr(limits, field)
        if largest is not None and largest > bound:
            raise UnsafeModel(f"{file_name}: {label} {what.format(_shown(largest))}; at most {bound:,} is allowed: "
                              f"{fix}")
    padding = config.get("padding")
    if class_name in CONV_CLASSES | CONV_LSTM_CLASSES and padding in ("same", "causal"):
        rank = spatial_rank(class_name)
        kernel, dilation = per_axis(config.get("kernel_size"), rank), per_axis(config.get("dilation_rate"), rank, 1)
        if kernel and dilation:
            implied = max((k - 1) * d for k, d in zip(kernel, dilation))
            if implied > limits.max_padding:
                raise UnsafeModel(f"{file_name}: {label} pads {implied:,} steps ((kernel_size - 1) * dilation_rate "
                                  f"with padding='{padding}'); at most {limits.max_padding:,} is allowed: "
                                  "use a smaller dilation_rate or kernel_size")


# --------------------------------------------------------------------------- the whole model at one sample

class _Estimate:
    """Shapes, weights, recurrent steps and upsampling along the graph, for one sample at the probe length."""

    def __init__(self, file_name: str, limits: InspectionLimits):
        self.file_name = file_name
        self.limits = limits
        self.shapes: dict[str, Shape | None] = {}
        self.nominal: dict[str, int] = {}      # the probe length given to a free time axis upstream, or 0
        self.growth: dict[str, tuple[float, tuple[str, ...]]] = {}
        self.weights: list[tuple[int, str]] = []
        self.largest: tuple[int, str, Shape, int] | None = None

    def run(self, layers: list[SizedLayer]) -> None:
        for layer in layers:
            self.visit(layer)
        self.check_weights()
        self.check_largest()

    def source(self, layer: SizedLayer) -> tuple[Shape | None, int]:
        """A declared input as one sample, its free time axis given the nominal probe length (returned too)."""
        if layer.declared is None or len(layer.declared) < 2:
            return None, 0
        shape = tuple(positive(d) for d in layer.declared[1:])
        if shape[0] is not None:
            return shape, 0
        # A sequence of images or volumes is a video: the worker probes it with a few frames.
        nominal = self.limits.nominal_frames if len(shape) >= 3 else self.limits.nominal_steps
        return (nominal, *shape[1:]), nominal

    def visit(self, layer: SizedLayer) -> None:
        inputs = [self.shapes.get(key) for key in layer.parents]
        nominal = max((self.nominal.get(key, 0) for key in layer.parents), default=0)
        if not layer.parents:
            shape, nominal = self.source(layer)
            inputs = [shape]
        self.nominal[layer.key] = nominal
        main = inputs[0] if inputs else None
        if layer.class_name == "InputLayer":
            if len(layer.parents) > 1:
                # A nested model's inputs are each linked to every input of the call: which is which is not known.
                main, self.nominal[layer.key] = self.source(layer)
            self.shapes[layer.key] = main
            self.count(layer, main)
            self.growth[layer.key] = (1.0, ())
            return
        # TimeDistributed applies the layer to each step: work on the shape without the wrapped axes.
        outer = layer.wrappers.count("TimeDistributed")
        prefix: Shape = (None,) * outer
        if outer and main is not None:
            prefix, main = (main[:outer], main[outer:]) if len(main) > outer else (prefix, None)
        inner_inputs = [main] + [s[outer:] if s is not None and len(s) > outer else None for s in inputs[1:]]
        settings = layer.settings
        units = positive(settings.get("units"))
        out = output_shape(layer.class_name, layer.config, inner_inputs, width=units, time_step=layer.time_step)
        if out and "Bidirectional" in layer.wrappers and layer.class_name in RNN_CLASSES | CONV_LSTM_CLASSES:
            out = self.bidirectional(layer, out)
        self.check_steps(layer, main, nominal)
        self.add_weights(layer, main, settings)
        shape = prefix + out if out is not None else None
        self.shapes[layer.key] = shape
        self.count(layer, shape)
        self.count_scores(layer, inner_inputs, prefix)
        self.check_growth(layer)

    @staticmethod
    def bidirectional(layer: SizedLayer, out: Shape) -> Shape:
        if layer.wrapper_config.get("merge_mode", "concat") not in ("concat", None) or out[-1] is None:
            return out
        backward = layer.wrapper_config.get("backward_layer")
        back = backward.get("config") if isinstance(backward, dict) else None
        key = "filters" if layer.class_name in CONV_LSTM_CLASSES else "units"
        width = positive(back.get(key)) if isinstance(back, dict) else None
        return out[:-1] + (out[-1] + (width if width is not None else out[-1]),)

    def count(self, layer: SizedLayer, shape: Shape | None, values: int | None = None) -> None:
        values = elements(shape) if values is None else values
        if values is not None and (self.largest is None or values > self.largest[0]):
            self.largest = (values, layer.label, shape or (), self.nominal[layer.key])

    def count_scores(self, layer: SizedLayer, inputs: list[Shape | None], prefix: Shape) -> None:
        """An attention layer holds a score for every (query, key) pair: T_q * T_v per head."""
        if layer.class_name not in ("Attention", "AdditiveAttention", "MultiHeadAttention",
                                    "GroupQueryAttention", "GroupedQueryAttention"):
            return
        query = inputs[0]
        value = inputs[1] if len(inputs) > 1 else query
        if not query or not value or len(query) < 2 or len(value) < 2:
            return
        heads = positive(layer.config.get("num_heads", layer.config.get("num_query_heads"))) or 1
        self.count(layer, (*prefix, heads, *query[:-1], *value[:-1]))

    # ------------------------------------------------------------------ recurrent steps
    def check_steps(self, layer: SizedLayer, main: Shape | None, nominal: int) -> None:
        if layer.class_name not in RNN_CLASSES | CONV_LSTM_CLASSES or not main or main[0] is None:
            return
        steps, bound = main[0], self.limits.max_recurrent_steps
        if steps > bound:
            raise UnsafeModel(f"{self.file_name}: {layer.label} would run over {steps:,} time steps"
                              f"{self._at_probe(nominal)}; at most {bound:,} are allowed: a recurrent layer runs "
                              "one step at a time, so give it a shorter sequence (pool or use a strided Conv1D "
                              "first) and do not upsample, pad or repeat its input")

    @staticmethod
    def _at_probe(nominal: int) -> str:
        return f" for an input of {nominal} time steps" if nominal else ""

    # ------------------------------------------------------------------ upsampling along a path
    def check_growth(self, layer: SizedLayer) -> None:
        c = layer.config
        growth, chain = max((self.growth.get(key, (1.0, ())) for key in layer.parents), default=(1.0, ()),
                            key=lambda item: item[0])
        name = layer.class_name
        up = 1.0
        if name in UPSAMPLING_CLASSES:
            up = _largest(c.get("size")) or 1.0
        elif name in TRANSPOSE_CLASSES:
            up = _largest(c.get("strides")) or 1.0
        elif name in ("Repeat", "Tile"):
            up = _largest(c.get("repeats")) or 1.0
        elif name in POOL_CLASSES or name in CONV_CLASSES or name in CONV_LSTM_CLASSES:
            down = _numbers(c.get("strides")) or (_numbers(c.get("pool_size")) if name in POOL_CLASSES else [])
            growth /= max(min(down), 1) if down else 1
        if name in GLOBAL_POOL_CLASSES or name in ADAPTIVE_POOL_CLASSES or name == "Flatten" \
                or (name in RNN_CLASSES and not c.get("return_sequences")) or layer.time_step is not None:
            growth, chain = 1.0, ()     # the stretched axes are gone
        if up > 1:
            growth, chain = growth * up, chain + (layer.label,)
        self.growth[layer.key] = (growth, chain)
        bound = self.limits.max_upsampling_product
        if growth > bound:
            shown = ", ".join(chain[:-1]) + f" and {chain[-1]}" if len(chain) > 1 else chain[0]
            raise UnsafeModel(f"{self.file_name}: {shown} together stretch their input {_shown(growth)} times; "
                              f"at most {bound:,} is allowed: a model for these tasks needs little or no "
                              "upsampling; use fewer or smaller upsampling layers")

    # ------------------------------------------------------------------ weights
    def add_weights(self, layer: SizedLayer, main: Shape | None, settings: dict) -> None:
        features = main[-1] if main else None
        count = _weights(layer.class_name, settings, features, layer.gates)
        if count and "Bidirectional" in layer.wrappers:
            backward = layer.wrapper_config.get("backward_layer")
            if isinstance(backward, dict) and isinstance(backward.get("config"), dict):
                count += _weights(layer.class_name, _cell_settings(backward["config"]), features, layer.gates)
            else:
                count *= 2      # the backward copy of the same layer
        if count:
            self.weights.append((count, layer.label))

    def check_weights(self) -> None:
        total = sum(count for count, _ in self.weights)
        bound = self.limits.weights_mb
        if total * 4 > bound * MB:
            count, label = max(self.weights, key=lambda item: item[0])
            raise UnsafeModel(f"{self.file_name}: the layers declare {total:,} weights ({total * 4 / MB:,.0f} MiB "
                              f"as float32), {label} alone {count:,}; at most {bound} MiB is allowed: use fewer "
                              "units or filters, or pool before Flatten and Dense")

    # ------------------------------------------------------------------ the largest output
    def check_largest(self) -> None:
        bound = self.limits.max_activation_elements
        if self.largest is None or self.largest[0] <= bound:
            return
        values, label, shape, nominal = self.largest
        shown = "(" + ", ".join(_shown(d) for d in shape) + ")"
        raise UnsafeModel(f"{self.file_name}: {label} would output {shown}, {values:,} values a sample "
                          f"({values * 4 / MB:,.0f} MiB as float32){self._at_probe(nominal)}; at most {bound:,} "
                          "are allowed: remove what enlarges it (upsampling, padding, repeats, Reshape) "
                          "or use fewer units or filters")


def _cell_settings(config: dict) -> dict:
    cell = config.get("cell")
    return {**config, **cell["config"]} if isinstance(cell, dict) and isinstance(cell.get("config"), dict) else config


def _weights(class_name: str, c: dict, features: int | None, gates: int) -> int:
    """The weights ``class_name`` creates for ``features`` input features; what needs an unknown input is 0."""
    # Only sizes above 0 count: a negative one must not offset another layer's weights.
    units, filters = positive(c.get("units")), positive(c.get("filters"))
    features = positive(features)
    if class_name == "Dense":
        return (features + 1) * units if units and features else 0
    if class_name in RNN_CLASSES:
        return gates * ((features or 0) + units + 1) * units if units else 0
    if class_name in _EMBEDDINGS:
        vocabulary, width = positive(c.get("input_dim")), positive(c.get("output_dim"))
        return vocabulary * width if vocabulary and width else 0
    rank = spatial_rank(class_name)
    kernel = per_axis(c.get("kernel_size"), rank) if rank else None
    window = prod(kernel) if kernel and all(k > 0 for k in kernel) else None
    if class_name in CONV_LSTM_CLASSES:
        return 4 * (window * ((features or 0) + filters) + 1) * filters if window and filters else 0
    if window is None or not features:
        return _attention_weights(class_name, c, features)
    multiplier = positive(c.get("depth_multiplier")) or 1
    if class_name.startswith("Depthwise"):
        return window * features * multiplier + features * multiplier
    if class_name.startswith("Separable"):
        return window * features * multiplier + features * multiplier * (filters or 0) + (filters or 0)
    if class_name in CONV_CLASSES or class_name in TRANSPOSE_CLASSES:
        groups = positive(c.get("groups")) or 1
        return window * (features // groups) * filters + filters if filters else 0
    return 0


def _attention_weights(class_name: str, c: dict, features: int | None) -> int:
    if class_name != "MultiHeadAttention" or not features:
        return 0
    heads, key_dim = positive(c.get("num_heads")), positive(c.get("key_dim"))
    value_dim = positive(c.get("value_dim")) or key_dim
    if not heads or not key_dim or not value_dim:
        return 0
    return heads * features * (2 * key_dim + 2 * value_dim)
