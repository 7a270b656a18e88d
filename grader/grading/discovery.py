"""Which entries of a class folder are students' submissions, and why the others are not.

A class folder comes from an LMS download, a zip unpacked on a Mac, or an instructor's own
sorting, so it holds more than one folder per student. The rules, applied to each entry:

* a ``.zip`` file is one student's submission (the intake reads, or refuses, what is in it);
* ``__MACOSX`` and hidden entries are skipped, and so is any other loose file;
* a folder holding a submission file (``answers.md``, a file a task names, or any ``.keras`` /
  ``.h5`` model) is a student, also when the files sit in one inner folder
  (``alice/assignment7/answers.md``), which the intake strips;
* a folder holding two or more such student folders or zips is a *section*
  (``section1/bob/``): its students are graded under their own names; in a class folder that
  holds only sections, a folder holding a single student folder is a section too;
* any other folder (empty, ``notes/``) is skipped with its reason.

Two entries that give one student id (``bob/`` and ``bob.zip``, or ``s1/bob`` and ``s2/bob``)
are both skipped: grading either would silently replace the other.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.grading.intake import IGNORED_DIRS, IGNORED_NAMES, IntakeError, student_id_from_path

MODEL_SUFFIXES = (".keras", ".h5")
NOTHING_TO_GRADE = "no answers.md, model or .py file the tasks name"


@dataclass(frozen=True)
class Skipped:
    """An entry of the class folder that is not graded, and why."""

    name: str          # relative to the class folder, '/' at the end for a folder
    reason: str


@dataclass(frozen=True)
class ClassFolder:
    """What :func:`discover` found: submissions to grade, sections seen, entries skipped."""

    submissions: tuple[Path, ...]
    sections: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    inner: tuple[str, ...] = ()      # 'dave/assignment7/': a student's files read from one inner folder


def discover(directory: Path, expected: Iterable[str]) -> ClassFolder:
    """The submissions under ``directory``; ``expected`` are the file names a submission may hold."""
    names = frozenset(name.lower() for name in expected) | {"answers.md"}
    entries = [(entry, _not_a_candidate(entry)) for entry in _entries(directory)]
    # Sections are told apart from a student's one inner folder by count (two or more students
    # inside). When the class folder holds only sections (no zip, no folder with files of its
    # own), a folder of one student is a section too.
    candidates = [entry for entry, reason in entries if not reason]
    sectioned = (any(entry.is_dir() and len(_students_in(entry, names)) >= 2 for entry in candidates)
                 and not any(entry.is_file() or _holds_files(entry, names) for entry in candidates))
    submissions: list[Path] = []
    sections: list[str] = []
    skipped: list[Skipped] = []
    inner: list[str] = []
    for entry, reason in entries:
        students = _students_in(entry, names) if entry.is_dir() and not reason else []
        if reason:
            skipped.append(Skipped(entry.name + ("/" if entry.is_dir() else ""), reason))
        elif students and (len(students) >= 2 or sectioned):
            sections.append(entry.name)
            submissions.extend(students)
            skipped.extend(Skipped(f"{entry.name}/{child.name}/", NOTHING_TO_GRADE)
                           for child in _entries(entry)
                           if child.is_dir() and child not in students and not _not_a_candidate(child))
        elif _is_submission(entry, names):
            submissions.append(entry)
            if entry.is_dir() and not _holds_files(entry, names):
                inner.extend(f"{entry.name}/{child.name}/" for child in _visible(entry) if child.is_dir())
        else:
            skipped.append(Skipped(entry.name + "/", NOTHING_TO_GRADE))
    kept, clashes = _unique_ids(directory, submissions)
    return ClassFolder(tuple(kept), tuple(sections), tuple(skipped + clashes), tuple(inner))


def _holds_files(folder: Path, names: frozenset[str]) -> bool:
    """Whether ``folder`` itself (not an inner folder) holds a submission file."""
    return any(_submission_file(child, names) for child in _visible(folder))


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _not_a_candidate(entry: Path) -> str | None:
    """Why ``entry`` is skipped before looking inside it, or None."""
    if entry.name in IGNORED_DIRS:
        return "macOS archive metadata"
    if entry.name.startswith(".") or entry.name in IGNORED_NAMES:
        return "hidden"
    if entry.is_symlink():
        return "a symbolic link (copy the files instead)"
    if entry.is_file() and entry.suffix.lower() == ".zip":
        return None
    if not entry.is_dir():
        return "a loose file: a class folder holds one folder or .zip per student"
    return None


def _is_submission(entry: Path, names: frozenset[str]) -> bool:
    """A .zip, or a folder holding a submission file itself or in its only inner folder."""
    if entry.is_file():
        return True
    visible = _visible(entry)
    if any(_submission_file(child, names) for child in visible):
        return True
    folders = [child for child in visible if child.is_dir()]
    return len(folders) == 1 and any(_submission_file(child, names) for child in _visible(folders[0]))


def _visible(folder: Path) -> list[Path]:
    """The entries of ``folder`` a submission is read from (the intake ignores the rest)."""
    return [child for child in _entries(folder)
            if not (child.name.startswith(".") or child.name in IGNORED_DIRS or child.name in IGNORED_NAMES
                    or child.is_symlink())]


def _submission_file(path: Path, names: frozenset[str]) -> bool:
    lowered = path.name.lower()
    return path.is_file() and (lowered in names or lowered.endswith(MODEL_SUFFIXES))


def _students_in(folder: Path, names: frozenset[str]) -> list[Path]:
    """The student folders and zips directly inside a section folder."""
    return [child for child in _entries(folder)
            if not _not_a_candidate(child) and _is_submission(child, names)]


def _unique_ids(directory: Path, submissions: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """Submissions whose student id no other entry shares; the clashing ones, skipped."""
    by_id: dict[str, list[Path]] = {}
    for path in submissions:
        try:
            key = student_id_from_path(path).casefold()
        except IntakeError:        # the batch records this one's failure with its reason
            key = "\0" + str(path)
        by_id.setdefault(unicodedata.normalize("NFC", key), []).append(path)
    kept, clashes = [], []
    for path in submissions:
        key = next(k for k, paths in by_id.items() if path in paths)
        if len(by_id[key]) == 1:
            kept.append(path)
            continue
        others = ", ".join(_relative(directory, p) for p in by_id[key])
        clashes.append(Skipped(_relative(directory, path),
                               f"{len(by_id[key])} entries give one student id ({others}); rename one, or grade "
                               "each section with its own batch"))
    return kept, clashes


def _relative(directory: Path, path: Path) -> str:
    return path.relative_to(directory).as_posix() + ("/" if path.is_dir() else "")
