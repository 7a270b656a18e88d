"""Finding a rubric's phrasings in an answer's units, and reading how each is stated.

A phrasing matches a unit when every term has an alternative in it, all within
:data:`MATCH_WINDOW` tokens. A match is ``clean`` (stated plainly),
``negated``, ``ambiguous`` (near a negation whose scope is unclear: "X is not
...") or ``hedged`` ("I'd guess ...").
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

from grader.prose.rubric import Alternative, Phrasing
from grader.prose.text import Unit, has_sequence

# Matched terms further apart than this are two separate statements, not one.
MATCH_WINDOW = 28
# Verbal negations that, right after a statement, deny it ("X is not Y").
_PREDICATE_NEGATIONS = frozenset({"not", "never"})
_WHOLE_UNIT_NEGATIONS = (("not", "true", "that"), ("not", "the", "case", "that"), ("false", "that"),
                         ("myth", "that"), ("misconception", "that"), ("wrong", "to", "say"),
                         ("incorrect", "to", "say"), ("wrong", "that"), ("incorrect", "that"),
                         ("mistake", "to", "think"), ("not", "correct", "that"))
# "X is not necessary": a negated predicate about the whole statement before it.
_DENYING_PREDICATES = frozenset({"necessary", "needed", "required", "true", "correct", "right", "useful",
                                 "important", "essential", "mandatory", "help", "helpful", "work", "suitable",
                                 "applicable", "appropriate", "relevant", "possible", "matter", "improve",
                                 "used", "apply"})

# The last word of an exception ("except", "apart from", "other than", "all but") and the
# universal words it restricts.
_EXCEPTION_WORDS = frozenset({"except", "from", "than", "besides", "excluding", "but"})
_UNIVERSALS = frozenset({"every", "all", "each"})

MatchKind = Literal["clean", "negated", "ambiguous", "hedged"]


@dataclass(frozen=True)
class Match:
    """A phrasing found in one unit: the unit's index, how it is stated and the matched token positions."""

    unit: int
    kind: MatchKind
    positions: tuple[int, ...]


def occurrences(unit: Unit, alternative: Alternative) -> list[tuple[int, int]]:
    """(start, end) of every place ``alternative`` occurs in ``unit``.

    A single long alternative also matches words it begins ("translat" matches
    "translation"): rubric authors use such stems on purpose.
    """
    n = len(alternative)
    stems = unit.stems
    spans = [(i, i + n) for i in unit.index.get(alternative[0], ()) if stems[i:i + n] == alternative]
    if n == 1 and len(alternative[0]) >= 7:
        spans.extend((i, i + 1) for i in unit.prefixed(alternative[0]))
    return spans


def _whole_unit_negation_end(unit: Unit) -> int:
    """Where the first "it is not true that ..." of ``unit`` ends (a large number when there is none)."""
    if unit.whole_negation_end is None:
        ends = [at + len(phrase) for phrase in _WHOLE_UNIT_NEGATIONS
                if (at := has_sequence(unit.raws, phrase)) >= 0]
        unit.whole_negation_end = min(ends, default=1 << 30)
    return unit.whole_negation_end


def _match_phrasing(unit: Unit, phrasing: Phrasing, limit: int = 24) -> list[tuple[int, ...]]:
    """Token positions of the ways ``phrasing`` matches ``unit``, tightest first (at most ``limit``).

    Each match takes one span per term, no two overlapping, within
    :data:`MATCH_WINDOW` tokens. To stay fast on long sentences, every match
    is built around a span of the rarest term with the nearest spans of the
    others, which always includes the tightest match in practice.
    """
    options = []
    for term in phrasing:
        spans = [span for alt in term for span in occurrences(unit, alt)]
        if not spans:
            return []
        options.append(spans)
    rarest = min(range(len(options)), key=lambda t: len(options[t]))
    found: dict[tuple[int, ...], int] = {}
    for anchor in options[rarest]:
        nearby = []
        for t, spans in enumerate(options):
            if t == rarest:
                nearby.append([anchor])
                continue
            close = sorted(spans, key=lambda span: abs(span[0] - anchor[0]))[:3]
            nearby.append([span for span in close if abs(span[0] - anchor[0]) <= MATCH_WINDOW])
        for choice in itertools.product(*nearby):
            covered = [i for start, end in choice for i in range(start, end)]
            if len(covered) != len(set(covered)):
                continue
            width = max(covered) - min(covered)
            if width <= MATCH_WINDOW:
                found.setdefault(tuple(sorted(covered)), width)
    return sorted(found, key=lambda positions: (found[positions], positions))[:limit]


_KIND_ORDER = {"clean": 0, "ambiguous": 1, "hedged": 2, "negated": 3}


def _best_reading(unit: Unit, phrasing: Phrasing) -> "tuple[MatchKind, tuple[int, ...]] | None":
    """How a unit states ``phrasing``: its tightest match, the plainest reading among equally tight ones.

    Looser matches are not tried: picking words from far apart to dodge a
    negation would read a statement into the sentence that it does not make.
    """
    readings = _match_phrasing(unit, phrasing)
    if not readings:
        return None
    tightest = readings[0][-1] - readings[0][0]
    kinds = [(_classify(unit, r), r) for r in readings if r[-1] - r[0] == tightest]
    return min(kinds, key=lambda kr: _KIND_ORDER[kr[0]])


def _classify(unit: Unit, positions: tuple[int, ...]) -> MatchKind:
    """Whether the matched tokens are stated plainly, negated, or negated ambiguously."""
    tokens = unit.tokens
    first, last = positions[0], positions[-1]
    if unit.hedged:
        return "hedged"
    if _whole_unit_negation_end(unit) <= first:
        return "negated"
    covered = set(positions)
    kind: MatchKind = "clean"
    for cue, scope_end in unit.cues:
        if cue in covered:
            continue  # the phrasing itself asks for the negation ("no recurrent state")
        clause = tokens[cue].clause
        in_scope = [p for p in positions if cue < p < scope_end]
        if cue < first and in_scope:
            return "negated"
        if first < cue < last:
            if all(tokens[p].clause == clause for p in positions):
                return "negated"
            if in_scope:
                kind = "ambiguous"
        elif (cue > last and cue - last <= 3 and tokens[last].clause == clause
              and tokens[cue].raw in _EXCEPTION_WORDS
              and any(tokens[p].raw in _UNIVERSALS for p in positions)):
            return "negated"  # "all layers except the top one": the universal claim does not hold
        elif (cue > last and cue - last <= 3 and tokens[last].clause == clause
              and tokens[cue].raw in _PREDICATE_NEGATIONS):
            if cue + 1 < len(tokens) and tokens[cue + 1].raw in _DENYING_PREDICATES:
                return "negated"
            kind = "ambiguous"  # "X is not ...": the subject precedes the negation
    return kind


def find_matches(units: list[Unit], phrasings: tuple[Phrasing, ...], *,
                 skip_list_like: bool) -> list[Match]:
    matches = []
    for index, unit in enumerate(units):
        if skip_list_like and unit.list_like:
            continue
        for phrasing in phrasings:
            reading = _best_reading(unit, phrasing)
            if reading is not None:
                matches.append(Match(index, reading[0], reading[1]))
    return matches


def split_match(units: list[Unit], phrasings: tuple[Phrasing, ...], *, skip_list_like: bool) -> int | None:
    """Index of the first unit whose plain statement of a phrasing runs on into the next unit."""
    for index in range(len(units) - 1):
        a, b = units[index], units[index + 1]
        if (skip_list_like and (a.list_like or b.list_like)) or a.cues or b.cues:
            continue
        both = Unit.joined(a, b)
        for phrasing in phrasings:
            for positions in _match_phrasing(both, phrasing):
                if positions[0] < len(a.tokens) <= positions[-1] and _classify(both, positions) == "clean":
                    return index
    return None
