"""Batch folder discovery: students, sections, inner folders, and every skipped entry with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grading.discovery import discover

EXPECTED = ["q1_seq2seq.keras", "q6_lstm_cell.py"]


def _make(root: Path, files: list[str], folders: list[str] = ()) -> Path:
    for name in folders:
        (root / name).mkdir(parents=True, exist_ok=True)
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return root


def _found(root: Path):
    found = discover(root, EXPECTED)
    return ({p.relative_to(root).as_posix() for p in found.submissions},
            {s.name: s.reason for s in found.skipped}, found)


def test_junk_is_skipped_and_said(tmp_path):
    _make(tmp_path, ["alice/answers.md", "__MACOSX/alice/._answers.md", ".git/HEAD", "notes/todo.txt",
                     "grades.csv", "bob.zip", "carol/my_model.keras"], ["empty"])
    graded, skipped, _ = _found(tmp_path)
    assert graded == {"alice", "bob.zip", "carol"}
    assert skipped["__MACOSX/"] == "macOS archive metadata"
    assert skipped[".git/"] == "hidden"
    assert "no answers.md" in skipped["empty/"] and "no answers.md" in skipped["notes/"]
    assert "loose file" in skipped["grades.csv"]


def test_sections_are_understood_and_students_keep_their_names(tmp_path):
    _make(tmp_path, ["section1/bob/answers.md", "section1/carol/q6_lstm_cell.py", "section1/notes/x.txt",
                     "section2/dan.zip"])
    graded, skipped, found = _found(tmp_path)
    assert graded == {"section1/bob", "section1/carol", "section2/dan.zip"}
    assert set(found.sections) == {"section1", "section2"}
    assert "section1/notes/" in skipped


def test_one_inner_folder_is_a_students_wrapper_and_is_named(tmp_path):
    _make(tmp_path, ["alice/answers.md", "dave/assignment7/answers.md", "erin/erin/q1_seq2seq.keras"])
    graded, _, found = _found(tmp_path)
    assert graded == {"alice", "dave", "erin"}
    assert set(found.inner) == {"dave/assignment7/", "erin/erin/"}


def test_two_entries_with_one_student_id_are_both_held_back(tmp_path):
    _make(tmp_path, ["s1/bob/answers.md", "s1/amy/answers.md", "s2/bob/answers.md", "s2/cat/answers.md"])
    graded, skipped, _ = _found(tmp_path)
    assert graded == {"s1/amy", "s2/cat"}
    assert "s1/bob/, s2/bob/" in skipped["s1/bob/"] and "s2/bob/" in skipped


def test_a_folder_and_a_zip_of_one_student_clash(tmp_path):
    _make(tmp_path, ["bob/answers.md", "Bob.zip", "amy/answers.md"])
    graded, skipped, _ = _found(tmp_path)
    assert graded == {"amy"} and set(skipped) == {"bob/", "Bob.zip"}


@pytest.mark.parametrize("name", ["Ana María", "zoë", "李雷"])
def test_any_letters_name_a_student(tmp_path, name):
    _make(tmp_path, [f"{name}/answers.md"])
    graded, _, _ = _found(tmp_path)
    assert graded == {name}


def test_a_moodle_folder_holding_the_students_zip_is_that_student(tmp_path):
    _make(tmp_path, ["Ana María_12345_assignsubmission_file_/assignment7.zip",
                     "Ana María_12345_assignsubmission_file_/onlinetext.html", "kim/kim.zip", "lee/answers.md"])
    found = discover(tmp_path, EXPECTED)
    names = {f.name: f.path.relative_to(tmp_path).as_posix() for f in found.found}
    assert names == {"Ana María": "Ana María_12345_assignsubmission_file_/assignment7.zip",
                     "kim": "kim/kim.zip", "lee": "lee"}


def test_next_to_students_a_folder_of_several_submissions_is_held_back_not_split(tmp_path):
    _make(tmp_path, ["amy/answers.md", "twoinner/v1/answers.md", "twoinner/v2/answers.md",
                     "split2/prose/answers.md", "split2/models/q1_seq2seq.keras"])
    graded, skipped, found = _found(tmp_path)
    assert graded == {"amy"} and not found.sections
    assert "2 entries that each look like a submission (v1/, v2/)" in skipped["twoinner/"]
    assert "split over models/, prose/: put them in one folder" in skipped["split2/"]


def test_the_course_folder_and_other_archives_are_skipped_with_their_reason(tmp_path):
    course = tmp_path / "course"
    _make(tmp_path, ["amy/answers.md", "course/reference/q1_seq2seq.keras", "bob.tar.gz", "cat.rar"])
    found = discover(tmp_path, EXPECTED, course_root=course)
    skipped = {s.name: s.reason for s in found.skipped}
    assert [f.name for f in found.found] == ["amy"]
    assert skipped["course/"] == "the course folder itself"
    assert "unpack it" in skipped["bob.tar.gz"] and "unpack it" in skipped["cat.rar"]


def test_composed_and_decomposed_spellings_of_one_name_clash_visibly(tmp_path):
    _make(tmp_path, ["Jos\u00e9/answers.md", "Jose\u0301/answers.md"])
    _, skipped, found = _found(tmp_path)
    assert not found.found and len(skipped) == 2
    assert all("\\xe9" in reason and "\\u0301" in reason for reason in skipped.values())


def test_folders_with_nothing_to_grade_do_not_stop_a_layout_of_sections(tmp_path):
    _make(tmp_path, ["section1/s00/answers.md", "section1/s01/answers.md", "section2/Ana María/answers.md",
                     "notes/todo.txt", "__MACOSX/s00/x"], ["empty"])
    graded, skipped, found = _found(tmp_path)
    assert graded == {"section1/s00", "section1/s01", "section2/Ana María"}
    assert set(found.sections) == {"section1", "section2"} and {"notes/", "empty/", "__MACOSX/"} <= set(skipped)
