"""The one student-id rule, and the safe file name each id gets in exports and reports.

A student id comes from a folder or zip name, ``--student``, a roster or a command's
argument. Whatever its source it passes :func:`student_id` once, on the way in: any
letters of any script (so "Ana María" and "zoë" are ids), NFC-normalised so that the
composed and decomposed spellings of one name are one student. Refused: a blank id, path
separators, a leading dot ('.', '..' and hidden names), control characters and
surrounding spaces. File names are never the raw id: :func:`file_stem` keeps a plain
ASCII id as it is and turns every other into its safe characters plus a short digest.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from grader.core.errors import GraderError

MAX_ID_CHARS = 128
_PLAIN = re.compile(r"[A-Za-z0-9@_-][A-Za-z0-9._@-]{0,79}")     # at most 80 characters
_DIGEST_TAIL = re.compile(r"-[0-9a-f]{10}\Z")


class StudentIdError(GraderError, ValueError):
    """A text that cannot be a student id; the message names the rule it breaks."""


def student_id(raw: object) -> str:
    """``raw`` as a student id (NFC-normalised), or :class:`StudentIdError` saying why not."""
    if not isinstance(raw, str):
        raise StudentIdError(f"a student id must be text, got {type(raw).__name__}")
    text = unicodedata.normalize("NFC", raw)
    shown = repr(text[:40] + ("…" if len(text) > 40 else ""))
    problem = id_problem(text)
    if problem:
        raise StudentIdError(f"{shown} cannot be a student id: {problem} (ids like 'ana.maria', "
                             "'s1234567' or 'Ana María' are fine)")
    return text


def id_problem(text: str) -> str | None:
    """What is wrong with ``text`` as a student id, or None."""
    if not text.strip():
        return "it is blank"
    if len(text) > MAX_ID_CHARS:
        return f"it is longer than {MAX_ID_CHARS} characters"
    if text != text.strip():
        return "it starts or ends with a space"
    if "/" in text or "\\" in text:
        return "it contains a path separator ('/' or '\\')"
    if text.startswith("."):
        return "it starts with a dot"
    if not text.isprintable():
        return "it contains control or invisible characters"
    return None


def file_stem(student: str) -> str:
    """A file-name stem for ``student`` that is safe on every file system and unique per id.

    A plain ASCII id of at most 80 characters is its own stem; any other becomes its safe
    characters plus "-" and the first ten hex digits of its SHA-256, so two ids never share a file.
    """
    # A plain id ending the way a digest stem does gets a digest too: else a student named
    # 'Ana_Maria-8358ed271b' would be given the file of 'Ana María'.
    if _PLAIN.fullmatch(student) and not student.endswith(".") and not _DIGEST_TAIL.search(student):
        return student
    ascii_form = unicodedata.normalize("NFKD", student).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_form).strip("_")[:60] or "student"
    return f"{stem}-{hashlib.sha256(student.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"
