"""answers.md in whatever encoding an editor chose: read by byte-order mark, UTF-8 or a noted guess;
bytes that are not text (binary, NUL bytes) give one line saying to save the file as UTF-8.
Every case is real encoded bytes; no TensorFlow."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest

from grader.prose.answers import AnswersError, answers_from_bytes, read_answers
from grader.prose.decoding import Decoded, UndecodableText, decode_text, encoding_label, looks_like_text

FRENCH = "## Q1\nUne séquence passe par le réseau récurrent ; chaque état caché dépend du précédent.\n"
SMART = "## Q2\nThe model\u2019s \u201cstate\u201d is carried \u2013 step by step \u2026\n"
CLEAN_ERROR = "save it as plain text with UTF-8 encoding"


def _binary_cases() -> dict[str, bytes]:
    docx = io.BytesIO()      # a Word document renamed answers.md is a zip
    with zipfile.ZipFile(docx, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", "<w:document>" + FRENCH * 20 + "</w:document>")
    return {
        "random": random.Random(0).randbytes(4096),
        "zeros": b"\x00" * 1000,
        "stray NUL": FRENCH.encode("utf-8") + b"\x00" + FRENCH.encode("utf-8"),
        "png": b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(500),
        "docx": docx.getvalue(),
    }


# --------------------------------------------------------------------------- certain encodings

@pytest.mark.parametrize("text", [FRENCH, SMART, "## Q1\nplain ASCII\n", ""])
def test_utf8_is_read_as_it_is_with_no_note(text):
    decoded = decode_text(text.encode("utf-8"))
    assert decoded == Decoded(text, "utf-8", "") and not decoded.guessed


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_byte_order_mark_decides_and_is_dropped(encoding):
    import codecs

    data = FRENCH.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):     # these codecs write no mark: add the file's own
        data = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + data
    decoded = decode_text(data)
    assert decoded.text == FRENCH and "\ufeff" not in decoded.text
    assert decoded.note == ""


# --------------------------------------------------------------------------- guessed encodings

@pytest.mark.parametrize("text, encoding", [
    (FRENCH, "latin-1"), ("## Q1\nréseau\n", "latin-1"), ("## Q1\ncafé\n", "latin-1"),
    (SMART, "cp1252"), (FRENCH + SMART, "cp1252"),
])
def test_western_code_pages_are_read_and_the_guess_is_noted(text, encoding):
    decoded = decode_text(text.encode(encoding), "answers.md")
    assert decoded.text == text
    assert decoded.guessed and "read as windows-1252" in decoded.note
    assert decoded.note.startswith("answers.md is not UTF-8") and "\n" not in decoded.note


def test_other_code_pages_are_not_forced_into_windows_1252():
    russian = "## Q1\nРекуррентная сеть возвращает последовательность на каждом шаге времени.\n"
    decoded = decode_text(russian.encode("cp1251"))
    assert decoded.text == russian and "windows-1251" in decoded.note


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", [FRENCH, "## Q1\nplain ASCII text in UTF-16\n"])
def test_utf16_without_a_mark_is_read_or_refused_cleanly(codec, text):
    """The detector may or may not recognise UTF-16 without its mark: either way, never garbage."""
    try:
        decoded = decode_text(text.encode(codec), "answers.md")
    except UndecodableText as exc:
        assert CLEAN_ERROR in str(exc) and "\n" not in str(exc)
    else:
        assert decoded.text == text and decoded.guessed


# --------------------------------------------------------------------------- not text

@pytest.mark.parametrize("case", sorted(_binary_cases()))
def test_binary_and_nul_bytes_give_one_clean_line(case):
    with pytest.raises(UndecodableText) as err:
        decode_text(_binary_cases()[case], "answers.md")
    message = str(err.value)
    assert message.startswith("answers.md cannot be read as text") and CLEAN_ERROR in message
    assert "\n" not in message and isinstance(err.value, ValueError)


def test_looks_like_text_allows_whitespace_and_a_stray_control():
    assert looks_like_text("a\tb\r\nc\fd\x0b") and looks_like_text("x" * 200 + "\x1b")
    assert not looks_like_text("abc\x00") and not looks_like_text("\x01\x02\x03 text")


def test_encoding_labels_are_the_names_students_know():
    assert [encoding_label(e) for e in ("cp1252", "cp1250", "utf_16_le", "iso8859_15")] == \
        ["windows-1252", "windows-1250", "UTF-16 LE", "iso8859_15"]


# --------------------------------------------------------------------------- answers.md

def test_a_latin1_answers_file_is_parsed_and_says_how_it_was_read(tmp_path: Path):
    path = tmp_path / "answers.md"
    path.write_bytes((FRENCH + SMART).encode("cp1252"))
    parsed = read_answers(path)
    assert parsed.answer("Q1").startswith("Une séquence passe par le réseau")
    assert parsed.answer("Q2").startswith("The model\u2019s \u201cstate\u201d")
    assert parsed.encoding == "cp1252"
    assert parsed.messages[0] == parsed.encoding_note and "read as windows-1252" in parsed.encoding_note
    assert parsed.to_dict()["encoding"] == "cp1252"


def test_a_utf16_answers_file_is_parsed_with_no_note():
    parsed = answers_from_bytes(FRENCH.encode("utf-16"))
    assert parsed.answer("Q1").startswith("Une séquence") and parsed.encoding_note == ""
    assert not any("UTF-8" in m for m in parsed.messages)


@pytest.mark.parametrize("case", ["random", "stray NUL", "docx"])
def test_an_answers_file_that_is_not_text_is_an_answers_error(tmp_path: Path, case):
    path = tmp_path / "answers.md"
    path.write_bytes(_binary_cases()[case])
    with pytest.raises(AnswersError) as err:
        read_answers(path)
    assert str(err.value).startswith("answers.md cannot be read as text") and "\n" not in str(err.value)


# --------------------------------------------------------------------------- grading

def test_a_latin1_answers_file_is_graded_not_zeroed(tmp_path: Path, bank):
    from grader.grading.grader import answers_results

    text = "".join(f"## Q{n}\nUne séquence passe par le réseau récurrent ; l'état caché est renvoyé.\n"
                   for n in range(1, 9))
    (tmp_path / "answers.md").write_bytes(text.encode("latin-1"))
    results = answers_results(bank, tmp_path)
    assert results and all(r.status != "error" for r in results)
    assert all(r.evidence["answer"].startswith("Une séquence passe par le réseau") for r in results)


@pytest.mark.parametrize("sent", ["unreadable", "refused"])
def test_an_answers_file_sent_but_not_read_is_sent_to_review(tmp_path: Path, bank, sent):
    from grader.grading.grader import answers_results
    from grader.grading.refusals import SIZE, Refusal

    refused: tuple[Refusal, ...] = ()
    if sent == "unreadable":
        (tmp_path / "answers.md").write_bytes(_binary_cases()["random"])
        expected = "answers.md cannot be read as text"
    else:
        refused = (Refusal("answers.md", SIZE, "it is 47.7 MiB, over the 256 KiB allowed for answers.md",
                           50_000_000, 256 * 1024),)
        expected = "answers.md was refused (too large)"
    results = answers_results(bank, tmp_path, refused)
    assert results and all(r.status == "error" and r.score == 0 for r in results)
    assert all(r.output.startswith(expected) for r in results)
    assert all(r.needs_review for r in results)


def test_a_guessed_encoding_is_noted_beside_each_prose_result(tmp_path: Path, bank):
    from grader.grading.grader import answers_results

    (tmp_path / "answers.md").write_bytes(("## Q1\nUne séquence passe par le réseau.\n").encode("latin-1"))
    results = answers_results(bank, tmp_path)
    notes = {r.details.get("encoding_note") for r in results}
    assert len(notes) == 1 and "read as windows-1252" in notes.pop()


def test_a_missing_answers_file_is_not_sent_to_review(tmp_path: Path, bank):
    from grader.grading.grader import answers_results

    results = answers_results(bank, tmp_path)
    assert results and all(r.status == "error" and not r.needs_review for r in results)


def test_an_answers_file_without_headings_goes_to_review_not_zero(bank, tmp_path):
    from grader.grading.grader import answers_results

    (tmp_path / "answers.md").write_text("**Q1**\nA seq2seq RNN forecasts a value at every step.\n")
    results = answers_results(bank, tmp_path)
    assert results and all(r.status == "error" and r.needs_review for r in results)
    assert "no heading '## Q1'" in results[0].output


def test_a_blank_answers_file_is_empty_not_sent_to_review(bank, tmp_path):
    from grader.grading.grader import answers_results

    (tmp_path / "answers.md").write_bytes(b"\xef\xbb\xbf  \n\t\n")
    results = answers_results(bank, tmp_path)
    assert results and not any(r.needs_review for r in results)
    assert all("no heading" not in r.output for r in results)
