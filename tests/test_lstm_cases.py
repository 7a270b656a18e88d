"""q6: cases drawn and answered in the grader; the sandbox's reply read as untrusted input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import lstm_cell as lstm_cases
from grader.checks.lstm_cell import ARGUMENTS, MalformedReply, compare, draw_cases, read_reply

SOURCE = ["import numpy as np", "", "def lstm_step(x, h, c, kernel, recurrent_kernel, bias):",
          "    z = x @ kernel + h @ recurrent_kernel + bias", "    return z, z"]


def _reply(cases, outputs):
    return {"results": [{"h": h.tolist(), "c": c.tolist()} for h, c in outputs]}


def test_every_draw_has_a_fresh_seed_and_fresh_values():
    first, second = draw_cases(), draw_cases()
    assert first.seed != second.seed
    assert not np.array_equal(first.cases[0].inputs["x"], second.cases[0].inputs["x"]) or \
        first.cases[0].inputs["x"].shape != second.cases[0].inputs["x"].shape


def test_the_payload_holds_inputs_only():
    cases = draw_cases(123)
    payload = cases.payload()
    assert all(set(case) == set(ARGUMENTS) for case in payload)
    expected = {round(v, 12) for case in cases.cases for v in case.h_expected.ravel()}
    sent = {round(v, 12) for case in payload for name in ARGUMENTS for v in np.ravel(case[name])}
    assert not expected & sent, "an expected value was sent to the sandbox"


def test_the_reference_answer_scores_zero_error():
    cases = draw_cases(5)
    outputs = [(case.h_expected, case.c_expected) for case in cases.cases]
    evidence = compare(cases, read_reply(_reply(cases, outputs), cases, len(SOURCE)), SOURCE, "q6_lstm_cell.py")
    assert evidence["seed"] == 5
    assert all(entry["h_error"] == 0 and entry["c_error"] == 0 for entry in evidence["cases"])


def test_swapped_gates_are_named():
    cases = draw_cases(9)
    outputs = []
    for case in cases.cases:
        args = [case.inputs[name] for name in ARGUMENTS]
        swap = [np.concatenate([np.split(w, 4, axis=-1)[i] for i in (0, 1, 3, 2)], axis=-1) for w in args[3:]]
        outputs.append(lstm_cases.reference_step(*args[:3], *swap))
    evidence = compare(cases, read_reply(_reply(cases, outputs), cases, len(SOURCE)), SOURCE, "q6_lstm_cell.py")
    assert "ordered i, f, o, c" in evidence["cases"][0]["hint"]


@pytest.mark.parametrize("reply", [
    [],
    {"results": "no"},
    {"results": [{}, {}, {}]},
    {"results": [{"h": [[1.0]], "c": [[1.0]]}] * 3},
    {"results": [{"h": "[[1]]", "c": None}] * 3},
    {"results": [{"h": [[True] * 50] * 50, "c": [[1.0] * 50] * 50}] * 3},
    {"results": [{"raised": "ValueError: the secret file says ..."}] * 3},
    {"import_error": ["ValueError", 3]},
], ids=["list", "text", "empty", "wrong-shape", "not-lists", "bools", "message", "import-list"])
def test_malformed_replies_are_refused(reply):
    with pytest.raises(MalformedReply):
        read_reply(reply, draw_cases(1), len(SOURCE))


def test_a_student_exception_is_reported_by_name_and_line_only():
    cases = draw_cases(2)
    reply = {"results": [{"raised": {"type": "ValueError", "line": 4, "message": "SECRET"}},
                         {"raised": {"type": "SecretLeak: 0xdeadbeef", "line": 10**9}},
                         {"raised": {"type": "KeyError", "line": "4"}}]}
    evidence = compare(cases, read_reply(reply, cases, len(SOURCE)), SOURCE, "q6_lstm_cell.py")
    errors = [entry["error"] for entry in evidence["cases"]]
    assert errors[0] == ("lstm_step raised ValueError at line 4 of q6_lstm_cell.py: "
                         "`z = x @ kernel + h @ recurrent_kernel + bias`")
    assert errors[1] == "lstm_step raised an exception" and errors[2] == "lstm_step raised KeyError"
    assert "SECRET" not in str(evidence) and "deadbeef" not in str(evidence)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 6), input_dim=st.integers(1, 9), units=st.integers(1, 9),
       seed=st.integers(0, 2**32 - 1))
def test_the_numpy_reference_is_keras_lstm_cell(batch, input_dim, units, seed):
    """The expected values come from the NumPy reference: it must be Keras's LSTMCell, on any shape."""
    import keras

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, input_dim)).astype("float32")
    h = rng.normal(scale=0.5, size=(batch, units)).astype("float32")
    c = rng.normal(scale=0.5, size=(batch, units)).astype("float32")
    weights = [rng.normal(scale=0.5, size=shape).astype("float32")
               for shape in ((input_dim, 4 * units), (units, 4 * units), (4 * units,))]
    cell = keras.layers.LSTMCell(units)
    cell.build((batch, input_dim))
    cell.set_weights(weights)
    _, (keras_h, keras_c) = cell(x, [h, c])
    ours_h, ours_c = lstm_cases.reference_step(*(a.astype("float64") for a in (x, h, c, *weights)))
    assert np.abs(np.asarray(keras_h) - ours_h).max() < 1e-5
    assert np.abs(np.asarray(keras_c) - ours_c).max() < 1e-5
