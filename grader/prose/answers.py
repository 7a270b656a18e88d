"""Reading ``answers.md``: one section of text per question.

``answers.md`` holds one section per question, headed ``## Q1`` ...
``## Q8`` (``# Q1``, ``### Q1.``, ``## Question 1``, ``## Q1: title`` are
accepted too). :func:`parse_answers` returns the text of every section plus one
message per problem (missing or duplicated section); :func:`read_answers`
adds a size bound, decoding whatever encoding an editor chose
(:func:`grader.prose.decoding.decode_text`) and one-line errors for unreadable files;
:func:`section_status` gives the self-check view, which only says whether each
section is present and non-empty and never reveals a score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from grader.core.errors import GraderError
from grader.prose.decoding import UndecodableText, decode_text

ANSWERS_FILE = "answers.md"
MAX_ANSWERS_BYTES = 256 * 1024
DEFAULT_QUESTION_IDS = tuple(f"Q{n}" for n in range(1, 9))
SectionStatus = Literal["present", "empty", "missing"]


class AnswersError(GraderError, ValueError):
    """``answers.md`` cannot be read; the message is one line naming the file and the fix."""


_HEADING_RE = re.compile(
    r"^\s{0,3}(#{1,6})\s*(?:\*\*|__)?\s*(?:q|question)\s*\.?\s*(\d{1,2})(?!\d)\s*(?:\*\*|__)?"
    r"\s*(?:[.:)\-–—]\s*)?(.*?)\s*#*\s*$",
    re.IGNORECASE,
)
FENCE_RE = re.compile(r"^\s{0,3}(```|~~~)")


@dataclass(frozen=True)
class ParsedAnswers:
    """The sections of ``answers.md``.

    ``answers`` maps every expected question id to its text ("" when the
    section is missing); ``found`` lists the ids that had a heading;
    ``messages`` holds one line per problem, worded for the student.
    ``encoding`` is the codec the file was read with; ``encoding_note`` is ""
    unless that codec was a guess, then the line telling the student so
    (also the first of ``messages``). ``has_text`` is False only for a file of nothing but
    whitespace: with no id in ``found`` it tells an empty file from answers without headings.
    """

    answers: dict[str, str]
    found: frozenset[str]
    messages: tuple[str, ...] = ()
    encoding: str = "utf-8"
    encoding_note: str = ""
    has_text: bool = True

    def answer(self, qid: str) -> str:
        return self.answers.get(qid.upper(), "")

    def to_dict(self) -> dict[str, Any]:
        return {"answers": dict(self.answers), "found": sorted(self.found, key=_qid_order),
                "messages": list(self.messages), "encoding": self.encoding, "encoding_note": self.encoding_note,
                "has_text": self.has_text}


def _qid_order(qid: str) -> tuple[int, str]:
    digits = qid[1:]
    return (int(digits), qid) if digits.isdigit() else (10**6, qid)


def parse_answers(text: str, question_ids: tuple[str, ...] = DEFAULT_QUESTION_IDS) -> ParsedAnswers:
    """Split ``answers.md`` into one answer per question id.

    Headings ``## Q3``, ``# Q3``, ``### Q3.``, ``## Question 3`` and
    ``## Q3: title`` all open the section of Q3. A missing section gives an
    empty answer and a message; for a duplicated section the first is kept.
    Markdown inside a section is kept as it is.
    """
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    expected = tuple(q.upper() for q in question_ids)
    sections: dict[str, list[str]] = {}
    messages: list[str] = []
    current: list[str] | None = None
    preamble: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if FENCE_RE.match(line):
            in_code = not in_code
        match = None if in_code else _HEADING_RE.match(line)
        if match is None:
            (current if current is not None else preamble).append(line)
            continue
        qid = f"Q{int(match.group(2))}"
        if qid not in expected:
            messages.append(f"{ANSWERS_FILE} has a section for {qid}, which is not a question of this "
                            f"assignment ({', '.join(expected)}); it is ignored")
            current = []
        elif qid in sections:
            messages.append(f"{ANSWERS_FILE} has two sections for {qid}; the first is graded and the "
                            f"second ignored")
            current = []
        else:
            current = sections.setdefault(qid, [])
    # A title heading above the first question is normal; prose there is not graded.
    if any(line.strip() and not line.lstrip().startswith("#") for line in preamble):
        messages.append(f"{ANSWERS_FILE} has text before the first question heading; it is not graded")
    answers = {qid: "\n".join(sections.get(qid, [])).strip() for qid in expected}
    for qid in expected:
        if qid not in sections:
            messages.append(f"{ANSWERS_FILE} has no section for {qid} (expected a heading '## {qid}')")
        elif not answers[qid]:
            messages.append(f"{ANSWERS_FILE}: the section for {qid} is empty")
    return ParsedAnswers(answers, frozenset(sections), tuple(messages), has_text=bool(text.strip()))


def answers_from_bytes(data: bytes, name: str = ANSWERS_FILE, *,
                       max_bytes: int = MAX_ANSWERS_BYTES,
                       question_ids: tuple[str, ...] = DEFAULT_QUESTION_IDS) -> ParsedAnswers:
    """Decode ``answers.md`` and parse it; raise :class:`AnswersError` when it is too large or not text.

    Any encoding :func:`~grader.prose.decoding.decode_text` can tell is read: a file in
    windows-1252 or UTF-16 is graded like one in UTF-8, never scored 0 for its encoding.
    """
    if len(data) > max_bytes:
        raise AnswersError(f"{name} is {len(data) / 1024:.0f} KiB, more than the {max_bytes // 1024} KiB "
                           f"allowed; keep only your answers in it")
    try:
        decoded = decode_text(data, name)
    except UndecodableText as exc:
        raise AnswersError(str(exc)) from None
    parsed = parse_answers(decoded.text, question_ids)
    notes = (decoded.note,) if decoded.note else ()
    return replace(parsed, messages=notes + parsed.messages, encoding=decoded.encoding,
                   encoding_note=decoded.note)


def read_answers(path: str | Path, *, max_bytes: int = MAX_ANSWERS_BYTES,
                 question_ids: tuple[str, ...] = DEFAULT_QUESTION_IDS) -> ParsedAnswers:
    """Read and parse an ``answers.md`` file; raise :class:`AnswersError` with one line."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise AnswersError(f"{path.name} is {size / 1024:.0f} KiB, more than the {max_bytes // 1024} KiB "
                               f"allowed; keep only your answers in it")
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)    # a file that grew since stat is still read only this far
    except FileNotFoundError:
        raise AnswersError(f"{path.name} not found at {path}; the answers belong in {ANSWERS_FILE}") from None
    except IsADirectoryError:
        raise AnswersError(f"{path} is a directory, expected the file {ANSWERS_FILE}") from None
    except PermissionError:
        raise AnswersError(f"{path.name} cannot be read (permission denied)") from None
    return answers_from_bytes(data, path.name, max_bytes=max_bytes, question_ids=question_ids)


def section_status(parsed: ParsedAnswers) -> dict[str, SectionStatus]:
    """Question id -> ``present`` / ``empty`` / ``missing``, for the student's self-check."""
    status: dict[str, SectionStatus] = {}
    for qid, text in parsed.answers.items():
        if qid not in parsed.found:
            status[qid] = "missing"
        else:
            status[qid] = "present" if text.strip() else "empty"
    return status
