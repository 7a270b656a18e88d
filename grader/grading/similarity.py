"""``grader similarity``: which students' models, q6 code or prose came from one source.

Reads every student's latest stored submission, and the public sources the instructor
registers: the course's reference models, and ``<course>/known/<name>/`` folders laid out
like a submission (e.g. what the textbook's seeded notebook produces). Template files in
``<course>/starter/`` (a ``q6_lstm_cell.py`` skeleton, an ``answers.md`` outline) never
count as shared. Then, per artifact:

- models (:mod:`grader.similarity.models`): the weights of each model task, read in a
  sandboxed worker (libhdf5 never parses a student's file here), compared name-free;
- ``q6_lstm_cell.py`` (:mod:`grader.similarity.code`): winnowed fingerprints of
  normalised tokens, as MOSS does;
- prose (:mod:`grader.similarity.prose`): shared word n-grams per answer, the question,
  reference answer and rubric wording excluded.

A student who matches a public source is reported as such, and two students who match
the same public source for the same artifact are not reported as a pair. Pairs are
grouped into clusters. Nothing here changes a score: the findings are for a person.
Classes up to ``LSH_FROM`` students compare all pairs; larger ones compare only the
candidate pairs MinHash/LSH proposes (:mod:`grader.similarity.lsh`).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Iterable, Mapping

from grader.core.bank import Bank
from grader.core.course import Course
from grader.core.groups import linked_groups
from grader.similarity.models import ModelPrint, compare_models

KNOWN = "known"
STARTER = "starter"
# MinHash/LSH thresholds (estimated Jaccard) for proposing a pair in a large class: below each flag
# rule's own bar, so LSH only narrows the comparisons and the rules decide.
MODEL_LSH_THRESHOLD = 0.3
CODE_LSH_THRESHOLD = 0.3
PROSE_LSH_THRESHOLD = 0.1
REFERENCE_SOURCE = "reference"
CODE_FILE = "q6_lstm_cell.py"
ANSWERS_FILE = "answers.md"
MAX_TEXT = 200_000


@dataclass(frozen=True)
class Work:
    """One owner's artifacts: a student's latest submission, or a public source."""

    owner: str
    public: bool
    models: dict[str, ModelPrint] = field(default_factory=dict)
    code: Any = None                          # grader.similarity.code fingerprints of q6
    code_text: str = ""
    prose: dict[str, str] = field(default_factory=dict)      # question id -> answer text
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """Two students share ``artifact`` (``task``: a model task, "q6_lstm_cell" or a question id)."""

    a: str
    b: str
    artifact: str            # "model", "code" or "prose"
    task: str
    kind: str                # "same weights", "same origin", "partial copy", "shared code", "shared prose"
    strength: float          # 0..1, for ranking
    evidence: dict[str, Any]


@dataclass(frozen=True)
class PublicMatch:
    """A student's ``artifact`` comes from the public ``source``: reported, not as copying from a classmate."""

    student: str
    source: str
    artifact: str
    task: str
    kind: str
    strength: float
    evidence: dict[str, Any]


@dataclass
class SimilarityReport:
    students: int
    method: str                              # "all pairs" or "MinHash/LSH candidates"
    pairs: list[Finding]
    public: list[PublicMatch]
    clusters: list[list[str]]
    problems: list[str]
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"students": self.students, "method": self.method, "seconds": round(self.seconds, 2),
                "pairs": [asdict(f) for f in self.pairs], "public": [asdict(m) for m in self.public],
                "clusters": self.clusters, "problems": self.problems}


def find_shared_work(course: Course, bank: Bank, gradebook: Any) -> SimilarityReport:
    """Compare every student's latest submission with every other's and with the public sources."""
    started = time.perf_counter()
    students, sources = read_work(course, bank, gradebook)
    report = compare_work(students, sources, excluded_prose(bank, _starter(course)))
    report.seconds = time.perf_counter() - started
    return report


def read_work(course: Course, bank: Bank, gradebook: Any) -> tuple[list[Work], list[Work]]:
    """Every student's latest work, and the public sources' (model weights read in a sandboxed worker)."""
    from grader.sandbox.headers import SandboxHeaderReader
    from grader.sandbox.limits import Limits

    starter = _starter(course)
    # As for the static checks: the strongest isolation this machine has (h5py reads data, no student code runs).
    with SandboxHeaderReader(Limits.from_course(course.limits, "plain", isolation="auto")) as reader:
        seen: dict[str, ModelPrint | str] = {}
        students = [_work(student, files, False, bank, course, reader, starter, seen)
                    for student, files in _latest_files(course, gradebook)]
        sources = [_work(name, files, True, bank, course, reader, starter, seen)
                   for name, files in _public_files(course)]
    return students, sources


def compare_work(students: list[Work], sources: list[Work], excluded: Mapping[str, frozenset]) -> SimilarityReport:
    """The findings among ``students`` and between them and ``sources`` (see the module docstring)."""
    from grader.similarity import lsh

    owners = {w.owner: w for w in students}
    if len(students) <= lsh.LSH_FROM:
        method, candidates = "all pairs", set(combinations(sorted(owners), 2))
    else:
        method, candidates = "MinHash/LSH candidates", _candidates(students, excluded)
    public = [m for work in students for source in sources for m in _public_matches(work, source, excluded)]
    origin = defaultdict(set)          # (student, artifact, task) -> the public sources it matches
    for m in public:
        origin[(m.student, m.artifact, m.task)].add(m.source)
    pairs = []
    for a, b in sorted(candidates):
        for finding in _compare(owners[a], owners[b], excluded):
            if origin[(a, finding.artifact, finding.task)] & origin[(b, finding.artifact, finding.task)]:
                continue       # both took it from the same public source: not from each other
            pairs.append(finding)
    pairs.sort(key=lambda f: (-f.strength, f.a, f.b, f.task))
    problems = [f"{w.owner}: {p}" for w in students + sources for p in w.problems]
    return SimilarityReport(len(students), method, pairs, sorted(public, key=lambda m: (m.student, m.task)),
                            clusters(pairs), problems)


def clusters(pairs: Iterable[Finding]) -> list[list[str]]:
    """Groups of students linked by at least one finding (two or more each), largest first."""
    return linked_groups((finding.a, finding.b) for finding in pairs)


# -- reading the work

def _latest_files(course: Course, gradebook: Any) -> Iterable[tuple[str, dict[str, bytes]]]:
    from grader.grading.intake import SubmissionStore

    store = SubmissionStore(course.submissions_dir)
    for student in gradebook.students():
        submission = gradebook.latest_submission(student.id)
        if submission is None or not submission.store_path:    # unreadable: nothing was stored
            continue
        yield student.id, store.read(store.load_manifest(submission.content_hash))


def _public_files(course: Course) -> Iterable[tuple[str, dict[str, bytes]]]:
    """The reference models (and q6), and each ``known/<name>/`` folder read like a submission."""
    from grader.grading.intake import IntakeLimits, read_submission

    reference = {path.name: path.read_bytes() for path in sorted(course.reference_dir.glob("*"))
                 if path.suffix in (".keras", ".py") and path.is_file()}
    if reference:
        yield REFERENCE_SOURCE, reference
    known = course.root / KNOWN
    if known.is_dir():
        for folder in sorted(p for p in known.iterdir() if p.is_dir() and not p.name.startswith(".")):
            yield folder.name, dict(read_submission(folder, limits=IntakeLimits.from_course(course.limits)).files)


def _starter(course: Course) -> dict[str, str]:
    """The instructor's templates: file name -> text (``starter/q6_lstm_cell.py``, ``starter/answers.md``)."""
    folder = course.root / STARTER
    return {name: (folder / name).read_text(encoding="utf-8", errors="replace")[:MAX_TEXT]
            for name in (CODE_FILE, ANSWERS_FILE) if (folder / name).is_file()}


def _work(owner: str, files: Mapping[str, bytes], public: bool, bank: Bank, course: Course, reader: Any,
          starter: Mapping[str, str], seen: dict[str, ModelPrint | str]) -> Work:
    from grader.prose.answers import parse_answers
    from grader.similarity.code import fingerprint_code, template_hashes

    models, problems = _model_prints(files, bank, course, reader, seen)
    code_text = files[CODE_FILE].decode("utf-8", errors="replace")[:MAX_TEXT] if CODE_FILE in files else ""
    template = template_hashes(starter[CODE_FILE]) if starter.get(CODE_FILE) else frozenset()
    code = fingerprint_code(code_text, exclude=template) if code_text else None
    prose = {}
    if ANSWERS_FILE in files:
        parsed = parse_answers(files[ANSWERS_FILE].decode("utf-8", errors="replace")[:MAX_TEXT])
        prose = {q.id: parsed.answer(q.id) for q in bank.questions if parsed.answer(q.id).strip()}
    return Work(owner, public, models, code, code_text, prose, tuple(problems))


def _model_prints(files: Mapping[str, bytes], bank: Bank, course: Course, reader: Any,
                  seen: dict[str, ModelPrint | str]) -> tuple[dict[str, ModelPrint], list[str]]:
    """Task id -> the weights of that model file (one sandbox round trip for all of them); problems.

    ``seen`` maps a file's SHA-256 to what was read of it in this check, so a file many
    students hand in (the reference, a copy) is read once."""
    from grader.grading.checking import inspection_limits
    from grader.static.archive import copy_weights_file
    from grader.static.errors import InspectionError

    limits = inspection_limits(course.limits)
    prints: dict[str, ModelPrint] = {}
    problems: list[str] = []
    wanted: dict[str, Path] = {}
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="grader-similarity-") as tmp:
        for task in (t for t in bank.tasks if t.is_model):
            name = next((f"{task.id}{s}" for s in (".keras", ".h5", ".hdf5") if f"{task.id}{s}" in files), None)
            if name is None:
                continue
            digest = hashlib.sha256(files[name]).hexdigest()
            cached = seen.get(digest)
            if cached is not None:
                if isinstance(cached, ModelPrint):
                    prints[task.id] = cached
                continue
            path = Path(tmp) / name
            path.write_bytes(files[name])
            try:
                wanted[task.id] = copy_weights_file(path, limits, Path(tmp) / f"{task.id}.weights.h5") \
                    if name.endswith(".keras") else path
            except InspectionError as exc:
                problems.append(f"{name}: {exc}")
                continue
            digests[task.id] = digest
        replies = reader.weights(wanted, limits) if wanted else {}
    for task, reply in replies.items():
        value: ModelPrint | str = reply if isinstance(reply, str) else ModelPrint.from_reply(reply)
        seen[digests[task]] = value
        if isinstance(value, str):
            problems.append(f"{task}: {value}")
        else:
            prints[task] = value
    return prints, problems


def excluded_prose(bank: Bank, starter: Mapping[str, str]) -> dict[str, frozenset]:
    """Question id -> the n-grams no finding may rest on: prompt, reference answer, rubric wording, template."""
    from grader.similarity.prose import excluded_ngrams

    template = starter.get(ANSWERS_FILE, "")
    out = {}
    for question in bank.questions:
        rubric = [item.text for item in (*question.key_points, *question.contradictions)]
        rubric += [example for item in (*question.key_points, *question.contradictions) for example in item.examples]
        out[question.id] = frozenset(excluded_ngrams([question.prompt, question.answer, *rubric, template]))
    return out


# -- comparing

def _compare(a: Work, b: Work, excluded: Mapping[str, frozenset]) -> list[Finding]:
    from grader.similarity.code import compare_code
    from grader.similarity.prose import compare_prose

    found = []
    for task in sorted(set(a.models) & set(b.models)):
        match = compare_models(a.models[task], b.models[task])
        if match.kind:
            found.append(Finding(a.owner, b.owner, "model", task, match.kind, match.strength, asdict(match)))
    if a.code is not None and b.code is not None:
        match = compare_code(a.code, b.code)
        if match.flagged:
            found.append(Finding(a.owner, b.owner, "code", "q6_lstm_cell", "shared code", match.similarity, {
                "shared": match.shared, "similarity": match.similarity, "jaccard": match.jaccard,
                "passages_a": _lines(a.code_text, match.passages_a), "passages_b": _lines(b.code_text, match.passages_b)}))
    for qid in sorted(set(a.prose) & set(b.prose)):
        match = compare_prose(a.prose[qid], b.prose[qid], exclude=excluded.get(qid, frozenset()))
        if match.flagged:
            found.append(Finding(a.owner, b.owner, "prose", qid, "shared prose", match.containment, {
                "shared": match.shared, "containment": match.containment, "jaccard": match.jaccard,
                "text_a": a.prose[qid], "text_b": b.prose[qid],
                "passages_a": [list(span) for span in match.passages_a],
                "passages_b": [list(span) for span in match.passages_b]}))
    return found


def _lines(text: str, spans: Iterable[tuple[int, int]]) -> list[dict[str, Any]]:
    """Line ranges with their text, for showing side by side."""
    lines = text.splitlines()
    return [{"first": first, "last": last, "text": "\n".join(lines[first - 1:last])} for first, last in spans]


def _public_matches(work: Work, source: Work, excluded: Mapping[str, frozenset]) -> list[PublicMatch]:
    return [PublicMatch(work.owner, source.owner, f.artifact, f.task, f.kind, f.strength, f.evidence)
            for f in _compare(work, source, excluded)]


def _candidates(students: list[Work], excluded: Mapping[str, frozenset]) -> set[tuple[str, str]]:
    """Pairs worth comparing in a large class: any artifact's MinHash/LSH proposes them."""
    from grader.similarity import lsh
    from grader.similarity.prose import ngrams

    found: set[tuple[str, str]] = set()
    for task in sorted({t for w in students for t in w.models}):
        found |= lsh.candidate_pairs({w.owner: _model_tokens(w.models[task]) for w in students if task in w.models},
                                     threshold=MODEL_LSH_THRESHOLD)
    found |= lsh.candidate_pairs({w.owner: w.code.hashes for w in students if w.code is not None and w.code.hashes},
                                 threshold=CODE_LSH_THRESHOLD)
    for qid in sorted({q for w in students for q in w.prose}):
        sets = {w.owner: set(ngrams(w.prose[qid])) - excluded.get(qid, frozenset()) for w in students if qid in w.prose}
        found |= lsh.candidate_pairs({k: v for k, v in sets.items() if v}, threshold=PROSE_LSH_THRESHOLD)
    return {tuple(sorted(pair)) for pair in found}


def _model_tokens(model: ModelPrint) -> set[str]:
    """Tokens two copies share and two independent models almost never do: each tensor's digest, and
    the sign pattern of each run of 16 sampled values of each kernel (fine-tuning or noise keeps most)."""
    tokens = {f"d:{t.sha256}" for t in model.tensors if t.sha256}
    for kernel in model.kernels:
        for start in range(0, len(kernel.sample) - 15, 16):
            bits = "".join("1" if v > 0 else "0" for v in kernel.sample[start:start + 16])
            tokens.add(f"s:{kernel.shape}:{start}:{bits}")
    return tokens


def record_findings(gradebook: Any, report: SimilarityReport) -> int:
    """Make ``report``'s findings the gradebook's current ones (one transaction); returns how many."""
    rows = [{"student_a": f.a, "student_b": f.b, "source": None, "artifact": f.artifact, "task": f.task,
             "kind": f.kind, "strength": f.strength, "evidence": f.evidence} for f in report.pairs]
    rows += [{"student_a": m.student, "student_b": None, "source": m.source, "artifact": m.artifact, "task": m.task,
              "kind": m.kind, "strength": m.strength, "evidence": m.evidence} for m in report.public]
    return gradebook.replace_similarity(rows)
