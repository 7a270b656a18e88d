"""The prose scorer on the blind held-out set, against the acceptance figures of the prose issue.

``tests/prose/heldout/answers.toml`` was written blind (see its README) and is for
reporting only: this script prints aggregate figures and counts, never an answer's id,
text or verdict, so that it cannot be used to tune the scorer. Tune with
``bench/bench_prose.py`` on the calibration set instead. Run from anywhere::

    python bench/bench_prose_heldout.py [--students 500]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # runnable from a source checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_prose import headline, load_calibration  # noqa: E402
from grader.core.bank import default_bank  # noqa: E402
from grader.prose.agreement import agreement  # noqa: E402
from grader.prose.scoring import score_answer  # noqa: E402

HELDOUT = ROOT / "tests" / "prose" / "heldout" / "answers.toml"
# Answers that must never be auto-accepted above 0.25, and those never auto-accepted below 0.75.
GAMED = ("keyword_stuffed", "negated", "wrong", "wrong_pairing")
CORRECT = ("right_textbook", "right_own_words", "misspelled")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=500, help="class size for the timing")
    parser.add_argument("--set", type=Path, default=HELDOUT,
                        help="another blind set to measure the same way (default: the held-out set)")
    args = parser.parse_args(argv)

    bank = default_bank()
    answers = load_calibration(args.set)
    rows = [(answer, score_answer(bank.question(answer["question"]), answer["text"])) for answer in answers]
    figures = agreement([r["label"] for r, _ in rows], [s.fraction for _, s in rows], [s.needs_review for _, s in rows])

    print(f"Prose scorer on the held-out set ({len(rows)} answers, written blind; never tuned on)")
    print(f"  {headline(rows)}")
    per_question = []
    for question in bank.questions:
        sub = [(r, s) for r, s in rows if r["question"] == question.id]
        if sub:
            qwk = agreement([r["label"] for r, _ in sub], [s.fraction for _, s in sub],
                            [s.needs_review for _, s in sub]).qwk
            per_question.append(f"{question.id} QWK {qwk:.2f}")
    print("  per question: " + ", ".join(per_question))
    # Does the semantic signal help? The same scores routed by the rubric matcher alone.
    alone = agreement([r["label"] for r, _ in rows], [s.fraction for _, s in rows],
                      [bool(s.review_reasons and not all(x.startswith("the rubric and the semantic") for x in
                                                         s.review_reasons)) for _, s in rows])
    print(f"  routed by the rubric matcher alone: auto {alone.auto_share:.0%}, "
          f"auto within 0.25 {alone.auto_within_quarter:.0%} (two signals: auto {figures.auto_share:.0%}, "
          f"auto within 0.25 {figures.auto_within_quarter:.0%})")

    gamed = sum(1 for r, s in rows if r["kind"] in GAMED and r["label"] <= 0.25 and not s.needs_review
                and s.fraction > 0.25 + 1e-9)
    correct = sum(1 for r, s in rows if r["kind"] in CORRECT and r["label"] >= 1.0 and not s.needs_review
                  and s.fraction < 0.75 - 1e-9)
    texts = [(bank.question(r["question"]), r["text"]) for r in answers]
    per_student = len(bank.questions)
    began = time.perf_counter()
    for i in range(args.students * per_student):
        question, text = texts[i % len(texts)]
        score_answer(question, text)
    seconds = time.perf_counter() - began

    checks = [
        ("QWK >= 0.80 on all answers", figures.qwk >= 0.80, f"{figures.qwk:.2f}"),
        ("at least 50 % auto-accepted", figures.auto_share >= 0.50, f"{figures.auto_share:.0%}"),
        ("at least 95 % of those within 0.25", figures.auto_within_quarter >= 0.95,
         f"{figures.auto_within_quarter:.0%}"),
        ("no gamed or wrong answer auto-accepted above 0.25", gamed == 0, f"{gamed} answers"),
        ("no correct answer auto-accepted below 0.75", correct == 0, f"{correct} answers"),
        (f"{args.students} students' answers scored in under 30 s", seconds < 30.0, f"{seconds:.1f} s"),
    ]
    print("\nAcceptance (prose issue)")
    for name, ok, value in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<52} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
