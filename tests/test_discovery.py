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
