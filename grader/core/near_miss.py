"""A submitted file that is probably the one a task expects under another name ("Answers.MD")."""

from __future__ import annotations

from pathlib import Path

# A submission folder is small; looking at more entries than this would only cost time.
MAX_ENTRIES = 500


def near_miss(folder: Path, expected: str) -> str | None:
    """The path (relative to ``folder``) of a file that is probably ``expected``: the same name in
    another case or in an inner folder, else the same stem with another suffix; None if none."""
    try:
        files = [p for _, p in zip(range(MAX_ENTRIES), folder.rglob("*")) if p.is_file() and not p.is_symlink()]
    except OSError:
        return None
    wanted, stem = expected.lower(), Path(expected).stem.lower()
    for rule in (lambda p: p.name.lower() == wanted, lambda p: p.stem.lower() == stem):
        for path in files:
            relative = path.relative_to(folder).as_posix()
            if relative != expected and rule(path):
                return relative
    return None


def missing_hint(folder: Path, expected: str) -> str:
    """'' or a clause for a "missing" message: "; found 'Answers.MD': name it 'answers.md'"."""
    found = near_miss(folder, expected)
    return f"; found {found!r}: name it {expected!r} at the top of the submission" if found else ""
