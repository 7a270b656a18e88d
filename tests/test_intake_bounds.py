"""Oversized files are refused before they are stored: answers.md over the 256 KiB the prose grader
reads is refused at intake (folder or zip, under a top folder or not), no more than one byte past a
bound is ever read, and nothing of a refused file reaches the store's objects. No TensorFlow."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from grader.grading import intake
from grader.grading.intake import DEFAULT_INTAKE_LIMITS, IntakeLimits, SubmissionStore, read_submission
from grader.grading.refusals import SIZE, Refusal
from grader.prose.answers import MAX_ANSWERS_BYTES

MiB = 1 << 20
FIFTY_MB = 50_000_000
CELL = b"import numpy as np\n"


def sparse_file(path: Path, size: int, head: bytes = b"## Q1\n") -> Path:
    """A file of ``size`` bytes that costs no disk: ``head`` then a hole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def stored_sizes(store: SubmissionStore) -> list[int]:
    return sorted(p.stat().st_size for p in (store.root / "objects").rglob("*") if p.is_file())


# --------------------------------------------------------------------------- the bound

def test_answers_md_has_its_own_bound_by_base_name():
    limits = DEFAULT_INTAKE_LIMITS
    assert limits.max_answers_bytes == MAX_ANSWERS_BYTES == 256 * 1024
    assert IntakeLimits.from_course({"file_mb": 1}).max_answers_bytes == MAX_ANSWERS_BYTES
    for name in ("answers.md", "alice/answers.md"):
        bound = limits.bound(name)
        assert bound.limit == MAX_ANSWERS_BYTES and bound.text == "the 256 KiB allowed for answers.md"
    assert limits.bound("q3_deep_seq2seq.keras").limit == limits.max_file_bytes
    assert limits.bound("notes/answers.md.bak").limit == limits.max_file_bytes
    # A per-file limit below the answers bound is the one that applies, and is named as such.
    small = IntakeLimits(max_file_bytes=1000)
    assert small.bound("answers.md").limit == 1000 and "per-file limit" in small.bound("answers.md").text


# --------------------------------------------------------------------------- refused, never stored

@pytest.mark.parametrize("layout", ["answers.md", "alice/answers.md"])
def test_a_50_mb_answers_md_in_a_folder_is_refused_and_never_stored(tmp_path, layout):
    root = tmp_path / "submission"
    sparse_file(root / layout, FIFTY_MB)
    (root / layout).with_name("q6_lstm_cell.py").write_bytes(CELL)

    files = read_submission(root)
    assert set(files.files) == {"q6_lstm_cell.py"}
    [refusal] = files.refused
    assert refusal == Refusal("answers.md", SIZE, "it is 47.7 MiB, over the 256 KiB allowed for answers.md",
                              FIFTY_MB, MAX_ANSWERS_BYTES, refusal.advice)
    assert refusal.message == ("answers.md was refused (too large): it is 47.7 MiB, over the 256 KiB allowed "
                               "for answers.md; keep only your answers in answers.md (no pasted outputs or images)")
    assert "per-file limit" not in refusal.message      # no course setting would let it in

    store = SubmissionStore(tmp_path / "store")
    manifest = store.store(files)
    assert set(manifest) == {"q6_lstm_cell.py"}
    assert stored_sizes(store) == [len(CELL)]
    assert store.load_refusals(files.content_hash) == files.refused


@pytest.mark.parametrize("top", ["", "alice/"])
def test_an_oversized_answers_md_in_a_zip_is_refused_and_never_stored(tmp_path, top):
    source = tmp_path / "alice.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{top}answers.md", b"## Q1\n" + b"a" * (2 * MiB))
        archive.writestr(f"{top}q6_lstm_cell.py", CELL)
    limits = IntakeLimits(max_ratio=1e9)       # the answers bound, not the zip-bomb guard, must refuse it
    files = read_submission(source, limits=limits)
    assert set(files.files) == {"q6_lstm_cell.py"}
    [refusal] = files.refused
    assert (refusal.name, refusal.kind, refusal.limit) == ("answers.md", SIZE, MAX_ANSWERS_BYTES)
    assert refusal.reason == "it is 2 MiB, over the 256 KiB allowed for answers.md"   # the header's claim, shown

    store = SubmissionStore(tmp_path / "store")
    store.store(files)
    assert stored_sizes(store) == [len(CELL)]


def test_an_answers_md_at_the_bound_is_kept(tmp_path):
    root = tmp_path / "alice"
    root.mkdir()
    data = b"## Q1\n" + b"a" * (MAX_ANSWERS_BYTES - 6)
    (root / "answers.md").write_bytes(data)
    files = read_submission(root)
    assert files.files == {"answers.md": data} and files.refused == ()


# --------------------------------------------------------------------------- reading stops at the bound

def test_a_file_growing_while_read_is_read_at_most_one_byte_past_its_bound(tmp_path, monkeypatch):
    """fstat says 6 bytes (the file was small when looked at); 50 MB are there when it is read."""
    sparse_file(tmp_path / "alice" / "answers.md", FIFTY_MB)
    real_fstat = os.fstat

    def stale_fstat(fd):
        info = tuple(real_fstat(fd))
        return os.stat_result(info[:6] + (6,) + info[7:10])

    monkeypatch.setattr(intake.os, "fstat", stale_fstat)
    files = read_submission(tmp_path / "alice", limits=IntakeLimits(max_answers_bytes=100_000))
    [refusal] = files.refused
    assert refusal.reason == "it is over the 100000 bytes allowed for answers.md"
    assert refusal.size == 100_001          # the bytes actually read: one past the bound


def test_a_zip_member_is_read_at_most_one_byte_past_its_bound(tmp_path, monkeypatch):
    source = tmp_path / "alice.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("answers.md", b"a" * (3 * MAX_ANSWERS_BYTES))
    asked: list[int] = []
    real_read = zipfile.ZipExtFile.read

    def read(self, n=-1):
        asked.append(n)
        return real_read(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", read)
    files = read_submission(source, limits=IntakeLimits(max_ratio=1e9))
    assert [r.name for r in files.refused] == ["answers.md"]
    assert all(n > 0 for n in asked) and sum(asked) <= MAX_ANSWERS_BYTES + 1


def test_submit_refuses_a_50_mb_answers_md_before_the_store(tmp_path, bank):
    """The path the issue names: ``Grader.submit`` under a course's limits stores nothing of it."""
    from grader.core.course import init_course, open_course
    from grader.grading.grader import Grader
    from grader.store.gradebook import Gradebook

    init_course(tmp_path / "course")
    course = open_course(tmp_path / "course")
    folder = tmp_path / "alice"
    sparse_file(folder / "answers.md", FIFTY_MB)
    (folder / "q6_lstm_cell.py").write_bytes(CELL)
    with Gradebook(course.db_url) as gradebook:
        receipt = Grader(course, bank, gradebook).submit(folder, "alice")
    assert [(r.name, r.kind) for r in receipt.refused] == [("answers.md", SIZE)]
    assert stored_sizes(SubmissionStore(course.submissions_dir)) == [len(CELL)]
