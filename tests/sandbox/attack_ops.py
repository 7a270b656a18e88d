"""The one op the escape suite needs: run attack source inside the worker and report what it found.

Imported inside the sandbox from the tests/sandbox folder only (never the repository root).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def _jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON data: bytes as latin-1 text, paths as strings, anything else as its repr."""
    if depth > 20:
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item, depth + 1) for item in value]
    return repr(value)


def exec_source(payload: dict, task_dir: Path) -> dict:
    """Runs ``payload["source"]`` in a fresh namespace (``task_dir`` and ``args`` bound); its ``result``."""
    namespace: dict[str, Any] = {"__name__": "__attack__", "task_dir": task_dir, "args": payload.get("args", {})}
    exec(compile(payload["source"], "<attack>", "exec"), namespace)
    return {"result": _jsonable(namespace.get("result"))}


OPS = {"exec": exec_source}
