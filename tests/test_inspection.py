"""Static inspection refuses every hostile or broken file in tests/hostile/ with one clear line,
never runs anything, and never imports TensorFlow.

The corpus is pre-generated (``python tests/hostile/make_corpus.py``); only the slow proof test
loads a file with the real Keras loader, in a throwaway subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest

from grader.static.errors import BrokenModel, InspectionError, UnsafeModel
from grader.static.model_file import inspect_model_file

REPO = Path(__file__).resolve().parent.parent
HOSTILE = REPO / "tests" / "hostile"
MODELS = REPO / "tests" / "models"
MARKER_GLOB = "rnn-grader-pwned-*"

# file -> (exception, a piece of the one-line message)
EXPECTED: dict[str, tuple[type[InspectionError], str]] = {
    "lambda_top.keras": (UnsafeModel, "layer 'lambda' is a Lambda layer"),
    "lambda_nested.keras": (UnsafeModel, "layer 'lambda_1' is a Lambda layer"),
    "legacy_lambda.h5": (UnsafeModel, "is a Lambda layer"),
    "foreign_module.keras": (UnsafeModel, "names module 'os'"),
    "builtins_eval.keras": (UnsafeModel, "names function builtins.eval"),
    "keras_utils_get_file.keras": (UnsafeModel, "names module 'keras.utils'"),
    "enable_unsafe.keras": (UnsafeModel, "keras.config.enable_unsafe_deserialization"),
    "custom_registered.keras": (UnsafeModel, "registered as custom object 'MyPkg>MyLayer'"),
    "tfsm_layer.keras": (UnsafeModel, "TFSMLayer loads a TensorFlow SavedModel"),
    "string_lookup_file.keras": (UnsafeModel, "is a StringLookup layer"),
    "bad_activation.keras": (UnsafeModel, "uses activation 'os.system'"),
    "op_while_loop.keras": (UnsafeModel, "keras.src.ops.core.WhileLoop"),
    "zip_bomb.keras": (UnsafeModel, "(a zip bomb)"),
    "zip_bomb_lying_size.keras": (BrokenModel, "config.json is not valid JSON"),
    "dotdot_member.keras": (UnsafeModel, "escapes the archive ('../evil')"),
    "absolute_member.keras": (UnsafeModel, "absolute or Windows path ('/etc/evil')"),
    "symlink_member.keras": (UnsafeModel, "symbolic link ('assets/passwd')"),
    "extra_member.keras": (UnsafeModel, "unexpected member 'payload.py'"),
    "duplicate_member.keras": (UnsafeModel, "contains 'config.json' twice"),
    "encrypted_member.keras": (UnsafeModel, "encrypted member ('config.json')"),
    "many_members.keras": (UnsafeModel, "has 73 members"),
    "huge_dataset.keras": (UnsafeModel, "declares shape (100000, 100000)"),
    "external_link.keras": (UnsafeModel, "external link to '/etc/passwd'"),
    "external_storage.keras": (UnsafeModel, "stores its data in an external file"),
    "unknown_filter.keras": (UnsafeModel, "unknown HDF5 filter 32099"),
    "h5_cycle.keras": (UnsafeModel, "nested deeper than"),
    "npz_pickle.keras": (UnsafeModel, "pickled Python objects"),
    "virtual_dataset.h5": (UnsafeModel, "virtual dataset"),
    "h5_external_link.h5": (UnsafeModel, "external link to '/etc/passwd'"),
    "h5_with_ops.h5": (BrokenModel, "legacy HDF5 format cannot reload"),
    "truncated.keras": (BrokenModel, "truncated or corrupt"),
    "empty.keras": (BrokenModel, "is empty (0 bytes)"),
    "renamed_png.keras": (BrokenModel, "not a Keras model file (no zip header)"),
    "pickle.keras": (BrokenModel, "not a Keras model file (no zip header)"),
    "h5_renamed.keras": (BrokenModel, "legacy HDF5 file renamed .keras"),
    "not_json.keras": (BrokenModel, "config.json is not valid JSON"),
    "weights_garbage.keras": (BrokenModel, "model.weights.h5 is not a readable HDF5 file"),
    "weights_only.h5": (BrokenModel, "holds weights only"),
    "deep_nesting.keras": (UnsafeModel, "nested too deeply"),
    "deep_nesting_500.keras": (UnsafeModel, "nested too deeply"),
}

# Files that run code if anything ever executes them, for the grading-path test.
CODE_CARRIERS = ("lambda_top.keras", "lambda_nested.keras", "legacy_lambda.h5", "enable_unsafe.keras",
                 "npz_pickle.keras", "pickle.keras", "custom_registered.keras", "foreign_module.keras")


def _markers() -> list[Path]:
    return sorted(Path("/tmp").glob(MARKER_GLOB))


@pytest.fixture(autouse=True)
def no_marker_appears():
    """Every test here starts without markers and must end without any."""
    for stale in _markers():
        stale.unlink()
    yield
    assert _markers() == [], "a hostile file ran code"


def _corpus_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.suffix in (".keras", ".h5")}


def test_every_corpus_file_has_an_expectation_and_a_readme_line():
    assert _corpus_files(HOSTILE) == set(EXPECTED)
    readme = (HOSTILE / "README.md").read_text()
    for name in EXPECTED:
        assert f"`{name}`" in readme, name


def test_corpus_stays_small():
    sizes = {name: (HOSTILE / name).stat().st_size for name in EXPECTED}
    assert max(sizes.values()) < 2 * 1024 * 1024, sizes
    assert sum(sizes.values()) < 6 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_is_refused_with_one_line(name):
    expected, text = EXPECTED[name]
    with pytest.raises(InspectionError) as info:
        inspect_model_file(HOSTILE / name)
    message = str(info.value)
    assert type(info.value) is expected, message
    assert "\n" not in message
    assert message.startswith(name), message
    assert text in message, message


def test_zip_bomb_is_refused_without_inflating():
    # The member inflates to 1.1 GiB; refusing it must take neither time nor memory.
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(UnsafeModel):
        inspect_model_file(HOSTILE / "zip_bomb.keras")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 16 * 1024 * 1024


def test_lying_zip_sizes_are_never_read_past_the_declared_size():
    tracemalloc.start()
    with pytest.raises(BrokenModel):
        inspect_model_file(HOSTILE / "zip_bomb_lying_size.keras")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # The member really holds 64 MiB; reads stop at the config bound (8 MiB), decompressed once and copied once.
    assert peak < 24 * 1024 * 1024


def test_symlinked_and_odd_paths_are_refused(tmp_path):
    good = MODELS / "q1_seq2seq__functional.keras"
    link = tmp_path / "linked.keras"
    link.symlink_to(good)
    folder = tmp_path / "folder.keras"
    folder.mkdir()
    other = tmp_path / "model.pkl"
    shutil.copyfile(good, other)
    for path, text in ((link, "not a regular file"), (folder, "not a regular file"),
                       (other, "unsupported model file type '.pkl'"), (tmp_path / "absent.keras", "is missing")):
        with pytest.raises(BrokenModel) as info:
            inspect_model_file(path)
        assert text in str(info.value) and str(info.value).startswith(path.name)


class _RefusingWorker:
    """Stands in for the sandboxed Keras worker: records every request, so a test can prove none was made."""

    def __init__(self):
        self.calls: list[str] = []

    def run(self, op, payload, files, **options):
        self.calls.append(op)
        raise AssertionError(f"the worker was asked to {op}")

    def run_with_output(self, op, payload, files, output, **options):
        self.calls.append(op)
        raise AssertionError(f"the worker was asked to {op}")

    def close(self):
        pass


def test_grading_path_refuses_code_carriers_before_any_worker(bank, tmp_path):
    from grader.grading.checking import check_submission
    from grader.sandbox.prober import SandboxProber

    model_tasks = [task for task in bank.tasks if task.is_model]
    assert len(model_tasks) >= len(CODE_CARRIERS)
    for task, name in zip(model_tasks, CODE_CARRIERS):
        shutil.copyfile(HOSTILE / name, tmp_path / f"{task.id}{Path(name).suffix}")
    worker = _RefusingWorker()
    with SandboxProber({"task_seconds": 10}, worker=worker) as prober:
        checked = check_submission(tmp_path, bank, prober=prober, include_hidden=True,
                                   forecast=lambda *args: pytest.fail("forecast evaluated"),
                                   tasks=[task.id for task in model_tasks[:len(CODE_CARRIERS)]])
    assert worker.calls == []
    assert checked.descriptions == {}
    for task, name in zip(model_tasks, CODE_CARRIERS):
        results = checked.for_task(task.id)
        assert len(results) == 1 and results[0].status == "error" and results[0].score == 0, results
        assert results[0].output.startswith(f"{task.id}{Path(name).suffix}"), results[0].output
        assert "\n" not in results[0].output


def test_grading_path_refuses_an_expensive_model_before_any_worker(bank, tmp_path):
    """The red team's forecaster (UpSampling1D(2000): minutes, or a SIGSEGV, in the worker) never reaches one."""
    from grader.grading.checking import check_submission
    from grader.sandbox.prober import SandboxProber
    from tests.test_static_bounds import forecaster, layer, save

    save(tmp_path, forecaster(layer("UpSampling1D", "up", size=2000), shape=(56, 1)), "q4_forecaster.keras")
    worker = _RefusingWorker()
    with SandboxProber({"task_seconds": 10}, worker=worker) as prober:
        checked = check_submission(tmp_path, bank, prober=prober, include_hidden=True, tasks=["q4_forecaster"],
                                   forecast=lambda *args: pytest.fail("forecast evaluated"))
    assert worker.calls == []
    results = checked.for_task("q4_forecaster")
    assert len(results) == 1 and results[0].status == "error" and results[0].score == 0, results
    assert results[0].output.startswith("q4_forecaster.keras: layer 'up' (UpSampling1D) repeats each step 2,000 "
                                        "times; at most 64 is allowed"), results[0].output


def test_static_inspection_never_imports_tensorflow():
    """Inspect every corpus file (hostile and legitimate) in a fresh interpreter; TensorFlow stays out."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from grader.static.errors import InspectionError
        from grader.static.model_file import inspect_model_file
        seen = 0
        for folder in ({str(HOSTILE)!r}, {str(MODELS)!r}):
            for path in sorted(Path(folder).iterdir()):
                if path.suffix not in (".keras", ".h5"):
                    continue
                seen += 1
                try:
                    inspect_model_file(path)
                except InspectionError:
                    pass
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "jax", "torch"))
        print(seen, loaded)
        sys.exit(1 if loaded else 0)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout + done.stderr
    seen = int(done.stdout.split()[0])
    assert seen == len(EXPECTED) + len(_corpus_files(MODELS))


@pytest.mark.slow
def test_lambda_top_really_runs_code_when_loaded_unsafely(tmp_path):
    """Proof the corpus is hostile: Keras refuses lambda_top.keras in safe mode, and with
    safe_mode=False loading and calling it writes the marker."""
    marker = Path("/tmp/rnn-grader-pwned-lambda_top")
    copy = tmp_path / "lambda_top.keras"
    shutil.copyfile(HOSTILE / "lambda_top.keras", copy)
    script = textwrap.dedent("""
        import os, sys
        from pathlib import Path
        import numpy as np
        import keras
        marker = Path("/tmp/rnn-grader-pwned-lambda_top")
        try:
            keras.saving.load_model("lambda_top.keras", compile=False, safe_mode=True)
        except ValueError as exc:
            print("safe mode refused:", str(exc).splitlines()[0][:80])
        else:
            sys.exit("safe mode loaded the Lambda")
        if marker.exists():
            sys.exit("safe mode ran the Lambda")
        model = keras.saving.load_model("lambda_top.keras", compile=False, safe_mode=False)
        model(np.zeros((1, 2, 3), "float32"))
        print("marker written:", marker.exists())
    """)
    try:
        done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""})
        assert done.returncode == 0, done.stdout + done.stderr
        assert "safe mode refused" in done.stdout
        assert "marker written: True" in done.stdout
        assert marker.exists()
    finally:
        marker.unlink(missing_ok=True)
