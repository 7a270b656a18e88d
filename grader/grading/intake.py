"""Submission intake: read a student's folder or .zip safely, and keep it in a content-addressed store.

A submission is one folder, or one .zip of such a folder, holding ``answers.md``
and model files named after task ids (``q3_deep_seq2seq.keras``,
``q6_lstm_cell.py``). Zips are untrusted input, so nothing in them is extracted
by its own path or believed by its own header:

* a member is refused (and named in ``problems``) for an absolute path, a drive
  letter, a backslash, a ``..`` component, control characters, being a symlink
  or other non-regular file, encryption, a duplicate name, exceeding the
  per-file size, or expanding more than ``max_ratio`` times its compressed size;
* the whole submission is refused (:class:`IntakeError`) for too many members,
  more uncompressed bytes than ``max_total_bytes``, or a damaged archive;
* sizes are counted while decompressing in chunks, and reading stops at the
  bound, whatever the headers claim;
* ``__MACOSX/``, ``.DS_Store`` and hidden files are ignored; when every file sits
  under one top folder (``alice/answers.md``) that folder is stripped.

Folders get the same treatment: symlinks that leave the folder and non-regular
files are refused, hidden files skipped, sizes bounded.

The store keeps each file once under ``root/objects/ab/cdef...`` (its sha256) and
a manifest per submission content under ``root/manifests/<content hash>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from grader.core.errors import GraderError

CHUNK = 1 << 16
MiB = 1 << 20
IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
IGNORED_DIRS = frozenset({"__MACOSX"})
_STUDENT_ID = re.compile(r"[A-Za-z0-9@_-][A-Za-z0-9._@-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class IntakeError(GraderError, ValueError):
    """A submission cannot be taken in; the message is one line naming the file and the reason."""


@dataclass(frozen=True)
class IntakeLimits:
    """Bounds on what one submission may hold."""

    max_members: int = 200               # entries in a zip / files in a folder
    max_file_bytes: int = 64 * MiB       # one file, uncompressed
    max_total_bytes: int = 256 * MiB     # the whole submission, uncompressed
    max_ratio: float = 100.0             # uncompressed / compressed size of one zip member ...
    ratio_floor_bytes: int = 1 * MiB     # ... checked once a member has produced this much


DEFAULT_INTAKE_LIMITS = IntakeLimits()


@dataclass(frozen=True)
class SubmissionFiles:
    """The accepted files of one submission and what was refused.

    ``files`` maps a relative POSIX path (``answers.md``, ``q3_deep_seq2seq.keras``)
    to the file's bytes; ``problems`` holds one line per refused member.
    """

    source: str
    files: dict[str, bytes]
    problems: list[str] = field(default_factory=list)

    @cached_property
    def digests(self) -> dict[str, str]:
        """Relative path -> sha256 hex of the file (the manifest of these files)."""
        return {name: hashlib.sha256(data).hexdigest() for name, data in sorted(self.files.items())}

    @property
    def content_hash(self) -> str:
        """:func:`content_hash` of the files."""
        return content_hash(self.digests)

    @property
    def size(self) -> int:
        """Total bytes of the accepted files."""
        return sum(len(data) for data in self.files.values())

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return not self.problems


def content_hash(files: Mapping[str, bytes | str]) -> str:
    """sha256 over the sorted (relative path, file sha256) list.

    ``files`` maps paths to bytes, or to sha256 hex digests (a manifest); both
    give the same hash. Each entry contributes ``path NUL sha256 LF`` (UTF-8).
    """
    digest = hashlib.sha256()
    for name in sorted(files):
        value = files[name]
        sha = hashlib.sha256(value).hexdigest() if isinstance(value, (bytes, bytearray, memoryview)) else value
        digest.update(f"{name}\0{sha}\n".encode("utf-8"))
    return digest.hexdigest()


def student_id_from_path(path: str | os.PathLike) -> str:
    """The student id a submission path names: the folder name, or the zip name without ``.zip``.

    Allowed: ASCII letters, digits and ``. _ - @``, not starting with a dot.
    """
    name = Path(path).name
    stem = name[:-4] if name.lower().endswith(".zip") else name
    if not stem:
        raise IntakeError(f"cannot take a student id from {str(path)!r}: the name is empty")
    if len(stem) > 128:
        raise IntakeError(f"cannot take a student id from {name!r}: longer than 128 characters")
    if not _STUDENT_ID.fullmatch(stem):
        bad = "".join(sorted({c for c in stem if not re.fullmatch(r"[A-Za-z0-9._@-]", c)}))
        reason = (f"it contains {bad!r}" if bad else "it starts with a dot")
        raise IntakeError(f"cannot take a student id from {name!r}: {reason}; use only letters, "
                          f"digits and . _ - @ (rename the file or folder)")
    return stem


# --------------------------------------------------------------------------- reading

def read_submission(path: str | os.PathLike, *, limits: IntakeLimits = DEFAULT_INTAKE_LIMITS,
                    strict: bool = False) -> SubmissionFiles:
    """Read a submission folder or .zip into memory, refusing whatever is unsafe.

    Refused members are listed in ``problems`` (``strict=True`` raises
    :class:`IntakeError` with the first one instead); a submission that breaks
    a whole-archive bound raises :class:`IntakeError`.
    """
    source = Path(path)
    if source.is_dir():
        files, problems = _read_folder(source, limits)
    elif source.is_file():
        if source.suffix.lower() != ".zip":  # a .keras file is a zip too, but not a submission
            raise IntakeError(f"{source.name}: expected a submission folder or a .zip file")
        files, problems = _read_zip(source, limits)
    elif source.exists():
        raise IntakeError(f"{source}: not a folder or a regular file")
    else:
        raise IntakeError(f"{source}: no such file or folder")
    if strict and problems:
        raise IntakeError(problems[0])
    return SubmissionFiles(str(source), _strip_common_top(files), problems)


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
    if _ignored(parts):
        return None, None
    return "/".join(parts), None


def _ignored(parts: list[str]) -> bool:
    return (any(part in IGNORED_DIRS for part in parts) or parts[-1] in IGNORED_NAMES
            or any(part.startswith(".") for part in parts))


def _size(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


def _accept(files: dict[str, bytes], problems: list[str], source: str, name: str, shown: str,
            data: bytes | None, reason: str | None) -> int:
    """Keep one read file, or record why it was refused; returns the bytes kept.

    A reason about the whole submission (its total size) refuses everything.
    """
    if data is None:
        if reason and reason.startswith("the submission"):
            raise IntakeError(f"{source}: {reason}; refused whole")
        problems.append(f"{source}: refused {shown!r}: {reason}")
        return 0
    files[name] = data
    return len(data)


def _read_zip(path: Path, limits: IntakeLimits) -> tuple[dict[str, bytes], list[str]]:
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
        problems: list[str] = []
        total = 0
        for info in members:
            raw = info.filename
            name, reason = _clean_member_name(raw)
            if name is None:
                if reason:
                    problems.append(f"{path.name}: refused {raw!r}: {reason}")
                continue
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            # Unix zips keep st_mode in the high 16 bits; others leave them 0.
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                kind = "a symlink" if stat.S_ISLNK(mode) else "not a regular file"
                problems.append(f"{path.name}: refused {raw!r}: it is {kind}")
                continue
            if info.flag_bits & 0x1:
                problems.append(f"{path.name}: refused {raw!r}: it is encrypted")
                continue
            folded = name.casefold()
            if folded in seen:
                problems.append(f"{path.name}: refused {raw!r}: duplicate of {seen[folded]!r}")
                continue
            seen[folded] = raw
            data, reason = _read_member(archive, info, limits, limits.max_total_bytes - total)
            total += _accept(files, problems, path.name, name, raw, data, reason)
    return files, problems


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: IntakeLimits,
                 budget: int) -> tuple[bytes | None, str | None]:
    """The member's bytes, read in chunks and cut off at the first bound it breaks."""
    chunks: list[bytes] = []
    produced = 0
    compressed = max(info.compress_size, 1)
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(CHUNK):
                produced += len(chunk)
                if produced > limits.max_file_bytes:
                    return None, f"larger than the per-file limit of {_size(limits.max_file_bytes)}"
                if produced > budget:
                    return None, (f"the submission expands to more than "
                                  f"{_size(limits.max_total_bytes)}")
                if produced > limits.ratio_floor_bytes and produced / compressed > limits.max_ratio:
                    return None, (f"expands more than {limits.max_ratio:g} times its compressed size "
                                  f"({compressed} bytes); looks like a zip bomb")
                chunks.append(chunk)
    except NotImplementedError as exc:
        return None, f"unsupported compression ({exc})"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return None, f"damaged member ({exc})"
    except RuntimeError as exc:  # zipfile raises it for encrypted members without a password
        return None, f"cannot be read ({exc})"
    return b"".join(chunks), None


def _read_folder(root: Path, limits: IntakeLimits) -> tuple[dict[str, bytes], list[str]]:
    root = root.resolve()
    files: dict[str, bytes] = {}
    problems: list[str] = []
    seen = 0
    total = 0
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(current)
        kept_dirs = []
        for dirname in sorted(dirnames):
            if dirname.startswith(".") or dirname in IGNORED_DIRS:
                continue
            if (here / dirname).is_symlink():
                problems.append(f"{root.name}: refused {_rel(root, here / dirname)!r}: "
                                f"it is a symlinked folder, not followed")
                continue
            kept_dirs.append(dirname)
        dirnames[:] = kept_dirs
        for filename in sorted(filenames):
            if filename.startswith(".") or filename in IGNORED_NAMES:
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
                    problems.append(f"{root.name}: refused {rel!r}: it is a symlink leading out of the folder")
                    continue
                target = resolved
            data, reason = _read_file(target, limits, limits.max_total_bytes - total)
            total += _accept(files, problems, root.name, rel, rel, data, reason)
    return files, problems


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _read_file(path: Path, limits: IntakeLimits, budget: int) -> tuple[bytes | None, str | None]:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return None, f"cannot be opened ({exc.strerror})"
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, "it is not a regular file"
        chunks: list[bytes] = []
        produced = 0
        while chunk := handle.read(CHUNK):
            produced += len(chunk)
            if produced > limits.max_file_bytes:
                return None, f"larger than the per-file limit of {_size(limits.max_file_bytes)}"
            if produced > budget:
                return None, f"the submission is larger than {_size(limits.max_total_bytes)}"
            chunks.append(chunk)
    return b"".join(chunks), None


def _strip_common_top(files: dict[str, bytes]) -> dict[str, bytes]:
    """Drop one top folder that every file sits under (``alice/answers.md`` -> ``answers.md``)."""
    if not files:
        return files
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) == 1 and all("/" in name for name in files):
        return {name.split("/", 1)[1]: data for name, data in files.items()}
    return files


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

    def has(self, sha256: str) -> bool:
        """True when the object is in the store."""
        return self.object_path(sha256).is_file()

    def store(self, files: SubmissionFiles | Mapping[str, bytes]) -> dict[str, str]:
        """Keep the files (each once) and their manifest; returns the manifest (path -> sha256)."""
        contents = files.files if isinstance(files, SubmissionFiles) else files
        manifest: dict[str, str] = {}
        for name in sorted(contents):
            data = contents[name]
            sha = hashlib.sha256(data).hexdigest()
            target = self.object_path(sha)
            if not target.is_file():
                self._write_atomic(target, data, mode=0o444)
            manifest[_safe_relative(name)] = sha
        text = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
        path = self.manifest_path(content_hash(manifest))
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

    def read(self, manifest: Mapping[str, str]) -> dict[str, bytes]:
        """The bytes of every file of a manifest, verified against their sha256."""
        return {_safe_relative(name): self._read_object(sha) for name, sha in sorted(manifest.items())}

    def materialize(self, manifest: Mapping[str, str], dest_dir: str | os.PathLike) -> Path:
        """Write the manifest's files into ``dest_dir`` (new or empty) and return it."""
        dest = Path(dest_dir)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise IntakeError(f"{dest}: must be a new or empty folder to materialize a submission into")
        dest.mkdir(parents=True, exist_ok=True)
        for name, sha in sorted(manifest.items()):
            target = dest.joinpath(*_safe_relative(name).split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as handle:
                handle.write(self._read_object(sha))
        return dest

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
