"""Text from students (file names, layer names, worker messages) made safe to print on an instructor's terminal."""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: object, keep: str = " ") -> str:
    """``text`` with every control character (terminal escapes, BEL, backspace, C1 codes) shown as ``?``;
    the characters in ``keep`` (a space by default; pass "\\n\\t " for multi-line text) are left alone."""
    return "".join(char if char.isprintable() or char in keep else "?" for char in str(text))
