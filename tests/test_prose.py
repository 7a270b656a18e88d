"""Reading answers.md and scoring prose answers against the rubrics (no TensorFlow)."""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from grader.core.bank import load_bank
from grader.prose.agreement import agreement, nearest_grade, quadratic_weighted_kappa
from grader.prose.answers import AnswersError, parse_answers, read_answers, section_status
from grader.prose.scoring import prose_results, score_answer
from grader.prose.text import normalise

CALIBRATION = Path(__file__).parent / "data" / "prose_calibration.toml"


@pytest.fixture(scope="module")
def bank():
    return load_bank()


@pytest.fixture(scope="module")
def calibration(bank):
    """(entry, score) for every labelled answer, entries tagged ``tune`` / ``check`` by position."""
    answers = tomllib.loads(CALIBRATION.read_text(encoding="utf-8"))["answers"]
    seen: dict[str, int] = defaultdict(int)
    rows = []
    for entry in answers:
        seen[entry["question"]] += 1
        entry = dict(entry, half="tune" if seen[entry["question"]] % 2 else "check")
        rows.append((entry, score_answer(bank.question(entry["question"]), entry["text"])))
    return rows


# ---- parse_answers ---------------------------------------------------------

@pytest.mark.parametrize("heading", ["## Q3", "# Q3", "### Q3.", "## Question 3", "## Q3: return_sequences",
                                     "##Q3", "  ## q3  ", "## Q3 ##", "## **Q3**"])
def test_heading_variants_open_a_section(heading: str):
    parsed = parse_answers(f"{heading}\nEvery layer returns sequences.\n")
    assert parsed.answer("Q3") == "Every layer returns sequences."


def test_sections_are_split_and_markdown_is_kept():
    text = "# Answers\nby Ada\n\n## Q1\n- **seq2seq**: tagging\n\n## Q2\nThree dims: `[batch, time, features]`.\n"
    parsed = parse_answers(text)
    assert parsed.answer("Q1") == "- **seq2seq**: tagging"
    assert parsed.answer("Q2") == "Three dims: `[batch, time, features]`."
    assert any("before the first question heading" in m for m in parsed.messages)


def test_missing_section_is_an_empty_answer_with_a_message():
    parsed = parse_answers("## Q1\na\n## Q2\nb\n## Q3\nc\n## Q4\nd\n## Q6\nf\n## Q7\ng\n## Q8\nh\n")
    assert parsed.answer("Q5") == ""
    assert "answers.md has no section for Q5 (expected a heading '## Q5')" in parsed.messages
    assert section_status(parsed)["Q5"] == "missing"


def test_duplicate_section_keeps_the_first():
    parsed = parse_answers("## Q2\nfirst answer\n## Q2\nsecond answer\n")
    assert parsed.answer("Q2") == "first answer"
    assert any("two sections for Q2" in m for m in parsed.messages)


def test_bom_crlf_and_code_fences():
    text = "\ufeff## Q1\r\nline one\r\n```python\r\n# Q2 is a comment here\r\nx = 1\r\n```\r\n## Q2\r\nline two\r\n"
    parsed = parse_answers(text)
    assert parsed.answer("Q1").startswith("line one\n```python\n# Q2 is a comment here")
    assert parsed.answer("Q2") == "line two"
    assert "\r" not in parsed.answer("Q1")


def test_section_status_never_reveals_scores():
    status = section_status(parse_answers("## Q1\nsomething\n## Q2\n\n## Q3\n  \n"))
    assert status["Q1"] == "present"
    assert status["Q2"] == status["Q3"] == "empty"
    assert status["Q8"] == "missing"
    assert set(status.values()) <= {"present", "empty", "missing"}


def test_unknown_question_number_is_reported():
    parsed = parse_answers("## Q9\nextra\n## Q1\nanswer\n")
    assert parsed.answer("Q1") == "answer"
    assert any("Q9" in m and "ignored" in m for m in parsed.messages)


def test_parsed_answers_say_whether_the_file_holds_any_text():
    assert not parse_answers("\ufeff \n\t\r\n").has_text
    headingless = parse_answers("**Q1**\nA vector at every step.\n")
    assert headingless.has_text and not headingless.found


def test_read_answers_reports_problems_in_one_line(tmp_path: Path):
    good = tmp_path / "answers.md"
    good.write_bytes("## Q1\ncafé\n".encode("utf-8"))
    assert read_answers(good).answer("Q1") == "café"

    latin = tmp_path / "latin.md"
    latin.write_bytes("## Q1\ncaf\xe9\n".encode("latin-1"))
    parsed = read_answers(latin)        # read by a noted guess, never an error worth 0
    assert parsed.answer("Q1") == "café" and "read as windows-1252" in parsed.encoding_note

    binary = tmp_path / "binary.md"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(AnswersError) as err:
        read_answers(binary)
    assert "save it as plain text with UTF-8 encoding" in str(err.value) and "\n" not in str(err.value)

    big = tmp_path / "big.md"
    big.write_bytes(b"## Q1\n" + b"x" * 300_000)
    with pytest.raises(AnswersError, match="KiB"):
        read_answers(big)

    with pytest.raises(AnswersError, match="not found"):
        read_answers(tmp_path / "missing.md")


# ---- normalisation ---------------------------------------------------------

def test_normalise_unifies_spellings():
    assert normalise("return_sequences = True") == normalise("return_sequences=True") == ["return_sequences=true"]
    assert normalise("return_sequence=True") == ["return_sequences=true"]
    assert normalise("seq2seq") == normalise("sequence-to-sequence") == normalise("many-to-many")
    assert normalise("3-D") == normalise("3D")
    assert normalise("the gradiants vanish") == normalise("the gradients vanishing")
    assert normalise("doesn't") == ["doe", "not"]
    assert normalise("Layer Normalisation") == normalise("layer normalization")


# ---- scoring ---------------------------------------------------------------

def test_reference_answers_get_full_credit_without_contradiction(bank):
    for question in bank.questions:
        score = score_answer(question, question.answer)
        assert score.fraction == pytest.approx(1.0), (question.id, score.summary())
        assert all(c.status == "absent" for c in score.contradictions), (question.id, score.summary())
        assert not score.needs_review, (question.id, score.review_reasons)


@pytest.mark.parametrize("qid, text, point", [
    ("Q3", "You do not need return_sequences=True on every layer of a deep sequence-to-sequence RNN.",
     "seq2seq_every_layer"),
    ("Q3", "It is not true that every recurrent layer needs return_sequences=True.", "seq2seq_every_layer"),
    ("Q3", "Every layer except the top one needs return_sequences=True.", "seq2seq_every_layer"),
    ("Q2", "The inputs don't have to be 3D; a matrix is enough.", "input_is_3d"),
    ("Q7", "Conv1D layers never shorten the sequence.", "downsample_sequence"),
    ("Q5", "There is no need for gradient clipping in an RNN.", "gradient_remedies"),
    ("Q8", "You can classify a clip without a softmax layer.", "softmax_class_probabilities"),
    ("Q3", "It is a misconception that every layer needs return_sequences=True.", "seq2seq_every_layer"),
    ("Q3", "Setting return_sequences=True on every layer isn't necessary.", "seq2seq_every_layer"),
])
def test_negated_statements_do_not_meet_the_point(bank, qid: str, text: str, point: str):
    score = score_answer(bank.question(qid), text)
    assert score.point(point).status != "met", score.point(point)


def test_ambiguous_negation_is_uncertain_not_met(bank):
    score = score_answer(bank.question("Q1"), "Image captioning is not really a vector-to-sequence task.")
    assert score.point("vec2seq_applications").status in {"uncertain", "missed"}
    assert score.needs_review


def test_negated_contradiction_is_not_a_contradiction(bank):
    q5 = bank.question("Q5")
    claimed = score_answer(q5, "ReLU fixes the vanishing gradients problem in RNNs.")
    denied = score_answer(q5, "ReLU does not fix the vanishing gradients problem in RNNs; it lets them explode.")
    assert claimed.contradiction("relu_fixes_vanishing").status == "present"
    assert denied.contradiction("relu_fixes_vanishing").status == "absent"


@pytest.mark.parametrize("qid, text", [
    ("Q5", "vanishing exploding gradients clipping LSTM GRU tanh ReLU LayerNorm dropout WaveNet Conv1D "
           "memory learning rate initialization"),
    ("Q8", "CNN, RNN, LSTM, Conv3D, TimeDistributed, ConvLSTM, transformer, frames, softmax, spatial, "
           "temporal, pretrained, ResNet, pooling, video, classes"),
    ("Q3", "return_sequences True every layer seq2seq seq2vec top layer False last output 3D input "
           "next layer sequence"),
])
def test_keyword_stuffing_does_not_earn_full_credit(bank, qid: str, text: str):
    score = score_answer(bank.question(qid), text)
    assert score.fraction < 0.5
    assert score.needs_review
    assert "keyword_stuffing" in score.flags


def test_keywords_dressed_up_as_a_sentence_are_not_trusted(bank):
    text = ("The return_sequences True on every layer and the top layer and the last layer False and the 3D "
            "input for the next layer and the default last output.")
    score = score_answer(bank.question("Q3"), text)
    assert score.fraction < 1 and score.needs_review
    assert "crowded_sentence" in score.flags


def test_incidental_negations_do_not_hide_a_point(bank):
    q3 = bank.question("Q3")
    for text in ("Every recurrent layer needs return_sequences=True, not just the lower ones.",
                 "If not, the top layer keeps the default and returns only its last output."):
        score = score_answer(q3, text)
        assert any(p.status == "met" for p in score.points), (text, score.summary())


def test_contradiction_costs_credit_even_when_points_are_met(bank):
    q2 = bank.question("Q2")
    clean = score_answer(q2, q2.answer)
    wrong = score_answer(q2, q2.answer + "\n\nIn any case the output of an RNN layer is always 3D.")
    assert wrong.contradiction("output_always_3d").status == "present"
    assert wrong.met == clean.met
    assert wrong.fraction == pytest.approx(clean.fraction - 0.5)


def test_right_answer_in_plain_words_is_recognised(bank):
    text = ("Stack the recurrent layers so that every recurrent layer returns sequences, the top one included, "
            "for sequence to sequence. For sequence to vector, all layers except the top one return sequences "
            "and the top one keeps the default, returning only its last output, because each recurrent layer "
            "needs a 3D sequence as input from the layer below.")
    score = score_answer(bank.question("Q3"), text)
    assert score.fraction == pytest.approx(1.0), score.summary()


def test_empty_short_and_off_topic_answers(bank):
    q8 = bank.question("Q8")
    empty = score_answer(q8, "   ")
    assert empty.fraction == 0 and "empty" in empty.flags and not empty.needs_review
    short = score_answer(q8, "CNN then LSTM.")
    assert short.fraction < 1 and short.needs_review
    off = score_answer(q8, "I enjoyed the course and the lab sessions were useful, thanks to the teaching team.")
    assert off.fraction == 0 and "off_topic" in off.flags


def test_very_long_answers_are_scored_on_their_start_and_reviewed(bank):
    score = score_answer(bank.question("Q3"), "Every layer returns sequences. " * 3000)
    assert "long" in score.flags and score.needs_review
    assert any("only the first" in reason for reason in score.review_reasons)


def test_routing_accepts_only_clear_verdicts(bank):
    q3 = bank.question("Q3")
    clear = score_answer(q3, q3.answer)
    hedged = score_answer(q3, "I am not sure, but I guess every layer needs return_sequences=True.")
    assert not clear.needs_review
    assert hedged.needs_review and hedged.point("seq2seq_every_layer").status == "uncertain"


# ---- prose_results -----------------------------------------------------------

def test_prose_results_shape(bank):
    q3 = bank.question("Q3")
    result = prose_results(q3, q3.answer)
    assert (result.task, result.check, result.status) == ("q3_prose", "rubric", "passed")
    assert result.max_score == q3.prose_points and result.score == pytest.approx(q3.prose_points)
    assert result.visibility == "visible"
    assert result.output.startswith("met: seq2seq_every_layer")
    assert result.details["needs_review"] is False and result.needs_review is False
    assert {p["id"] for p in result.details["points"]} == {p.id for p in q3.key_points}
    assert all(p["evidence"] for p in result.details["points"])
    assert result.evidence["answer"] == q3.answer
    json.dumps(result.to_dict())

    partial = prose_results(q3, "For a sequence to vector RNN, every layer except the top one returns "
                                   "sequences and the top layer keeps return_sequences=False.")
    assert partial.status == "failed" and 0 < partial.score < q3.prose_points
    assert partial.score == round(partial.score, 2)
    assert "missed: " in partial.output


def test_prose_results_for_a_missing_section_is_an_error(bank):
    q5 = bank.question("Q5")
    parsed = parse_answers("## Q1\nx\n")
    message = next(m for m in parsed.messages if "Q5" in m)
    result = prose_results(q5, parsed.answer("Q5"), missing_message=message)
    assert result.status == "error" and result.score == 0 and result.max_score == q5.prose_points
    assert result.output == "answers.md has no section for Q5 (expected a heading '## Q5')"


# ---- agreement with the instructors' labels ------------------------------------

def test_quadratic_weighted_kappa():
    assert quadratic_weighted_kappa([0, 0.5, 1, 0.25], [0, 0.5, 1, 0.25]) == pytest.approx(1.0)
    assert quadratic_weighted_kappa([0, 0, 1, 1], [1, 1, 0, 0]) < 0
    assert nearest_grade(0.62) == 0.5 and nearest_grade(0.63) == 0.75 and nearest_grade(0.9) == 1.0


def test_calibration_acceptance(calibration):
    labels = [entry["label"] for entry, _ in calibration]
    measured = agreement(labels, [s.fraction for _, s in calibration], [s.needs_review for _, s in calibration])
    assert measured.qwk >= 0.7, measured
    assert measured.auto_share >= 0.5, measured
    assert measured.auto_within_quarter >= 0.9, measured


def test_calibration_halves_both_hold(calibration):
    for half in ("tune", "check"):
        rows = [(e, s) for e, s in calibration if e["half"] == half]
        measured = agreement([e["label"] for e, _ in rows], [s.fraction for _, s in rows],
                             [s.needs_review for _, s in rows])
        assert measured.qwk >= 0.7, (half, measured)


def test_stuffed_and_negated_answers_never_get_automatic_full_credit(calibration):
    offenders = [entry["id"] for entry, score in calibration
                 if entry["kind"] in {"keyword_stuffed", "negated"}
                 and score.fraction >= 0.999 and not score.needs_review]
    assert offenders == []
    stuffed = [score for entry, score in calibration if entry["kind"] == "keyword_stuffed"]
    assert all(score.needs_review for score in stuffed)
