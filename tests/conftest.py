"""Shared, session-scoped fixtures: the bank, and tiny reference / wrong-variant model files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def bank():
    from grader.core.bank import default_bank

    return default_bank()


@pytest.fixture(scope="session")
def model_files(tmp_path_factory) -> dict[str, Path]:
    """One folder per reference model and per wrong variant, each holding the file under its task name.

    Keys: ``"<task>"`` for references, ``"<task>:<variant>"`` for variants.
    """
    from reference_models import BUILDERS, LSTM_CELL_SOURCE
    from reference_models.variants import VARIANTS

    root = tmp_path_factory.mktemp("models")
    folders: dict[str, Path] = {}
    for task, builder in BUILDERS.items():
        folder = root / task
        folder.mkdir()
        if task == "q6_lstm_cell":
            shutil.copyfile(LSTM_CELL_SOURCE, folder / "q6_lstm_cell.py")
        else:
            builder().save(folder / f"{task}.keras")
        folders[task] = folder
    for variant in VARIANTS:
        folder = root / f"{variant.task}__{variant.name}"
        folder.mkdir()
        if variant.source is not None:
            (folder / "q6_lstm_cell.py").write_text(variant.source)
        else:
            variant.build().save(folder / f"{variant.task}.keras")
        folders[f"{variant.task}:{variant.name}"] = folder
    import keras

    keras.backend.clear_session()
    return folders


@pytest.fixture(scope="session")
def prober():
    """A sandboxed prober shared by the whole session (one TensorFlow worker)."""
    from grader.sandbox.prober import SandboxProber

    with SandboxProber({"task_seconds": 120}) as shared:
        yield shared


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """``grader demo`` run once: a course with trained references, ten samples batch-graded."""
    from grader.grading.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo") / "course", workers=2, log=lambda message: None)
