"""Keeping the held-out data and the course private before anything is graded.

Three rules, each checked before a command builds references or grades:

* **The synthetic series' seed is private.** The held-out part of a synthetic series
  is a function of its seed, so a seed printed in our README or source lets anyone
  regenerate it. ``grader init`` draws one with :mod:`secrets`; a course whose seed is
  one of :data:`PUBLISHED_SEEDS` is refused, unless it is the demo course
  (``[course] demo = true``), whose numbers are meant to be reproducible.
* **A CSV series outside the course folder is not readable by other users.** The
  sandboxed student code runs as another, unprivileged user; a world-readable file
  would hand it the held-out rows. Such a file is refused (not copied: a copy would
  leave the original as readable as before), and the message says how to fix it.
* **The course folder is not open to other users** (references, held-out data and the
  gradebook live there); ``grader init`` creates it 0700.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from grader.core.course import CONFIG_NAME, PUBLISHED_SEEDS, Course, CourseError, fresh_seed


class SecrecyError(CourseError):
    """The course would expose held-out data or private files to student code; the message says the fix."""


NOBODY_ELSE = -1    # a uid that owns nothing and is in no group: "any other user"


def others_can_read(path: Path) -> bool:
    """Whether any other user can open ``path`` for reading (file) or enter it (folder)."""
    return sandbox_can_read(path.resolve(), NOBODY_ELSE, set())


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def heldout_problems(course: Course) -> list[str]:
    """One line per way the course's held-out data or private files are exposed (empty: none)."""
    problems = []
    series = course.series
    config = course.root / CONFIG_NAME
    if series.source == "synthetic" and not course.config.demo and series.seed in PUBLISHED_SEEDS:
        problems.append(
            f"{config}: [series] seed = {series.seed} is the published default, so anyone with the grader can "
            f"regenerate the held-out part; set a private one, e.g. seed = {fresh_seed()} (then rebuild "
            "the references)")
    if series.source == "csv" and series.path:
        data = course.resolve(series.path)
        if not _inside(data, course.root) and others_can_read(data):
            problems.append(
                f"{config}: [series] path {series.path} can be read by other users, so sandboxed student "
                f"code could read the held-out rows; copy it into the course folder and point path at the copy, "
                f"or remove others' access (chmod o-r)")
    if others_can_read(course.root):
        problems.append(f"the course folder {course.root} can be entered by other users, so sandboxed student "
                        f"code could read the references, the held-out data and the gradebook; run "
                        f"chmod 700 {course.root}")
    return problems


def require_secret_heldout(course: Course) -> None:
    """Raise :class:`SecrecyError` with the first problem of :func:`heldout_problems`, if any."""
    problems = heldout_problems(course)
    if problems:
        raise SecrecyError(problems[0])


def demo_notice(course: Course) -> str | None:
    """The line that says a demo course's held-out part is public, or None for a real course."""
    if course.config.demo and course.series.seed in PUBLISHED_SEEDS:
        return (f"demo course: its series uses the published seed {course.series.seed}, so its held-out part "
                "is public and the scores are reproducible; 'grader init' gives a real course a private seed")
    return None


def sandbox_can_read(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether a process of ``uid`` (in ``gids``) can read ``path``: a file's data, or enter a folder.

    Every folder above it must let that user through (x); uid 0 passes everything.
    """
    path = Path(os.path.abspath(path))
    chain = list(reversed(path.parents)) + [path]
    for n, item in enumerate(chain):
        try:
            info = item.stat()
        except OSError:
            return False
        if uid == 0:
            continue
        if info.st_uid == uid:
            bits = (info.st_mode >> 6) & 7
        elif info.st_gid in gids:
            bits = (info.st_mode >> 3) & 7
        else:
            bits = info.st_mode & 7
        last = n == len(chain) - 1
        if not last and not bits & 1:
            return False
        if last:
            return bool(bits & (1 if stat.S_ISDIR(info.st_mode) else 4))
    return True
