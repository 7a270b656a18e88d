"""The demo's pre-built reference forecasters: used only when intact and current, and what this code trains."""

from __future__ import annotations

import shutil

import pytest

from reference_models import prebuilt


def test_every_shipped_forecaster_is_intact_and_current_for_the_demo_series(tmp_path):
    """Fails after a builder, the training or the demo series changes, until the files are rebuilt."""
    from grader.core.course import init_course
    from grader.forecast.manifest import series_key
    from grader.forecast.references import TRAINING_VERSION
    from grader.forecast.series import series_from_config
    from reference_models import BUILDER_VERSIONS, FORECAST_TASKS

    index = prebuilt.prebuilt_index()
    assert sorted(index) == sorted(FORECAST_TASKS)
    course = init_course(tmp_path / "demo", demo=True)
    key = series_key(series_from_config(course.series, course.root))
    for task, entry in index.items():
        wanted = f"v{BUILDER_VERSIONS[task]}-t{TRAINING_VERSION}-{key}"
        assert entry["version_key"] == wanted, \
            f"{task} was pre-built for {entry['version_key']}, the code now builds {wanted}: run " \
            "'python -m reference_models.prebuilt' and commit reference_models/demo/"
        assert prebuilt.prebuilt_file(task, wanted) is not None, f"{task}: the shipped file does not match its hash"


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """A copy of the shipped folder that a test may damage."""
    folder = tmp_path / "shipped"
    shutil.copytree(prebuilt.FOLDER, folder)
    monkeypatch.setattr(prebuilt, "FOLDER", folder)
    monkeypatch.setattr(prebuilt, "INDEX", folder / "prebuilt.json")
    return folder


def test_a_damaged_or_stale_file_is_never_handed_out(shipped_copy):
    entry = prebuilt.prebuilt_index()["q4_forecaster"]
    assert prebuilt.prebuilt_file("q4_forecaster", entry["version_key"]) is not None
    assert prebuilt.prebuilt_file("q4_forecaster", entry["version_key"] + "-other-series") is None
    path = shipped_copy / entry["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert prebuilt.prebuilt_file("q4_forecaster", entry["version_key"]) is None
    path.unlink()
    assert prebuilt.prebuilt_file("q4_forecaster", entry["version_key"]) is None
    (shipped_copy / "prebuilt.json").unlink()
    assert prebuilt.prebuilt_index() == {}


def test_a_course_that_is_not_the_demo_trains_its_forecasters(tmp_path, monkeypatch):
    """Another seed is another series: nothing pre-built matches it, so each forecaster is trained, and the log says so."""
    from grader.core.course import init_course
    from grader.forecast import references

    trained = []

    def make_reference(task, course, series, target, progress, shipped=None):
        trained.append((task, shipped))
        target.write_bytes(b"a model")
        return {}

    monkeypatch.setattr(references, "_make_reference", make_reference)
    course = init_course(tmp_path / "course")          # a private random seed
    messages = []
    references.build_references(course, tasks=["q4_forecaster"], log=messages.append, prebuilt=True)
    assert trained == [("q4_forecaster", None)]
    assert any("no pre-built model matches" in m for m in messages), messages


@pytest.mark.slow
def test_training_q4_here_gives_the_shipped_models_held_out_mae(tmp_path):
    """The pre-built files are what this code trains: q4 trained afresh scores what the shipped one scored.

    Training is seeded; on another CPU the float sums may differ in the last bits, so 1 % is allowed.
    """
    from grader.core.course import init_course
    from grader.forecast.references import build_references

    course = init_course(tmp_path / "demo", demo=True)
    manifest = build_references(course, tasks=["q4_forecaster"], prebuilt=False)
    fresh = manifest["tasks"]["q4_forecaster"]
    shipped = prebuilt.prebuilt_index()["q4_forecaster"]
    assert "prebuilt" not in fresh
    assert fresh["mae"] == pytest.approx(shipped["held_out_mae"], rel=0.01)
    assert fresh["mae"] < fresh["seasonal_naive_mae"]


def test_the_demo_copies_the_shipped_forecasters_and_scores_them(demo):
    """The session's demo course took the pre-built forecasters, scored them itself, and they beat seasonal naive."""
    from grader.forecast.manifest import read_manifest

    tasks = read_manifest(demo["course"])["tasks"]
    index = prebuilt.prebuilt_index()
    for task, entry in index.items():
        assert tasks[task]["prebuilt"] is True
        assert tasks[task]["mae"] == pytest.approx(entry["held_out_mae"], rel=1e-6)
        assert (demo["course"].reference_dir / entry["file"]).read_bytes() == (prebuilt.FOLDER / entry["file"]).read_bytes()
