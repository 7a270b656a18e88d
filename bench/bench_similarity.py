"""``grader similarity`` against the labelled corpus of tests/similarity/, and at the scale of a large course.

1. Generates the labelled corpus (``tests/similarity/make_corpus.py``: honest students,
   copy variants, a textbook-seeded pair, a starter template), stores every student in a
   fresh course, registers ``known/`` and ``starter/``, runs the detector at its default
   thresholds and prints precision and recall for each kind of copy, whether each
   public-source student was reported as such (and not as a pair), and the kernel
   correlations of honest pairs (the baseline the "same origin" threshold sits far above).
2. With ``--students N`` (e.g. 500), times the detector on N generated students.

Run from anywhere::

    python bench/bench_similarity.py [--students 500]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # runnable from a source checkout
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from grader.core.bank import default_bank  # noqa: E402
from grader.core.course import init_course  # noqa: E402
from grader.grading.grader import Grader  # noqa: E402
from grader.grading.similarity import find_shared_work  # noqa: E402
from grader.store.gradebook import Gradebook  # noqa: E402

ARTIFACTS = {"model": "model", "q6": "code", "prose": "prose"}


def course_with(corpus: Path, folder: Path):
    """A course holding every student of ``corpus`` as a stored submission, with its known/ and starter/."""
    course = init_course(folder)
    for extra in ("known", "starter"):
        if (corpus / extra).is_dir():
            shutil.copytree(corpus / extra, course.root / extra)
    bank = default_bank()
    with Gradebook(course.db_url) as gradebook:
        grader = Grader(course, bank, gradebook, isolation="auto")
        for student in sorted((corpus / "class").iterdir()):
            grader.submit(student, student.name)
    return course


def detect(course):
    with Gradebook(course.db_url) as gradebook:
        return find_shared_work(course, default_bank(), gradebook)


def _key(a: str, b: str, artifact: str, task: str | None) -> tuple:
    return (min(a, b), max(a, b), artifact, task)


def score(report, labels: dict) -> None:
    found = {_key(f.a, f.b, f.artifact, f.task) for f in report.pairs}
    found_loose = {(k[0], k[1], k[2]) for k in found}
    wanted: dict[str, list[tuple]] = defaultdict(list)
    for pair in labels["pairs"]:
        wanted[pair["kind"]].append(_key(pair["a"], pair["b"], ARTIFACTS.get(pair["artifact"], pair["artifact"]),
                                         pair.get("task")))
    labelled_loose = {(k[0], k[1], k[2]) for keys in wanted.values() for k in keys}
    print(f"{'kind':<18} {'labelled':>8} {'found':>6} {'recall':>7}")
    for kind, keys in sorted(wanted.items()):
        hit = sum(1 for k in keys if (k in found if k[3] else (k[0], k[1], k[2]) in found_loose))
        print(f"{kind:<18} {len(keys):>8} {hit:>6} {hit / len(keys):>7.0%}")
    false = sorted(k for k in found if (k[0], k[1], k[2]) not in labelled_loose)
    for artifact in ("model", "code", "prose"):
        flagged = [k for k in found if k[2] == artifact]
        wrong = [k for k in false if k[2] == artifact]
        print(f"{artifact:<6} flagged {len(flagged):>5}, not labelled as copies {len(wrong):>5}: "
              f"precision {1 - len(wrong) / len(flagged) if flagged else 1.0:.0%}")
    print(f"all    flagged {len(found):>5}, not labelled as copies {len(false):>5}: "
          f"precision {1 - len(false) / len(found) if found else 1.0:.0%}")
    for k in false[:10]:
        print(f"  unexpected: {k}")
    public_students = {(m.student, m.source) for m in report.public}
    for entry in labels.get("public_source", []):
        ok = (entry["student"], entry["source"]) in public_students
        print(f"public source {entry['student']} <- {entry['source']} ({entry.get('artifact', 'any')}): "
              f"{'reported' if ok else 'MISSED'}")
    seeded = sorted({e["student"] for e in labels.get("public_source", [])})
    paired = [k for k in found if k[0] in seeded and k[1] in seeded]
    print(f"public-source students reported as a pair: {len(paired)}")


def honest_baseline(course, labels: dict) -> None:
    """The kernel correlations between honest students' models: the baseline "same origin" sits far above."""
    from itertools import combinations

    from grader.similarity.models import SAME_ORIGIN, compare_models
    from grader.grading.similarity import read_work

    honest = set(labels.get("honest", []))
    with Gradebook(course.db_url) as gradebook:
        students, _ = read_work(course, default_bank(), gradebook)
    work = [w for w in students if w.owner in honest]
    values = [abs(c) for a, b in combinations(work, 2) for task in set(a.models) & set(b.models)
              for c in compare_models(a.models[task], b.models[task]).correlations]
    if values:
        values.sort()
        print(f"honest pairs' kernel correlations: {len(values)} kernels, median |r| {values[len(values) // 2]:.3f}, "
              f"max |r| {values[-1]:.3f} (same origin at r >= {SAME_ORIGIN})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=None, help="also time the detector on N generated students")
    args = parser.parse_args(argv)
    from tests.similarity.make_corpus import make_corpus

    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        tmp_path = Path(tmp)
        began = time.perf_counter()
        labels = make_corpus(tmp_path / "corpus")
        if not labels:
            labels = json.loads((tmp_path / "corpus" / "labels.json").read_text())
        made = time.perf_counter() - began
        course = course_with(tmp_path / "corpus", tmp_path / "course")
        report = detect(course)
        print(f"labelled corpus: {report.students} students (generated in {made:.0f} s), {report.method}, "
              f"detector {report.seconds:.1f} s")
        score(report, labels)
        honest_baseline(course, labels)
        if args.students:
            make_corpus(tmp_path / "large", students=args.students)
            large = course_with(tmp_path / "large", tmp_path / "large-course")
            began = time.perf_counter()
            report = detect(large)
            print(f"\n{report.students} students: {time.perf_counter() - began:.1f} s ({report.method}; "
                  f"goal: under 60 s on 2 cores), {len(report.pairs)} pairs flagged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
