"""Calibrate the prose scorer's routing on the tuning sets, by cross-validation, and print a reliability table.

The routing rule auto-accepts an answer only when the rubric matcher is sure
(no review reason of its own) and the key points the two signals judge
oppositely weigh at most ``AGREEMENT_TOLERANCE`` (a quarter). A key point is
judged oppositely when the rubric finds it met and the semantic signal's best
similarity is below ``ABSENT_BELOW``, or the rubric misses it and the
similarity reaches ``PRESENT_FROM``. This script chooses those two
similarities on the tuning sets only
(``tests/data/prose_calibration.toml`` and ``tests/prose/tuning/answers.toml``;
never the held-out set): among the settings whose auto-accepted answers agree
with the label (within 0.25) at least ``--target`` of the time, the one that
auto-accepts most; when no setting reaches the target, the most reliable one
that still auto-accepts ``--min-share``. It reports

* a k-fold cross-validation of that choice (chosen on k-1 folds, measured on
  the fold left out), so the figures are for answers the choice never saw;
* a reliability table: the share of key-point weight the signals disagree on,
  among answers the rubric is sure of, and answers it is not sure of, with the
  share of each bucket within 0.25 of the label;
* the constants to copy into ``grader/prose/calibration.py``.

Run from anywhere::

    python bench/calibrate_prose.py [--folds 5] [--target 0.95]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # runnable from a source checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_prose import load_calibration  # noqa: E402
from grader.core.bank import default_bank  # noqa: E402
from grader.prose.agreement import nearest_grade  # noqa: E402
from grader.prose.calibration import AGREEMENT_TOLERANCE  # noqa: E402
from grader.prose.scoring import disagreement, rubric_score  # noqa: E402
from grader.prose.semantic import semantic_score  # noqa: E402

TUNING = (ROOT / "tests" / "data" / "prose_calibration.toml", ROOT / "tests" / "prose" / "tuning" / "answers.toml")
ABSENT = [round(0.25 + 0.05 * i, 2) for i in range(7)]         # 0.25 .. 0.55
PRESENT = [round(0.60 + 0.05 * i, 2) for i in range(7)]        # 0.60 .. 0.90
BUCKETS = [(0.0, 1e-9), (1e-9, 0.25 + 1e-9), (0.25 + 1e-9, 0.5 + 1e-9), (0.5 + 1e-9, 1.01)]


def _rows() -> list[dict]:
    bank = default_bank()
    rows = []
    for path in TUNING:
        if not path.exists():
            continue
        for answer in load_calibration(path):
            question = bank.question(answer["question"])
            rubric, units = rubric_score(question, answer["text"])
            semantic = semantic_score(question, units)
            rows.append({"label": answer["label"], "rubric": rubric.fraction, "score": rubric,
                         "semantic": semantic, "sure": not rubric.review_reasons and "empty" not in rubric.flags,
                         "empty": "empty" in rubric.flags})
    return rows


def _routed(row: dict, absent_below: float, present_from: float) -> tuple[bool, float]:
    """(auto-accepted, share of key-point weight the signals disagree on) of one row under one setting."""
    if row["empty"]:
        return True, 0.0
    share, _ = disagreement(row["score"], row["semantic"], absent_below, present_from)
    return row["sure"] and share <= AGREEMENT_TOLERANCE, share


def _within(row: dict) -> bool:
    return abs(nearest_grade(row["rubric"]) - row["label"]) <= 0.25 + 1e-9


def _figures(rows: list[dict], setting: tuple[float, float]) -> tuple[float, float]:
    """(auto-accepted share, share of those within 0.25) of ``rows`` under ``setting``."""
    auto = [row for row in rows if _routed(row, *setting)[0]]
    return len(auto) / max(1, len(rows)), sum(_within(r) for r in auto) / max(1, len(auto))


def _choose(rows: list[dict], target: float, min_share: float) -> tuple[float, float]:
    """The setting that auto-accepts most while its auto-accepted answers meet ``target``; when none
    does, the most reliable one that still auto-accepts ``min_share`` (ties: the more answers)."""
    figures = {(a, p): _figures(rows, (a, p)) for a, p in itertools.product(ABSENT, PRESENT)}
    meeting = [(share, a, -p) for (a, p), (share, within) in figures.items() if within >= target]
    if meeting:
        share, a, p = max(meeting)
        return a, -p
    enough = [(within, share, a, -p) for (a, p), (share, within) in figures.items() if share >= min_share]
    _, _, a, p = max(enough) if enough else max((w, s, a, -p) for (a, p), (s, w) in figures.items())
    return a, -p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.95, help="agreement required of auto-accepted answers")
    parser.add_argument("--min-share", type=float, default=0.50,
                        help="when no setting meets the target: the least share to auto-accept")
    args = parser.parse_args(argv)

    rows = _rows()
    print(f"Tuning sets: {len(rows)} answers ({', '.join(p.name for p in TUNING if p.exists())})")
    order = list(range(len(rows)))
    random.Random(7).shuffle(order)
    folds = [order[i::args.folds] for i in range(args.folds)]
    auto_n = auto_ok = 0
    print(f"\n{args.folds}-fold cross-validation (chosen on the other folds, measured on the fold)")
    for k, fold in enumerate(folds):
        train = [rows[i] for i in order if i not in set(fold)]
        test = [rows[i] for i in fold]
        setting = _choose(train, args.target, args.min_share)
        auto = [row for row in test if _routed(row, *setting)[0]]
        auto_n += len(auto)
        auto_ok += sum(_within(r) for r in auto)
        print(f"  fold {k + 1}: absent below {setting[0]:.2f}, present from {setting[1]:.2f}  "
              f"auto {len(auto) / max(1, len(test)):4.0%}  auto within 0.25 "
              f"{sum(_within(r) for r in auto) / max(1, len(auto)):4.0%}")
    print(f"  overall: auto {auto_n / len(rows):4.0%}, auto within 0.25 {auto_ok / max(1, auto_n):4.0%}")

    setting = _choose(rows, args.target, args.min_share)
    print("\nReliability table on all tuning answers (setting chosen on all of them)")
    print("  rubric sure, key-point weight the signals disagree on    n    within 0.25")
    names = ["none", "up to a quarter", "a quarter to a half", "more than a half"]
    for name, (low, high) in zip(names, BUCKETS):
        bucket = [r for r in rows if r["sure"] and low <= _routed(r, *setting)[1] < high]
        share = sum(_within(r) for r in bucket) / max(1, len(bucket))
        print(f"    {name:<51} {len(bucket):4d}    {share:4.0%}")
    unsure = [r for r in rows if not r["sure"] and not r["empty"]]
    print(f"  rubric unsure{'':<44} {len(unsure):4d}    {sum(_within(r) for r in unsure) / max(1, len(unsure)):4.0%}")
    share, within = _figures(rows, setting)
    print(f"\nChosen on all tuning answers: auto {share:.0%}, auto within 0.25 {within:.0%}")
    print("Copy into grader/prose/calibration.py:")
    print(f"  ABSENT_BELOW = {setting[0]:.2f}\n  PRESENT_FROM = {setting[1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
