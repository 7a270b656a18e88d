"""A question's rubric compiled for matching: phrasings as normalised terms, its vocabulary and topic words.

A phrasing such as ``"every|all + layer + return_sequences"`` is a list of
terms joined by `` + ``, each a choice of ``|`` alternatives;
:func:`compile_phrasing` turns it into normalised tokens and
:func:`compiled_rubric` compiles every key point and contradiction of a
question once.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.core.bank import Question
from grader.prose.text import FUNCTION_STEMS, Vocabulary, canonical, clean, normalise, split_words, stem

Alternative = tuple[str, ...]
Term = tuple[Alternative, ...]
Phrasing = tuple[Term, ...]


def compile_phrasing(phrasing: str) -> Phrasing:
    """``"a|b c + d"`` -> ``((("a",), ("b", "c")), (("d",),))`` in normalised tokens."""
    terms = []
    for term in phrasing.split(" + "):
        alternatives = tuple(dict.fromkeys(tuple(normalise(alt)) for alt in term.split("|")))
        alternatives = tuple(alt for alt in alternatives if alt)
        if alternatives:
            terms.append(alternatives)
    return tuple(terms)


@dataclass(frozen=True)
class Rubric:
    """A compiled rubric: ``(id, weight or penalty, phrasings)`` for every key point and contradiction,
    the vocabulary answers are spell-corrected against, its topic words and the reference answer's length."""

    points: tuple[tuple[str, float, tuple[Phrasing, ...]], ...]
    contradictions: tuple[tuple[str, float, tuple[Phrasing, ...]], ...]
    vocabulary: Vocabulary
    topic_words: frozenset[str]
    answer_words: int
    # (subject id, the alternatives that name it); ``about`` maps an item id to its subject id.
    subjects: tuple[tuple[str, tuple[Alternative, ...]], ...] = ()
    about: tuple[tuple[str, str], ...] = ()
    # (contradiction id, the groups that must come in this order, each a choice of alternatives)
    orders: tuple[tuple[str, tuple[Term, ...]], ...] = ()


_RUBRICS: dict[Question, Rubric] = {}


def compiled_rubric(question: Question) -> Rubric:
    """The compiled rubric of ``question``, built once per question definition."""
    key = question
    if key not in _RUBRICS:
        points = tuple((p.id, p.weight, tuple(compile_phrasing(ph) for ph in p.phrasings))
                       for p in question.key_points)
        contradictions = tuple((c.id, c.penalty, tuple(compile_phrasing(ph) for ph in c.phrasings))
                               for c in question.contradictions)
        raw: set[str] = set()
        for item in list(question.key_points) + list(question.contradictions):
            for phrasing in item.phrasings:
                raw.update(canonical(split_words(clean(phrasing.replace("|", " ").replace("+", " ")))))
        reference = [stem(w) for w in canonical(split_words(clean(" ".join(
            [question.answer, question.prompt] + [p.text for p in question.key_points]))))]
        topic = frozenset(stem(w) for w in raw) | frozenset(reference)
        topic = frozenset(w for w in topic if w not in FUNCTION_STEMS and not w.isdigit() and len(w) > 2)
        subjects = tuple((subject.id, tuple(alt for name in subject.names for term in compile_phrasing(name)
                                            for alt in term))
                         for subject in question.subjects)
        about = tuple((item.id, item.about) for item in list(question.key_points) + list(question.contradictions)
                      if item.about)
        orders = tuple((c.id, tuple(compile_phrasing(group)[0] for group in c.order))
                       for c in question.contradictions if c.order)
        _RUBRICS[key] = Rubric(points, contradictions, Vocabulary(raw),
                               topic, len(question.answer.split()), subjects, about, orders)
    return _RUBRICS[key]
