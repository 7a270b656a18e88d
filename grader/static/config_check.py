"""Parsing a saved model config and refusing every object in it that the allowlist does not name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from grader.static import allowlist
from grader.static.errors import BrokenModel, UnsafeModel
from grader.static.limits import DEFAULT_INSPECTION_LIMITS, InspectionLimits


def loads(raw: bytes, file_name: str, member: str) -> Any:
    """Parse ``raw`` as UTF-8 JSON, or raise a one-line refusal naming ``file_name`` and ``member``."""
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise UnsafeModel(f"{file_name}: {member} is nested too deeply; refused") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BrokenModel(f"{file_name}: {member} is not valid JSON ({str(exc)[:80]}); save the model again") from None


def check_config(config: Any, file_name: str, limits: InspectionLimits = DEFAULT_INSPECTION_LIMITS) -> None:
    """Refuse any object in ``config`` that is not a built-in Keras class from a Keras module."""
    count = 0
    for obj, where in _objects(config, "", 0, limits, file_name):
        count += 1
        if count > limits.max_layers * 20:
            raise UnsafeModel(f"{file_name}: the config holds too many objects; refused")
        class_name = obj.get("class_name")
        if not isinstance(class_name, str):
            raise UnsafeModel(f"{file_name}: an object at {where or 'the top'} has a non-string class_name; refused")
        module = obj.get("module")
        if module is not None and not isinstance(module, str):
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} has a non-string module; refused")
        stripped = class_name.removeprefix(allowlist.CUSTOM_PREFIX)
        plain = stripped if stripped in allowlist.OPTIMIZERS else class_name
        if class_name in allowlist.FORBIDDEN_LAYERS or class_name == "__lambda__":
            reason = allowlist.FORBIDDEN_LAYERS.get(class_name, "it carries Python bytecode")
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} is a {class_name} layer: {reason}; refused")
        # Checked before the module: a custom layer names both its own module and its
        # registered name, and the registered name is what the student recognises.
        registered = obj.get("registered_name")
        if registered not in (None, class_name, plain):
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} is registered as custom object {registered!r}; "
                              "custom objects are not accepted; use built-in layers")
        if class_name == "function":
            _check_function(obj, where, module, file_name)
            continue
        if "function" in obj and plain not in allowlist.ALLOWED_CLASSES:
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} carries a function; refused")
        if module in allowlist.MODULE_CLASSES:
            if plain not in allowlist.MODULE_CLASSES[module]:
                raise UnsafeModel(f"{file_name}: {_where(obj, where)} names {module}.{class_name}, which is not a "
                                  "built-in Keras layer or operation a submitted model may use; refused")
        elif module is not None and module not in allowlist.ALLOWED_MODULES:
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} names module {module!r}: only built-in Keras "
                              "classes may appear in a submitted model; refused")
        elif plain not in allowlist.ALLOWED_CLASSES:
            if module is None and plain in allowlist.OPERATION_CLASSES:
                raise BrokenModel(f"{file_name}: {_where(obj, where)} is a keras.ops call ({class_name}) that the "
                                  "legacy HDF5 format cannot reload; save the model with model.save('"
                                  f"{Path(file_name).stem}.keras')")
            raise UnsafeModel(f"{file_name}: {_where(obj, where)} is of class {class_name!r}, which is not a built-in "
                              "Keras class: custom layers and objects are not accepted; use built-in layers")
        inner = obj.get("config")
        if isinstance(inner, dict):
            for key in ("activation", "recurrent_activation"):
                value = inner.get(key)
                if isinstance(value, str) and value not in allowlist.ACTIVATIONS:
                    raise UnsafeModel(f"{file_name}: {_where(obj, where)} uses activation {value!r}, which is not a "
                                      "built-in Keras activation; use one such as 'tanh' or 'relu'")


def _check_function(obj: dict, where: str, module: str | None, file_name: str) -> None:
    name = obj.get("config")
    if module not in allowlist.FUNCTION_MODULES or not isinstance(name, str) or name not in allowlist.FUNCTIONS:
        shown = f"{module}.{name}" if isinstance(name, str) else repr(module)
        raise UnsafeModel(f"{file_name}: the object at {where or 'the top'} names function {shown}, which is not a "
                          "built-in Keras activation, loss or metric; refused")


def _where(obj: dict, where: str) -> str:
    inner = obj.get("config")
    name = inner.get("name") if isinstance(inner, dict) else None
    return f"layer '{name}'" if isinstance(name, str) else f"the object at {where or 'the top'}"


def _objects(node: Any, where: str, depth: int, limits: InspectionLimits, file_name: str) -> Iterator[tuple[dict, str]]:
    if depth > limits.max_depth * 4:
        raise UnsafeModel(f"{file_name}: the config is nested too deeply; refused")
    if isinstance(node, dict):
        if "class_name" in node:
            yield node, where
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                yield from _objects(value, f"{where}.{key}" if where else str(key), depth + 1, limits, file_name)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                yield from _objects(value, f"{where}[{i}]", depth + 1, limits, file_name)
