"""Reference forecasters beat the seasonal-naive baseline on held-out windows, also on real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CTA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cta_ridership_daily.csv"


@pytest.mark.slow
def test_reference_forecasters_beat_seasonal_naive_on_default_series(demo):
    from grader.forecast.manifest import read_manifest

    tasks = read_manifest(demo["course"])["tasks"]
    for task in ("q4_forecaster", "q5_stable_rnn", "q7_conv_rnn"):
        assert tasks[task]["mae"] < tasks[task]["seasonal_naive_mae"], task
        assert tasks[task]["mase"] < 1.0


@pytest.mark.slow
def test_reference_q4_beats_seasonal_naive_on_cta_rail(tmp_path):
    if not CTA.exists():
        pytest.skip(f"{CTA} is absent (the shared data folder is not beside the checkout)")
    from grader.core.course import init_course
    from grader.forecast.references import build_references

    import shutil

    course = init_course(tmp_path / "cta")
    # A world-readable series outside the course folder is refused: work on a private copy.
    shutil.copyfile(CTA, course.root / CTA.name)
    series = {"source": "csv", "path": CTA.name, "date_column": "service_date",
              "value_column": "rail_boardings", "scale": 1e6, "train": ["2016-01-01", "2018-12-31"],
              "valid": ["2019-01-01", "2019-05-31"], "test": ["2019-06-01", "2020-02-29"]}
    # JSON writes these strings, numbers and lists of strings exactly as TOML does.
    lines = [f"{key} = {json.dumps(value)}" for key, value in series.items()]
    (course.root / "course.toml").write_text("[series]\n" + "\n".join(lines) + "\n")
    from grader.core.course import open_course

    manifest = build_references(open_course(course.root), tasks=["q4_forecaster"])
    entry = manifest["tasks"]["q4_forecaster"]
    assert entry["mae"] < entry["seasonal_naive_mae"], entry


# --------------------------------------------------------------------------- building: refusal, progress, resuming
# These stub the training (a fake model that predicts zeros), so they take seconds, not minutes.

FAST_TASKS = ["q4_forecaster", "q5_stable_rnn", "q6_lstm_cell", "q7_conv_rnn"]
INTERRUPTED_LINE = "interrupted: 1 of 4 reference models are saved; run the same command again to build the rest"


class _FakeForecaster:
    """Stands in for a trained forecaster: predicts zeros; saving writes a few bytes."""

    def predict(self, inputs, **options):
        import numpy as np
        from grader.core.contract import HORIZON

        return np.zeros((len(inputs), HORIZON), dtype="float32")

    def save(self, path):
        assert Path(path).suffix == ".keras", path     # Keras picks the format from the suffix
        Path(path).write_bytes(b"a trained model")


def _fake_training(calls: list[str], *, interrupt_on: str | None = None, stderr_noise: bytes = b""):
    """A stand-in for ``train_forecaster`` that records each task, and is interrupted on ``interrupt_on``."""
    import os

    from grader.forecast.references import TrainingProgress

    def train(build, series, series_cfg, *, task="", progress=None, **options):
        calls.append(task)
        if stderr_noise:
            os.write(2, stderr_noise)                  # what TensorFlow's C++ side does on import
        if task == interrupt_on:
            raise KeyboardInterrupt
        if progress is not None:
            progress(TrainingProgress(task, 3, 50, 1234.0))
            progress(TrainingProgress(task, 3, 50, 1234.0, finished=True))
        return _FakeForecaster()

    return train


def _build_args(course: Path) -> list[str]:
    return ["reference", "build", "--course", str(course)] + [arg for task in FAST_TASKS for arg in ("--task", task)]


def test_reference_build_refuses_a_course_folder_that_does_not_exist(tmp_path):
    from click.testing import CliRunner

    from grader.cli import cli

    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(cli, ["reference", "build", "--course", str(missing)])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and str(missing) in errors[0] and f"grader init {missing}" in errors[0], result.stderr
    assert not missing.exists()


def test_an_interrupted_build_keeps_finished_models_and_a_rerun_builds_only_the_rest(tmp_path, monkeypatch):
    from grader.core.course import init_course
    from grader.forecast import references
    from grader.forecast.manifest import read_manifest

    course = init_course(tmp_path / "course")
    (course.reference_dir / ".partial-left-by-a-killed-build.keras").write_bytes(b"half")
    calls: list[str] = []
    monkeypatch.setattr(references, "train_forecaster", _fake_training(calls, interrupt_on="q5_stable_rnn"))
    with pytest.raises(references.ReferenceBuildInterrupted) as interrupted:
        references.build_references(course, tasks=FAST_TASKS)
    assert isinstance(interrupted.value, KeyboardInterrupt)
    assert (interrupted.value.saved, interrupted.value.total) == (1, 4)
    assert list(read_manifest(course)["tasks"]) == ["q4_forecaster"]
    assert sorted(p.name for p in course.reference_dir.iterdir()) == ["manifest.json", "q4_forecaster.keras"]

    calls.clear()
    monkeypatch.setattr(references, "train_forecaster", _fake_training(calls))
    messages: list[str] = []
    manifest = references.build_references(course, tasks=FAST_TASKS, log=messages.append)
    assert calls == ["q5_stable_rnn", "q7_conv_rnn"]
    assert "q4_forecaster: up to date" in messages
    assert set(manifest["tasks"]) == set(FAST_TASKS) == set(read_manifest(course)["tasks"])


def test_a_model_interrupted_while_being_saved_is_never_taken_as_up_to_date(tmp_path, monkeypatch):
    from grader.core.course import init_course
    from grader.forecast import references
    from grader.forecast.manifest import read_manifest

    class SavedHalfway(_FakeForecaster):
        def save(self, path):
            Path(path).write_bytes(b"half a mod")
            raise KeyboardInterrupt

    course = init_course(tmp_path / "course")
    target = course.reference_dir / "q4_forecaster.keras"
    calls: list[str] = []
    monkeypatch.setattr(references, "train_forecaster", _fake_training(calls))
    references.build_references(course, tasks=["q4_forecaster"])
    monkeypatch.setattr(references, "train_forecaster", lambda *args, **options: SavedHalfway())
    with pytest.raises(KeyboardInterrupt):
        references.build_references(course, tasks=["q4_forecaster"], force=True)
    assert target.read_bytes() == b"a trained model"            # the previous file, whole
    assert "q4_forecaster" not in read_manifest(course)["tasks"]  # but no entry vouches for it any more
    assert not list(course.reference_dir.glob(".partial-*"))

    monkeypatch.setattr(references, "train_forecaster", _fake_training(calls))
    references.build_references(course, tasks=["q4_forecaster"])
    assert calls == ["q4_forecaster", "q4_forecaster"]


def test_reference_build_interrupted_says_how_many_are_saved_and_exits_130(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from grader.cli import cli
    from grader.core.course import init_course
    from grader.forecast import references

    course = init_course(tmp_path / "course")
    calls: list[str] = []
    monkeypatch.setattr(references, "train_forecaster", _fake_training(calls, interrupt_on="q5_stable_rnn"))
    result = CliRunner().invoke(cli, _build_args(course.root))
    assert result.exit_code == 130, result.output
    assert result.stderr.strip() == INTERRUPTED_LINE

    monkeypatch.setattr(references, "train_forecaster", _fake_training(calls))
    result = CliRunner().invoke(cli, _build_args(course.root))
    assert result.exit_code == 0, result.output
    assert "q4_forecaster: up to date" in result.stdout
    # Not a terminal: one line per trained model instead of a bar.
    assert "q5_stable_rnn: trained 3 epochs (at most 50), best validation MAE 1,234" in result.stdout
    assert calls == ["q4_forecaster", "q5_stable_rnn", "q5_stable_rnn", "q7_conv_rnn"]


def test_reference_build_keeps_tensorflow_stderr_off_the_terminal(tmp_path, monkeypatch, capfd):
    from click.testing import CliRunner

    from grader.cli import cli
    from grader.core.course import init_course
    from grader.forecast import references

    course = init_course(tmp_path / "course")
    noise = b"I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
    monkeypatch.setattr(references, "train_forecaster", _fake_training([], stderr_noise=noise))
    result = CliRunner().invoke(cli, ["reference", "build", "--course", str(course.root), "--task", "q4_forecaster"])
    assert result.exit_code == 0, result.output
    assert "cudart" not in capfd.readouterr().err and "cudart" not in result.output
    assert "cudart" in (course.root / "reference-build.log").read_text()


def test_training_progress_reports_the_best_validation_mae_in_series_units():
    import keras

    from grader.forecast.references import _progress_callback

    steps = []
    callback = _progress_callback(keras, steps.append, "q4_forecaster", 50, scale=1e6)
    callback.on_epoch_end(0, {"val_loss": 0.01, "val_mae": 0.2})
    callback.on_epoch_end(1, {"val_loss": 0.02, "val_mae": 0.3})
    callback.on_train_end()
    assert [step.epoch for step in steps] == [1, 2, 2]
    assert [step.best_valid_mae for step in steps] == pytest.approx([200_000, 200_000, 200_000])
    assert [step.finished for step in steps] == [False, False, True]


@pytest.mark.slow
def test_train_forecaster_reports_every_epoch_with_a_finite_validation_mae(tmp_path):
    from grader.core.course import init_course
    from grader.forecast.references import train_forecaster
    from grader.forecast.series import series_from_config
    from reference_models import builders

    course = init_course(tmp_path / "course")
    steps = []
    train_forecaster(builders.build_q4_forecaster, series_from_config(course.series, course.root), course.series,
                     window=course.series.window, epochs=2, progress=steps.append, task="q4_forecaster")
    assert [(step.epoch, step.finished) for step in steps] == [(1, False), (2, False), (2, True)]
    assert 0 < steps[-1].best_valid_mae < float("inf")
