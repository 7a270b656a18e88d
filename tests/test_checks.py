"""Every reference model passes every check; every wrong variant fails exactly the checks it should."""

from __future__ import annotations

import pytest

from grader.grading.checking import check_task
from grader.checks.evidence import Evidence
from grader.checks.registry import CHECKS
from grader.checks.return_sequences import seq2vec_return_sequences
from grader.static.description import Layer, ModelDescription
from reference_models.variants import VARIANTS

STATIC = {name for name, spec in CHECKS.items() if spec.needs in ("static", "source")}


def _failed(results) -> set[str]:
    return {r.check for r in results if r.status != "passed"}


@pytest.mark.parametrize("task_id", [
    "q1_seq2seq", "q1_seq2vec", "q1_vec2seq", "q3_deep_seq2seq", "q3_deep_seq2vec", "q4_forecaster",
    "q5_stable_rnn", "q6_lstm_cell", "q7_conv_rnn", "q8_video_classifier"])
def test_reference_passes_static_checks(bank, model_files, task_id):
    results, _ = check_task(bank.task(task_id), model_files[task_id])
    assert results, "no results"
    assert _failed(results) == set(), [r.output for r in results]
    assert {r.check for r in results} == {name for name, _ in bank.task(task_id).checks if name in STATIC}


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v.task}:{v.name}")
def test_variant_fails_intended_static_checks(bank, model_files, variant):
    task = bank.task(variant.task)
    results, _ = check_task(task, model_files[f"{variant.task}:{variant.name}"])
    expected = {name for name in variant.fails if name in STATIC}
    assert _failed(results) == expected, [r.output for r in results]
    for result in results:
        if result.check in expected:
            assert result.score == 0
            assert "\n" not in result.output
            if result.check == "input_shape":
                assert "input shape is (" in result.output
            elif CHECKS[result.check].needs == "static" and not result.output.startswith("no "):
                assert "layer " in result.output, result.output


@pytest.mark.slow
@pytest.mark.parametrize("task_id", [
    "q1_seq2seq", "q1_seq2vec", "q1_vec2seq", "q3_deep_seq2seq", "q3_deep_seq2vec", "q4_forecaster",
    "q5_stable_rnn", "q6_lstm_cell", "q7_conv_rnn", "q8_video_classifier"])
def test_reference_passes_probes(bank, model_files, prober, task_id):
    results, _ = check_task(bank.task(task_id), model_files[task_id], prober=prober)
    assert _failed(results) == set(), [r.output for r in results]
    assert {r.check for r in results} == {name for name, _ in bank.task(task_id).checks if name != "forecast_accuracy"}


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v.task}:{v.name}")
def test_variant_fails_exactly_intended_checks(bank, model_files, prober, variant):
    results, _ = check_task(bank.task(variant.task), model_files[f"{variant.task}:{variant.name}"], prober=prober)
    assert _failed(results) == set(variant.fails), [r.output for r in results]


def _layer(index, name, cls, rs=None, path=None, **kw):
    return Layer(index=index, name=name, class_name=cls, path=path or ("m", name), return_sequences=rs, units=8, **kw)


def test_seq2vec_message_names_layer_and_shapes():
    layers = (_layer(0, "in", "InputLayer"), _layer(1, "lstm", "LSTM", True), _layer(2, "lstm_1", "LSTM", True),
              _layer(3, "dense", "Dense"))
    edges = tuple(("m/" + a, "m/" + b) for a, b in (("in", "lstm"), ("lstm", "lstm_1"), ("lstm_1", "dense")))
    desc = ModelDescription("x.keras", "keras", "3", "Sequential", ((None, None, 3),), layers, ("m/dense",), None, edges)
    outcome = seq2vec_return_sequences(Evidence(description=desc), None)
    assert outcome.status == "failed"
    assert outcome.message.startswith("layer 2 'lstm_1' (LSTM) has return_sequences=True")
    assert "(got (None, T, 8), expected (None, 8))" in outcome.message


def test_missing_file_is_one_error_worth_zero(bank, tmp_path):
    task = bank.task("q3_deep_seq2seq")
    results, _ = check_task(task, tmp_path)
    assert len(results) == 1 and results[0].status == "error" and results[0].score == 0
    assert results[0].max_score == task.points
    assert "q3_deep_seq2seq.keras is missing" in results[0].output


def test_a_probability_failure_never_reads_as_a_pass(bank):
    """'rows sum to 1 within 1' read as a pass; the message says how far the sums are from 1."""
    from grader.checks.evidence import Evidence
    from grader.checks.registry import CHECKS

    probe = {"outputs": 1, "runs": [{"input_shape": [3, 8, 16, 16, 3], "output_shape": [3, 5], "finite": True,
                                     "min": 0.0, "max": 2.0, "row_sum_error": 1.0}]}
    outcome = CHECKS["probability_output"].run(Evidence(probe=probe), bank.task("q8_video_classifier"))
    assert outcome.status == "failed"
    assert "row sums differ from 1 by up to 1" in outcome.message and "within" not in outcome.message
