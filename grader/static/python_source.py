"""Reading a student's Python task file as source: parsed, never run.

The task asks for a NumPy function, so the file may import only NumPy, ``math`` and
typing helpers, and may not reach for the interpreter's machinery (dunder names,
``eval``/``exec``, ``open``, ``getattr``...). That keeps a student's cell from calling the
grader's own reference implementation or walking into the worker; the sandbox is the
second line, not the only one.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

from grader.core.near_miss import missing_hint
from grader.static.errors import BrokenModel, UnsafeModel

ALLOWED_IMPORTS = frozenset({"numpy", "math", "typing", "__future__"})
FORBIDDEN_NAMES = frozenset({"eval", "exec", "compile", "open", "globals", "locals", "vars", "getattr", "setattr",
                             "delattr", "breakpoint", "input", "memoryview"})


def _policy_problem(tree: ast.AST, name: str) -> str | None:
    """The first construct of ``tree`` a NumPy cell has no business using, as one line (None: none)."""
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or "."] if node.level == 0 else ["." * node.level + (node.module or "")]
        else:
            modules = []
        for module in modules:
            if module.split(".")[0] not in ALLOWED_IMPORTS:
                return (f"{name} line {line} imports '{module}': lstm_step must be plain NumPy, so import only "
                        f"numpy (and math)")
        if isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES
                                           or node.id.startswith("__") and node.id != "__name__"):
            return f"{name} line {line} uses '{node.id}': lstm_step must be plain NumPy arithmetic"
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            return f"{name} line {line} uses '.{node.attr}': lstm_step must be plain NumPy arithmetic"
    return None


def inspect_python_file(path: str | os.PathLike, max_kb: int = 256) -> dict[str, Any]:
    """Parse (never run) a student's Python file; list its top-level functions' signatures.

    Returns ``{"functions": {name: {"positional": n, "defaults": d, "varargs": bool, "names": [...]}}}``
    or raises :class:`BrokenModel` with one line for a missing, empty, oversized or unparsable file, and
    :class:`UnsafeModel` for one that imports or uses more than NumPy arithmetic needs.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise BrokenModel(f"{name} is missing: add it to the submission{missing_hint(path.parent, name)}")
    if not path.is_file() or path.is_symlink():
        raise BrokenModel(f"{name} is not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise BrokenModel(f"{name} is empty: it must define lstm_step")
    if size > max_kb * 1024:
        raise BrokenModel(f"{name} is {size // 1024} KiB, over the {max_kb} KiB limit for a source file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BrokenModel(f"{name} is not UTF-8 text: submit the Python source file") from None
    try:
        tree = ast.parse(text, filename=name)
    except SyntaxError as exc:
        raise BrokenModel(f"{name} line {exc.lineno}: {exc.msg}: fix it so the file imports") from None
    except (ValueError, RecursionError, MemoryError):
        raise BrokenModel(f"{name} cannot be parsed as Python") from None
    problem = _policy_problem(tree, name)
    if problem:
        raise UnsafeModel(problem)
    functions: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            functions[node.name] = {
                "positional": len(positional),
                "defaults": len(args.defaults),
                "varargs": args.vararg is not None,
                "names": [a.arg for a in positional],
            }
    return {"functions": functions}
