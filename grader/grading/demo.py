"""``grader demo``: a course with references, ten sample submissions, a batch grade and a report.

The samples are built from the reference models and their wrong variants:
one fully correct submission, and nine that each break exactly one task in
a way students typically do (the top seq2seq layer without
return_sequences, a 1-day forecaster, a video model without softmax, a
missing file, a corrupt file, a hostile Lambda layer, swapped LSTM gates,
ReLU in a SimpleRNN, a keyword-stuffed prose answer).
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.core.bank import Bank
from grader.core.course import Course


@dataclass(frozen=True)
class Sample:
    student: str
    breaks: str | None          # the task this sample breaks (None: fully correct)
    description: str
    as_zip: bool = False


SAMPLES = (
    Sample("alice", None, "fully correct"),
    Sample("bob", "q3_deep_seq2seq", "top seq2seq layer without return_sequences"),
    Sample("carol", "q4_forecaster", "forecasts 1 day instead of 7"),
    Sample("dave", "q8_video_classifier", "video model without softmax"),
    Sample("erin", "q7_conv_rnn", "q7_conv_rnn.keras missing"),
    Sample("frank", "q1_seq2vec", "corrupt (truncated) model file", as_zip=True),
    Sample("grace", "q1_seq2seq", "hostile Lambda layer"),
    Sample("heidi", "q6_lstm_cell", "LSTM gates in the wrong order"),
    Sample("ivan", "q5_stable_rnn", "ReLU inside a SimpleRNN stack"),
    Sample("judy", "q3_prose", "keyword-stuffed answer to Q3", as_zip=True),
)

STUFFED_Q3 = ("return_sequences True False every layer top layer sequence vector LSTM GRU stack deep "
              "seq2seq seq2vec 3D 2D time steps output.")


def answers_markdown(bank: Bank, replace: dict[str, str] | None = None) -> str:
    """answers.md with the bank's reference answers (optionally replacing some)."""
    replace = replace or {}
    parts = [f"## {q.id}\n\n{replace.get(q.id, q.answer).strip()}\n" for q in bank.questions]
    return "\n".join(parts)


def _hostile_lambda(path: Path) -> None:
    import keras

    model = keras.Sequential([keras.Input((None, 3)), keras.layers.Lambda(lambda x: x * 2.0),
                              keras.layers.SimpleRNN(4, return_sequences=True), keras.layers.Dense(2)])
    model.save(path)


def _variant(task: str, name: str) -> Callable[[Path], None]:
    from reference_models.variants import VARIANTS

    variant = next(v for v in VARIANTS if v.task == task and v.name == name)

    def write(path: Path) -> None:
        if variant.source is not None:
            path.write_text(variant.source)
        else:
            variant.build().save(path)
    return write


def _truncated(reference: Path) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        data = reference.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return write


def write_samples(course: Course, bank: Bank, out: Path) -> list[Path]:
    """Write the sample submissions (folders or zips) into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    ref = course.reference_dir
    breakers: dict[str, Callable[[Path], None]] = {
        "bob": _variant("q3_deep_seq2seq", "top_returns_vector"),
        "carol": _variant("q4_forecaster", "one_day"),
        "dave": _variant("q8_video_classifier", "no_softmax"),
        "frank": _truncated(ref / "q1_seq2vec.keras"),
        "grace": _hostile_lambda,
        "heidi": _variant("q6_lstm_cell", "gates_swapped"),
        "ivan": _variant("q5_stable_rnn", "relu_simple_rnn"),
    }
    paths = []
    for sample in SAMPLES:
        folder = out / sample.student
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        for task in bank.tasks:
            source = ref / (task.file if not task.is_model else f"{task.id}.keras")
            target = folder / task.file
            if sample.breaks == task.id:
                if sample.student == "erin":
                    continue
                breakers[sample.student](target)
            else:
                shutil.copyfile(source, target)
        replace = {"Q3": STUFFED_Q3} if sample.breaks == "q3_prose" else None
        (folder / "answers.md").write_text(answers_markdown(bank, replace), encoding="utf-8")
        if sample.as_zip:
            archive = out / f"{sample.student}.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                for file in sorted(folder.iterdir()):
                    zf.write(file, f"{sample.student}/{file.name}")
            shutil.rmtree(folder)
            paths.append(archive)
        else:
            paths.append(folder)
    import keras

    keras.backend.clear_session()
    return paths


def run_demo(directory: Path, *, workers: int | None = None, train: bool = False, log=print) -> dict:
    """Create a course in ``directory``, build references, write and batch-grade the samples, write the report.

    The reference forecasters are the ones shipped for the demo's fixed series (checked by
    hash and version, see :mod:`reference_models.prebuilt`), scored afresh on the held-out
    windows; with ``train``, or when none matches, they are trained here (about three minutes).
    """
    from grader.core.bank import default_bank
    from grader.core.course import init_course
    from grader.store.gradebook import Gradebook
    from grader.grading.grader import build_course_references, run_batch
    from grader.grading.secrecy import demo_notice

    course = init_course(directory, name="RNN assignment 7 (demo)", demo=True)
    bank = default_bank()
    log(f"course folder: {course.root}")
    from grader.sandbox.levels import weak_notice

    notice, weak = demo_notice(course), weak_notice()
    if notice:
        log(notice)
    if weak:
        log(f"note: {weak}")
    build_course_references(course, log=lambda message: log(f"  reference {message}"), prebuilt=not train)
    samples = write_samples(course, bank, course.root / "samples")
    log(f"wrote {len(samples)} sample submissions under {course.root / 'samples'}")
    with Gradebook(course.db_url) as gradebook:
        # The demo's own samples: the strongest isolation this machine has is enough.
        summary = run_batch(course, bank, gradebook, samples, workers=workers, isolation="auto")
        losses = task_losses(gradebook, bank)
        snapshot = gradebook.snapshot(bank)
    report = None
    try:
        from grader.report.class_report import write_report

        report = write_report(course, bank, course.root / "report.html", snapshot)
    except ImportError:
        pass
    return {"course": course, "summary": summary, "report": report, "losses": losses}


def task_losses(gradebook, bank: Bank) -> dict[str, dict[str, float]]:
    """Student -> {task: points lost} for every task not at full marks (prose tasks included)."""
    from grader.core.records import task_questions

    points = {t.id: t.points for t in bank.tasks} | {q.prose_task: q.prose_points for q in bank.questions}
    losses: dict[str, dict[str, float]] = {}
    for summary in gradebook.class_summary(task_questions(bank)):
        scores = {task: entry["score"] for q in summary.get("questions", {}).values()
                  for task, entry in q["tasks"].items()}
        losses[summary["student_id"]] = {task: round(full - scores.get(task, 0.0), 2)
                                         for task, full in points.items() if scores.get(task, 0.0) < full - 1e-6}
    return losses
