"""Which subject a statement is about, so that a statement counts for the family or layer it names.

A rubric may declare subjects (``[[prose.subjects]]``: the three RNN families,
the top layer ...) and tie key points and contradictions to one (``about``).
In "sentiment analysis is a vector-to-sequence task" the example matches the
sequence-to-vector key point, but the sentence says it of vector-to-sequence:
that is a swapped pairing, a mistake, not a match.

A match is attributed by its content words (those that are not a subject's
name) to the nearest subject named in their clause, then in the unit;
otherwise to the subject of a heading just before (such as
"Sequence-to-vector:" followed by bullet lines). With no subject in sight the
statement keeps the subject of its key point.
"""

from __future__ import annotations

from grader.prose.matching import Match, occurrences
from grader.prose.rubric import Rubric
from grader.prose.text import Unit


# A unit naming one subject with at most this many other words is a heading.
HEADING_EXTRA = 2


def subject_mentions(unit: Unit, rubric: Rubric) -> list[tuple[int, int, str]]:
    """(start, end, subject id) of every subject named in ``unit``, in order, overlaps resolved longest first."""
    found = [(start, end, sid) for sid, names in rubric.subjects for name in names
             for start, end in occurrences(unit, name)]
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    kept: list[tuple[int, int, str]] = []
    for start, end, sid in found:
        if not kept or start >= kept[-1][1]:
            kept.append((start, end, sid))
    return kept


def running_subjects(units: list[Unit], mentions: list[list[tuple[int, int, str]]]) -> list[str]:
    """For each unit, the subject of the heading just before it ("" when there is none).

    A heading is a unit that names one subject and little else ("Sequence-to-vector:",
    "**Seq2vec**"); it holds for the units after it until a unit names a subject.
    """
    current = ""
    running = []
    for unit, found in zip(units, mentions):
        running.append(current)
        named = {sid for _, _, sid in found}
        if len(named) == 1 and len(unit.tokens) - sum(end - start for start, end, _ in found) <= HEADING_EXTRA:
            current = named.pop()
        elif named:
            current = ""
    return running


def attributed_subject(unit: Unit, match: Match, mentions: list[tuple[int, int, str]], running: str,
                       own: str, *, strict: bool = False) -> str:
    """The subject ``match`` (of an item about ``own``) is said of; ``own`` when nothing says otherwise.

    ``strict`` (for contradictions, which cost points) attributes only to a subject named in the
    match's clause or before it in the unit (the subject of a relative clause), and returns ""
    otherwise.
    """
    named = {i for start, end, _ in mentions for i in range(start, end)}
    content = [p for p in match.positions if p not in named]
    if not content:
        return own                  # the match is the subject's own name
    if mentions:
        first, last = content[0], content[-1]
        clause = unit.tokens[first].clause

        def distance(start: int) -> int:
            return first - start if start < first else max(0, start - last)

        same_clause = [(distance(start), sid) for start, _, sid in mentions if unit.tokens[start].clause == clause]
        if strict:
            before = [(first - start, sid) for start, _, sid in mentions if start < first]
            return min(same_clause or before or [(0, "")])[1]
        return min(same_clause or [(distance(start), sid) for start, _, sid in mentions])[1]
    return "" if strict else (running or own)
