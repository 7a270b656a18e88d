"""Things named in the wrong order: a shape listed as [time steps, batch, features], or "the first
dimension is the number of time steps".

A contradiction with an ``order`` (:class:`~grader.core.bank.Contradiction`) names groups that
must come in that order. A unit states it when it lists two or more of the groups in another
order, or, speaking of axes, gives one of them an ordinal ("the first dimension is the number of
time steps") that is not its place.
A list is a run of group names close together with nothing that links one to the next
("features per time step" is a phrase, not a list).
"""

from __future__ import annotations

from grader.prose.matching import Match, occurrences
from grader.prose.rubric import Term
from grader.prose.text import Unit

# Words that make two names one phrase rather than two items of a list.
_LINKING = frozenset({"per", "each", "every", "at", "of", "for", "in", "with", "from", "on", "over", "across"})
# At most this many words between two items of a list, and the words that may join two in one clause.
_LIST_GAP = 2
_JOINING = frozenset({"and", "x", "by", "times"})
_ORDINALS = {"first": 0, "second": 1, "middle": 1, "third": 2}
_ORDINAL_REACH = 5
# An ordinal places a name only in a unit that speaks of axes.
_AXIS_WORDS = frozenset({"dimension", "dimensions", "axis", "axes", "dim", "dims", "rank", "shape"})


def _mentions(unit: Unit, groups: tuple[Term, ...]) -> list[tuple[int, int, int]]:
    """(start, end, group) of every group name in ``unit``, in order, overlaps resolved longest first."""
    found = [(start, end, index) for index, term in enumerate(groups) for alternative in term
             for start, end in occurrences(unit, alternative)]
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    kept: list[tuple[int, int, int]] = []
    for item in found:
        if not kept or item[0] >= kept[-1][1]:
            kept.append(item)
    return kept


def _next_item(unit: Unit, previous: tuple[int, int, int], mention: tuple[int, int, int]) -> bool:
    """Whether ``mention`` is the next item of a list after ``previous``: the next comma-separated
    part ("[batch, time steps, features]") or joined by "x" or "and", a word or two apart."""
    gap = unit.raws[previous[1]:mention[0]]
    if len(gap) > _LIST_GAP or any(word in _LINKING for word in gap):
        return False
    before, after = unit.tokens[previous[1] - 1].clause, unit.tokens[mention[0]].clause
    if after == before:
        return all(word in _JOINING for word in gap)
    return after == before + 1


def misordered(unit: Unit, groups: tuple[Term, ...]) -> Match | None:
    """The match of the first list or ordinal in ``unit`` that puts a group out of its place, or None."""
    mentions = _mentions(unit, groups)
    raws = unit.raws
    run: list[tuple[int, int, int]] = []
    for mention in mentions + [(len(raws) + _LIST_GAP + 1, 0, -1)]:
        if run:
            if mention[2] < 0 or not _next_item(unit, run[-1], mention):
                order = [g for _, _, g in run]
                if len(set(order)) >= 2 and order != sorted(order):
                    return Match(unit=-1, kind="clean", positions=tuple(p for s, e, _ in run for p in range(s, e)))
                run = []
        if mention[2] >= 0:
            run.append(mention)
    last = len(groups) - 1
    if not any(word in _AXIS_WORDS for word in raws):
        return None                     # "the last time step" is about time, not about axes
    for start, end, group in mentions:
        clause = unit.tokens[start].clause
        for at in range(max(0, start - _ORDINAL_REACH), start - 1):   # not "last time step"
            word = raws[at]
            place = last if word == "last" else _ORDINALS.get(word)
            if place is not None and unit.tokens[at].clause == clause and place != group:
                return Match(unit=-1, kind="clean", positions=(at, *range(start, end)))
    return None


def order_matches(units: list[Unit], groups: tuple[Term, ...]) -> list[Match]:
    """Every unit's misordering of ``groups``, as matches of the contradiction."""
    found = []
    for index, unit in enumerate(units):
        match = misordered(unit, groups)
        if match is not None:
            found.append(Match(index, match.kind, match.positions))
    return found
