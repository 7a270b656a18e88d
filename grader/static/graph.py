"""Flattening a checked model config (Sequential, Functional, nested and wrapped models) into a ModelDescription."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from grader.static import allowlist
from grader.static.bounds import SizedLayer, check_bounds
from grader.static.description import MODEL_CLASSES, Layer, ModelDescription, Optimizer, reachable
from grader.static.errors import BrokenModel, UnsafeModel
from grader.static.limits import DEFAULT_INSPECTION_LIMITS, InspectionLimits


def _shape(value: Any) -> tuple[int | None, ...] | None:
    if isinstance(value, dict) and value.get("class_name") == "__tuple__":
        value = value.get("config", {}).get("value")
    if isinstance(value, (list, tuple)) and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value):
        return tuple(value)
    return None


def _ints(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    return None


def _activation(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("config")
        if isinstance(inner, str):
            return inner
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
        if isinstance(value.get("class_name"), str):
            return value["class_name"].lower()
    return None


def _number(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


@dataclass
class _Node:
    """A leaf layer while the graph is being flattened."""

    name: str
    class_name: str
    path: tuple[str, ...]
    wrappers: tuple[str, ...]
    config: dict[str, Any]
    wrapper_config: dict[str, Any]
    time_step: int | None = None
    built_input: tuple[int | None, ...] | None = None   # the input shape Keras built the layer for


def _full_slice(item: Any) -> bool:
    """``:`` as Keras 3 saves it, ``{"class_name": "__slice__", "config": {start, stop, step all None}}``."""
    if not isinstance(item, dict) or item.get("class_name") != "__slice__":
        return False
    config = item.get("config")
    return isinstance(config, dict) and all(config.get(key) is None for key in ("start", "stop", "step"))


def _time_step(spec: dict) -> int | None:
    """The time step a GetItem op node keeps, ``t`` of ``h[:, t]`` / ``h[:, t, :]``, read from its one call.

    Only a key of a full slice on the batch axis, an integer on the time axis, and nothing but
    full slices (or one trailing ``...``) after it counts; anything else is None.
    """
    nodes = spec.get("inbound_nodes")
    if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], dict):
        return None
    args = nodes[0].get("args")
    if not isinstance(args, list) or len(args) != 2:
        return None
    tensor, key = args
    if isinstance(tensor, dict) and tensor.get("class_name") == "__keras_tensor__":
        shape = (tensor.get("config") or {}).get("shape")
        if isinstance(shape, list) and len(shape) < 3:
            return None        # no time axis to select from
    if isinstance(key, dict) and key.get("class_name") == "__tuple__":
        key = (key.get("config") or {}).get("value")
    if not isinstance(key, list) or len(key) < 2 or not _full_slice(key[0]):
        return None
    step = key[1]
    if not isinstance(step, int) or isinstance(step, bool):
        return None
    rest = key[2:]
    if rest and isinstance(rest[-1], dict) and rest[-1].get("class_name") == "__ellipsis__":
        rest = rest[:-1]
    return step if all(_full_slice(item) for item in rest) else None


class _Graph:
    def __init__(self, file_name: str, limits: InspectionLimits):
        self.nodes: dict[str, _Node] = {}
        self.order: list[str] = []
        self.edges: list[tuple[str, str]] = []
        self.file_name = file_name
        self.limits = limits

    def add(self, node: _Node) -> str:
        key = "/".join(node.path)
        if key in self.nodes:
            return key
        if len(self.nodes) >= self.limits.max_layers:
            raise UnsafeModel(f"{self.file_name}: more than {self.limits.max_layers} layers; refused")
        self.nodes[key] = node
        self.order.append(key)
        return key

    def connect(self, sources: list[str], targets: list[str]) -> None:
        for src in sources:
            for dst in targets:
                if src != dst and (src, dst) not in self.edges:
                    self.edges.append((src, dst))


def _layer_name(spec: dict) -> str:
    config = spec.get("config")
    if isinstance(config, dict) and isinstance(config.get("name"), str):
        return config["name"]
    if isinstance(spec.get("name"), str):
        return spec["name"]
    return str(spec.get("class_name", "layer")).lower()


def _expand(spec: dict, prefix: tuple[str, ...], wrappers: tuple[str, ...], graph: _Graph,
            depth: int, wrapper_config: dict | None = None,
            outer: tuple[str, ...] | None = None) -> tuple[list[str], list[str], tuple | None]:
    """Add ``spec`` to ``graph``; return (entry keys, exit keys, declared input shape).

    ``outer`` is the path of the outermost wrapper around ``spec``, if any.
    """
    if depth > graph.limits.max_depth:
        raise UnsafeModel(f"{graph.file_name}: models nested deeper than {graph.limits.max_depth}; refused")
    class_name = spec.get("class_name")
    config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    name = _layer_name(spec)
    path = prefix + (name,)
    if class_name in MODEL_CLASSES:
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise BrokenModel(f"{graph.file_name}: nested model '{name}' has no layer list")
        if class_name == "Sequential" or "input_layers" not in config:
            return _expand_sequential(config, layers, path, wrappers, graph, depth, outer)
        return _expand_functional(config, layers, path, wrappers, graph, depth, outer)
    if class_name in ("TimeDistributed", "Bidirectional"):
        inner = config.get("layer")
        if not isinstance(inner, dict):
            raise BrokenModel(f"{graph.file_name}: wrapper '{name}' has no wrapped layer")
        entries, exits, shape = _expand(inner, path, wrappers + (class_name,), graph, depth + 1,
                                        wrapper_config=config if class_name == "Bidirectional" else wrapper_config,
                                        outer=outer or path)
        if shape is None:
            shape = _shape(config.get("batch_input_shape")) or _shape(config.get("batch_shape"))
        return entries, exits, shape
    # Messages use the name students see in model.summary(): the outermost wrapper's.
    shown = _shown_name(path, wrappers, outer)
    shape = _shape(config.get("batch_shape")) or _shape(config.get("batch_input_shape"))
    cell = config.get("cell")
    if class_name == "RNN" and isinstance(cell, dict) and cell.get("class_name") == "StackedRNNCells":
        keys = _expand_stacked_cells(config, cell, shown, path, wrappers, graph, wrapper_config or {})
        return keys[:1], keys[-1:], shape
    time_step = _time_step(spec) if class_name == "GetItem" else None
    build = spec.get("build_config") if isinstance(spec.get("build_config"), dict) else {}
    key = graph.add(_Node(shown, str(class_name), path, wrappers, config, wrapper_config or {}, time_step,
                          _shape(build.get("input_shape"))))
    return [key], [key], shape


def _expand_stacked_cells(config: dict, cell: dict, shown: str, path: tuple[str, ...], wrappers: tuple[str, ...],
                          graph: _Graph, wrapper_config: dict) -> list[str]:
    """``RNN(StackedRNNCells([c1, c2]))`` computes what ``RNN(c1, return_sequences=True)`` then ``RNN(c2)`` do:
    describe it as that stack, one recurrent layer per cell, so depth, gating and return_sequences read right."""
    cells = (cell.get("config") or {}).get("cells") if isinstance(cell.get("config"), dict) else None
    if not isinstance(cells, list) or not cells or not all(isinstance(c, dict) for c in cells):
        raise BrokenModel(f"{graph.file_name}: layer '{shown}' stacks no recurrent cells")
    keys: list[str] = []
    for i, inner in enumerate(cells):
        cell_name = _layer_name(inner) if isinstance(inner.get("config"), dict) and inner["config"].get("name") \
            else f"cell_{i}"
        merged = {**config, "cell": inner}
        if i < len(cells) - 1:
            # Inside the stack every lower cell hands its output to the next cell at every step.
            merged["return_sequences"] = True
            merged["return_state"] = False
        key = graph.add(_Node(f"{shown}/{cell_name}", "RNN", path + (cell_name,), wrappers, merged, wrapper_config))
        graph.connect(keys[-1:], [key])
        keys.append(key)
    return keys


def _shown_name(path: tuple[str, ...], wrappers: tuple[str, ...], outer: tuple[str, ...] | None) -> str:
    """The outermost wrapper's name, as model.summary() shows it; a layer of a model nested inside the
    wrapper (TimeDistributed(frame_cnn)) is shown as ``time_distributed/conv2d``."""
    if not wrappers or not outer:
        return path[-1]
    # Each wrapper adds one element to the path; anything more is a nested model.
    if len(path) == len(outer) + len(wrappers):
        return outer[-1]
    return f"{outer[-1]}/{path[-1]}"


def _expand_sequential(config: dict, layers: list, path: tuple[str, ...], wrappers: tuple[str, ...],
                       graph: _Graph, depth: int,
                       outer: tuple[str, ...] | None = None) -> tuple[list[str], list[str], tuple | None]:
    entries: list[str] = []
    previous: list[str] = []
    declared = _shape(config.get("build_input_shape"))
    first_shape = None
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict):
            raise BrokenModel(f"{graph.file_name}: layer {i} of '{path[-1]}' is not a layer config")
        layer_entries, layer_exits, shape = _expand(spec, path, wrappers, graph, depth + 1, outer=outer)
        if i == 0:
            entries = layer_entries
            first_shape = shape
        graph.connect(previous, layer_entries)
        previous = layer_exits
    return entries, previous, first_shape or declared


def _history_names(node: Any) -> Iterator[str]:
    """Names of the layers whose tensors feed a Keras 3 or Keras 2 inbound node."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            history = node.get("config", {}).get("keras_history")
            if isinstance(history, list) and history and isinstance(history[0], str):
                yield history[0]
            return
        for value in node.values():
            yield from _history_names(value)
    elif isinstance(node, list):
        # Keras 2: [layer_name, node_index, tensor_index, kwargs]
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int) and isinstance(node[2], int):
            yield node[0]
            if len(node) > 3:
                yield from _history_names(node[3])
            return
        for value in node:
            yield from _history_names(value)


def _endpoint_names(value: Any) -> list[str]:
    if isinstance(value, dict) and value.get("class_name") == "__tuple__":
        value = value.get("config", {}).get("value")
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int):
        return [value[0]]
    names: list[str] = []
    if isinstance(value, list):
        for item in value:
            names.extend(_endpoint_names(item))
    elif isinstance(value, dict):
        for item in value.values():
            names.extend(_endpoint_names(item))
    return names


def _expand_functional(config: dict, layers: list, path: tuple[str, ...], wrappers: tuple[str, ...],
                       graph: _Graph, depth: int,
                       outer: tuple[str, ...] | None = None) -> tuple[list[str], list[str], tuple | None]:
    spans: dict[str, tuple[list[str], list[str], tuple | None]] = {}
    inbound: dict[str, list[str]] = {}
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict):
            raise BrokenModel(f"{graph.file_name}: layer {i} of '{path[-1]}' is not a layer config")
        name = spec.get("name") if isinstance(spec.get("name"), str) else _layer_name(spec)
        spans[name] = _expand(spec, path, wrappers, graph, depth + 1, outer=outer)
        inbound[name] = list(dict.fromkeys(_history_names(spec.get("inbound_nodes", []))))
    for name, sources in inbound.items():
        for source in sources:
            if source not in spans:
                raise BrokenModel(f"{graph.file_name}: layer '{name}' takes input from unknown layer '{source}'")
            graph.connect(spans[source][1], spans[name][0])
    input_names = _endpoint_names(config.get("input_layers"))
    output_names = _endpoint_names(config.get("output_layers"))
    for endpoint in input_names + output_names:
        if endpoint not in spans:
            raise BrokenModel(f"{graph.file_name}: model '{path[-1]}' names unknown endpoint layer '{endpoint}'")
    entries = [key for name in input_names for key in spans[name][0]]
    exits = [key for name in output_names for key in spans[name][1]]
    shapes = [spans[name][2] for name in input_names]
    return entries, exits, shapes[0] if len(shapes) == 1 else None


def _topological(graph: _Graph) -> list[str]:
    parents: dict[str, set[str]] = {key: set() for key in graph.order}
    for src, dst in graph.edges:
        parents[dst].add(src)
    done: list[str] = []
    placed: set[str] = set()
    pending = list(graph.order)
    while pending:
        for key in pending:
            if parents[key] <= placed:
                done.append(key)
                placed.add(key)
                pending.remove(key)
                break
        else:
            raise BrokenModel(f"{graph.file_name}: the layer graph has a cycle")
    return done


def _layer(index: int, node: _Node, inbound: tuple[str, ...]) -> Layer:
    c = node.config
    cell = c.get("cell") if isinstance(c.get("cell"), dict) else None
    settings = c
    cell_class = None
    if cell is not None:
        cell_class = cell.get("class_name")
        if isinstance(cell.get("config"), dict):
            settings = {**c, **cell["config"]}
            if cell_class == "StackedRNNCells":
                cells = cell["config"].get("cells") or []
                last = cells[-1] if cells and isinstance(cells[-1], dict) else {}
                settings = {**c, **(last.get("config") or {})}
    strides = _ints(c.get("strides"))
    pool = _ints(c.get("pool_size"))
    if strides is None and pool is not None:
        strides = pool
    units = settings.get("units")
    return Layer(
        index=index,
        name=node.name,
        class_name=node.class_name,
        path=node.path,
        wrappers=node.wrappers,
        inbound=inbound,
        units=units if isinstance(units, int) and not isinstance(units, bool) else None,
        return_sequences=bool(c["return_sequences"]) if "return_sequences" in c else None,
        return_state=bool(c["return_state"]) if "return_state" in c else None,
        go_backwards=bool(c["go_backwards"]) if "go_backwards" in c else None,
        activation=_activation(settings.get("activation")),
        recurrent_activation=_activation(settings.get("recurrent_activation")),
        cell_class=cell_class if isinstance(cell_class, str) else None,
        dropout=_number(settings.get("dropout")),
        recurrent_dropout=_number(settings.get("recurrent_dropout")),
        rate=_number(c.get("rate"), 0.0) if "rate" in c else None,
        filters=c.get("filters") if isinstance(c.get("filters"), int) else None,
        kernel_size=_ints(c.get("kernel_size")),
        strides=strides,
        pool_size=pool,
        padding=c.get("padding") if isinstance(c.get("padding"), str) else None,
        dilation_rate=_ints(c.get("dilation_rate")),
        merge_mode=node.wrapper_config.get("merge_mode", "concat") if "Bidirectional" in node.wrappers else None,
        n=c.get("n") if isinstance(c.get("n"), int) else None,
        batch_shape=_shape(c.get("batch_shape")) or _shape(c.get("batch_input_shape")),
        time_step=node.time_step,
        built_input=node.built_input,
        config=c,
    )


def _optimizer(config: dict) -> Optimizer | None:
    compile_config = config.get("compile_config")
    if not isinstance(compile_config, dict):
        return None
    spec = compile_config.get("optimizer")
    if isinstance(spec, str):
        return Optimizer(spec)
    if not isinstance(spec, dict):
        return None
    class_name = str(spec.get("class_name", "")).removeprefix(allowlist.CUSTOM_PREFIX)
    inner = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    if class_name == "LossScaleOptimizer" and isinstance(inner.get("inner_optimizer"), dict):
        return _optimizer({"compile_config": {"optimizer": inner["inner_optimizer"]}})

    def clip(key: str) -> float | None:
        value = inner.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return Optimizer(class_name, clip("clipnorm"), clip("clipvalue"), clip("global_clipnorm"))


def describe(config: dict, path: str, fmt: str, keras_version: str | None,
             limits: InspectionLimits = DEFAULT_INSPECTION_LIMITS) -> ModelDescription:
    """Flatten a checked model config into a :class:`ModelDescription` in data-flow order."""
    file_name = Path(path).name
    class_name = config.get("class_name")
    if class_name not in MODEL_CLASSES:
        raise BrokenModel(f"{file_name}: the saved object is a {class_name!r}, not a Keras model; save the model itself")
    graph = _Graph(file_name, limits)
    entries, exits, shape = _expand(config, (), (), graph, 0)
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    if shape is None:
        build = config.get("build_config") if isinstance(config.get("build_config"), dict) else {}
        shape = _shape(build.get("input_shape")) or _shape(inner.get("build_input_shape"))
    input_shapes: list[tuple] = []
    if class_name == "Sequential" or "input_layers" not in inner:
        if shape is not None:
            input_shapes.append(shape)
    else:
        for key in entries:
            node = graph.nodes[key]
            layer_shape = _shape(node.config.get("batch_shape")) or _shape(node.config.get("batch_input_shape"))
            if layer_shape is not None:
                input_shapes.append(layer_shape)
    order = _topological(graph)
    check_bounds(_sized_layers(graph, order, entries, shape), file_name, limits)
    live = _feeding_outputs(graph, exits)
    keys = [key for key in order if key in live]
    edges = [(src, dst) for src, dst in graph.edges if src in live and dst in live]
    parents: dict[str, list[str]] = {}
    for src, dst in edges:
        parents.setdefault(dst, []).append(src)
    layers = []
    index = 0
    for key in keys:
        node = graph.nodes[key]
        if node.class_name != "InputLayer":
            index += 1
        layers.append(_layer(index if node.class_name != "InputLayer" else 0, node, tuple(parents.get(key, ()))))
    # Sequential models with a leading InputLayer point their entry at it; the
    # outputs are the exits of the top-level model.
    return ModelDescription(
        path=path, format=fmt, keras_version=keras_version, model_class=str(class_name),
        input_shapes=tuple(input_shapes), layers=tuple(layers), outputs=tuple(exits),
        optimizer=_optimizer(config), edges=tuple(edges),
    )


def _sized_layers(graph: _Graph, order: list[str], entries: list[str], shape: tuple | None) -> list[SizedLayer]:
    """Every layer of the config, dead branches too (Keras builds their weights when it loads the file)."""
    parents: dict[str, list[str]] = {}
    for src, dst in graph.edges:
        parents.setdefault(dst, []).append(src)
    sized = []
    for key in order:
        node = graph.nodes[key]
        declared = _shape(node.config.get("batch_shape")) or _shape(node.config.get("batch_input_shape"))
        if declared is None and key in entries:
            declared = shape
        sized.append(SizedLayer(key, node.name, node.class_name, node.wrappers, node.config, node.wrapper_config,
                                tuple(parents.get(key, ())), declared, node.time_step))
    return sized


def _feeding_outputs(graph: _Graph, exits: list[str]) -> set[str]:
    """The nodes whose data reaches the model's outputs.

    A layer on a branch that feeds no output is in the config but not in the model Keras
    builds from it (nor in its forward pass), so it must not count for any rule: a dead
    second LSTM does not make a stack deep.
    """
    if not exits or not all(key in graph.nodes for key in exits):
        return set(graph.nodes)
    return set(exits) | reachable(graph.edges, exits, downstream=False)
