"""Reading a student's Python task file as source: parsed, never run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from grader.static.errors import BrokenModel


def inspect_python_file(path: str | os.PathLike, max_kb: int = 256) -> dict[str, Any]:
    """Parse (never run) a student's Python file; list its top-level functions' signatures.

    Returns ``{"functions": {name: {"positional": n, "defaults": d, "varargs": bool, "names": [...]}}}``
    or raises :class:`BrokenModel` with one line for a missing, empty, oversized or unparsable file.
    """
    import ast

    path = Path(path)
    name = path.name
    if not path.exists():
        raise BrokenModel(f"{name} is missing: add it to the submission")
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
