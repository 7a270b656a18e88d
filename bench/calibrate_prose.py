"""Calibrate the prose scorer's routing on the tuning sets, by cross-validation, and print a reliability table.

An answer is auto-accepted only when (``grader/prose/scoring.py``)

* the rubric matcher is sure of it (no review reason of its own);
* its fraction is not partial credit: at most ``PARTIAL_ABOVE`` or at least ``PARTIAL_BELOW``
  (fixed at 0.75, so that no right answer is auto-accepted below it);
* the key points the two signals judge oppositely weigh at most a quarter: a point the rubric
  finds met while the semantic similarity is below ``ABSENT_BELOW``, or missed while it
  reaches ``PRESENT_FROM``.

``FULL_CREDIT_AT`` is the share of the rubric's weight that earns full credit.

This script chooses ``FULL_CREDIT_AT``, ``PARTIAL_ABOVE``, ``ABSENT_BELOW`` and
``PRESENT_FROM`` on the tuning sets only (``tests/data/prose_calibration.toml`` and
``tests/prose/tuning/answers.toml``, ``tests/prose/tuning/adversarial.toml``; never the held-out set). Among the settings that
auto-accept at least ``--min-share`` of the answers, it takes the one that auto-accepts the
fewest gamed answers above 0.25 and right answers below 0.75, then the one whose auto-accepted
answers agree best with the label (within 0.25); ties go to the one that accepts more. It
prints

* a k-fold cross-validation of that choice (chosen on k-1 folds, measured on the fold left
  out), so the figures are for answers the choice never saw;
* a reliability table: how often answers are within 0.25 of their label, by the route they
  take (rubric unsure, partial credit, signals disagreeing, auto-accepted);
* the constants to copy into ``grader/prose/calibration.py``.

Run from anywhere::

    python bench/calibrate_prose.py [--folds 5] [--min-share 0.5]
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
from grader.prose import scoring  # noqa: E402
from grader.prose.agreement import nearest_grade  # noqa: E402
from grader.prose.semantic import semantic_score  # noqa: E402

TUNING = (ROOT / "tests" / "data" / "prose_calibration.toml", ROOT / "tests" / "prose" / "tuning" / "answers.toml",
          ROOT / "tests" / "prose" / "tuning" / "adversarial.toml")
FULL = [1.0, 0.95, 0.9, 0.85, 0.8]
PARTIAL = [0.25, 0.3]
ABSENT = [0.3, 0.4, 0.5]
PRESENT = [0.6, 0.75, 0.85]
GAMED = ("keyword_stuffed", "negated", "wrong", "wrong_pairing")
CORRECT = ("right_textbook", "right_own_words", "right_unusual_words", "misspelled")


def _apply(full: float, partial: float, absent: float, present: float) -> None:
    scoring.FULL_CREDIT_AT, scoring.PARTIAL_ABOVE = full, partial
    scoring.ABSENT_BELOW, scoring.PRESENT_FROM = absent, present


def _verdicts(answers: list[dict]) -> dict[tuple, list[tuple[dict, scoring.ProseScore]]]:
    """Every answer scored and routed under every setting."""
    bank = default_bank()
    semantic: list = []
    verdicts: dict[tuple, list] = {}
    for full, partial in itertools.product(FULL, PARTIAL):
        _apply(full, partial, ABSENT[0], PRESENT[-1])
        rubric = [scoring.rubric_score(bank.question(a["question"]), a["text"]) for a in answers]
        if not semantic:
            semantic = [semantic_score(bank.question(a["question"]), units) for a, (_, units) in zip(answers, rubric)]
        for absent, present in itertools.product(ABSENT, PRESENT):
            _apply(full, partial, absent, present)
            verdicts[(full, partial, absent, present)] = [
                (a, r if "empty" in r.flags else scoring.routed(r, s))
                for a, (r, _), s in zip(answers, rubric, semantic)]
    return verdicts


def _within(row: tuple[dict, scoring.ProseScore]) -> bool:
    answer, score = row
    return abs(nearest_grade(score.fraction) - answer["label"]) <= 0.25 + 1e-9


def _figures(rows: list[tuple[dict, scoring.ProseScore]]) -> tuple[float, float, int, int]:
    """(auto share, auto within 0.25, gamed auto above 0.25, right auto below 0.75)."""
    auto = [row for row in rows if not row[1].needs_review]
    gamed = sum(1 for a, s in auto if a["kind"] in GAMED and a["label"] <= 0.25 and s.fraction > 0.25 + 1e-9)
    right = sum(1 for a, s in auto if a["kind"] in CORRECT and a["label"] >= 1.0 and s.fraction < 0.75 - 1e-9)
    return len(auto) / max(1, len(rows)), sum(map(_within, auto)) / max(1, len(auto)), gamed, right


def _choose(verdicts: dict[tuple, list], keep: set[int], min_share: float) -> tuple:
    """The setting that, on the answers in ``keep``, is most reliable while accepting ``min_share``."""
    scored = []
    for setting, rows in verdicts.items():
        share, within, gamed, right = _figures([row for i, row in enumerate(rows) if i in keep])
        # Integrity first: fewest gamed answers given credit or right ones denied it, then reliability.
        scored.append((share >= min_share, -gamed - right, within, share, setting))
    return max(scored)[-1]


def _route(score: scoring.ProseScore) -> str:
    if "empty" in score.flags:
        return "empty"
    if not score.needs_review:
        return "auto-accepted"
    reasons = score.review_reasons
    if all(r.startswith("partial credit") for r in reasons):
        return "partial credit only"
    if all(r.startswith(("partial credit", "the rubric and the semantic")) for r in reasons):
        return "signals disagree"
    return "rubric unsure or suspicious"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--min-share", type=float, default=0.50, help="the least share to auto-accept")
    args = parser.parse_args(argv)

    answers = [a for path in TUNING if path.exists() for a in load_calibration(path)]
    print(f"Tuning sets: {len(answers)} answers ({', '.join(p.name for p in TUNING if p.exists())})")
    verdicts = _verdicts(answers)
    order = list(range(len(answers)))
    random.Random(7).shuffle(order)
    folds = [set(order[i::args.folds]) for i in range(args.folds)]
    tested: list[tuple[dict, scoring.ProseScore]] = []
    print(f"\n{args.folds}-fold cross-validation (chosen on the other folds, measured on the fold)")
    for k, fold in enumerate(folds):
        setting = _choose(verdicts, set(range(len(answers))) - fold, args.min_share)
        rows = [row for i, row in enumerate(verdicts[setting]) if i in fold]
        tested.extend(rows)
        share, within, gamed, right = _figures(rows)
        print(f"  fold {k + 1}: full credit at {setting[0]:.2f}, partial above {setting[1]:.2f}, "
              f"absent below {setting[2]:.2f}, present from {setting[3]:.2f}: auto {share:4.0%}, "
              f"within 0.25 {within:4.0%}, gamed {gamed}, right too low {right}")
    share, within, gamed, right = _figures(tested)
    print(f"  overall: auto {share:4.0%}, auto within 0.25 {within:4.0%}, "
          f"gamed auto-accepted above 0.25: {gamed}, right auto-accepted below 0.75: {right}")

    setting = _choose(verdicts, set(range(len(answers))), args.min_share)
    rows = verdicts[setting]
    print("\nReliability table on all tuning answers (setting chosen on all of them)")
    print(f"  {'route':<30} {'n':>4}   within 0.25")
    for route in ("auto-accepted", "partial credit only", "signals disagree", "rubric unsure or suspicious"):
        bucket = [row for row in rows if _route(row[1]) == route]
        print(f"  {route:<30} {len(bucket):4d}   {sum(map(_within, bucket)) / max(1, len(bucket)):4.0%}")
    share, within, gamed, right = _figures(rows)
    print(f"\nChosen on all tuning answers: auto {share:.0%}, auto within 0.25 {within:.0%}")
    print("Copy into grader/prose/calibration.py:")
    print(f"  FULL_CREDIT_AT = {setting[0]:.2f}\n  PARTIAL_ABOVE = {setting[1]:.2f}\n"
          f"  ABSENT_BELOW = {setting[2]:.2f}\n  PRESENT_FROM = {setting[3]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
