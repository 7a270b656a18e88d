"""What intake refused, told as refused: a file the student sent is never called "missing".

A file that intake read but would not keep (too large, not a regular file, unsafe, damaged) is
a :class:`Refusal`; "missing" means the file is not in the submission at all. Refusals are
stored with the submission (:meth:`grader.grading.intake.SubmissionStore.store`) and every place
that would say "missing" asks :func:`refusal_for` first: a task's result
(:func:`grader.grading.checking.check_task`), the answers' results and the warnings ``grader
submit`` and ``grader check`` print, one line per refused file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

SIZE, TYPE, SAFETY, CORRUPT = "size", "type", "safety", "corrupt"

# kind -> (what the student reads in brackets, what to do about it)
_KINDS: dict[str, tuple[str, str]] = {
    SIZE: ("too large", "make the file smaller, or ask your instructor to raise the course's per-file limit"),
    TYPE: ("not a file the grader can take", "submit the file itself: a regular, unencrypted file"),
    SAFETY: ("unsafe", "put the file itself in your folder under a plain name, then zip the folder again"),
    CORRUPT: ("damaged or unreadable", "save the file again, then zip the folder again"),
}
KINDS = tuple(_KINDS)


@dataclass(frozen=True)
class Refusal:
    """One file intake read but did not keep.

    ``name`` is its path as submitted (less the one top folder every file shares, as for the
    files kept); ``kind`` is one of :data:`KINDS`; ``reason`` is one line without the name. A
    size refusal also has ``size`` and ``limit`` in bytes (``size`` is a lower bound when
    reading stopped at the limit). ``advice`` replaces the kind's advice when that would
    not help (no course setting raises the size allowed for ``answers.md``).
    """

    name: str
    kind: str
    reason: str
    size: int | None = None
    limit: int | None = None
    advice: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown refusal kind {self.kind!r} (expected one of: {', '.join(KINDS)})")

    @property
    def message(self) -> str:
        """What a student reads: the file, that it was refused and why, and what to do."""
        label, advice = _KINDS[self.kind]
        shown = self.name if self.name.isprintable() else repr(self.name)
        return f"{shown} was refused ({label}): {self.reason}; {self.advice or advice}"

    def to_dict(self) -> dict[str, Any]:
        """The fields; ``advice`` only when it is set, so refusals stored before it existed read the same."""
        data = asdict(self)
        if data["advice"] is None:
            del data["advice"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Refusal:
        """The refusal ``to_dict`` wrote; ValueError for any other shape."""
        try:
            name, kind, reason = data["name"], data["kind"], data["reason"]
            size, limit, advice = data.get("size"), data.get("limit"), data.get("advice")
        except (KeyError, TypeError):
            raise ValueError(f"not a refusal: {data!r:.200}") from None
        if not (isinstance(name, str) and isinstance(reason, str) and (advice is None or isinstance(advice, str))
                and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (size, limit))):
            raise ValueError(f"not a refusal: {data!r:.200}")
        return cls(name, kind, reason, size, limit, advice)


def refusal_for(refused: Iterable[Refusal], names: Iterable[str]) -> Refusal | None:
    """The refusal of the first of ``names`` that was refused, or None when none was."""
    by_name = {refusal.name: refusal for refusal in refused}
    return next((by_name[name] for name in names if name in by_name), None)


def refused_note(refused: Iterable[Refusal]) -> str:
    """One short line for a batch's progress ("2 files refused: q8_video_classifier.keras (too large), ..."), or ''."""
    items = [f"{r.name if r.name.isprintable() else repr(r.name)} ({_KINDS[r.kind][0]})" for r in refused]
    return f"{len(items)} file(s) refused: {', '.join(items)}" if items else ""
