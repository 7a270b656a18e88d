"""'grader similarity' end to end on the demo course: every sample was built from the references."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.slow


def test_students_who_all_used_the_references_are_public_source_matches_not_pairs(demo, tmp_path):
    from click.testing import CliRunner

    from grader.cli import cli
    from grader.store.gradebook import Gradebook

    course = demo["course"]
    db = tmp_path / "grader.db"
    shutil.copyfile(course.root / "grader.db", db)
    result = CliRunner().invoke(cli, ["similarity", "--course", str(course.root), "--db", f"sqlite:///{db}", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output[result.output.index("{"):])
    assert found["students"] == 10 and found["method"] == "all pairs"
    assert found["pairs"] == [] and found["clusters"] == []
    alice = {(m["artifact"], m["task"]) for m in found["public"] if m["student"] == "alice"}
    assert ("model", "q4_forecaster") in alice and ("code", "q6_lstm_cell") in alice
    assert all(m["source"] == "reference" for m in found["public"])
    # frank's truncated file is named, not fatal
    assert any(p.startswith("frank: q1_seq2vec.keras") for p in found["problems"])
    with Gradebook(f"sqlite:///{db}") as gradebook:
        assert len(gradebook.similarity_findings()) == len(found["public"])


def test_a_copied_model_between_two_students_is_a_pair(demo, bank, tmp_path):
    """Two students hand in the same re-trained forecaster (not the reference): one pair, with its evidence."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from grader.core.course import init_course
    from grader.grading.grader import Grader
    from grader.grading.similarity import find_shared_work
    from grader.store.gradebook import Gradebook
    from reference_models import BUILDERS

    course = init_course(tmp_path / "course")
    keras.utils.set_random_seed(7)
    model = BUILDERS["q4_forecaster"]()
    model.fit(np.random.default_rng(0).random((32, 56, 1)), np.random.default_rng(1).random((32, 7)), epochs=1, verbose=0)
    for student in ("mia", "noah"):
        (tmp_path / student).mkdir()
        model.save(tmp_path / student / "q4_forecaster.keras")
    keras.utils.set_random_seed(8)
    BUILDERS["q4_forecaster"]().save((tmp_path / "olivia").mkdir() or tmp_path / "olivia" / "q4_forecaster.keras")
    with Gradebook(course.db_url) as gradebook:
        grader = Grader(course, bank, gradebook, isolation="auto")
        for student in ("mia", "noah", "olivia"):
            grader.submit(tmp_path / student, student)
        report = find_shared_work(course, bank, gradebook)
    assert [(f.a, f.b, f.task, f.kind) for f in report.pairs] == [("mia", "noah", "q4_forecaster", "same weights")]
    assert report.clusters == [["mia", "noah"]] and report.public == []
