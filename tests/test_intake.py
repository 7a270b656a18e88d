"""Submission intake: folders and zips, hostile archives, the content-addressed store."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader.grading.intake import (IntakeError, IntakeLimits, SubmissionFiles, SubmissionStore, content_hash,
                           ignored_name, read_submission, student_id_from_path)

ANSWERS = b"# Q1\nA seq2seq RNN returns a vector at every time step.\n"
MODEL = bytes(range(256)) * 40
CELL = b"import keras\n\nclass LSTMCell(keras.layers.Layer):\n    pass\n"


def make_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def make_folder(root: Path, members: dict[str, bytes]) -> Path:
    for name, data in members.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


GOOD = {"answers.md": ANSWERS, "q3_deep_seq2seq.keras": MODEL, "q6_lstm_cell.py": CELL}


# --------------------------------------------------------------------------- happy paths

def test_folder_intake(tmp_path):
    folder = make_folder(tmp_path / "alice", {**GOOD, ".hidden": b"x", ".ipynb_checkpoints/a.py": b"x",
                                              ".DS_Store": b"junk"})
    sub = read_submission(folder)
    assert sub.files == GOOD
    assert sub.ok and sub.problems == []
    assert sub.size == sum(map(len, GOOD.values()))
    assert set(sub.digests) == set(GOOD)


def test_zip_intake_matches_folder_intake(tmp_path):
    archive = make_zip(tmp_path / "alice.zip", GOOD)
    folder = make_folder(tmp_path / "alice", GOOD)
    from_zip, from_folder = read_submission(archive), read_submission(folder)
    assert from_zip.files == GOOD
    assert from_zip.content_hash == from_folder.content_hash


def test_single_top_folder_is_stripped_and_mac_junk_ignored(tmp_path):
    members = {f"alice/{name}": data for name, data in GOOD.items()}
    members["__MACOSX/alice/._answers.md"] = b"\x00\x05\x16\x07"
    members["alice/.DS_Store"] = b"junk"
    sub = read_submission(make_zip(tmp_path / "alice.zip", members))
    assert sub.files == GOOD and sub.ok

    nested = make_folder(tmp_path / "bob", {f"bob-final/{name}": data for name, data in GOOD.items()})
    assert read_submission(nested).files == GOOD


def test_zips_and_folders_ignore_the_same_names_wherever_they_sit(tmp_path):
    assert all(map(ignored_name, ["__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini", ".git", "._answers.md"]))
    assert not any(map(ignored_name, ["answers.md", "macosx", "thumbs.db.txt"]))
    junk = {"__MACOSX/._answers.md": b"x", "notes/Thumbs.db": b"x", ".git/config": b"x",
            "Thumbs.db/answers.md": b"x", "extra/__MACOSX": b"x"}
    from_zip = read_submission(make_zip(tmp_path / "a.zip", {**GOOD, **junk}))
    from_folder = read_submission(make_folder(tmp_path / "a", {**GOOD, **junk}))
    assert from_zip.files == from_folder.files == GOOD


def test_two_top_folders_are_kept(tmp_path):
    sub = read_submission(make_zip(tmp_path / "a.zip", {"x/answers.md": ANSWERS, "y/q6_lstm_cell.py": CELL}))
    assert set(sub.files) == {"x/answers.md", "y/q6_lstm_cell.py"}


def test_directory_entries_and_dot_slash_prefix(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("alice/", b"")
        archive.writestr("./alice/answers.md", ANSWERS)
    assert read_submission(path).files == {"answers.md": ANSWERS}


# --------------------------------------------------------------------------- hostile zips

@pytest.mark.parametrize("name, reason", [
    ("../evil.py", "leaves the submission folder"),
    ("alice/../../evil.py", "leaves the submission folder"),
    ("/etc/passwd", "absolute"),
    ("C:/Windows/evil.dll", "drive letter"),
    ("alice\\..\\evil.py", "leaves the submission folder"),    # Windows separators read as folders: still refused
    ("a\x01b.py", "control characters"),
])
def test_unsafe_member_paths_are_refused(tmp_path, name, reason):
    path = tmp_path / "alice.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("answers.md", ANSWERS)
        archive.writestr(zipfile.ZipInfo(name), b"print('pwned')")  # ZipInfo keeps the raw name
    sub = read_submission(path)
    assert sub.files == {"answers.md": ANSWERS}
    assert len(sub.problems) == 1 and "\n" not in sub.problems[0]
    assert reason in sub.problems[0] and "alice.zip: refused" in sub.problems[0]
    with pytest.raises(IntakeError, match=reason):
        read_submission(path, strict=True)
    assert not (tmp_path.parent / "evil.py").exists()


def test_symlink_member_is_refused(tmp_path):
    path = tmp_path / "alice.zip"
    link = zipfile.ZipInfo("answers.md")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(link, "/etc/passwd")
        archive.writestr("q6_lstm_cell.py", CELL)
    sub = read_submission(path)
    assert sub.files == {"q6_lstm_cell.py": CELL}
    assert sub.problems == ["alice.zip: refused 'answers.md': it is a symlink"]


def _mark_encrypted(path: Path, name: str) -> None:
    """Set the 'encrypted' flag bit of one member in its local and central headers."""
    data = bytearray(path.read_bytes())
    for signature, flag_offset, name_offset in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            if data[start + name_offset:start + name_offset + len(name)] == name.encode():
                data[start + flag_offset] |= 0x1
            start += 4
    path.write_bytes(bytes(data))


def test_duplicate_and_encrypted_members_are_refused(tmp_path):
    path = tmp_path / "alice.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("answers.md", ANSWERS)
        archive.writestr("Answers.md", b"second copy")
        archive.writestr("q6_lstm_cell.py", CELL)
    _mark_encrypted(path, "q6_lstm_cell.py")
    sub = read_submission(path)
    assert sub.files == {"answers.md": ANSWERS}
    assert any("duplicate of 'answers.md'" in p for p in sub.problems)
    assert any("'q6_lstm_cell.py': it is encrypted" in p for p in sub.problems)


def _zeros_bomb(path: Path, megabytes: int) -> Path:
    """A zip whose one member is ``megabytes`` MiB of zeros, written in 1 MiB chunks."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("answers.md", ANSWERS)
        info = zipfile.ZipInfo("q3_deep_seq2seq.keras")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            for _ in range(megabytes):
                member.write(chunk)
    return path


def test_zip_bomb_is_refused_without_expanding_it(tmp_path):
    bomb = _zeros_bomb(tmp_path / "alice.zip", 200)
    assert bomb.stat().st_size < 1 << 20  # 200 MiB of zeros in well under 1 MiB
    sub = read_submission(bomb)
    assert sub.files == {"answers.md": ANSWERS}
    [problem] = sub.problems
    assert "'q3_deep_seq2seq.keras'" in problem and "zip bomb" in problem


def test_per_file_and_total_bounds_count_real_bytes(tmp_path):
    limits = IntakeLimits(max_file_bytes=1000, max_total_bytes=2500, max_ratio=1e9)
    big = make_zip(tmp_path / "a.zip", {"answers.md": b"a" * 1001}, zipfile.ZIP_STORED)
    assert "per-file limit of 1000 bytes" in read_submission(big, limits=limits).problems[0]

    total = make_zip(tmp_path / "b.zip", {f"f{i}.py": b"b" * 900 for i in range(3)})
    with pytest.raises(IntakeError, match="expands to more than 2500 bytes; refused whole"):
        read_submission(total, limits=limits)


def test_lying_header_sizes_do_not_help(tmp_path):
    """A member whose header under-states its size is refused, never accepted cut short."""
    path = make_zip(tmp_path / "a.zip", {"answers.md": b"x" * 5000}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    # patch the central directory's uncompressed size (4 bytes at offset 24 of the entry) to 10
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    limits = IntakeLimits(max_file_bytes=1000, max_ratio=1e9)
    sub = read_submission(path, limits=limits)
    assert "answers.md" not in sub.files
    assert sub.problems == ["a.zip: refused 'answers.md': damaged member (Bad CRC-32 for file 'answers.md')"]


def test_too_many_members_is_refused_whole(tmp_path):
    path = make_zip(tmp_path / "alice.zip", {f"f{i}.py": b"" for i in range(201)})
    with pytest.raises(IntakeError, match="201 members, more than the limit of 200"):
        read_submission(path)


def test_not_a_zip_and_missing_paths(tmp_path):
    fake = tmp_path / "alice.zip"
    fake.write_bytes(b"not a zip at all")
    with pytest.raises(IntakeError, match="not a readable zip archive"):
        read_submission(fake)
    other = tmp_path / "alice.txt"
    other.write_text("hello")
    with pytest.raises(IntakeError, match="expected a submission folder or a .zip"):
        read_submission(other)
    with pytest.raises(IntakeError, match="no such file or folder"):
        read_submission(tmp_path / "nobody")


# --------------------------------------------------------------------------- hostile folders

def test_folder_symlinks_out_are_refused(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("instructor key")
    folder = make_folder(tmp_path / "alice", GOOD)
    (folder / "stolen.md").symlink_to(outside)
    (folder / "again.md").symlink_to(folder / "answers.md")  # inside: allowed
    (tmp_path / "elsewhere").mkdir()
    (folder / "linked_dir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    sub = read_submission(folder)
    assert "stolen.md" not in sub.files
    assert sub.files["again.md"] == ANSWERS
    assert any("'stolen.md': it is a symlink leading out of the folder" in p for p in sub.problems)
    assert any("'linked_dir'" in p for p in sub.problems)


def test_folder_fifo_and_size_bounds(tmp_path):
    folder = make_folder(tmp_path / "alice", {**GOOD, "big.bin": b"z" * 5000})
    os.mkfifo(folder / "pipe.keras")
    sub = read_submission(folder, limits=IntakeLimits(max_file_bytes=4096))
    assert "pipe.keras" not in sub.files and "big.bin" not in sub.files
    assert any("'pipe.keras': it is not a regular file" in p for p in sub.problems)
    assert any("'big.bin': it is 5000 bytes, over the per-file limit of 4096 bytes" in p for p in sub.problems)
    with pytest.raises(IntakeError, match="more than 2 files"):
        read_submission(folder, limits=IntakeLimits(max_members=2))


# --------------------------------------------------------------------------- hashing, ids

def test_content_hash_is_order_free_and_accepts_manifests():
    sub = SubmissionFiles("x", dict(GOOD))
    assert content_hash(GOOD) == content_hash(dict(reversed(GOOD.items()))) == sub.content_hash
    assert content_hash(sub.digests) == sub.content_hash
    assert content_hash({**GOOD, "answers.md": b"changed"}) != sub.content_hash
    assert content_hash({"renamed.md": ANSWERS}) != content_hash({"answers.md": ANSWERS})


@pytest.mark.parametrize("path, expected", [
    ("/subs/alice.zip", "alice"), ("/subs/alice.ZIP", "alice"), ("bob.smith@uni-x", "bob.smith@uni-x"),
    ("s_123", "s_123"), ("zoë.zip", "zoë"), ("Ana María", "Ana María"),
    ("Zoe\u0308.zip", "Zo\u00eb"),      # decomposed and composed spellings are one student
])
def test_student_id_from_path(path, expected):
    assert student_id_from_path(path) == expected


@pytest.mark.parametrize("path, message", [
    (".zip", "blank"), (".hidden", "starts with a dot"), (" alice", "space"),
    ("a\x1bb.zip", "control"), ("..", "starts with a dot"),
])
def test_student_id_from_path_errors(path, message):
    with pytest.raises(IntakeError, match=message):
        student_id_from_path(path)


# --------------------------------------------------------------------------- the store

def test_store_deduplicates_and_materializes(tmp_path):
    store = SubmissionStore(tmp_path / "store")
    alice = read_submission(make_zip(tmp_path / "alice.zip", GOOD))
    bob = read_submission(make_folder(tmp_path / "bob", {**GOOD, "answers.md": b"bob's own answers"}))
    manifest_a = store.store(alice)
    manifest_b = store.store(bob)
    objects = [p for p in (tmp_path / "store" / "objects").rglob("*") if p.is_file()]
    assert len(objects) == 4  # three of alice's files + bob's answers; the shared model kept once
    assert manifest_a["q3_deep_seq2seq.keras"] == manifest_b["q3_deep_seq2seq.keras"]
    assert store.has(manifest_a["answers.md"])
    assert store.load_manifest(alice.content_hash) == manifest_a
    assert store.store(alice) == manifest_a  # storing again changes nothing
    assert len([p for p in (tmp_path / "store" / "objects").rglob("*") if p.is_file()]) == 4

    dest = store.materialize(manifest_a, tmp_path / "work" / "alice")
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == GOOD
    assert store.read(manifest_b)["answers.md"] == b"bob's own answers"


def test_materialize_handles_subfolders_and_refuses_bad_input(tmp_path):
    store = SubmissionStore(tmp_path / "store")
    manifest = store.store({"answers.md": ANSWERS, "extra/notes.md": b"n"})
    dest = store.materialize(manifest, tmp_path / "out")
    assert (dest / "extra" / "notes.md").read_bytes() == b"n"
    with pytest.raises(IntakeError, match="new or empty folder"):
        store.materialize(manifest, dest)
    with pytest.raises(IntakeError, match="unsafe path"):
        store.materialize({"../x": manifest["answers.md"]}, tmp_path / "out2")
    with pytest.raises(IntakeError, match="missing from the store"):
        store.materialize({"a.md": "0" * 64}, tmp_path / "out3")

    path = store.object_path(manifest["answers.md"])
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(IntakeError, match="corrupted"):
        store.read(manifest)


def test_a_windows_zip_with_backslash_folders_is_read(tmp_path):
    path = tmp_path / "winzip.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("winzip\\answers.md"), ANSWERS)
        archive.writestr(zipfile.ZipInfo("winzip\\models\\q6_lstm_cell.py"), b"x = 1\n")
    sub = read_submission(path)
    assert sub.files == {"answers.md": ANSWERS, "models/q6_lstm_cell.py": b"x = 1\n"} and not sub.refused


def test_folders_wrapping_the_files_are_removed(tmp_path):
    path = tmp_path / "nest.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("nest/Assignment 7/files/answers.md", ANSWERS)
        archive.writestr("nest/Assignment 7/files/q6_lstm_cell.py", b"x = 1\n")
    assert set(read_submission(path).files) == {"answers.md", "q6_lstm_cell.py"}
