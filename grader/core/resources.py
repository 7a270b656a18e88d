"""Where the files that ship with the package live, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]   # grader/
_SOURCE_ROOT = _PACKAGE.parent


def _packaged(name: str) -> Path:
    # A wheel maps questions/ and templates/ into the package (grader/questions,
    # grader/templates); a source checkout has them beside grader/.
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _SOURCE_ROOT / name


def questions_dir() -> Path:
    """The folder holding the question definition files (``q1.toml`` ...)."""
    return _packaged("questions")


def templates_dir() -> Path:
    """The folder holding the default Jinja2 templates."""
    return _packaged("templates")
