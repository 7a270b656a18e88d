"""Submission intake: read a student's folder or .zip safely, and keep it in a content-addressed store.

A submission is one folder, or one .zip of such a folder, holding ``answers.md``
and model files named after task ids (``q3_deep_seq2seq.keras``,
``q6_lstm_cell.py``). Zips are untrusted input, so nothing in them is extracted
by its own path or believed by its own header:

* a member is refused (a :class:`~grader.grading.refusals.Refusal` in ``refused``,
  with its kind and reason) for an absolute path, a drive letter, a backslash, a
  ``..`` component, control characters, being a symlink or other non-regular file,
  encryption, a duplicate name, exceeding the per-file size (``[limits] file_mb``; an
  ``answers.md`` in any folder: the 256 KiB the prose grader reads), or expanding more
  than ``max_ratio`` times its compressed size;
* the whole submission is refused (:class:`IntakeError`) for too many members,
  more uncompressed bytes than ``max_total_bytes`` (twice the per-file size), or a
  damaged archive;
* sizes are counted while decompressing in chunks, and reading stops one byte past
  the bound, whatever the headers claim, so a refused file is never held whole nor stored;
* ``__MACOSX/``, ``.DS_Store`` and hidden files are ignored; when every file sits
  under one top folder (``alice/answers.md``) that folder is stripped.

Folders get the same treatment: symlinks that leave the folder and non-regular
files are refused, hidden files skipped, sizes bounded.

The store keeps each file once under ``root/objects/ab/cdef...`` (its sha256), a
manifest per submission content under ``root/manifests/<content hash>.json`` and,
when something was refused, the refusals beside it (``<content hash>.refused.json``):
a refused file is part of what was submitted, so its refusal is part of the content hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from grader.core import identity
from grader.core.config import LimitsConfig
from grader.core.errors import GraderError
from grader.core.terminal import printable
from grader.grading.refusals import CORRUPT, SAFETY, SIZE, TYPE, Refusal
from grader.prose.answers import ANSWERS_FILE, MAX_ANSWERS_BYTES

CHUNK = 1 << 16
MiB = 1 << 20
IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
IGNORED_DIRS = frozenset({"__MACOSX"})
# Folders that wrap all of a submission's files, one inside the other, that intake removes.
MAX_WRAPPING_FOLDERS = 3
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COURSE_FILE_MB = LimitsConfig.from_table({}).file_mb
# The whole submission may hold this many files at the per-file limit: room for one at the
# limit (a pretrained CNN inside TimeDistributed) beside all the others.
TOTAL_FILES = 2


class IntakeError(GraderError, ValueError):
    """A submission cannot be taken in; the message is one line naming the file and the reason."""


@dataclass(frozen=True)
class FileBound:
    """One file's size limit: ``limit`` bytes, named ``text`` in a refusal, with its own ``advice``
    when the size kind's general advice (raise the course's per-file limit) would not help."""

    limit: int
    text: str
    advice: str | None = None


@dataclass(frozen=True)
class IntakeLimits:
    """Bounds on what one submission may hold; the defaults are the course's (:meth:`from_course`)."""

    max_members: int = 200                                        # entries in a zip / files in a folder
    max_file_bytes: int = _COURSE_FILE_MB * MiB                   # one file, uncompressed
    max_total_bytes: int = TOTAL_FILES * _COURSE_FILE_MB * MiB    # the whole submission, uncompressed
    max_ratio: float = 100.0             # uncompressed / compressed size of one zip member ...
    ratio_floor_bytes: int = 1 * MiB     # ... checked once a member has produced this much
    max_answers_bytes: int = MAX_ANSWERS_BYTES   # answers.md: more is never graded, so never kept

    @classmethod
    def from_course(cls, limits: LimitsConfig | Mapping[str, Any]) -> IntakeLimits:
        """The bounds of a course's ``[limits]``: ``file_mb`` MiB per file, :data:`TOTAL_FILES` times that in all."""
        cfg = LimitsConfig.from_table(limits)
        return cls(max_file_bytes=cfg.file_mb * MiB, max_total_bytes=TOTAL_FILES * cfg.file_mb * MiB)

    @property
    def file_text(self) -> str:
        """The per-file limit as a student reads it ("256 MiB")."""
        return size_text(self.max_file_bytes)

    @property
    def total_text(self) -> str:
        """The whole-submission limit as a student reads it ("512 MiB")."""
        return size_text(self.max_total_bytes)

    def bound(self, name: str) -> FileBound:
        """The most bytes the file at ``name`` may hold, and how a student is told that limit.

        ``answers.md`` is judged by its base name, because the one top folder a zip usually
        has (``alice/answers.md``) is only stripped after every member has been read.
        """
        if name.rsplit("/", 1)[-1] == ANSWERS_FILE and self.max_answers_bytes < self.max_file_bytes:
            return FileBound(self.max_answers_bytes,
                             f"the {_kib_text(self.max_answers_bytes)} allowed for {ANSWERS_FILE}",
                             f"keep only your answers in {ANSWERS_FILE} (no pasted outputs or images)")
        return FileBound(self.max_file_bytes, f"the per-file limit of {self.file_text}")


DEFAULT_INTAKE_LIMITS = IntakeLimits()


@dataclass(frozen=True)
class SubmissionFiles:
    """The accepted files of one submission and what was refused.

    ``files`` maps a relative POSIX path (``answers.md``, ``q3_deep_seq2seq.keras``)
    to the file's bytes; ``refused`` holds one :class:`Refusal` per refused member.
    """

    source: str
    files: dict[str, bytes]
    refused: tuple[Refusal, ...] = ()

    @property
    def problems(self) -> list[str]:
        """One line per refused member, for an instructor's log ("alice.zip: refused 'x.keras': ...")."""
        source = Path(self.source).name
        return [f"{source}: refused {refusal.name!r}: {refusal.reason}" for refusal in self.refused]

    @cached_property
    def digests(self) -> dict[str, str]:
        """Relative path -> sha256 hex of the file (the manifest of these files)."""
        return {name: hashlib.sha256(data).hexdigest() for name, data in sorted(self.files.items())}

    @property
    def content_hash(self) -> str:
        """:func:`content_hash` of the files and the refusals."""
        return content_hash(self.digests, self.refused)

    @property
    def size(self) -> int:
        """Total bytes of the accepted files."""
        return sum(len(data) for data in self.files.values())

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return not self.problems


def content_hash(files: Mapping[str, bytes | str], refused: Iterable[Refusal] = ()) -> str:
    """sha256 over the sorted (relative path, file sha256) list, then the sorted refusals.

    ``files`` maps paths to bytes, or to sha256 hex digests (a manifest); both
    give the same hash. Each entry contributes ``path NUL sha256 LF`` (UTF-8). Refusals,
    if any, follow a ``NUL refused LF`` line (no path holds a NUL), one ``kind NUL name
    NUL reason LF`` each; without refusals the hash is the files' alone.
    """
    digest = hashlib.sha256()
    for name in sorted(files):
        value = files[name]
        sha = hashlib.sha256(value).hexdigest() if isinstance(value, (bytes, bytearray, memoryview)) else value
        digest.update(f"{name}\0{sha}\n".encode("utf-8"))
    lines = sorted(f"{r.kind}\0{r.name}\0{r.reason}\n" for r in refused)
    if lines:
        digest.update("\0refused\n".encode("utf-8"))
        for line in lines:
            digest.update(line.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def student_id_from_path(path: str | os.PathLike) -> str:
    """The student id a submission path names: the folder name, or the zip name without ``.zip``,
    under the one rule of :mod:`grader.core.identity` (any letters; no separators or leading dot)."""
    name = Path(path).name
    stem = name[:-4] if name.lower().endswith(".zip") else name
    try:
        return identity.student_id(stem)
    except identity.StudentIdError as exc:
        raise IntakeError(f"cannot take a student id from the name {printable(name)!r}: "
                          f"{identity.id_problem(unicodedata.normalize('NFC', stem))}; rename the file or folder"
                          ) from None


# --------------------------------------------------------------------------- reading

def read_submission(path: str | os.PathLike, *, limits: IntakeLimits = DEFAULT_INTAKE_LIMITS,
                    strict: bool = False) -> SubmissionFiles:
    """Read a submission folder or .zip into memory, refusing whatever is unsafe.

    Refused members are listed in ``refused`` (``strict=True`` raises
    :class:`IntakeError` with the first one instead); a submission that breaks
    a whole-archive bound raises :class:`IntakeError`.
    """
    source = Path(path)
    if source.is_dir():
        files, refused = _read_folder(source, limits)
    elif source.is_file():
        if source.suffix.lower() != ".zip":  # a .keras file is a zip too, but not a submission
            raise IntakeError(f"{source.name}: expected a submission folder or a .zip file")
        files, refused = _read_zip(source, limits)
    elif source.exists():
        raise IntakeError(f"{source}: not a folder or a regular file")
    else:
        raise IntakeError(f"{source}: no such file or folder")
    submission = SubmissionFiles(str(source), files, tuple(refused))
    for _ in range(MAX_WRAPPING_FOLDERS):    # 'alice/Assignment 7/files/answers.md' -> 'answers.md'
        stripped = _strip_common_top(submission)
        if stripped is submission:
            break
        submission = stripped
    if strict and submission.refused:
        raise IntakeError(submission.problems[0])
    return submission


def _clean_member_name(raw: str) -> tuple[str | None, str | None]:
    """(relative path, None) for a usable name, (None, reason) to refuse, (None, None) to ignore."""
    if "\x00" in raw or any(ord(c) < 32 or ord(c) == 127 for c in raw):
        return None, "its name contains control characters"
    if "\\" in raw:
        return None, "its path contains a backslash"
    if raw.startswith("/"):
        return None, "its path is absolute"
    if re.match(r"[A-Za-z]:", raw):
        return None, "its path starts with a drive letter"
    name = raw[2:] if raw.startswith("./") else raw
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return None, "its path leaves the submission folder ('..')"
    if any(part in ("", ".") for part in parts):
        return None, "its path has empty or '.' components"
    if any(len(part.encode("utf-8")) > 255 for part in parts):
        return None, "a path component is longer than 255 bytes"
    if any(ignored_name(part) for part in parts):
        return None, None
    return "/".join(parts), None


def ignored_name(name: str) -> bool:
    """Whether a file or folder called ``name`` is left out of a submission, wherever it sits:
    hidden entries, ``__MACOSX`` and the files operating systems leave behind (``Thumbs.db``)."""
    return name.startswith(".") or name in IGNORED_DIRS or name in IGNORED_NAMES


def size_text(n: int) -> str:
    """``n`` bytes as a student reads it: "64 MiB", "84.9 MiB", "1000 bytes"."""
    return f"{n / MiB:.1f}".removesuffix(".0") + " MiB" if n >= MiB else f"{n} bytes"


def _kib_text(n: int) -> str:
    """``n`` bytes in KiB when it is a whole number of them ("256 KiB"), else as :func:`size_text`."""
    return f"{n // 1024} KiB" if n % 1024 == 0 and 1024 <= n < MiB else size_text(n)


def _too_large(name: str, size: int, bound: FileBound, *, exact: bool) -> Refusal:
    """The refusal of a file over its bound; ``size`` is a lower bound unless ``exact``."""
    shown = f"it is {size_text(size)}, over" if exact else "it is over"
    return Refusal(name, SIZE, f"{shown} {bound.text}", size, bound.limit, bound.advice)


def _read_zip(path: Path, limits: IntakeLimits) -> tuple[dict[str, bytes], list[Refusal]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntakeError(f"{path.name}: not a readable zip archive ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise IntakeError(f"{path.name}: {len(members)} members, more than the limit of "
                              f"{limits.max_members}; refused whole")
        claimed = sum(info.compress_size for info in members)
        if claimed > path.stat().st_size:
            raise IntakeError(f"{path.name}: members claim {claimed} compressed bytes in a "
                              f"{path.stat().st_size}-byte file; the archive is damaged or crafted")
        files: dict[str, bytes] = {}
        seen: dict[str, str] = {}
        refused: list[Refusal] = []
        total = 0
        for info in members:
            raw = info.filename
            if "\\" in raw and "/" not in raw:
                # Some Windows zip tools write '\\' between folders, against the zip format; read it as
                # the separator it means (the usual checks for '..' and absolute paths follow).
                raw = raw.replace("\\", "/")
            name, reason = _clean_member_name(raw)
            if name is None:
                if reason:
                    refused.append(Refusal(raw, SAFETY, reason))
                continue
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            # Unix zips keep st_mode in the high 16 bits; others leave them 0.
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                kind = "a symlink" if stat.S_ISLNK(mode) else "not a regular file"
                refused.append(Refusal(name, TYPE, f"it is {kind}"))
                continue
            if info.flag_bits & 0x1:
                refused.append(Refusal(name, TYPE, "it is encrypted"))
                continue
            folded = name.casefold()
            if folded in seen:
                refused.append(Refusal(name, SAFETY, f"duplicate of {seen[folded]!r}"))
                continue
            seen[folded] = raw
            data = _read_member(archive, info, name, limits, limits.max_total_bytes - total, path.name)
            if isinstance(data, Refusal):
                refused.append(data)
                continue
            files[name] = data
            total += len(data)
    return files, refused


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: IntakeLimits,
                 budget: int, source: str) -> bytes | Refusal:
    """The member's bytes, read in chunks and cut off at the first bound it breaks.

    At most one byte past the member's bound (:meth:`IntakeLimits.bound`) is ever read.
    Raises :class:`IntakeError` when the member would take the submission past ``budget``.
    """
    bound = limits.bound(name)
    chunks: list[bytes] = []
    produced = 0
    compressed = max(info.compress_size, 1)
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(min(CHUNK, bound.limit + 1 - produced)):
                produced += len(chunk)
                if produced > bound.limit:
                    # The header's size is the student's own claim: shown, never relied on.
                    claimed = info.file_size > bound.limit
                    return _too_large(name, info.file_size if claimed else produced, bound, exact=claimed)
                if produced > budget:
                    raise IntakeError(f"{source}: the submission expands to more than "
                                      f"{size_text(limits.max_total_bytes)}; refused whole")
                if produced > limits.ratio_floor_bytes and produced / compressed > limits.max_ratio:
                    return Refusal(name, SAFETY, f"expands more than {limits.max_ratio:g} times its compressed "
                                                 f"size ({compressed} bytes); looks like a zip bomb")
                chunks.append(chunk)
    except IntakeError:   # a ValueError too, but about the whole submission
        raise
    except NotImplementedError as exc:
        return Refusal(name, TYPE, f"unsupported compression ({exc})")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return Refusal(name, CORRUPT, f"damaged member ({exc})")
    except RuntimeError as exc:  # zipfile raises it for encrypted members without a password
        return Refusal(name, TYPE, f"cannot be read ({exc})")
    return b"".join(chunks)


def _read_folder(root: Path, limits: IntakeLimits) -> tuple[dict[str, bytes], list[Refusal]]:
    root = root.resolve()
    files: dict[str, bytes] = {}
    refused: list[Refusal] = []
    seen = 0
    total = 0
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(current)
        kept_dirs = []
        for dirname in sorted(dirnames):
            if ignored_name(dirname):
                continue
            if (here / dirname).is_symlink():
                refused.append(Refusal(_rel(root, here / dirname), TYPE, "it is a symlinked folder, not followed"))
                continue
            kept_dirs.append(dirname)
        dirnames[:] = kept_dirs
        for filename in sorted(filenames):
            if ignored_name(filename):
                continue
            full = here / filename
            rel = _rel(root, full)
            seen += 1
            if seen > limits.max_members:
                raise IntakeError(f"{root.name}: more than {limits.max_members} files; refused whole")
            target = full
            if full.is_symlink():
                resolved = full.resolve()
                if not resolved.is_relative_to(root):
                    refused.append(Refusal(rel, SAFETY, "it is a symlink leading out of the folder"))
                    continue
                target = resolved
            data = _read_file(target, rel, limits, limits.max_total_bytes - total, root.name)
            if isinstance(data, Refusal):
                refused.append(data)
                continue
            files[rel] = data
            total += len(data)
    return files, refused


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _read_file(path: Path, name: str, limits: IntakeLimits, budget: int, source: str) -> bytes | Refusal:
    """The file's bytes, read in chunks and cut off at the first bound it breaks.

    At most one byte past the file's bound (:meth:`IntakeLimits.bound`) is ever read.
    Raises :class:`IntakeError` when the file would take the submission past ``budget``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return Refusal(name, CORRUPT, f"cannot be opened ({exc.strerror})")
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Refusal(name, TYPE, "it is not a regular file")
        bound = limits.bound(name)
        if info.st_size > bound.limit:   # refused unread; the loop below still counts real bytes
            return _too_large(name, info.st_size, bound, exact=True)
        chunks: list[bytes] = []
        produced = 0
        # The file may grow while it is read: never ask for more than one byte past the bound.
        while chunk := handle.read(min(CHUNK, bound.limit + 1 - produced)):
            produced += len(chunk)
            if produced > bound.limit:
                return _too_large(name, produced, bound, exact=False)
            if produced > budget:
                raise IntakeError(f"{source}: the submission is larger than "
                                  f"{size_text(limits.max_total_bytes)}; refused whole")
            chunks.append(chunk)
    return b"".join(chunks)


def _common_top(names: Iterable[str]) -> str | None:
    """The one top folder every name sits under, if there is one."""
    names = list(names)
    tops = {name.split("/", 1)[0] for name in names}
    return tops.pop() if len(tops) == 1 and all("/" in name for name in names) else None


def _strip_common_top(submission: SubmissionFiles) -> SubmissionFiles:
    """Drop one top folder that every kept file sits under (``alice/answers.md`` -> ``answers.md``).

    Refused names lose the same folder, so a refusal names the file as a task expects it; when
    nothing was kept, the refused files that have plain names decide the folder.
    """
    files, refused = submission.files, submission.refused
    plain = [r.name for r in refused if _clean_member_name(r.name)[0] == r.name]
    top = _common_top(files) if files else _common_top(plain) if plain else None
    if top is None:
        return submission
    cut = len(top) + 1
    return SubmissionFiles(submission.source, {name[cut:]: data for name, data in files.items()},
                           tuple(replace(r, name=r.name[cut:]) if r.name.startswith(top + "/") else r
                                 for r in refused))


def _safe_relative(name: str) -> str:
    clean, reason = _clean_member_name(name)
    if clean is None or clean != name:
        raise IntakeError(f"unsafe path {name!r} in a manifest: {reason or 'not a plain relative path'}")
    return clean


# --------------------------------------------------------------------------- the store

class SubmissionStore:
    """A content-addressed store of submission files under ``root``.

    Each distinct file is kept once, as ``root/objects/<sha[:2]>/<sha[2:]>``;
    a submission is a manifest (relative path -> sha256), also written to
    ``root/manifests/<content hash>.json``. Writes are atomic (temp file, rename),
    so concurrent stores of the same file are harmless.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def object_path(self, sha256: str) -> Path:
        """Where the file with this sha256 is (or would be) kept."""
        if not _SHA256.fullmatch(sha256):
            raise IntakeError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / "objects" / sha256[:2] / sha256[2:]

    def manifest_path(self, content: str) -> Path:
        """Where the manifest of the submission with this content hash is kept."""
        if not _SHA256.fullmatch(content):
            raise IntakeError(f"not a content hash: {content!r}")
        return self.root / "manifests" / f"{content}.json"

    def refusals_path(self, content: str) -> Path:
        """Where the refusals of the submission with this content hash are kept (if it had any)."""
        return self.manifest_path(content).with_suffix(".refused.json")

    def has(self, sha256: str) -> bool:
        """True when the object is in the store."""
        return self.object_path(sha256).is_file()

    def store(self, files: SubmissionFiles | Mapping[str, bytes]) -> dict[str, str]:
        """Keep the files (each once), their manifest and any refusals; returns the manifest (path -> sha256).

        Both are kept under the submission's content hash (:attr:`SubmissionFiles.content_hash`).
        """
        contents = files.files if isinstance(files, SubmissionFiles) else files
        refused = files.refused if isinstance(files, SubmissionFiles) else ()
        manifest: dict[str, str] = {}
        for name in sorted(contents):
            relative = _safe_relative(name)     # before any byte is written: an unsafe name stores nothing
            data = contents[name]
            sha = hashlib.sha256(data).hexdigest()
            target = self.object_path(sha)
            if not target.is_file():
                self._write_atomic(target, data, mode=0o444)
            manifest[relative] = sha
        content = content_hash(manifest, refused)
        if refused:
            path = self.refusals_path(content)
            if not path.is_file():
                text = json.dumps([r.to_dict() for r in refused], indent=1).encode("utf-8")
                self._write_atomic(path, text, mode=0o444)
        text = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
        path = self.manifest_path(content)
        if not path.is_file():
            self._write_atomic(path, text, mode=0o444)
        return manifest

    def load_manifest(self, content: str) -> dict[str, str]:
        """The manifest stored for a content hash."""
        path = self.manifest_path(content)
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise IntakeError(f"no manifest for content {content[:12]} in {self.root}") from None

    def load_refusals(self, content: str) -> tuple[Refusal, ...]:
        """What intake refused of the submission with this content hash (none for most)."""
        path = self.refusals_path(content)
        try:
            return tuple(Refusal.from_dict(item) for item in json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return ()
        except (ValueError, TypeError):
            raise IntakeError(f"the refusals stored for content {content[:12]} in {self.root} are damaged") from None

    def read(self, manifest: Mapping[str, str]) -> dict[str, bytes]:
        """The bytes of every file of a manifest, verified against their sha256."""
        return {_safe_relative(name): self._read_object(sha) for name, sha in sorted(manifest.items())}

    def materialize(self, manifest: Mapping[str, str], dest_dir: str | os.PathLike) -> Path:
        """Write the manifest's files into ``dest_dir`` (new or empty) and return it."""
        return write_files({name: self._read_object(sha) for name, sha in manifest.items()}, dest_dir)

    def _read_object(self, sha: str) -> bytes:
        path = self.object_path(sha)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntakeError(f"object {sha[:12]} is missing from the store {self.root}") from None
        if hashlib.sha256(data).hexdigest() != sha:
            raise IntakeError(f"object {sha[:12]} in the store {self.root} is corrupted (sha256 differs)")
        return data

    @staticmethod
    def _write_atomic(target: Path, data: bytes, *, mode: int) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def write_files(files: Mapping[str, bytes], dest_dir: str | os.PathLike) -> Path:
    """Write a submission's files (relative path -> bytes) into ``dest_dir`` (new or empty) and return it."""
    dest = Path(dest_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise IntakeError(f"{dest}: must be a new or empty folder to materialize a submission into")
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(files.items()):
        target = dest.joinpath(*_safe_relative(name).split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as handle:
            handle.write(data)
    return dest
