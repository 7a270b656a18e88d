"""Which entries of a class folder are students' submissions, and why the others are not.

A class folder comes from an LMS download, a zip unpacked on a Mac, or an instructor's own
sorting, so it holds more than one folder per student. The rules, applied to each entry:

* a ``.zip`` file is one student's submission (the intake reads, or refuses, what is in it);
* a folder holding a submission file (``answers.md``, a file a task names, or any ``.keras`` /
  ``.h5`` model) is a student, also when the files sit in one inner folder
  (``alice/assignment7/answers.md``), which the intake strips;
* a folder holding one ``.zip`` and nothing else is that student's zip: Moodle's download
  (``Ana María_12345_assignsubmission_file_/work.zip``), named by the folder with Moodle's
  suffix removed;
* a folder holding two or more students is a *section* (``section1/bob/``) when the class
  folder holds no student of its own beside them (folders with nothing to grade aside); its
  students are graded under their own names. Next to students of its own, the same folder is
  ambiguous (a section, or one student's attempts ``v1/`` and ``v2/``?) and is held back with
  a line saying how to lay it out; so is a folder whose files are split over inner folders;
* ``__MACOSX``, hidden entries, the course folder itself, other archives and loose files are
  skipped, each with its reason, and so is any folder holding nothing to grade.

Two entries that give one student id (``bob/`` and ``bob.zip``, or ``s1/bob`` and ``s2/bob``)
are both held back: grading either would silently replace the other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.grading.intake import IGNORED_DIRS, IntakeError, ignored_name, student_id_from_path

MODEL_SUFFIXES = (".keras", ".h5")
OTHER_ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".rar", ".7z", ".gz")
NOTHING_TO_GRADE = "no answers.md, model or .py file the tasks name"
# Moodle names each student's folder "<full name>_<participant id>_assignsubmission_<plugin>_".
_MOODLE_SUFFIX = re.compile(r"_\d+_assignsubmission_[a-z]+_?$")


@dataclass(frozen=True)
class Skipped:
    """An entry of the class folder that is not graded, and why."""

    name: str          # relative to the class folder, '/' at the end for a folder
    reason: str


@dataclass(frozen=True)
class Found:
    """One submission to grade: a folder or .zip, and the student id its place gives."""

    path: Path
    name: str          # the name the id comes from (the folder's, for a zip inside a student folder)


@dataclass(frozen=True)
class ClassFolder:
    """What :func:`discover` found: submissions to grade, sections seen, entries skipped."""

    found: tuple[Found, ...]
    sections: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    inner: tuple[str, ...] = ()      # 'dave/assignment7/': a student's files read from one inner folder

    @property
    def submissions(self) -> tuple[Path, ...]:
        return tuple(f.path for f in self.found)

    def student_names(self) -> dict[Path, str]:
        """The name each submission's student id is taken from, keyed by its path."""
        return {f.path: f.name for f in self.found}


def discover(directory: Path, expected: Iterable[str], *, course_root: Path | None = None) -> ClassFolder:
    """The submissions under ``directory``; ``expected`` are the file names a submission may hold."""
    names = frozenset(name.lower() for name in expected) | {"answers.md"}
    course = course_root.resolve() if course_root is not None else None
    entries = [(entry, _not_a_candidate(entry, course)) for entry in _entries(directory)]
    candidates = [entry for entry, reason in entries if not reason]
    groups = {entry: _students_in(entry, names, course) for entry in candidates if entry.is_dir()}
    # No student of its own beside the sections (folders with nothing to grade aside): a folder of
    # one student is a section too.
    sectioned = (any(len(students) >= 2 for students in groups.values())
                 and not any(entry.is_file() or _holds_files(entry, names) for entry in candidates))
    found: list[Found] = []
    sections: list[str] = []
    skipped: list[Skipped] = []
    inner: list[str] = []
    for entry, reason in entries:
        students = groups.get(entry, [])
        if reason:
            skipped.append(Skipped(_shown(entry), reason))
        elif entry.is_file():
            found.append(Found(entry, entry.name))
        elif _holds_files(entry, names):
            found.append(Found(entry, entry.name))
        elif sectioned and students:
            sections.append(entry.name)
            found.extend(_as_found(child) for child in students)
            skipped.extend(Skipped(f"{entry.name}/{child.name}/", NOTHING_TO_GRADE)
                           for child in _entries(entry)
                           if child.is_dir() and child not in students and not _not_a_candidate(child, course))
        elif (only_zip := _single_zip(entry)) is not None:
            found.append(Found(only_zip, _moodle_name(entry.name)))
        elif len(students) >= 2:
            listed = ", ".join(_shown(child) for child in students[:4])
            split = _split_files(students, names)
            skipped.append(Skipped(_shown(entry), (
                f"its submission files are split over {listed}: put them in one folder" if split else
                f"it holds {len(students)} entries that each look like a submission ({listed}): if it is a "
                "section, grade it with its own batch; if they are one student's attempts, keep one")))
        elif students:
            found.append(Found(entry, _moodle_name(entry.name)))
            inner.extend(f"{entry.name}/{child.name}/" for child in students if child.is_dir())
        else:
            skipped.append(Skipped(_shown(entry), _nothing_reason(entry)))
    kept, clashes = _unique_ids(directory, found)
    return ClassFolder(tuple(kept), tuple(sections), tuple(skipped + clashes), tuple(inner))


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _shown(entry: Path) -> str:
    return entry.name + ("/" if entry.is_dir() and not entry.is_symlink() else "")


def _not_a_candidate(entry: Path, course: Path | None) -> str | None:
    """Why ``entry`` is skipped before looking inside it, or None."""
    name = entry.name
    if ignored_name(name):
        return "macOS archive metadata" if name in IGNORED_DIRS else "hidden"
    if entry.is_symlink():
        return "a symbolic link (copy the files instead)"
    if course is not None and entry.is_dir() and entry.resolve() == course:
        return "the course folder itself"
    if entry.is_file() and name.lower().endswith(".zip"):
        return None
    if entry.is_file() and name.lower().endswith(OTHER_ARCHIVES):
        return "an archive the grader does not open: unpack it, or zip the student's folder as .zip"
    if not entry.is_dir():
        return "a loose file: a class folder holds one folder or .zip per student"
    return None


def _visible(folder: Path) -> list[Path]:
    """The entries of ``folder`` a submission is read from (the intake ignores the rest)."""
    return [child for child in _entries(folder) if not (ignored_name(child.name) or child.is_symlink())]


def _submission_file(path: Path, names: frozenset[str]) -> bool:
    lowered = path.name.lower()
    return path.is_file() and (lowered in names or lowered.endswith(MODEL_SUFFIXES))


def _holds_files(folder: Path, names: frozenset[str]) -> bool:
    """Whether ``folder`` itself (not an inner folder) holds a submission file."""
    return any(_submission_file(child, names) for child in _visible(folder))


def _single_zip(folder: Path) -> Path | None:
    """The one .zip ``folder`` holds beside no submission file or inner folder (Moodle's download of an
    uploaded zip, possibly with its ``onlinetext.html``)."""
    visible = _visible(folder)
    zips = [c for c in visible if c.is_file() and c.name.lower().endswith(".zip")]
    if len(zips) == 1 and not any(c.is_dir() for c in visible) and not any(
            c.name.lower() == "answers.md" or c.name.lower().endswith(MODEL_SUFFIXES) for c in visible):
        return zips[0]
    return None


def _students_in(folder: Path, names: frozenset[str], course: Path | None) -> list[Path]:
    """The student folders and zips directly inside ``folder``."""
    return [child for child in _entries(folder)
            if not _not_a_candidate(child, course)
            and (child.is_file() or _holds_files(child, names) or _single_zip(child) is not None)]


def _as_found(child: Path) -> Found:
    only_zip = _single_zip(child) if child.is_dir() else None
    return Found(only_zip, _moodle_name(child.name)) if only_zip else Found(child, child.name)


def _split_files(students: list[Path], names: frozenset[str]) -> bool:
    """Whether the inner folders hold disjoint submission files (one student's files, split up)."""
    seen: set[str] = set()
    for child in students:
        if not child.is_dir():
            return False
        files = {c.name.lower() for c in _visible(child) if _submission_file(c, names)}
        if files & seen:
            return False
        seen |= files
    return True


def _nothing_reason(folder: Path) -> str:
    """Why a folder holds nothing to grade, with a hint when it holds something close."""
    visible = _visible(folder)
    archives = [c.name for c in visible if c.is_file() and c.name.lower().endswith((".zip", *OTHER_ARCHIVES))]
    if archives:
        return f"it holds {len(archives)} archives ({', '.join(archives[:3])}): keep one .zip per student"
    return NOTHING_TO_GRADE


def _moodle_name(name: str) -> str:
    """A Moodle folder name without its ``_<participant id>_assignsubmission_file_`` suffix."""
    stripped = _MOODLE_SUFFIX.sub("", name)
    return stripped if stripped.strip() else name


def _unique_ids(directory: Path, found: list[Found]) -> tuple[list[Found], list[Skipped]]:
    """Submissions whose student id no other entry shares; the clashing ones, skipped."""
    by_id: dict[str, list[Found]] = {}
    for item in found:
        try:
            key = student_id_from_path(item.name).casefold()
        except IntakeError:        # the batch records this one's failure with its reason
            key = "\0" + str(item.path)
        by_id.setdefault(unicodedata.normalize("NFC", key), []).append(item)
    kept, clashes = [], []
    for key, items in by_id.items():
        if len(items) == 1:
            kept.extend(items)
            continue
        shown = [_relative(directory, i.path) for i in items]
        if len({unicodedata.normalize("NFC", text).casefold() for text in shown}) < len(shown):
            # composed and decomposed spellings, or two cases, look alike: show the code points
            shown = [ascii(text)[1:-1] for text in shown]
        others = ", ".join(shown)
        clashes.extend(Skipped(_relative(directory, i.path),
                               f"{len(items)} entries give one student id ({others}); rename one, or grade "
                               "each section with its own batch") for i in items)
    order = {item.path: n for n, item in enumerate(found)}
    return sorted(kept, key=lambda i: order[i.path]), clashes


def _relative(directory: Path, path: Path) -> str:
    return path.relative_to(directory).as_posix() + ("/" if path.is_dir() else "")
