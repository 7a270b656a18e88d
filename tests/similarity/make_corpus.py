"""Write the labelled corpus for the shared-work detector (issue 18).

The corpus was generated before the detector existed and without reading it, so the labels say
what happened, not what a detector finds. Usage::

    python tests/similarity/make_corpus.py OUT [--seed 0] [--students N]

``OUT/class/<id>/`` holds one submission per student, ``OUT/known/textbook/`` a public notebook
(the book's published seed 42), ``OUT/starter/q6_lstm_cell.py`` the instructor's starter and
``OUT/labels.json`` the ground truth (see README.md for its shape).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if __package__:
    from . import prose_bank, q6_sources
else:  # run as a script
    sys.path.insert(0, str(HERE))
    import prose_bank
    import q6_sources

MODEL_TASKS = ("q1_seq2seq", "q1_seq2vec", "q1_vec2seq", "q3_deep_seq2seq", "q3_deep_seq2vec",
               "q4_forecaster", "q5_stable_rnn", "q7_conv_rnn", "q8_video_classifier")
TRAINED_TASKS = ("q1_seq2vec", "q4_forecaster")
QUESTIONS = tuple(f"Q{n}" for n in range(1, 9))
TEXTBOOK_SEED = 42          # the book's notebook calls set_random_seed(42) before every model
TEXTBOOK_DATA_SEED = 2019   # and ships its own series
DEFAULT_STUDENTS = 28
EPOCHS = 2
WINDOW = 28
HORIZON = 7

# The default class's copying, by role letter (roles are dealt to shuffled student ids).
# (source, copier, kind, artifact, task); a pair may share several artifacts.
PLAN = [
    ("a", "b", "resaved", "model", "q1_seq2vec"),
    ("a", "b", "q6_renamed", "q6", None),
    ("a", "b", "prose_paraphrase", "prose", "Q3"),
    ("c", "d", "resaved", "model", "q8_video_classifier"),
    ("c", "d", "prose_paraphrase", "prose", "Q8"),
    ("e", "f", "renamed", "model", "q4_forecaster"),
    ("e", "f", "prose_paraphrase", "prose", "Q4"),
    ("g", "h", "renamed", "model", "q3_deep_seq2vec"),
    ("i", "j", "finetuned", "model", "q4_forecaster"),
    ("i", "j", "prose_paraphrase", "prose", "Q6"),
    ("k", "l", "finetuned", "model", "q1_seq2vec"),
    ("k", "l", "q6_renamed", "q6", None),
    ("m", "n", "noised", "model", "q4_forecaster"),
    ("m", "n", "prose_paraphrase", "prose", "Q5"),
    ("g", "c", "noised", "model", "q5_stable_rnn"),
    ("o", "p", "partial", "model", "q5_stable_rnn"),
    ("a", "e", "partial", "model", "q8_video_classifier"),
    ("h", "q", "resaved", "model", "q7_conv_rnn"),      # h's q7 reaches q and r: q-r is labelled too
    ("h", "r", "noised", "model", "q7_conv_rnn"),
]
COMMON_SOURCE = [("q", "r", "h", "q7_conv_rnn")]
# Two students who ran the textbook notebook: every model (s), or three models, its q6 and its Q2 (t).
TEXTBOOK_USERS = {"s": {"models": MODEL_TASKS, "q6": False, "prose": ()},
                  "t": {"models": ("q1_seq2vec", "q4_forecaster", "q8_video_classifier"), "q6": True,
                        "prose": ("Q2",)}}
SCALE_PLAN = [("a", "b", "resaved", "model", "q1_seq2vec"), ("c", "d", "noised", "model", "q4_forecaster"),
              ("e", "f", "q6_renamed", "q6", None), ("g", "h", "prose_paraphrase", "prose", "Q5")]
# Layers a partial copier takes from the friend (indices into model.layers); the rest are their own.
PARTIAL_LAYERS = {"q5_stable_rnn": (0, 1), "q8_video_classifier": (0, 3)}


# ---------------------------------------------------------------- models (worker side)

def _seq(name, input_shape, stack, lr=1e-3, clipnorm=None, classifier=False):
    import keras

    model = keras.Sequential([keras.Input(input_shape), *stack(keras.layers)], name=name)
    if classifier:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    else:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr, clipnorm=clipnorm),
                      loss=keras.losses.Huber(delta=0.1))
    return model


def _variants(task: str) -> list:
    """Builders for ``task``: the reference first, then small variations an honest student might write."""
    from reference_models import BUILDERS

    v = {
        "q1_seq2seq": [lambda: _seq("seq2seq", (None, 3), lambda L: [L.SimpleRNN(16, return_sequences=True), L.Dense(2)]),
                       lambda: _seq("seq2seq", (None, 3), lambda L: [L.GRU(8, return_sequences=True),
                                                                     L.TimeDistributed(L.Dense(2))])],
        "q1_seq2vec": [lambda: _seq("seq2vec", (None, 3), lambda L: [L.LSTM(8), L.Dense(2)]),
                       lambda: _seq("seq2vec", (None, 3), lambda L: [L.GRU(16), L.Dense(2)])],
        "q1_vec2seq": [lambda: _seq("vec2seq", (4,), lambda L: [L.RepeatVector(6), L.GRU(8, return_sequences=True),
                                                                 L.Dense(2)])],
        "q3_deep_seq2seq": [lambda: _seq("deep_seq2seq", (None, 3), lambda L: [
            L.GRU(16, return_sequences=True), L.GRU(16, return_sequences=True), L.Dense(2)])],
        "q3_deep_seq2vec": [lambda: _seq("deep_seq2vec", (None, 3), lambda L: [
            L.LSTM(16, return_sequences=True), L.LSTM(16), L.Dense(2)])],
        "q4_forecaster": [lambda: _seq("forecaster", (None, 1), lambda L: [L.LSTM(32), L.Dense(HORIZON)], lr=3e-3),
                          lambda: _seq("forecaster", (None, 1), lambda L: [L.GRU(16), L.Dense(HORIZON)], lr=3e-3)],
        "q5_stable_rnn": [lambda: _seq("stable_rnn", (None, 1), lambda L: [
            L.LSTM(16, return_sequences=True), L.LayerNormalization(), L.LSTM(16), L.Dense(HORIZON)], clipnorm=1.0)],
        "q7_conv_rnn": [lambda: _seq("conv_rnn", (None, 1), lambda L: [
            L.Conv1D(16, kernel_size=3, strides=2, activation="relu"), L.GRU(32), L.Dense(HORIZON)], lr=3e-3)],
        "q8_video_classifier": [lambda: _seq("video", (8, 32, 32, 3), lambda L: [
            L.TimeDistributed(L.Conv2D(16, 3, activation="relu")), L.TimeDistributed(L.MaxPooling2D(2)),
            L.TimeDistributed(L.GlobalAveragePooling2D()), L.GRU(16), L.Dense(5, activation="softmax")],
            classifier=True)],
    }
    return [BUILDERS[task], *v[task]]


def build(task: str, variant: int, seed: int):
    """A fresh model as a student's notebook builds it: a new session, ``set_random_seed(seed)``, build."""
    import keras

    keras.backend.clear_session(free_memory=False)  # default layer names, as in a fresh notebook
    keras.utils.set_random_seed(seed)
    return _variants(task)[variant]()


def training_data(task: str, seed: int):
    """Tiny synthetic training data for a trained task; ``seed`` is the student's (or the book's) data."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if task == "q1_seq2vec":
        x = rng.normal(size=(96, 12, 3)).astype("float32")
        y = np.stack([x[:, :, 0].mean(axis=1), x[:, -1, 1]], axis=1) + 0.05 * rng.normal(size=(96, 2))
        return x, y.astype("float32")
    if task == "q4_forecaster":
        days = np.arange(400)
        series = (1.0 + 0.3 * np.sin(2 * np.pi * days / 7) + 0.001 * days * rng.uniform(0.5, 1.5)
                  + 0.1 * rng.normal(size=days.size))
        starts = rng.integers(0, days.size - WINDOW - HORIZON, size=96)
        x = np.stack([series[s:s + WINDOW] for s in starts])[..., None]
        y = np.stack([series[s + WINDOW:s + WINDOW + HORIZON] for s in starts])
        return x.astype("float32"), y.astype("float32")
    raise ValueError(f"no training data for task {task!r}")


def train(model, task: str, data_seed: int, epochs: int = EPOCHS):
    x, y = training_data(task, data_seed)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


@dataclass(frozen=True)
class ModelSpec:
    task: str
    variant: int
    seed: int
    data_seed: int | None   # None: saved untrained


@dataclass
class FolderJob:
    folder: str
    models: list[ModelSpec]
    q6: str
    answers: str


def _worker_init() -> None:
    import tensorflow as tf

    # One thread per op: two workers share two cores, and training is then bit-for-bit repeatable,
    # which the textbook users (identical to known/textbook) rely on.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def write_folder(job: FolderJob) -> str:
    folder = Path(job.folder)
    folder.mkdir(parents=True, exist_ok=True)
    for spec in job.models:
        model = build(spec.task, spec.variant, spec.seed)
        if spec.data_seed is not None:
            train(model, spec.task, spec.data_seed)
        model.save(folder / f"{spec.task}.keras")
    (folder / "q6_lstm_cell.py").write_text(job.q6, encoding="utf-8")
    (folder / "answers.md").write_text(job.answers, encoding="utf-8")
    return job.folder


# ---------------------------------------------------------------- copies of models (after the workers)

def _load(path: Path):
    import warnings

    import keras

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "skipping variable loading for optimizer": expected, harmless
        return keras.models.load_model(path)


def _save_differently(model, path: Path, source: Path) -> None:
    model.save(path)
    # The archive's metadata carries the save time to the second: make sure the bytes differ.
    while path.read_bytes() == source.read_bytes():
        time.sleep(1.0)
        model.save(path)


def copy_model(kind: str, source: Path, target: Path, task: str, friend: "Student", copier: "Student") -> None:
    """Write ``copier``'s ``task`` model as a ``kind`` copy of ``friend``'s file ``source``."""
    import keras
    import numpy as np

    if kind == "resaved":
        _save_differently(_load(source), target, source)
    elif kind == "renamed":
        model = _load(source)
        config = model.get_config()
        config["name"] = f"my_{task.split('_', 1)[1]}"
        for index, layer in enumerate(config["layers"]):
            if layer["class_name"] == "InputLayer":
                continue
            layer["config"]["name"] = f"my_{layer['class_name'].lower()}_{index}"
            if "layer" in layer["config"]:
                inner = layer["config"]["layer"]
                inner["config"]["name"] = f"frame_{inner['class_name'].lower()}"
        keras.backend.clear_session(free_memory=False)
        renamed = keras.Sequential.from_config(config)
        renamed.compile_from_config(model.get_compile_config())
        renamed.set_weights(model.get_weights())
        renamed.save(target)
    elif kind == "finetuned":
        model = _load(source)
        train(model, task, copier.data_seed, epochs=2)
        model.save(target)
    elif kind == "noised":
        model = _load(source)
        rng = np.random.default_rng(copier.seed)
        model.set_weights([(w + rng.normal(0.0, 0.01 * w.std(), w.shape)).astype(w.dtype) for w in model.get_weights()])
        _save_differently(model, target, source)
    elif kind == "partial":
        theirs = _load(source)
        own = build(task, friend.variants[task], copier.task_seed(task))  # the friend's architecture
        for index in PARTIAL_LAYERS[task]:
            own.layers[index].set_weights(theirs.layers[index].get_weights())
        own.save(target)
    else:
        raise ValueError(f"unknown model copy kind {kind!r}")


# ---------------------------------------------------------------- students, q6 and prose (main side)

@dataclass
class Student:
    id: str
    seed: int
    data_seed: int
    variants: dict[str, int] = field(default_factory=dict)   # task -> builder variant (0 = reference)
    q6_style: q6_sources.Q6Style | None = None
    prose_codes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    prose_orders: dict[str, list[int]] = field(default_factory=dict)
    habits: dict[str, str] = field(default_factory=dict)
    one_paragraph: bool = False

    def task_seed(self, task: str) -> int:
        return self.seed + 1000 * MODEL_TASKS.index(task) if self.seed != TEXTBOOK_SEED else TEXTBOOK_SEED


def _structure_key(style: q6_sources.Q6Style) -> tuple:
    family, product, sigmoid, units_from, variant, early = style.structure
    return (family, product, sigmoid, None if family == "fused_split" else units_from, variant, early)


def _distinct_style(rng: random.Random, taken: list[tuple], min_distance: int = 2, **fixed) -> q6_sources.Q6Style:
    """A style whose structure differs from every taken one in at least ``min_distance`` choices."""
    best, best_distance = None, -1
    for _ in range(400):
        style = q6_sources.random_style(rng, **fixed)
        key = _structure_key(style)
        distance = min((sum(a != b for a, b in zip(key, other)) for other in taken), default=99)
        if distance > best_distance:
            best, best_distance = style, distance
        if distance >= min_distance:
            break
    taken.append(_structure_key(best))
    return best


def _distinct_code(rng: random.Random, slots: int, taken: list[tuple[int, ...]]) -> tuple[int, ...]:
    """Slot versions sharing as few slots as possible with every answer already dealt."""
    best, best_shared = None, 99
    for _ in range(300):
        code = tuple(rng.randrange(4) for _ in range(slots))
        shared = max((sum(a == b for a, b in zip(code, other)) for other in taken), default=0)
        if shared < best_shared:
            best, best_shared = code, shared
        if shared <= 1:
            break
    taken.append(best)
    return best


def _apply_habits(text: str, habits: dict[str, str]) -> str:
    for phrase, choice in habits.items():
        text = re.sub(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", choice, text)
    return text


def answer_text(student: Student, question: str) -> str:
    slots = prose_bank.SLOTS[question]
    paragraphs = [slots[slot][student.prose_codes[question][slot]] for slot in student.prose_orders[question]]
    text = " ".join(paragraphs) if student.one_paragraph else "\n\n".join(paragraphs)
    return _apply_habits(text, student.habits)


_ABBREVIATIONS = ("e.g.", "E.g.", "i.e.")


def _sentences(paragraph: str) -> list[str]:
    protected = paragraph
    for index, abbreviation in enumerate(_ABBREVIATIONS):
        protected = protected.replace(abbreviation, f"\x00{index}\x00")
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z])", protected)
    for index, abbreviation in enumerate(_ABBREVIATIONS):
        parts = [part.replace(f"\x00{index}\x00", abbreviation) for part in parts]
    return parts


def paraphrase(text: str, rng: random.Random) -> str:
    """A light paraphrase: synonyms swapped in, one clause or sentence moved, one sentence dropped."""
    paragraphs = [_sentences(p) for p in text.split("\n\n")]
    flat = [(p, s) for p, sentences in enumerate(paragraphs) for s in range(len(sentences))]
    if len(flat) >= 3:  # drop one sentence, never the first
        p, s = rng.choice(flat[1:])
        del paragraphs[p][s]
        paragraphs = [sentences for sentences in paragraphs if sentences]
    for sentences in paragraphs:
        for s, sentence in enumerate(sentences):
            match = re.fullmatch(r"(.+?),? because (.+)\.", sentence)
            if match and " because " not in match.group(2):
                first = match.group(1)
                sentences[s] = f"Because {match.group(2)}, {first[0].lower()}{first[1:]}."
                break
    movable = [sentences for sentences in paragraphs if len(sentences) >= 2]
    if movable:
        sentences = rng.choice(movable)
        k = rng.randrange(len(sentences) - 1)
        sentences[k], sentences[k + 1] = sentences[k + 1], sentences[k]
    elif len(paragraphs) >= 3:
        k = rng.randrange(1, len(paragraphs) - 1)
        paragraphs[k], paragraphs[k + 1] = paragraphs[k + 1], paragraphs[k]
    result = "\n\n".join(" ".join(sentences) for sentences in paragraphs)
    swaps = [pair for pair in prose_bank.SYNONYMS if re.search(rf"(?<![\w-]){re.escape(pair[0])}(?![\w-])", result)]
    for word, synonym in rng.sample(swaps, min(len(swaps), 6)):
        result = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", synonym, result)
        result = re.sub(rf"(?<![\w-]){re.escape(word.capitalize())}(?![\w-])", synonym.capitalize(), result)
    if result == text:
        raise AssertionError("paraphrase left the answer unchanged")
    return result


def answers_md(answers: dict[str, str]) -> str:
    return "# Assignment 7\n\n" + "\n\n".join(f"## {q}\n\n{answers[q]}" for q in QUESTIONS) + "\n"


def _new_student(student_id: str, rng: random.Random, seeds: set[int], styles: list, codes: dict,
                 *, varied_models: bool = True) -> Student:
    seed = rng.randrange(100, 10**6)
    while seed in seeds or seed == TEXTBOOK_SEED:
        seed = rng.randrange(100, 10**6)
    seeds.add(seed)
    student = Student(id=student_id, seed=seed, data_seed=rng.randrange(10**6),
                      one_paragraph=rng.random() < 0.25)
    for task in MODEL_TASKS:
        options = len(_VARIANT_COUNTS[task])
        student.variants[task] = 0 if not varied_models or rng.random() < 0.6 else rng.randrange(1, options)
    student.q6_style = _distinct_style(rng, styles)
    for question in QUESTIONS:
        slots = len(prose_bank.SLOTS[question])
        student.prose_codes[question] = _distinct_code(rng, slots, codes.setdefault(question, []))
        order = list(range(slots))
        movable = list(prose_bank.PERMUTABLE.get(question, ()))
        shuffled = rng.sample(movable, len(movable))
        for position, slot in zip(movable, shuffled):
            order[position] = slot
        if rng.random() < 0.35:  # students do not all make every point
            order.remove(rng.choice(order[1:]))
        student.prose_orders[question] = order
    student.habits = {phrase: rng.choice(choices) for phrase, choices in prose_bank.HABITS}
    return student


# number of builder variants per task (kept here so the main process needs no Keras)
_VARIANT_COUNTS = {"q1_seq2seq": (0, 1, 2), "q1_seq2vec": (0, 1, 2), "q1_vec2seq": (0, 1), "q3_deep_seq2seq": (0, 1),
                   "q3_deep_seq2vec": (0, 1), "q4_forecaster": (0, 1, 2), "q5_stable_rnn": (0, 1),
                   "q7_conv_rnn": (0, 1), "q8_video_classifier": (0, 1)}


def _textbook(rng: random.Random, styles: list, codes: dict) -> Student:
    book = Student(id="textbook", seed=TEXTBOOK_SEED, data_seed=TEXTBOOK_DATA_SEED)
    book.variants = {task: 0 for task in MODEL_TASKS}
    book.q6_style = q6_sources.Q6Style(
        family="fused_split", product="at", sigmoid="starter", units_from="h.shape[1]", variant=0,
        activate_early=False, gate_names=("i", "f", "g", "o"), state_names=("h_new", "c_new"), pre_name="z",
        helper_name="_row_step", comments="own", keep_docstring=True, helper_last=False, indent=4, blank_lines=2)
    styles.append(_structure_key(book.q6_style))
    for question in QUESTIONS:
        slots = len(prose_bank.SLOTS[question])
        book.prose_codes[question] = _distinct_code(rng, slots, codes.setdefault(question, []))
        book.prose_orders[question] = list(range(slots))
    return book


def _model_specs(student: Student, textbook_tasks=(), skip=(), trained=TRAINED_TASKS) -> list[ModelSpec]:
    specs = []
    for task in MODEL_TASKS:
        if task in skip:
            continue
        if task in textbook_tasks:
            specs.append(ModelSpec(task, 0, TEXTBOOK_SEED, TEXTBOOK_DATA_SEED if task in trained else None))
        else:
            specs.append(ModelSpec(task, student.variants[task], student.task_seed(task),
                                   student.data_seed if task in trained else None))
    return specs


def make_corpus(out: Path, *, seed: int = 0, students: int | None = None, workers: int | None = None) -> dict:
    """Write the corpus under ``out`` and return its labels (also written to ``out/labels.json``).

    ``students=None`` writes the default labelled class of 28; ``students=N`` writes N honest students
    with untrained models and four copies, for a scale benchmark.
    """
    out = Path(out)
    rng = random.Random(seed)
    scale = students is not None
    count = DEFAULT_STUDENTS if not scale else students
    plan = [] if scale and count < 8 else (SCALE_PLAN if scale else PLAN)
    common = [] if scale else COMMON_SOURCE
    textbook_users = {} if scale else TEXTBOOK_USERS
    trained = () if scale else TRAINED_TASKS
    width = max(2, len(str(count)))
    ids = [f"s{n:0{width}d}" for n in range(1, count + 1)]
    dealt = rng.sample(ids, len(ids))
    letters = sorted({r for row in plan for r in row[:2]} | {r for row in common for r in row[:3]} | set(textbook_users))
    role = dict(zip(letters, dealt))

    styles: list = []
    codes: dict = {}
    seeds: set[int] = set()
    book = _textbook(rng, styles, codes)
    roster = {sid: _new_student(sid, rng, seeds, styles, codes, varied_models=not scale) for sid in ids}
    # The friends whose q6 is copied wrote something of their own: a loop over rows or over gates.
    for source, _, kind, _, _ in plan:
        if kind == "q6_renamed":
            roster[role[source]].q6_style = _distinct_style(rng, styles, min_distance=3,
                                                            family=rng.choice(("per_sample", "per_gate")))

    q6_text = {sid: q6_sources.render(s.q6_style) for sid, s in roster.items()}
    answers = {sid: {q: answer_text(s, q) for q in QUESTIONS} for sid, s in roster.items()}
    skip: dict[str, set[str]] = {sid: set() for sid in ids}
    pairs, public = [], []
    for source, copier, kind, artifact, task in plan:
        a, b = role[source], role[copier]
        pairs.append({"a": a, "b": b, "kind": kind, "artifact": artifact, "task": task})
        if kind == "q6_renamed":
            q6_text[b] = q6_sources.render(q6_sources.redraw_surface(roster[a].q6_style, rng))
        elif kind == "prose_paraphrase":
            answers[b][task] = paraphrase(answers[a][task], rng)
        else:
            skip[b].add(task)
    for first, second, via, task in common:
        pairs.append({"a": role[first], "b": role[second], "kind": "common_source", "artifact": "model",
                      "task": task, "via": role[via]})
    textbook_tasks: dict[str, tuple] = {}
    for letter, use in textbook_users.items():
        sid = role[letter]
        textbook_tasks[sid] = use["models"]
        public += [{"student": sid, "source": "textbook", "artifact": "model", "task": t} for t in use["models"]]
        if use["q6"]:
            q6_text[sid] = q6_sources.render(book.q6_style)
            public.append({"student": sid, "source": "textbook", "artifact": "q6", "task": None})
        for question in use["prose"]:
            answers[sid][question] = answer_text(book, question)
            public.append({"student": sid, "source": "textbook", "artifact": "prose", "task": question})

    (out / "starter").mkdir(parents=True, exist_ok=True)
    (out / "starter" / "q6_lstm_cell.py").write_text(q6_sources.STARTER, encoding="utf-8")
    jobs = [FolderJob(str(out / "known" / "textbook"), _model_specs(book, MODEL_TASKS, trained=TRAINED_TASKS),
                      q6_sources.render(book.q6_style), answers_md({q: answer_text(book, q) for q in QUESTIONS}))]
    jobs += [FolderJob(str(out / "class" / sid), _model_specs(roster[sid], textbook_tasks.get(sid, ()), skip[sid], trained),
                       q6_text[sid], answers_md(answers[sid])) for sid in ids]
    _run_jobs(jobs, workers)

    for pair in pairs:
        if pair["artifact"] == "model" and pair["kind"] != "common_source":
            task = pair["task"]
            copy_model(pair["kind"], out / "class" / pair["a"] / f"{task}.keras",
                       out / "class" / pair["b"] / f"{task}.keras", task, roster[pair["a"]], roster[pair["b"]])

    involved = {p["a"] for p in pairs} | {p["b"] for p in pairs} | {p["student"] for p in public}
    labels = {
        "pairs": pairs,
        "public_source": public,
        "honest": [sid for sid in ids if sid not in involved],
        "students": ids,
        "known_sources": {"textbook": "known/textbook"},
        "starter": {"q6": "starter/q6_lstm_cell.py"},
        "generator": {"seed": seed, "students": students, "trained_tasks": list(trained),
                      "textbook_seed": TEXTBOOK_SEED},
    }
    (out / "labels.json").write_text(json.dumps(labels, indent=2) + "\n", encoding="utf-8")
    return labels


def _run_jobs(jobs: list[FolderJob], workers: int | None) -> None:
    workers = workers or min(2, os.cpu_count() or 1)
    if workers <= 1:
        _worker_init()
        for job in jobs:
            write_folder(job)
        return
    # spawn, not fork: TensorFlow is not fork-safe, and the workers' single-thread setting must come first
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_init) as pool:
        for _ in pool.map(write_folder, jobs, chunksize=1):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the labelled shared-work corpus.")
    parser.add_argument("out", type=Path, help="folder to write (created)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--students", type=int, default=None,
                        help="N honest students with untrained models (scale benchmark)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    if (args.out / "labels.json").exists() or (args.out / "class").exists():
        parser.error(f"{args.out} already holds a corpus; give an empty or new folder")
    started = time.perf_counter()
    labels = make_corpus(args.out, seed=args.seed, students=args.students, workers=args.workers)
    kinds: dict[str, int] = {}
    for pair in labels["pairs"]:
        kinds[pair["kind"]] = kinds.get(pair["kind"], 0) + 1
    print(f"wrote {len(labels['students'])} students to {args.out} in {time.perf_counter() - started:.0f} s: "
          f"{len(labels['honest'])} honest, pairs {kinds}, public_source {len(labels['public_source'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
