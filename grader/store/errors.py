"""What the gradebook raises when a request cannot be met (the CLI turns these into one-line errors)."""

from __future__ import annotations

from grader.core.errors import GraderError


class GradebookError(GraderError, ValueError):
    """A gradebook request cannot be met; the message is one line naming the object."""


class NoStudent(GradebookError):
    """The student id is not in the gradebook."""


class NoSubmission(GradebookError):
    """The submission id is not in the gradebook."""


class NoRun(GradebookError):
    """The grading run id is not in the gradebook."""
