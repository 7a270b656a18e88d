"""The question bank: one TOML definition per question, validated on load.

File shape (``questions/q3.toml``)::

    id = "Q3"                 # Q1 ... Q8
    number = 3
    title = "return_sequences in deep RNNs"
    version = 1               # bump when the answer, rubric or tasks change
    prompt = "..."            # the question as the assignment words it

    [prose]
    points = 4
    answer = "..."            # the correct reference answer
    [[prose.key_points]]
    id = "seq2seq_every_layer"
    weight = 2
    text = "what the point says, for reviewers"
    phrasings = ["every|all|each + layer + return_sequences|return sequence"]
    [[prose.contradictions]]
    id = "top_seq2seq_layer_returns_vector"
    penalty = 0.5             # share of the prose points it costs
    text = "..."
    phrasings = ["..."]

    [[tasks]]
    id = "q3_deep_seq2seq"
    file = "q3_deep_seq2seq.keras"
    kind = "deep_seq2seq"
    contract = "what the file must contain (the README's contract table)"
    [tasks.checks]            # check name -> points, in the order they run
    input_shape = 0.5
    ...
    [tasks.forecast]          # forecasting tasks only
    full_credit_at = "reference"
    zero_credit_at = "seasonal_naive"

A phrasing is a conjunction of terms joined by `` + ``; a term lists
alternatives joined by ``|``. A sentence states the phrasing when every term
has an alternative in it (after normalisation, see ``grader.prose.text``).

Every question is worth :data:`QUESTION_POINTS` in total: prose points plus the
points of all its task checks.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from grader.core.contract import CHECK_CATALOGUE, FORECAST_KINDS
from grader.core.errors import GraderError
from grader.core.resources import questions_dir

QUESTION_POINTS = 10.0

TASK_KINDS = frozenset({
    "seq2seq", "seq2vec", "vec2seq", "deep_seq2seq", "deep_seq2vec", "forecaster",
    "stable_forecaster", "conv_forecaster", "video_classifier", "lstm_cell",
})
FORECAST_ANCHORS = frozenset({"reference", "seasonal_naive", "naive"})

_TOP_KEYS = {"id", "number", "title", "version", "prompt", "prose", "tasks"}
_PROSE_KEYS = {"points", "answer", "key_points", "contradictions", "subjects"}
_SUBJECT_KEYS = {"id", "names"}
_POINT_KEYS = {"id", "weight", "text", "phrasings", "examples", "about"}
_CONTRADICTION_KEYS = {"id", "penalty", "text", "phrasings", "examples", "about", "order"}
_TASK_KEYS = {"id", "file", "kind", "contract", "checks", "forecast"}
_FORECAST_KEYS = {"full_credit_at", "zero_credit_at"}


class BankError(GraderError, ValueError):
    """A question definition is malformed; the message names the file and field."""


@dataclass(frozen=True)
class RubricItem:
    """A statement the rubric looks for: its id, its model wording, the phrasings that state it and
    ``examples``: whole sentences that state it in other words, for the semantic signal."""

    id: str
    text: str
    phrasings: tuple[str, ...]
    examples: tuple[str, ...] = ()
    about: str = ""

    @property
    def label(self) -> str:
        """The short name ("unstable gradients"): what a student sees before the answers are released."""
        return self.id.replace("_", " ")


@dataclass(frozen=True)
class Subject:
    """Something several rubric items are about (a family of RNNs, a layer): what a statement is attributed to.

    ``names`` are the phrasings that name it ("sequence to vector|seq2vec").
    """

    id: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class KeyPoint(RubricItem):
    """A point a good answer makes, worth ``weight`` shares of the prose points."""

    weight: float = 1.0


@dataclass(frozen=True)
class Contradiction(RubricItem):
    """A wrong claim, costing ``penalty`` (a share of the prose points) when an answer makes it.

    ``order`` (optional) names things that must be listed in this order ("batch|samples",
    "time steps|steps", "features|units"): a list of them in another order states the claim.
    """

    penalty: float = 0.0
    order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    id: str
    question: str
    file: str
    kind: str
    contract: str
    checks: tuple[tuple[str, float], ...]
    full_credit_at: str = "reference"
    zero_credit_at: str = "seasonal_naive"

    @property
    def points(self) -> float:
        return round(sum(points for _, points in self.checks), 4)

    @property
    def is_forecaster(self) -> bool:
        return self.kind in FORECAST_KINDS

    @property
    def is_model(self) -> bool:
        return self.file.endswith(".keras")


@dataclass(frozen=True)
class Question:
    id: str
    number: int
    title: str
    version: int
    prompt: str
    prose_points: float
    answer: str
    key_points: tuple[KeyPoint, ...]
    contradictions: tuple[Contradiction, ...]
    tasks: tuple[Task, ...]
    source: str = field(default="", compare=False)
    subjects: tuple[Subject, ...] = ()

    @property
    def points(self) -> float:
        return round(self.prose_points + sum(task.points for task in self.tasks), 4)

    @property
    def prose_task(self) -> str:
        """The task id prose results are reported under (``q3_prose``)."""
        return f"{self.id.lower()}_prose"


@dataclass(frozen=True)
class Bank:
    questions: tuple[Question, ...]

    def question(self, qid: str) -> Question:
        """The question ``Q3`` (also ``q3`` or ``3``); KeyError naming the known ones otherwise."""
        wanted = qid.strip().upper()
        by_id = {question.id: question for question in self.questions}
        found = by_id.get(f"Q{wanted}" if wanted.isdigit() else wanted)
        if found is None:
            raise KeyError(f"no question {qid!r} in the bank (known: {', '.join(by_id)})")
        return found

    @property
    def tasks(self) -> tuple[Task, ...]:
        return tuple(task for q in self.questions for task in q.tasks)

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(f"no task {task_id!r} (known: {', '.join(t.id for t in self.tasks)})")

    @property
    def versions(self) -> dict[str, int]:
        return {q.id: q.version for q in self.questions}

    @property
    def points(self) -> float:
        return round(sum(q.points for q in self.questions), 4)

    def resolve_task(self, name: str) -> str:
        """The task id ``name`` means: a task id (``q3_deep_seq2seq``), a prose task (``q3_prose``) or a
        question id (``Q3``, meaning its prose part). Raises :class:`BankError` naming the known tasks."""
        text = name.strip()
        if text[:1] in "qQ" and text[1:].isdigit():
            try:
                return self.question(text).prose_task
            except KeyError as exc:
                raise BankError(str(exc.args[0])) from None
        if text not in self.task_points():
            raise BankError(f"unknown task {name!r} (tasks: {', '.join(sorted(self.task_points()))})")
        return text

    def task_points(self) -> dict[str, float]:
        """Every gradable task id, model and prose alike, with its points."""
        return {t.id: t.points for t in self.tasks} | {q.prose_task: q.prose_points for q in self.questions}

    def max_points(self, task_id: str) -> float:
        """The points of one task (model or prose); :class:`BankError` for an unknown one."""
        return self.task_points()[self.resolve_task(task_id)]

    def task_order(self) -> dict[str, tuple[int, int]]:
        """Task id -> (question number, position): the one order every listing uses.

        Within a question the model tasks come first, in the bank's order, then the prose answer.
        """
        order = {task.id: (q.number, i) for q in self.questions for i, task in enumerate(q.tasks)}
        order.update({q.prose_task: (q.number, len(q.tasks)) for q in self.questions})
        return order


def _fail(source: str, where: str, message: str) -> BankError:
    return BankError(f"{source}: {where}: {message}")


def _require(data: dict, key: str, kind: type | tuple[type, ...], source: str, where: str):
    if key not in data:
        raise _fail(source, f"{where}{key}", "missing")
    value = data[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise _fail(source, f"{where}{key}", f"expected {kind}, got a boolean")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _fail(source, f"{where}{key}", f"expected {names}, got {type(value).__name__}")
    return value


def _no_unknown(data: dict, allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _fail(source, where or "top level",
                    f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _phrasings(data: dict, source: str, where: str, key: str = "phrasings") -> tuple[str, ...]:
    phrasings = _require(data, key, list, source, where)
    if not phrasings or not all(isinstance(p, str) and p.strip() for p in phrasings):
        raise _fail(source, f"{where}{key}", "expected a non-empty list of non-empty strings")
    return tuple(phrasings)


def _about(data: dict, subjects: list[Subject], source: str, where: str) -> str:
    about = data.get("about", "")
    known = [s.id for s in subjects]
    if about and about not in known:
        raise _fail(source, f"{where}about", f"unknown subject {about!r} (subjects: {', '.join(known) or 'none'})")
    return about


def _examples(data: dict, source: str, where: str) -> tuple[str, ...]:
    examples = data.get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(e, str) and e.strip() for e in examples):
        raise _fail(source, f"{where}examples", "expected a list of non-empty strings (sentences)")
    return tuple(examples)


def parse_question(data: dict, source: str) -> Question:
    """Validate one decoded TOML definition; raise :class:`BankError` naming the field."""
    from reference_models import BUILDERS

    _no_unknown(data, _TOP_KEYS, source, "")
    qid = _require(data, "id", str, source, "")
    if not re.fullmatch(r"Q[1-9][0-9]*", qid):
        raise _fail(source, "id", f"expected Q<number>, got {qid!r}")
    number = _require(data, "number", int, source, "")
    if qid != f"Q{number}":
        raise _fail(source, "number", f"{number} does not match id {qid}")
    version = _require(data, "version", int, source, "")
    if version < 1:
        raise _fail(source, "version", "must be a positive integer")

    prose = _require(data, "prose", dict, source, "")
    _no_unknown(prose, _PROSE_KEYS, source, "prose")
    prose_points = float(_require(prose, "points", (int, float), source, "prose."))
    answer = _require(prose, "answer", str, source, "prose.")
    if len(answer.split()) < 20:
        raise _fail(source, "prose.answer", "the reference answer is too short to be an answer")
    subjects = []
    for i, raw in enumerate(prose.get("subjects", [])):
        where = f"prose.subjects[{i}]."
        _no_unknown(raw, _SUBJECT_KEYS, source, where.rstrip("."))
        subjects.append(Subject(_require(raw, "id", str, source, where), _phrasings(raw, source, where, "names")))
    key_points = []
    for i, point in enumerate(_require(prose, "key_points", list, source, "prose.")):
        where = f"prose.key_points[{i}]."
        _no_unknown(point, _POINT_KEYS, source, where.rstrip("."))
        weight = float(_require(point, "weight", (int, float), source, where))
        if weight <= 0:
            raise _fail(source, f"{where}weight", "must be positive")
        key_points.append(KeyPoint(_require(point, "id", str, source, where),
                                   _require(point, "text", str, source, where),
                                   _phrasings(point, source, where), _examples(point, source, where),
                                   _about(point, subjects, source, where), weight=weight))
    if prose_points > 0 and not 3 <= len(key_points) <= 6:
        raise _fail(source, "prose.key_points", f"expected 3 to 6 key points, got {len(key_points)}")
    contradictions = []
    for i, item in enumerate(prose.get("contradictions", [])):
        where = f"prose.contradictions[{i}]."
        _no_unknown(item, _CONTRADICTION_KEYS, source, where.rstrip("."))
        penalty = float(_require(item, "penalty", (int, float), source, where))
        if not 0 < penalty <= 1:
            raise _fail(source, f"{where}penalty", "must be a share of the prose points in (0, 1]")
        order = tuple(item.get("order", []))
        if order and (len(order) < 2 or not all(isinstance(o, str) and o.strip() for o in order)):
            raise _fail(source, f"{where}order", "expected a list of at least two non-empty strings")
        phrasings = _phrasings(item, source, where) if "phrasings" in item or not order else ()
        contradictions.append(Contradiction(_require(item, "id", str, source, where),
                                            _require(item, "text", str, source, where),
                                            phrasings, _examples(item, source, where),
                                            _about(item, subjects, source, where), penalty=penalty, order=order))

    tasks = []
    for i, raw in enumerate(data.get("tasks", [])):
        where = f"tasks[{i}]."
        _no_unknown(raw, _TASK_KEYS, source, where.rstrip("."))
        task_id = _require(raw, "id", str, source, where)
        kind = _require(raw, "kind", str, source, where)
        if kind not in TASK_KINDS:
            raise _fail(source, f"{where}kind", f"unknown kind {kind!r} (known: {', '.join(sorted(TASK_KINDS))})")
        if task_id not in BUILDERS:
            raise _fail(source, f"{where}id", f"task {task_id!r} has no reference builder in reference_models")
        file = _require(raw, "file", str, source, where)
        if Path(file).stem != task_id:
            raise _fail(source, f"{where}file", f"file {file!r} must be named after the task id {task_id!r}")
        checks_raw = _require(raw, "checks", dict, source, where)
        checks = []
        for name, points in checks_raw.items():
            if name not in CHECK_CATALOGUE:
                raise _fail(source, f"{where}checks.{name}", f"unknown check (known: {', '.join(sorted(CHECK_CATALOGUE))})")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
                raise _fail(source, f"{where}checks.{name}", "points must be a positive number")
            checks.append((name, float(points)))
        if not checks:
            raise _fail(source, f"{where}checks", "a task needs at least one check")
        forecast = raw.get("forecast", {})
        _no_unknown(forecast, _FORECAST_KEYS, source, f"{where}forecast")
        full_at = forecast.get("full_credit_at", "reference")
        zero_at = forecast.get("zero_credit_at", "seasonal_naive")
        for key, value in (("full_credit_at", full_at), ("zero_credit_at", zero_at)):
            if value not in FORECAST_ANCHORS:
                raise _fail(source, f"{where}forecast.{key}", f"expected one of {', '.join(sorted(FORECAST_ANCHORS))}")
        if "forecast_accuracy" in checks_raw and kind not in FORECAST_KINDS:
            raise _fail(source, f"{where}checks.forecast_accuracy", f"only forecasting tasks can have it, not {kind!r}")
        tasks.append(Task(task_id, qid, file, kind, _require(raw, "contract", str, source, where),
                          tuple(checks), full_at, zero_at))

    question = Question(qid, number, _require(data, "title", str, source, ""), version,
                        _require(data, "prompt", str, source, ""), prose_points, answer,
                        tuple(key_points), tuple(contradictions), tuple(tasks), source, tuple(subjects))
    if abs(question.points - QUESTION_POINTS) > 1e-6:
        detail = " + ".join([f"prose {prose_points:g}"] + [f"{t.id} {t.points:g}" for t in tasks])
        raise _fail(source, "points", f"the question must be worth {QUESTION_POINTS:g} points, got {question.points:g} ({detail})")
    return question


def load_bank(directory: Path | None = None) -> Bank:
    """Read and validate every ``*.toml`` in ``directory`` (default: the shipped bank)."""
    directory = directory or questions_dir()
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise BankError(f"{directory}: no question files (*.toml)")
    questions = []
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise BankError(f"{path.name}: not valid TOML: {exc}") from None
        questions.append(parse_question(data, path.name))
    questions.sort(key=lambda q: q.number)
    seen: dict[str, str] = {}
    for question in questions:
        for ident in [question.id] + [t.id for t in question.tasks]:
            if ident in seen:
                raise BankError(f"{question.source}: id {ident!r} is also defined in {seen[ident]}")
            seen[ident] = question.source
    return Bank(tuple(questions))


@lru_cache(maxsize=1)
def default_bank() -> Bank:
    """The shipped bank, loaded once per process."""
    return load_bank()
