"""Grade exports: one CSV for the class, Gradescope ``results.json`` per submission.

Both read a :class:`~grader.core.records.ClassSnapshot` of the gradebook and
its effective scores (a manual override wins over the auto score). The
Gradescope shape follows its autograder specification: a top-level ``score``,
``execution_time``, ``output`` and a ``tests`` list of ``name``, ``number``,
``score``, ``max_score``, ``status`` (passed / failed), ``output`` and
``visibility``; hidden checks are ``after_published``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from grader.core.bank import Bank
from grader.core.identity import file_stem
from grader.core.records import ClassSnapshot


def csv_rows(snapshot: ClassSnapshot, bank: Bank) -> tuple[list[str], list[list[Any]]]:
    """Header and one row per student: id, per-question scores, total, max."""
    questions = [q.id for q in bank.questions]
    header = ["student_id"] + questions + ["total", "max"]
    rows = []
    for summary in snapshot.summaries:
        per_question = summary.get("questions", {})
        row: list[Any] = [summary["student_id"]]
        for qid in questions:
            score = per_question.get(qid, {}).get("score")
            row.append("" if score is None else round(score, 2))
        row += [round(summary.get("score", 0.0), 2), round(bank.points, 2)]
        rows.append(row)
    return header, rows


def export_csv(snapshot: ClassSnapshot, bank: Bank) -> str:
    """The class as CSV text: :func:`csv_rows` with its header."""
    header, rows = csv_rows(snapshot, bank)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def gradescope_results(rows: list[dict[str, Any]], bank: Bank, *, execution_time: float = 0.0,
                       output: str = "") -> dict[str, Any]:
    """Gradescope's results.json for one submission's current result rows.

    ``rows`` are result dicts (:mod:`grader.core.records`) or ``CheckResult.to_dict()``;
    their ``score`` is the effective score.
    """
    order = bank.task_order()
    tests = []
    counters: dict[int, int] = {}
    for row in sorted(rows, key=lambda r: (order.get(r["task"], (99, 99)), r.get("id", 0))):
        question = order.get(row["task"], (0, 0))[0]
        counters[question] = counters.get(question, 0) + 1
        score = float(row["score"])
        max_score = float(row["max_score"])
        text = row.get("output") or ""
        if row.get("overridden"):
            text = (text + "\n" if text else "") + "Score set by an instructor."
        tests.append({
            "name": f"{row['task']}: {row['check']}",
            "number": f"{question}.{counters[question]}",
            "score": round(score, 4),
            "max_score": round(max_score, 4),
            "status": "passed" if row["status"] == "passed" else "failed",
            "output": text,
            "visibility": "after_published" if row.get("visibility") == "hidden" else "visible",
        })
    return {
        "score": round(sum(t["score"] for t in tests), 4),
        "execution_time": round(float(execution_time), 3),
        "output": output,
        "tests": tests,
    }


def export_gradescope(snapshot: ClassSnapshot, bank: Bank, out_dir: Path) -> list[Path]:
    """Write ``<out_dir>/<file stem>/results.json`` for every student's latest graded submission.

    The folder is :func:`grader.core.identity.file_stem` of the id, never the raw id.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for summary in snapshot.summaries:
        student, submission = summary["student_id"], summary["submission_id"]
        rows = snapshot.results.get(student, [])
        if submission is None or not rows:
            continue
        results = gradescope_results(rows, bank, output=f"Graded submission {submission} of {student}.")
        target = out_dir / file_stem(student) / "results.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(results, indent=2), encoding="utf-8")
        written.append(target)
    return written
