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
