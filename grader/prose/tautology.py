"""Clauses that only restate their subject ("unstable gradients are gradients that are unstable").

A definition earns credit by what its predicate adds to its subject. A clause of the form
*subject* — copula — *predicate* whose predicate's content words all occur in the subject
(after spelling out the field's acronyms: an LSTM *is* a long short-term memory) asserts
nothing, however many rubric words it holds. Words that carry no content of their own in
such a definition ("applied", "used", "a kind of", "basically") do not count as added
content. The rule is about the form of the clause, not about any question's wording.
"""

from __future__ import annotations

from grader.prose.text import FUNCTION_STEMS, Unit, stem

# Verbs that introduce a definition of the words before them.
COPULAS = frozenset({"is", "are", "was", "were", "means", "mean", "refers", "refer"})
# Words that add no content to a definition ("clipping applied to the gradients").
LIGHT_WORDS = frozenset(stem(word) for word in """
applied apply applies used use uses done thing things something kind kinds type types sort way ways
process technique method called basically simply really just also happens happen get gets make makes
made term terms word words concept idea problem issue stuff
""".split())
# The field's acronyms, spelled out, so "LSTM cells are long short-term memory cells" restates.
ACRONYMS = {
    "lstm": ("long", "short", "term", "memory"), "gru": ("gated", "recurrent", "unit"),
    "rnn": ("recurrent", "neural", "network"), "cnn": ("convolutional", "neural", "network"),
    "mae": ("mean", "absolute", "error"), "mse": ("mean", "squared", "error"),
}
_EXPANSIONS = {acronym: frozenset(stem(word) for word in words) for acronym, words in ACRONYMS.items()}


def _content(stems: list[str]) -> set[str]:
    words: set[str] = set()
    for s in stems:
        if s in FUNCTION_STEMS or s.isdigit() or len(s) <= 2:
            continue
        words.add(s)
        words |= _EXPANSIONS.get(s, frozenset())
    return words


def restating_clauses(unit: Unit) -> set[int]:
    """The clauses of ``unit`` whose predicate adds no content word to their subject."""
    by_clause: dict[int, list[int]] = {}
    for position, token in enumerate(unit.tokens):
        by_clause.setdefault(token.clause, []).append(position)
    found = set()
    for clause, positions in by_clause.items():
        copula = next((p for p in positions if unit.tokens[p].raw in COPULAS), None)
        if copula is None:
            continue
        subject = _content([unit.stems[p] for p in positions if p < copula])
        predicate = _content([unit.stems[p] for p in positions if p > copula]) - LIGHT_WORDS
        if subject and predicate and predicate <= subject:
            found.add(clause)
    return found


def restated_only(unit: Unit, positions: tuple[int, ...], clauses: set[int]) -> bool:
    """Whether every matched position lies in a restating clause."""
    return bool(clauses) and all(unit.tokens[p].clause in clauses for p in positions)
