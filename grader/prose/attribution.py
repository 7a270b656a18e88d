"""Which subject a statement is about, so that a statement counts for the family or layer it names.

A rubric may declare subjects (``[[prose.subjects]]``: the three RNN families,
the top layer ...) and tie key points and contradictions to one (``about``).
In "sentiment analysis is a vector-to-sequence task" the example matches the
sequence-to-vector key point, but the sentence says it of vector-to-sequence:
that is a swapped pairing, a mistake, not a match.

A match is attributed by its content words (those that are not a subject's
name) to the nearest subject named in their clause; else to the one subject
named before them in the unit; else to the subject of a heading just before
(such as "Sequence-to-vector:" followed by bullet lines). When the attribution
is ambiguous (two subjects named earlier in the sentence, none in the clause)
the statement keeps the subject of its key point: a guess must not cost credit.
"""

from __future__ import annotations

from grader.prose.matching import Match, occurrences
from grader.prose.rubric import Rubric
from grader.prose.text import Unit


# A clause opening with one of these refers back to a subject named earlier ("they shorten the
# sequence before it reaches the RNN": the RNN is the object, not what shortens).
_REFERRING = frozenset({"it", "they", "this", "these", "that", "which", "who", "its", "their", "them"})
# ... or to the other subject than the one just named ("if return_sequences=True ..., else ...").
_OTHERWISE = frozenset({"else", "otherwise"})
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
    """The subject ``match`` (of an item about ``own``) is said of.

    Only an unambiguous attribution counts: the subject named nearest before the match's content
    words in their clause; else the nearest after them, unless a pronoun opens the clause (it
    refers back); else the one subject named before them in the unit ("Vector-to-sequence:
    sentiment analysis", "the input gate decides which parts to erase"), unless the clause says
    "else"; else the heading just before. Otherwise the match keeps ``own``, or with ``strict`` (for contradictions, which
    cost points) is attributed to nothing ("").
    """
    named = {i for start, end, _ in mentions for i in range(start, end)}
    content = [p for p in match.positions if p not in named]
    if not content:
        return own                  # the match is the subject's own name
    first, last = content[0], content[-1]
    clause = unit.tokens[first].clause

    def distance(start: int) -> int:
        return first - start if start < first else max(0, start - last)

    in_clause = [(start, sid) for start, _, sid in mentions if unit.tokens[start].clause == clause]
    leading = [(first - start, sid) for start, sid in in_clause if start < first]
    if leading:                     # the clause's subject comes first: "the forget gate erases ..."
        return min(leading)[1]
    raws = unit.raws
    opening = {raws[i] for i in range(first) if unit.tokens[i].clause == clause}
    if in_clause and not opening & _REFERRING:
        return min((start - last, sid) for start, sid in in_clause)[1]   # "captioning is seq2vec"
    before = {sid for start, _, sid in mentions if start < first}
    if len(before) == 1 and not opening & _OTHERWISE:
        return before.pop()
    if running:
        return running
    return "" if strict else own


def coherent(unit: Unit, match: Match, mentions: list[tuple[int, int, str]]) -> bool:
    """Whether a match that names a subject says its other words of that subject.

    "The forget gate ... erases" states the forget gate's job; in "the input gate decides what
    to erase, the forget gate what to add" the words "forget gate" and "erase" belong to two
    statements, and the match is not a claim. A match naming no subject is coherent.
    """
    covered = set(match.positions)
    named = {sid for start, end, sid in mentions if covered & set(range(start, end))}
    if not named:
        return True
    said_of = attributed_subject(unit, match, mentions, "", sorted(named)[0], strict=True)
    return not said_of or said_of in named
