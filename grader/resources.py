"""Where the files that ship with the package live, installed or in a source checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _packaged(subpackage: str, source_dir: str) -> Path:
    # An installed wheel maps questions/ and templates/ to grader.questions and
    # grader.templates; a source checkout has them beside grader/.
    try:
        path = Path(str(resources.files(f"grader.{subpackage}")))
        if path.is_dir() and any(path.iterdir()):
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return _SOURCE_ROOT / source_dir


def questions_dir() -> Path:
    """The folder holding the question definition files (``q1.toml`` ...)."""
    return _packaged("questions", "questions")


def templates_dir() -> Path:
    """The folder holding the default Jinja2 templates."""
    return _packaged("templates", "templates")
