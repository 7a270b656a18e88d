"""The student's self-check: the visible checks of one submission, nothing written anywhere.

The submission (a folder or a .zip) is read through the intake's safe reader
and copied into a private temporary folder; the checks run on that copy.
Hidden checks (forecast accuracy on held-out data) and prose scores are never
run or revealed here: the self-check only confirms that every answers.md
section is present and non-empty. The probes share the submission's time budget
(``[limits] submission_seconds``), and files are taken up to ``[limits] file_mb``, as in
grading; each file intake refuses is reported at once, before any check runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from grader.core.bank import Bank
from grader.grading.budget import Budget
from grader.grading.checking import check_submission, inspection_limits
from grader.grading.refusals import Refusal, refusal_for
from grader.sandbox.prober import SandboxProber
from grader.core.course import Course
from grader.grading.intake import IntakeLimits, read_submission
from grader.core.results import total


def materialize_files(files: dict[str, bytes], dest: Path) -> Path:
    """Write intake-validated relative paths under ``dest``."""
    for name, data in files.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


def answers_notes(folder: Path, bank: Bank, refused: Iterable[Refusal] = ()) -> list[str]:
    """One line per answers.md problem: missing (or refused) file, or missing / empty sections."""
    from grader.prose.answers import read_answers, section_status

    path = folder / "answers.md"
    if not path.exists():
        refusal = refusal_for(refused, ["answers.md"])
        if refusal is not None:
            return [refusal.message]
        return ["answers.md is missing: add your prose answers with one section per question ('## Q1' ... '## Q8')"]
    try:
        parsed = read_answers(path)
    except ValueError as exc:
        return [str(exc)]
    notes = [parsed.encoding_note] if parsed.encoding_note else []
    for qid, status in section_status(parsed).items():
        if status == "missing":
            notes.append(f"answers.md has no section for {qid} (expected a heading '## {qid}')")
        elif status == "empty":
            notes.append(f"answers.md: the section for {qid} is empty")
    return notes


def run_self_check(submission: Path, bank: Bank, course: Course, *, probes: bool = True,
                   tasks: list[str] | None = None, warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Visible check results of ``submission`` as ``{"tests": [...], "score", "max_score", "notes", "refused"}``.

    ``warn`` is called with each refused file's message as soon as intake has read the
    submission; ``refused`` lists the same refusals (``Refusal.to_dict()`` plus ``message``).
    """
    intake = read_submission(submission, limits=IntakeLimits.from_course(course.limits))
    for refusal in intake.refused:
        if warn is not None:
            warn(refusal.message)
    limits = inspection_limits(course.limits)
    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        folder = materialize_files(intake.files, Path(tmp))
        notes = answers_notes(folder, bank, intake.refused)
        if probes:
            with SandboxProber(course.limits) as prober:
                checked = check_submission(folder, bank, prober=prober, tasks=tasks, budget=Budget.start(course.limits),
                                           limits=limits, refused=intake.refused)
        else:
            checked = check_submission(folder, bank, tasks=tasks, limits=limits, refused=intake.refused)
    score, max_score = total(checked.results)
    return {
        "tests": [result.to_dict(public=True) for result in checked.results],
        "score": score,
        "max_score": max_score,
        "notes": notes,
        "refused": [{**refusal.to_dict(), "message": refusal.message} for refusal in intake.refused],
        "complete": False,
    }
