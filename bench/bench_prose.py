"""Measure the prose scorer against the hand-labelled calibration set.

Scores every answer of ``tests/data/prose_calibration.toml`` with its
question's rubric, maps each fraction to the nearest of 0/0.25/0.5/0.75/1 and
prints: quadratic weighted kappa, mean absolute error, the share within 0.25
of the label, the auto-accepted share and, among auto-accepted answers, the
share within 0.25; then per question, per kind, the worst disagreements and
the same headline numbers for the tune half (odd-numbered answers of each
question) and the check half (even-numbered). Run from anywhere::

    python bench/bench_prose.py [--calibration PATH] [--worst 12] [--verbose]
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # runnable from a source checkout

from grader.core.bank import default_bank  # noqa: E402
from grader.prose.agreement import agreement, nearest_grade  # noqa: E402
from grader.prose.scoring import ProseScore, score_answer  # noqa: E402

CALIBRATION = ROOT / "tests" / "data" / "prose_calibration.toml"
# Kinds an instructor must never see auto-graded as full marks.
GUARDED_KINDS = ("keyword_stuffed", "negated")


def load_calibration(path: Path) -> list[dict]:
    """The labelled answers, each with ``half``: ``tune`` (odd position in its question) or ``check``."""
    answers = tomllib.loads(path.read_text(encoding="utf-8"))["answers"]
    seen: dict[str, int] = defaultdict(int)
    for answer in answers:
        seen[answer["question"]] += 1
        answer["half"] = "tune" if seen[answer["question"]] % 2 else "check"
    return answers


def headline(rows: list[tuple[dict, ProseScore]]) -> str:
    a = agreement([r["label"] for r, _ in rows], [s.fraction for _, s in rows], [s.needs_review for _, s in rows])
    return (f"n={a.n:3d}  QWK {a.qwk:5.2f}  MAE {a.mae:4.2f}  within 0.25 {a.within_quarter:4.0%}  "
            f"auto {a.auto_share:4.0%}  auto within 0.25 {a.auto_within_quarter:4.0%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calibration", type=Path, default=CALIBRATION)
    parser.add_argument("--worst", type=int, default=12, help="how many disagreements to list")
    parser.add_argument("--verbose", action="store_true", help="print every answer's verdict")
    args = parser.parse_args(argv)

    bank = default_bank()
    rows = [(answer, score_answer(bank.question(answer["question"]), answer["text"]))
            for answer in load_calibration(args.calibration)]

    print(f"Prose scorer vs {args.calibration.name}")
    print(f"  all     {headline(rows)}")
    for half in ("tune", "check"):
        print(f"  {half:<7} {headline([(r, s) for r, s in rows if r['half'] == half])}")

    print("\nPer question")
    for question in bank.questions:
        subset = [(r, s) for r, s in rows if r["question"] == question.id]
        print(f"  {question.id:<7} {headline(subset)}")

    print("\nPer kind")
    for kind in sorted({r["kind"] for r, _ in rows}):
        subset = [(r, s) for r, s in rows if r["kind"] == kind]
        errors = [abs(nearest_grade(s.fraction) - r["label"]) for r, s in subset]
        auto = [s for _, s in subset if not s.needs_review]
        print(f"  {kind:<20} n={len(subset):2d}  MAE {sum(errors) / len(errors):4.2f}  "
              f"mean label {sum(r['label'] for r, _ in subset) / len(subset):4.2f}  "
              f"mean score {sum(nearest_grade(s.fraction) for _, s in subset) / len(subset):4.2f}  "
              f"auto {len(auto) / len(subset):4.0%}")

    guarded = [(r, s) for r, s in rows if r["kind"] in GUARDED_KINDS and s.fraction >= 0.999 and not s.needs_review]
    print(f"\nKeyword-stuffed or negated answers given full credit automatically: {len(guarded)}"
          + "".join(f"\n  {r['id']}" for r, _ in guarded))

    print("\nWorst disagreements (label -> score; * = auto-accepted)")
    ranked = sorted(rows, key=lambda rs: (-abs(nearest_grade(rs[1].fraction) - rs[0]["label"]),
                                          rs[1].needs_review, rs[0]["id"]))
    for r, s in ranked[:args.worst]:
        gap = abs(nearest_grade(s.fraction) - r["label"])
        if gap == 0:
            break
        mark = " " if s.needs_review else "*"
        print(f" {mark}{r['id']:<34} {r['half']:<5} {r['label']:4.2f} -> {s.fraction:4.2f}  {s.summary(with_review=True)}")

    if args.verbose:
        print("\nEvery answer")
        for r, s in rows:
            mark = " " if s.needs_review else "*"
            print(f" {mark}{r['id']:<34} {r['half']:<5} {r['label']:4.2f} -> {s.fraction:4.2f}  {s.summary(with_review=True)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
