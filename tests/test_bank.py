"""The shipped question bank and the loader's validation (no TensorFlow needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.core.bank import QUESTION_POINTS, BankError, load_bank
from grader.core.resources import questions_dir

# The task contract: task id -> (question, submission file).
TASK_FILES = {
    "q1_seq2seq": ("Q1", "q1_seq2seq.keras"),
    "q1_seq2vec": ("Q1", "q1_seq2vec.keras"),
    "q1_vec2seq": ("Q1", "q1_vec2seq.keras"),
    "q3_deep_seq2seq": ("Q3", "q3_deep_seq2seq.keras"),
    "q3_deep_seq2vec": ("Q3", "q3_deep_seq2vec.keras"),
    "q4_forecaster": ("Q4", "q4_forecaster.keras"),
    "q5_stable_rnn": ("Q5", "q5_stable_rnn.keras"),
    "q6_lstm_cell": ("Q6", "q6_lstm_cell.py"),
    "q7_conv_rnn": ("Q7", "q7_conv_rnn.keras"),
    "q8_video_classifier": ("Q8", "q8_video_classifier.keras"),
}
PROSE_POINTS = {"Q1": 4, "Q2": 10, "Q3": 4, "Q4": 3, "Q5": 5, "Q6": 5, "Q7": 5, "Q8": 5}


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;])\s+|\n+", text) if s.strip()]


# ---- the shipped bank ----------------------------------------------------

def test_shipped_bank_has_eight_questions_in_order(bank):
    assert [q.id for q in bank.questions] == [f"Q{n}" for n in range(1, 9)]
    assert [q.number for q in bank.questions] == list(range(1, 9))
    assert all(q.version >= 1 for q in bank.questions)


def test_every_question_is_worth_ten_points(bank):
    for question in bank.questions:
        assert question.points == pytest.approx(QUESTION_POINTS), question.id
    assert bank.points == pytest.approx(8 * QUESTION_POINTS)


def test_prose_points_per_question(bank):
    assert {q.id: q.prose_points for q in bank.questions} == PROSE_POINTS


def test_tasks_match_the_contract(bank):
    found = {task.id: (task.question, task.file) for task in bank.tasks}
    assert found == TASK_FILES
    assert bank.question("Q2").tasks == ()


def test_forecasting_tasks_have_forecast_accuracy(bank):
    for task in bank.tasks:
        has_accuracy = any(name == "forecast_accuracy" for name, _ in task.checks)
        assert has_accuracy == task.is_forecaster, task.id


def test_prompts_are_single_questions(bank):
    for question in bank.questions:
        assert question.prompt.strip().endswith("?"), question.id
        assert "\n" not in question.prompt.strip(), question.id
        assert question.title.strip(), question.id


def test_reference_answers_are_substantial(bank):
    for question in bank.questions:
        words = len(question.answer.split())
        assert 120 <= words <= 400, (question.id, words)


def test_key_points_are_well_formed(bank):
    for question in bank.questions:
        assert 3 <= len(question.key_points) <= 6, question.id
        ids = [point.id for point in question.key_points]
        assert len(ids) == len(set(ids)), question.id
        for point in question.key_points:
            assert point.weight > 0, (question.id, point.id)
            assert point.text.strip(), (question.id, point.id)
            assert len(point.phrasings) >= 2, (question.id, point.id)
            for phrasing in point.phrasings:
                _assert_phrasing_syntax(phrasing, f"{question.id}.{point.id}")


def test_contradictions_are_well_formed(bank):
    for question in bank.questions:
        assert 1 <= len(question.contradictions) <= 3, question.id
        for item in question.contradictions:
            assert 0.25 <= item.penalty <= 0.5, (question.id, item.id)
            assert item.text.strip(), (question.id, item.id)
            # A contradiction is found by its phrasings, or by names listed out of their order.
            assert item.phrasings or len(item.order) >= 2, (question.id, item.id)
            for phrasing in item.phrasings + item.order:
                _assert_phrasing_syntax(phrasing, f"{question.id}.{item.id}")


def _assert_phrasing_syntax(phrasing: str, where: str) -> None:
    assert phrasing == phrasing.strip(), where
    for term in phrasing.split(" + "):
        alternatives = term.split("|")
        assert all(alt.strip() and alt == alt.strip() for alt in alternatives), (where, phrasing)
        assert "+" not in term, (where, phrasing)


# ---- the reference answers carry the corrections -------------------------

def test_q2_answer_distinguishes_3d_and_2d_outputs(bank):
    answer = bank.question("Q2").answer
    assert "return_sequences=True" in answer and "return_sequences=False" in answer
    assert "3-D" in answer and "2-D" in answer
    assert "[batch size, units]" in answer
    assert "always" not in answer.lower()


def test_q3_answer_sets_return_sequences_on_every_layer_including_top(bank):
    answer = bank.question("Q3").answer.lower()
    assert "every recurrent layer" in answer
    assert "top one included" in answer
    assert "except the top" in answer
    assert not any("decoder" in s and "false" in s for s in _sentences(answer))


def test_q4_answer_prefers_seq2vec_with_seven_outputs(bank):
    answer = bank.question("Q4").answer
    assert "sequence-to-vector" in answer
    assert "Dense layer of 7 units" in answer or "Dense(7)" in answer
    assert "[batch, T, 1]" in answer
    # an encoder-decoder is never called a sequence-to-vector RNN
    for sentence in _sentences(answer):
        if "encoder" in sentence.lower():
            assert "sequence-to-vector" not in sentence, sentence


def test_q5_answer_does_not_recommend_relu(bank):
    answer = bank.question("Q5").answer
    relu_sentences = [s for s in _sentences(answer) if "relu" in s.lower()]
    assert relu_sentences
    for sentence in relu_sentences:
        assert re.search(r"\b(poor|not|avoid|rather than|instead)\b", sentence.lower()), sentence
    assert "Layer Normalization" in answer and "clip" in answer
    assert "LSTM" in answer and "GRU" in answer


def test_q6_answer_has_the_lstm_equations_and_keras_layout(bank):
    answer = bank.question("Q6").answer
    flat = re.sub(r"\s+", "", answer).replace("−", "-")
    assert "c(t)=f(t)⊗c(t-1)+i(t)⊗g(t)" in flat
    assert "h(t)=o(t)⊗tanh(c(t))" in flat
    for gate in ("i", "f", "g", "o"):
        assert f"b_{gate})" in flat, gate
    assert "i, f, c" in answer and "recurrent_kernel" in answer


def test_q7_answer_does_not_claim_pretrained_image_layers(bank):
    answer = bank.question("Q7").answer
    for sentence in _sentences(answer):
        if re.search(r"pre-?trained", sentence, re.IGNORECASE):
            assert re.search(r"\b(not|no|never|cannot)\b", sentence.lower()), sentence
    assert "fully connected layers commonly used" not in answer
    for idea in ("stride", "parallel", "dilation", "causal", "WaveNet"):
        assert idea in answer, idea


def test_q8_answer_names_the_architectures_and_softmax(bank):
    answer = bank.question("Q8").answer
    for idea in ("TimeDistributed", "sequence-to-vector", "Conv3D", "ConvLSTM", "softmax"):
        assert idea in answer, idea


def test_q1_answer_treats_translation_as_encoder_decoder(bank):
    answer = bank.question("Q1").answer
    translation = [s for s in _sentences(answer) if "translation" in s.lower()]
    assert translation and all("encoder" in s for s in translation)
    for idea in ("sentiment", "image captioning", "part-of-speech"):
        assert idea in answer, idea


# ---- the loader names the file and the field ------------------------------

def _shipped(name: str) -> str:
    return (questions_dir() / name).read_text(encoding="utf-8")


def _replace_once(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BROKEN = {
    "unknown_top_level_key": (
        lambda t: "colour = \"red\"\n" + t, ["top level", "colour"]),
    "unknown_task_key": (
        lambda t: _replace_once(t, 'kind = "deep_seq2seq"\n', 'kind = "deep_seq2seq"\nweight = 2\n'),
        ["tasks[0]", "weight"]),
    "points_do_not_add_up": (
        lambda t: _replace_once(t, "[prose]\npoints = 4\n", "[prose]\npoints = 5\n"),
        ["points", "10"]),
    "task_without_builder": (
        lambda t: _replace_once(t, 'id = "q3_deep_seq2seq"\nfile = "q3_deep_seq2seq.keras"',
                                'id = "q3_deep_lstm"\nfile = "q3_deep_lstm.keras"'),
        ["tasks[0].id", "q3_deep_lstm"]),
    "unknown_check": (
        lambda t: _replace_once(t, "stacked_recurrent_layers = 0.5", "stacked_layers = 0.5"),
        ["tasks[0].checks.stacked_layers"]),
    "key_point_without_phrasings": (
        lambda t: re.sub(r"\nphrasings = \[.*?\n\]\n", "\n", t, count=1, flags=re.S),
        ["prose.key_points[0].phrasings"]),
    "penalty_out_of_range": (
        lambda t: _replace_once(t, "penalty = 0.5", "penalty = 1.5"),
        ["prose.contradictions[0].penalty"]),
    "bad_toml": (
        lambda t: t + "\n[prose\n", ["not valid TOML"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_loader_errors_name_file_and_field(tmp_path: Path, case: str):
    mutate, expected = BROKEN[case]
    filename = f"broken_{case}.toml"
    (tmp_path / filename).write_text(mutate(_shipped("q3.toml")), encoding="utf-8")
    with pytest.raises(BankError) as info:
        load_bank(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{filename}:"), message
    for fragment in expected:
        assert fragment in message, message
    assert "\n" not in message


def test_unmodified_copy_loads(tmp_path: Path):
    (tmp_path / "q3.toml").write_text(_shipped("q3.toml"), encoding="utf-8")
    bank = load_bank(tmp_path)
    assert [q.id for q in bank.questions] == ["Q3"]


def test_empty_directory_is_an_error(tmp_path: Path):
    with pytest.raises(BankError, match="no question files"):
        load_bank(tmp_path)


# ---- no TensorFlow on the static side ---------------------------------------

@pytest.mark.parametrize("code", [
    "import grader.core.bank",
    "import grader.core.bank; grader.core.bank.load_bank()",
])
def test_bank_does_not_import_tensorflow(code: str):
    probe = f"import sys; {code}; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
