"""Turning a student's text file into text, whatever editor saved it.

Students save ``answers.md`` from Notepad, Word, TextEdit or a Jupyter cell, so its bytes
may be UTF-8, UTF-8 or UTF-16 with a byte-order mark, or a legacy code page such as
windows-1252. :func:`decode_text` tries, in order: a byte-order mark (certain), strict UTF-8
(certain for anything that is not plain ASCII), then charset-normalizer's guess (noted,
so the feedback can say "read as windows-1252"). Bytes none of these turns into text
(a binary file, a Word document renamed ``.md``, stray NUL bytes) raise
:class:`UndecodableText` with one line telling the student to save the file as UTF-8.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from grader.core.errors import GraderError

# UTF-32 LE's mark starts with UTF-16 LE's, so the longer marks are tried first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters other than whitespace: a few may be stray keystrokes, many mean "not text".
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
CONTROL_SHARE = 0.01
# What Windows editors save by default in Western Europe and the Americas.
WESTERN = "cp1252"
_LABELS = {"utf_16_le": "UTF-16 LE", "utf_16_be": "UTF-16 BE",
           "utf_32_le": "UTF-32 LE", "utf_32_be": "UTF-32 BE", "utf_8": "UTF-8", "ascii": "ASCII"}


class UndecodableText(GraderError, ValueError):
    """The bytes are not text in any encoding the grader can tell; the message says to save as UTF-8."""


@dataclass(frozen=True)
class Decoded:
    """Text read from bytes.

    ``encoding`` is the Python codec used (``utf-8``, ``utf-8-sig``, ``utf-16``, ``cp1252`` ...);
    ``note`` is "" when the encoding is certain (a byte-order mark, valid UTF-8) and otherwise
    one line for the student saying what the file was read as and how to avoid the guess.
    """

    text: str
    encoding: str
    note: str = ""

    @property
    def guessed(self) -> bool:
        return bool(self.note)


def decode_text(data: bytes, name: str = "the file") -> Decoded:
    """``data`` as text: byte-order mark, then strict UTF-8, then charset-normalizer's best guess.

    A decoding is accepted only if the text holds no NUL and at most :data:`CONTROL_SHARE`
    other control characters. Raises :class:`UndecodableText` (one line naming ``name``)
    when nothing fits.
    """
    decoded = _by_bom(data) or _as_utf8(data) or _by_detection(data, name)
    if decoded is None:
        raise UndecodableText(f"{name} cannot be read as text (it is not UTF-8 and no other encoding fits; "
                              f"a binary file or a renamed Word document gives this too); save it as plain "
                              f"text with UTF-8 encoding and submit again")
    return decoded


def looks_like_text(text: str) -> bool:
    """True when ``text`` has no NUL and few other control characters (a decoding that went wrong has many)."""
    return "\x00" not in text and len(_CONTROL.findall(text)) <= len(text) * CONTROL_SHARE


def encoding_label(encoding: str) -> str:
    """The name a student knows an encoding by: ``cp1252`` -> ``windows-1252``."""
    name = codecs.lookup(encoding).name.replace("-", "_")
    return _LABELS.get(name, name.replace("cp125", "windows-125") if name.startswith("cp125") else name)


def _strict(data: bytes, encoding: str, note: str = "") -> Decoded | None:
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return Decoded(text, encoding, note) if looks_like_text(text) else None


def _by_bom(data: bytes) -> Decoded | None:
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    return _strict(data, encoding) if encoding else None


def _as_utf8(data: bytes) -> Decoded | None:
    return _strict(data, "utf-8")


def _by_detection(data: bytes, name: str) -> Decoded | None:
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    encoding = best.encoding
    # A short answer leaves many code pages equally likely (b"caf\xe9" fits cp1006 as well as
    # cp1252): among the equally likely, take the one a Windows editor saves by default.
    if any((m.chaos, m.coherence) == (best.chaos, best.coherence) and WESTERN in m.could_be_from_charset
           for m in matches):
        encoding = WESTERN
    note = (f"{name} is not UTF-8; it was read as {encoding_label(encoding)} (a guess): if accents or quotes "
            f"look wrong, save it with UTF-8 encoding and submit again")
    return _strict(data, encoding, note)
