"""Why a submitted file is refused: the exceptions every static reader raises, each a one-line message."""

from __future__ import annotations

from grader.core.errors import GraderError


class InspectionError(GraderError):
    """A model file cannot be graded; ``str()`` is one line for the student."""


class UnsafeModel(InspectionError):
    """The file names code or resources a grader must never load."""


class BrokenModel(InspectionError):
    """The file is missing, empty, truncated, of the wrong type or malformed."""
