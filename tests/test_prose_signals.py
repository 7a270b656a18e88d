"""The prose scorer's second signal, attribution, claim structure and spelling tolerance."""

from __future__ import annotations

import socket

import pytest

from grader.core.bank import BankError, default_bank, parse_question
from grader.prose.scoring import score_answer
from grader.prose.semantic import semantic_score
from grader.prose.text import Vocabulary, answer_units


@pytest.fixture(scope="module")
def bank():
    return default_bank()


def test_embedding_model_loads_from_the_wheel_without_network(bank, monkeypatch):
    from grader.prose import embedding

    embedding._model.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("the embedding model reached for the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    vectors = embedding.embed(["Gradients vanish over many time steps.", "Clip the gradients."])
    assert vectors.shape == (2, embedding.MODEL_DIM)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4


def test_every_answer_carries_both_signals(bank):
    score = score_answer(bank.question("Q5"), "Gradients vanish or explode when they are propagated back "
                         "through many time steps, so training becomes unstable.")
    data = score.to_dict()
    assert data["signals"]["rubric"] == score.fraction
    assert {p["id"] for p in data["signals"]["semantic"]["points"]} == {p.id for p in score.points}


def test_semantic_signal_ranks_a_restatement_above_an_unrelated_sentence(bank):
    question = bank.question("Q5")
    vocabulary = None
    close = semantic_score(question, answer_units("Through many time steps the gradients shrink or blow up.", vocabulary))
    far = semantic_score(question, answer_units("My favourite pizza has mushrooms and olives on it.", vocabulary))
    assert close.point("unstable_gradients").similarity > far.point("unstable_gradients").similarity + 0.2


def test_swapped_pairing_is_a_contradiction_not_a_match(bank):
    q1 = bank.question("Q1")
    swapped = score_answer(q1, "Sentiment analysis of a review is a vector-to-sequence task, and image captioning "
                               "is sequence-to-vector. Forecasting a value at each time step is sequence-to-sequence.")
    right = score_answer(q1, "Sentiment analysis of a review is a sequence-to-vector task, and image captioning "
                             "is vector-to-sequence. Forecasting a value at each time step is sequence-to-sequence.")
    assert right.point("seq2vec_applications").status == "met"
    assert swapped.point("seq2vec_applications").status == "missed"
    assert swapped.point("vec2seq_applications").status == "missed"
    assert "swapped_pairing" in swapped.flags and swapped.needs_review
    assert swapped.fraction <= 0.25 < right.fraction


def test_heading_attributes_the_lines_below_it(bank):
    q1 = bank.question("Q1")
    score = score_answer(q1, "Sequence-to-vector:\n- sentiment analysis of a movie review\n\n"
                             "Vector-to-sequence:\n- image captioning from a CNN's picture vector")
    assert score.point("seq2vec_applications").status == "met"
    assert score.point("vec2seq_applications").status == "met"
    assert "swapped_pairing" not in score.flags


def test_gate_roles_are_attributed_to_the_gate_named(bank):
    q6 = bank.question("Q6")
    swapped = score_answer(q6, "The input gate decides which parts of the long-term state to erase.")
    right = score_answer(q6, "The forget gate decides which parts of the long-term state to erase, "
                             "and the input gate decides what new information is added.")
    assert swapped.contradiction("input_gate_erases").status == "present"
    assert right.contradiction("input_gate_erases").status == "absent"


def test_terse_claims_are_claims_and_noun_lists_are_not(bank):
    q5, q7 = bank.question("Q5"), bank.question("Q7")
    arrows = score_answer(q5, "Exploding/vanishing gradients → clipping, LayerNorm, tanh. "
                              "Short memory → LSTM/GRU, Conv1D downsampling, attention.")
    assert "keyword_stuffing" not in arrows.flags and arrows.fraction >= 0.5
    verbs = score_answer(q7, "Conv1D makes sequences shorter and WaveNet uses dilated convolutions.")
    assert "keyword_stuffing" not in verbs.flags
    assert {"downsample_sequence", "dilated_causal_wavenet"} <= set(verbs.met)
    stuffed = score_answer(q5, "vanishing exploding gradients clip LSTM GRU short-term memory layer "
                               "normalization dropout tanh ReLU Conv1D WaveNet attention")
    assert "keyword_stuffing" in stuffed.flags and stuffed.needs_review and stuffed.fraction <= 0.25


@pytest.mark.parametrize("misspelt, meant", [("imput", "input"), ("gradiants", "gradients"),
                                             ("paralel", "parallel"), ("recurent", "recurrent")])
def test_near_misses_are_corrected_by_edit_distance(misspelt, meant):
    vocabulary = Vocabulary({"input", "gradients", "parallel", "recurrent", "encoder"})
    assert vocabulary.correct(misspelt) == meant


def test_other_forms_of_a_word_are_not_corrected():
    vocabulary = Vocabulary({"encoder", "layers"})
    assert vocabulary.correct("encoded") == "encoded"   # another word, not a typo
    assert vocabulary.correct("player") == "player"


def _minimal(**prose_extra):
    point = {"id": "p", "weight": 1, "text": "t", "phrasings": ["a + b"]}
    prose = {"points": 10, "answer": " ".join(["word"] * 25),
             "key_points": [dict(point, id=f"p{i}") for i in range(3)], **prose_extra}
    return {"id": "Q9", "number": 9, "title": "t", "version": 1, "prompt": "p", "prose": prose}


def test_bank_rejects_an_unknown_subject_and_bad_examples():
    data = _minimal(subjects=[{"id": "a", "names": ["alpha"]}])
    data["prose"]["key_points"][0]["about"] = "b"
    with pytest.raises(BankError, match="unknown subject 'b'"):
        parse_question(data, "q9.toml")
    data = _minimal()
    data["prose"]["key_points"][0]["examples"] = ["fine", 3]
    with pytest.raises(BankError, match="examples"):
        parse_question(data, "q9.toml")


def test_a_universal_with_an_exception_is_not_the_universal(bank):
    q3 = bank.question("Q3")
    score = score_answer(q3, "Seq-to-seq: return_sequences=True on all recurrent layers except the top one. "
                             "Seq-to-vector: return_sequences=True on every recurrent layer including the top one.")
    assert score.point("seq2seq_every_layer").status != "met"
    assert score.fraction <= 0.3


def test_a_list_of_names_states_no_key_point_but_a_shape_is_not_a_list(bank):
    q6, q2 = bank.question("Q6"), bank.question("Q2")
    salad = score_answer(q6, "The LSTM cell is all about gates, states, sigmoids, tanh functions, weights, biases, "
                             "inputs and outputs, long-term and short-term memory, and the forget, input and output gates.")
    assert "keyword_list" in salad.flags and salad.needs_review and salad.fraction <= 0.25
    shape = score_answer(q2, q2.answer)
    assert "keyword_list" not in shape.flags and not shape.needs_review


def test_partial_credit_goes_to_a_person_and_clear_verdicts_do_not(bank):
    q5 = bank.question("Q5")
    partial = score_answer(q5, "Gradients vanish or explode when they are propagated back through many time steps, "
                               "so training becomes unstable; gradient clipping helps.")
    assert 0.3 < partial.fraction < 0.75
    assert any(r.startswith("partial credit") for r in partial.review_reasons)
    full = score_answer(q5, q5.answer)
    assert full.fraction == 1.0 and not full.needs_review


def test_full_credit_does_not_hang_on_one_minor_point(bank):
    from grader.prose.calibration import FULL_CREDIT_AT

    q6 = bank.question("Q6")
    minor = next(p for p in q6.key_points if p.id == "keras_weight_layout")
    total = sum(p.weight for p in q6.key_points)
    assert (total - minor.weight) / total >= FULL_CREDIT_AT
    without = "\n".join(line for line in q6.answer.splitlines() if "kernel" not in line and "Keras" not in line)
    score = score_answer(q6, without)
    assert score.point(minor.id).status == "missed"
    assert score.fraction == 1.0


def test_a_word_that_stems_like_a_negation_is_not_one(bank):
    q1 = bank.question("Q1")
    score = score_answer(q1, "A sequence-to-sequence RNN can tag the notes of a melody at each time step.")
    assert not any(p.note == "only stated negated" for p in score.points)


def test_axes_listed_out_of_order_are_a_contradiction_and_the_right_order_is_not(bank):
    q2 = bank.question("Q2")
    wrong = score_answer(q2, "The input is a 3-D tensor of shape (time steps, batch size, features).")
    ordinal = score_answer(q2, "The input is 3-D: the first dimension is the number of time steps and the "
                               "third the batch size.")
    right = score_answer(q2, "The input is 3-D, [batch size, time steps, features]: the number of features per "
                             "time step. The output of the last time step is 2-D, [batch size, units].")
    assert wrong.contradiction("axes_out_of_order").status == "present"
    assert wrong.point("input_dimensions_meaning").status != "met"
    assert ordinal.contradiction("axes_out_of_order").status == "present"
    assert right.contradiction("axes_out_of_order").status == "absent"
    assert right.point("input_dimensions_meaning").status == "met"


@pytest.mark.parametrize("sentence, restates", [
    ("Vanishing gradients are gradients that vanish.", True),
    ("GRU cells are gated recurrent unit cells.", True),
    ("Layer normalization is a kind of normalization of the layers.", True),
    ("Exploding gradients are gradients that grow without bound.", False),
    ("A GRU is an LSTM with fewer gates.", False),
    ("Sequence-to-vector means the network reads a sequence and outputs one vector.", False),
    ("The forget gate decides what the long-term state drops.", False),     # no copula: not a definition
])
def test_a_clause_that_only_restates_its_subject_is_found(sentence, restates):
    from grader.prose.tautology import restating_clauses
    from grader.prose.text import answer_units

    (unit,) = answer_units(sentence, None)
    assert bool(restating_clauses(unit)) is restates


def test_restatements_earn_no_key_point_and_go_to_review(bank):
    text = ("Vanishing gradients are gradients that vanish. Exploding gradients are gradients that explode. "
            "Gradient clipping is a technique of clipping gradients. GRU cells are gated recurrent unit cells.")
    score = score_answer(bank.question("Q5"), text)
    assert "restates_terms" in score.flags and score.needs_review
    assert score.fraction <= 0.25
