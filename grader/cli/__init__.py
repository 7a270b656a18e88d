"""The ``grader`` command line: parses, calls the library, prints.

Every decision lives in a library module. Every expected problem the library
raises derives from :class:`grader.core.errors.GraderError`; the root group turns
it, in one place, into one ``Error: ...`` line and exit status 1. Heavy modules
(TensorFlow above all) are imported inside the commands that need them, so
``grader --help`` and the static commands start fast.

The root group lives in :mod:`grader.cli.app`; each ``*_commands`` module adds the
commands of one area to it when imported here.
"""

from grader.cli import course_commands, db_commands, grading_commands, report_commands  # noqa: F401  (registers the commands)
from grader.cli.app import cli, main

__all__ = ["cli", "main"]

if __name__ == "__main__":
    main()
