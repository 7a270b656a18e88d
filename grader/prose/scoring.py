"""Scoring a prose answer against its rubric, and deciding whether a reviewer must look.

Scoring. :func:`score_answer` splits an answer into units (sentences, bullet
lines, code lines), normalises them (:func:`~grader.prose.text.normalise`)
and matches every phrasing of the rubric
(``"every|all + layer + return_sequences"``: each `` + `` term needs one
``|`` alternative in the same unit, all within
:data:`~grader.prose.matching.MATCH_WINDOW` tokens). Each key point is

* ``met``: some unit states it plainly;
* ``uncertain``: it is stated only under an ambiguous negation ("image
  captioning is not ..."), in a hedged unit ("I'd guess ..."), across two
  neighbouring units, or in a unit that crams several key points into a
  keyword list;
* ``missed``: nothing states it, or every statement of it is negated ("you do
  not need ...", "it is not true that ...", "every layer except the top ...").

Claims, not co-occurring words. Where the rubric declares subjects (the RNN
families, the gates, convolutional vs recurrent layers), a match counts for
the subject it is said of (:mod:`grader.prose.attribution`): a key point
stated of the wrong subject is a ``swapped:<point>`` contradiction, and a match
whose words belong to two statements is dropped. Words picked out of an
enumeration ("gates, states, sigmoids, tanh ...") that names three or more key
points state none of them; words that state a known-wrong claim do not also
state a key point.

Contradictions are ``present`` / ``uncertain`` / ``absent`` the same way; a
negated contradiction is absent. ``fraction`` is the weighted share of met key
points (uncertain ones count half), where reaching
:data:`~grader.prose.calibration.FULL_CREDIT_AT` of the weight is full credit,
minus the penalties of present contradictions (half for uncertain ones),
clipped to [0, 1]. An answer that is mostly keyword lists (word salad) earns
nothing from its lists and at most :data:`STUFFED_CAP`.

Routing. :func:`rubric_score` gives the rubric's own review reasons: an
uncertain key point that could move the grade band, an uncertain
contradiction, keyword stuffing, a keyword list, a swapped pairing, a denied
key point, an answer too short to judge or much longer than usual, one
sentence carrying four key points, or a low score for an answer whose wording
the rubric mostly does not know. :func:`routed` adds the second signal
(:mod:`grader.prose.semantic`) and two more: partial credit (between
``PARTIAL_ABOVE`` and ``PARTIAL_BELOW``) is for a person, and so is an answer
on which the two signals judge key points weighing more than a quarter
oppositely. The thresholds are calibrated on the tuning sets
(:mod:`grader.prose.calibration`). ``review_reasons`` says which applied.

:func:`prose_results` turns a score into the shared
:class:`~grader.core.results.CheckResult` shape (task ``q3_prose``, check
``rubric``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from grader.core.bank import Question
from grader.core.results import ERROR, FAILED, CheckResult
from grader.prose.answers import ANSWERS_FILE
from grader.prose.calibration import (ABSENT_BELOW, AGREEMENT_TOLERANCE, FULL_CREDIT_AT, PARTIAL_ABOVE,
                                      PARTIAL_BELOW, PRESENT_FROM)
from grader.prose.attribution import attributed_subject, coherent, running_subjects, subject_mentions
from grader.prose.matching import Match, find_matches, occurrences, split_match
from grader.prose.ordering import order_matches
from grader.prose.rubric import Phrasing, Rubric, compiled_rubric
from grader.prose.semantic import SemanticScore, semantic_score
from grader.prose.tautology import restated_only, restating_clauses
from grader.prose.text import FUNCTION_STEMS, FUNCTION_WORDS, RELATION_RE, VERBS, Unit, answer_units

PointStatus = Literal["met", "missed", "uncertain"]
ContradictionStatus = Literal["present", "absent", "uncertain"]

CREDIT = {"met": 1.0, "uncertain": 0.5, "missed": 0.0}
PENALTY_SHARE = {"present": 1.0, "uncertain": 0.5, "absent": 0.0}
STATUS_SHARE = {**CREDIT, **PENALTY_SHARE}

SHORT_ANSWER_WORDS = 15
LONG_ANSWER_WORDS = 500
# A low score is trusted only when the answer speaks the rubric's language:
# keyword rubrics miss right ideas put in unusual words, so a low-scoring
# answer whose content words are mostly unknown to the rubric (or a long one)
# goes to a reviewer.
LOW_SCORE_REVIEW = 0.5
FAMILIAR_SHARE = 0.6
SUBSTANTIAL_WORDS = 100
OFF_TOPIC_SHARE = 0.45
STUFFED_CAP = 0.25
# A sentence that states this many key points in fewer than this many words
# per point is a list in disguise; what it states counts as uncertain.
CROWDED_POINTS = 4
CROWDED_TOKENS_PER_POINT = 6
# An enumeration whose items match this many key points is a keyword list.
ENUMERATED_POINTS = 3
# A sentence that is the only evidence for this many met key points goes to review.
DENSE_EVIDENCE = 4
# Longer than any real sentence: a run-on that can "state" anything.
RUN_ON_TOKENS = 90
# Past this many words only the beginning is scored (and a reviewer looks).
MAX_SCORED_WORDS = 1500


@dataclass(frozen=True)
class ItemScore:
    """How an answer stands on one rubric item, and the sentence that decided it."""

    id: str
    status: str
    evidence: str = ""
    note: str = ""

    @property
    def share(self) -> float:
        """How much of the item counts: all when met or present, half when uncertain, none otherwise."""
        return STATUS_SHARE[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class PointScore(ItemScore):
    """One key point: ``met`` / ``missed`` / ``uncertain``; it earns ``weight`` times its share."""

    weight: float = 0.0


def _by_id(items: tuple[Any, ...], wanted: str, what: str) -> Any:
    """The item of ``items`` whose ``id`` is ``wanted``; a KeyError naming ``what`` and the known ids otherwise."""
    for item in items:
        if item.id == wanted:
            return item
    raise KeyError(f"no {what} {wanted!r} (known: {', '.join(item.id for item in items)})")


@dataclass(frozen=True)
class ContradictionScore(ItemScore):
    """One contradiction: ``present`` / ``absent`` / ``uncertain``; it costs ``penalty`` times its share."""

    penalty: float = 0.0


@dataclass(frozen=True)
class ProseScore:
    """The rubric's verdict on one answer.

    ``fraction`` is the share of the question's prose points earned.
    ``needs_review`` is False only when the verdict can be accepted
    automatically; ``review_reasons`` says why otherwise. ``flags`` names
    what the scorer noticed about the answer as a whole (``empty``,
    ``short``, ``long``, ``keyword_stuffing``, ``off_topic``, ...).
    """

    question: str
    fraction: float
    points: tuple[PointScore, ...]
    contradictions: tuple[ContradictionScore, ...]
    needs_review: bool
    review_reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    words: int = 0
    rubric_fraction: float = 0.0
    semantic: SemanticScore | None = None

    def point(self, point_id: str) -> PointScore:
        return _by_id(self.points, point_id, "key point")

    def contradiction(self, contradiction_id: str) -> ContradictionScore:
        return _by_id(self.contradictions, contradiction_id, "contradiction")

    @property
    def met(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.points if p.status == "met")

    def summary(self, with_review: bool = False) -> str:
        """One line for people: ``met: a, b; uncertain: c; missed: d; contradiction: e``."""
        parts = []
        for label, ids in (("met", [p.id for p in self.points if p.status == "met"]),
                           ("uncertain", [p.id for p in self.points if p.status == "uncertain"]),
                           ("missed", [p.id for p in self.points if p.status == "missed"]),
                           ("contradiction", [c.id for c in self.contradictions if c.status == "present"]),
                           ("possible contradiction",
                            [c.id for c in self.contradictions if c.status == "uncertain"])):
            if ids:
                parts.append(f"{label}: {', '.join(ids)}")
        text = "; ".join(parts) or "nothing to match"
        if with_review and self.needs_review:
            text += f" (needs review: {'; '.join(self.review_reasons)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "fraction": self.fraction,
                "points": [p.to_dict() for p in self.points],
                "contradictions": [c.to_dict() for c in self.contradictions],
                "needs_review": self.needs_review, "review_reasons": list(self.review_reasons),
                "flags": list(self.flags), "words": self.words,
                "signals": {"rubric": self.rubric_fraction,
                            "semantic": self.semantic.to_dict() if self.semantic else None}}


def _evidence(units: list[Unit], index: int) -> str:
    text = " ".join(units[index].text.split())
    return text if len(text) <= 240 else text[:237] + "..."


def _judge_point(units: list[Unit], phrasings: tuple[Phrasing, ...], matches: list[Match], *,
                 ignored: set[int], weak: set[int]) -> tuple[PointStatus, str, str]:
    """A key point's status from its matches; units in ``ignored`` count for nothing, in ``weak`` for half."""
    usable = [m for m in matches if m.unit not in ignored]
    for kind, status, note in (("clean", "met", ""), ("ambiguous", "uncertain", "stated near a negation"),
                               ("hedged", "uncertain", "stated with a hedge")):
        for match in usable:
            if match.kind == kind and (kind != "clean" or match.unit not in weak):
                return status, _evidence(units, match.unit), note  # type: ignore[return-value]
    for match in usable:
        if match.kind == "clean":
            return "uncertain", _evidence(units, match.unit), "only in a sentence that lists many key points"
    split = split_match(units, phrasings, skip_list_like=bool(ignored))
    if split is not None:
        return "uncertain", _evidence(units, split) + " / " + _evidence(units, split + 1), \
            "stated across two sentences"
    negated = [m for m in usable if m.kind == "negated"]
    if negated:
        return "missed", _evidence(units, negated[0].unit), "only stated negated"
    if matches:
        return "missed", _evidence(units, matches[0].unit), "only named in a keyword list"
    return "missed", "", ""


def _judge_contradiction(units: list[Unit], matches: list[Match]) -> tuple[ContradictionStatus, str, str]:
    for kind, status, note in (("clean", "present", ""), ("ambiguous", "uncertain", "stated near a negation"),
                               ("hedged", "uncertain", "stated with a hedge")):
        for match in matches:
            if match.kind == kind:
                if kind == "clean" and units[match.unit].list_like:
                    return "uncertain", _evidence(units, match.unit), "only named in a keyword list"
                return status, _evidence(units, match.unit), note  # type: ignore[return-value]
    negated = [m for m in matches if m.kind == "negated"]
    if negated:
        return "absent", _evidence(units, negated[0].unit), "stated negated (not a claim)"
    return "absent", "", ""


def _mentions_rubric(units: list[Unit], rubric: Rubric) -> bool:
    """Whether any alternative of any term of the rubric occurs in the answer."""
    return any(occurrences(unit, alternative)
              for _, _, phrasings in rubric.points + rubric.contradictions
              for phrasing in phrasings for term in phrasing for alternative in term
              for unit in units)


def _settled(points: list[PointScore], contradictions: list[ContradictionScore], total_weight: float) -> bool:
    """Whether the uncertain key points cannot move the answer out of full or no credit.

    Counted all met and all missed, the fraction stays at or above ``PARTIAL_BELOW`` (or at or
    below ``PARTIAL_ABOVE``) either way: a person would not change the grade band.
    """
    penalty = sum(c.penalty * c.share for c in contradictions)
    sure = sum(p.weight for p in points if p.status == "met")
    open_weight = sum(p.weight for p in points if p.status == "uncertain")
    low = max(0.0, min(1.0, sure / total_weight / FULL_CREDIT_AT) - penalty)
    high = max(0.0, min(1.0, (sure + open_weight) / total_weight / FULL_CREDIT_AT) - penalty)
    return low >= PARTIAL_BELOW or high <= PARTIAL_ABOVE


def _first_words(text: str, limit: int) -> str:
    """``text`` cut after its ``limit``-th word."""
    for count, match in enumerate(re.finditer(r"\w+", text), start=1):
        if count == limit:
            return text[:match.end()]
    return text


def _is_stuffed(units: list[Unit]) -> bool:
    """Most of the prose is keyword lists, or the whole answer has almost no function words."""
    # Code, and terse relations ("gradients -> clipping"), are claims in their own shape.
    prose = [u for u in units if not u.is_code and not RELATION_RE.search(u.text)]
    tokens = sum(len(u.tokens) for u in prose)
    if tokens < 6:
        return False
    listed = sum(len(u.tokens) for u in prose if u.list_like)
    raws = [w for u in prose for w in u.raws]
    function_share = sum(1 for w in raws if w in FUNCTION_WORDS) / len(raws)
    verb_share = sum(1 for w in raws if w in VERBS) / len(raws)
    return listed >= 0.5 * tokens or (function_share < 0.15 and verb_share < 1 / 8)


def _crowded_units(units: list[Unit], point_matches: list[list[Match]]) -> set[int]:
    """Units that state many key points in few words, or several in a keyword list: weak evidence."""
    met_by: dict[int, int] = {}
    for matches in point_matches:
        for unit in {m.unit for m in matches if m.kind == "clean"}:
            met_by[unit] = met_by.get(unit, 0) + 1
    crowded = set()
    for unit, count in met_by.items():
        if units[unit].is_code:
            continue
        if (count >= CROWDED_POINTS and len(units[unit].tokens) / count < CROWDED_TOKENS_PER_POINT) \
                or (units[unit].list_like and count >= 2) \
                or (len(units[unit].tokens) > RUN_ON_TOKENS and count >= 2) \
                or (count >= 3 and not any(w in VERBS for w in units[unit].raws)):
            crowded.add(unit)
    return crowded


# A statement of one subject's key point made about another ("captioning is sequence-to-vector").
SWAP_PENALTY = 0.25


def _drop_restatements(units: list[Unit], point_matches: list[list[Match]]) -> tuple[list[list[Match]], int]:
    """Matches that lie in clauses restating their own subject (:mod:`grader.prose.tautology`) state no key
    point; the number of units that lost a match that way."""
    clauses = {i: restating_clauses(unit) for i, unit in enumerate(units) if not unit.is_code}
    lost: set[int] = set()
    kept_lists = []
    for matches in point_matches:
        kept = [m for m in matches if not restated_only(units[m.unit], m.positions, clauses.get(m.unit, set()))]
        lost |= {m.unit for m in matches} - {m.unit for m in kept}
        kept_lists.append(kept)
    return kept_lists, len(lost)


def _unlisted(units: list[Unit], point_matches: list[list[Match]]) -> tuple[list[list[Match]], list[int]]:
    """Drop matches that only pick names out of an enumeration covering several key points.

    "It is all about gates, states, sigmoids, tanh, weights and the forget, input and output
    gates" names the parts of three key points and states none. An enumeration that matches
    fewer than :data:`ENUMERATED_POINTS` key points is left alone: listing the remedies is a claim.
    Returns the matches kept and the indices of the key points that lost one.
    """
    def in_list(m: Match) -> bool:    # every matched word but at most one is a list item
        inside = units[m.unit].enumerated
        return bool(inside) and sum(p not in inside for p in m.positions) <= 1 < len(m.positions)

    listed: dict[int, set[int]] = {}
    for index, matches in enumerate(point_matches):
        for m in matches:
            if in_list(m):
                listed.setdefault(m.unit, set()).add(index)
    crowded = {unit for unit, indices in listed.items() if len(indices) >= ENUMERATED_POINTS}
    if not crowded:
        return point_matches, []
    kept = [[m for m in matches if not (m.unit in crowded and in_list(m))] for matches in point_matches]
    return kept, sorted({index for unit in crowded for index in listed[unit]})


def _coherent(units: list[Unit], matches: list[Match], mentions: list[list[tuple[int, int, str]]]) -> list[Match]:
    """The matches whose words belong to one statement about the subject they name (see attribution.coherent)."""
    if not mentions:
        return matches
    return [m for m in matches if coherent(units[m.unit], m, mentions[m.unit])]


def _own_subject(units: list[Unit], rubric: Rubric, item_id: str, matches: list[Match],
                 mentions: list[list[tuple[int, int, str]]]) -> list[Match]:
    """The matches of a subject-bound item that are said of its own subject ("the input gate erases ...")."""
    own = dict(rubric.about).get(item_id, "")
    if not own or not matches:
        return matches
    return [m for m in matches
            if attributed_subject(units[m.unit], m, mentions[m.unit], "", own, strict=True) == own]


def _attribute(units: list[Unit], rubric: Rubric, point_matches: list[list[Match]],
               mentions: list[list[tuple[int, int, str]]]) -> tuple[list[list[Match]], list[ContradictionScore]]:
    """Each key point keeps the matches said of its own subject; those said of another are swapped pairings.

    A match said of subject Y is excused (neither kept nor a mistake) when a key point about Y
    matches the same words: the statement fits Y too ("forecasting" is a use of two families).
    """
    about = dict(rubric.about)
    if not rubric.subjects or not about:
        return point_matches, []
    running = running_subjects(units, mentions)
    point_ids = [pid for pid, _, _ in rubric.points]
    # The words of each subject's plain matches, per unit: a statement that fits its subject too is excused.
    stated: dict[tuple[str, int], set[int]] = {}
    for pid, matches in zip(point_ids, point_matches):
        for m in matches:
            if m.kind == "clean":
                stated.setdefault((about.get(pid, ""), m.unit), set()).update(m.positions)
    kept: list[list[Match]] = []
    swaps: list[ContradictionScore] = []
    for pid, matches in zip(point_ids, point_matches):
        own = about.get(pid, "")
        if not own:
            kept.append(matches)
            continue
        mine, swapped = [], []
        for match in matches:
            subject = attributed_subject(units[match.unit], match, mentions[match.unit], running[match.unit], own)
            if subject == own:
                mine.append(match)
            elif match.kind == "clean" and not stated.get((subject, match.unit), set()) & set(match.positions) \
                    and not units[match.unit].list_like:
                swapped.append((match, subject))
        kept.append(mine)
        if swapped and not any(m.kind == "clean" for m in mine):
            match, subject = swapped[0]
            swaps.append(ContradictionScore(f"swapped:{pid}", "present", _evidence(units, match.unit),
                                            f"{pid.replace('_', ' ')} said of {subject}", penalty=SWAP_PENALTY))
    return kept, swaps


def score_answer(question: Question, text: str) -> ProseScore:
    """Score one prose answer: the rubric's verdict, routed to review unless the semantic signal agrees."""
    rubric, units = rubric_score(question, text)
    if "empty" in rubric.flags:
        return rubric
    return routed(rubric, semantic_score(question, units))


def disagreement(rubric: ProseScore, semantic: SemanticScore, absent_below: float = ABSENT_BELOW,
                 present_from: float = PRESENT_FROM) -> tuple[float, tuple[str, ...]]:
    """The weighted share of key points the two signals judge oppositely, and their ids.

    They disagree on a point the rubric finds met while no sentence comes near it
    (similarity below ``absent_below``), or one the rubric misses while a sentence
    is as close to it as a restatement (similarity from ``present_from``).
    """
    total = sum(p.weight for p in rubric.points) or 1.0
    ids = tuple(p.id for p, s in zip(rubric.points, semantic.points)
                if (p.status == "met" and s.similarity < absent_below)
                or (p.status == "missed" and s.similarity >= present_from))
    weight = sum(p.weight for p in rubric.points if p.id in ids)
    return weight / total, ids


def routed(rubric: ProseScore, semantic: SemanticScore) -> ProseScore:
    """``rubric`` with the semantic signal attached, sent to review when the two disagree by more than a quarter."""
    reasons = list(rubric.review_reasons)
    if PARTIAL_ABOVE < rubric.fraction < PARTIAL_BELOW:
        reasons.append(f"partial credit ({rubric.fraction:.2f}) is for a person to confirm")
    share, ids = disagreement(rubric, semantic, ABSENT_BELOW, PRESENT_FROM)
    if share > AGREEMENT_TOLERANCE:
        reasons.append(f"the rubric and the semantic signal disagree on {', '.join(ids)} "
                       f"(rubric {rubric.fraction:.2f}, semantic {semantic.fraction:.2f})")
    return replace(rubric, needs_review=bool(reasons), review_reasons=tuple(reasons), semantic=semantic)


def rubric_score(question: Question, text: str) -> tuple[ProseScore, list[Unit]]:
    """The rubric matcher's verdict on one answer (see the module docstring), and the answer's units."""
    rubric = compiled_rubric(question)
    words = len(re.findall(r"\w+", text or ""))
    if not (text or "").strip():
        points = tuple(PointScore(pid, "missed", weight=weight) for pid, weight, _ in rubric.points)
        contradictions = tuple(ContradictionScore(cid, "absent", penalty=penalty)
                               for cid, penalty, _ in rubric.contradictions)
        return ProseScore(question.id, 0.0, points, contradictions, False, (), ("empty",), 0), []

    units = answer_units(_first_words(text, MAX_SCORED_WORDS), rubric.vocabulary)
    stuffed = _is_stuffed(units)
    mentions = [subject_mentions(unit, rubric) for unit in units] if rubric.subjects else []
    point_matches = [_coherent(units, find_matches(units, phrasings, skip_list_like=False), mentions)
                     for _, _, phrasings in rubric.points]
    point_matches, restated = _drop_restatements(units, point_matches)
    point_matches, swaps = _attribute(units, rubric, point_matches, mentions)
    point_matches, enumerated = _unlisted(units, point_matches)
    ignored = {i for i, u in enumerate(units) if u.list_like} if stuffed else set()
    crowded = _crowded_units(units, point_matches)

    points = []
    for (pid, weight, phrasings), matches in zip(rubric.points, point_matches):
        status, evidence, note = _judge_point(units, phrasings, matches, ignored=ignored, weak=crowded)
        points.append(PointScore(pid, status, evidence, note, weight=weight))
    contradictions = []
    wrong_words: list[tuple[int, set[int], int]] = []   # (unit, positions, overlap that voids a key point)
    orders = dict(rubric.orders)
    for cid, penalty, phrasings in rubric.contradictions:
        found = _own_subject(units, rubric, cid,
                             _coherent(units, find_matches(units, phrasings, skip_list_like=False), mentions), mentions)
        if cid in orders:
            misordered = order_matches(units, orders[cid])
            found = found + misordered
            # A misordered list or ordinal takes down every key point its names were read into.
            wrong_words.extend((m.unit, set(m.positions), 1) for m in misordered)
        wrong_words.extend((m.unit, set(m.positions), 2) for m in found if m.kind == "clean")
        status, evidence, note = _judge_contradiction(units, found)
        contradictions.append(ContradictionScore(cid, status, evidence, note, penalty=penalty))
    contradictions.extend(swaps)
    # Words that state a known-wrong claim do not also state a key point.
    if wrong_words:
        for index, (pid, weight, phrasings) in enumerate(rubric.points):
            kept = [m for m in point_matches[index]
                    if not any(unit == m.unit and len(spots & set(m.positions)) >= overlap
                               for unit, spots, overlap in wrong_words)]
            if len(kept) != len(point_matches[index]) and points[index].status != "missed":
                status, evidence, note = _judge_point(units, phrasings, kept, ignored=ignored, weak=crowded)
                points[index] = PointScore(pid, status, evidence, note,
                                           weight=weight)

    total_weight = sum(p.weight for p in points) or 1.0
    fraction = min(1.0, sum(p.weight * p.share for p in points) / total_weight / FULL_CREDIT_AT)
    fraction -= sum(c.penalty * c.share for c in contradictions)
    fraction = max(0.0, fraction)

    flags: list[str] = []
    reasons: list[str] = []
    uncertain = [p.id for p in points if p.status == "uncertain"]
    if uncertain and not _settled(points, contradictions, total_weight):
        reasons.append(f"uncertain: {', '.join(uncertain)}")
    doubtful = [c.id for c in contradictions if c.status == "uncertain"]
    if doubtful:
        reasons.append(f"possible contradiction: {', '.join(doubtful)}")
    if swaps:
        flags.append("swapped_pairing")
        reasons.append("states a key point of the wrong subject: " + "; ".join(c.note for c in swaps))
    if stuffed:
        flags.append("keyword_stuffing")
        reasons.append("reads as a list of keywords rather than statements")
        fraction = min(fraction, STUFFED_CAP)
    elif crowded - ignored:
        flags.append("crowded_sentence")
    if words < SHORT_ANSWER_WORDS and fraction > 0:
        flags.append("short")
        reasons.append(f"very short answer ({words} words)")
    if words > max(LONG_ANSWER_WORDS, 2 * rubric.answer_words):
        flags.append("long")
        reasons.append(f"much longer than usual ({words} words"
                       + (f"; only the first {MAX_SCORED_WORDS} scored)" if words > MAX_SCORED_WORDS else ")"))
    if any(len(u.tokens) > RUN_ON_TOKENS for u in units):
        flags.append("run_on_sentence")
    content = [t.stem for u in units if not u.is_code for t in u.tokens
               if t.stem not in FUNCTION_STEMS and not t.stem.isdigit() and len(t.stem) > 2]
    topic_share = sum(1 for w in content if w in rubric.topic_words) / max(1, len(content))
    if all(p.status == "missed" for p in points) and all(c.status == "absent" for c in contradictions) \
            and (topic_share < OFF_TOPIC_SHARE or not _mentions_rubric(units, rubric)):
        flags.append("off_topic")
    # Four or more key points resting on one sentence: a dense claim, or right words in a wrong
    # claim; either way a person should read it.
    carried = Counter(p.evidence for p in points if p.status == "met" and p.evidence)
    if carried and max(carried.values()) >= DENSE_EVIDENCE:
        flags.append("dense_sentence")
        reasons.append(f"one sentence carries {max(carried.values())} key points")
    if enumerated:
        flags.append("keyword_list")
        reasons.append(f"names {len(enumerated)} key points in a list without stating them: "
                       + ", ".join(rubric.points[i][0] for i in enumerated))
    if restated:
        flags.append("restates_terms")
        reasons.append(f"{restated} sentence(s) only restate their terms ('X is an X that ...'), which states "
                       "nothing")
    denied = [p.id for p in points if p.note == "only stated negated"]
    if denied:
        flags.append("denies_key_point")
        reasons.append(f"denies a key point: {', '.join(denied)}")
    if (fraction < LOW_SCORE_REVIEW and not stuffed and words >= 25
            and (topic_share < FAMILIAR_SHARE or words >= SUBSTANTIAL_WORDS)):
        flags.append("unusual_wording")
        reasons.append("few key points recognised in an answer whose wording the rubric mostly does not know")
    rubric_fraction = round(fraction, 4)
    return ProseScore(question.id, rubric_fraction, tuple(points), tuple(contradictions), bool(reasons),
                      tuple(reasons), tuple(flags), words, rubric_fraction), units


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------

REVIEW_EXCERPT = 4000


def prose_results(question: Question, text: str, *, missing_message: str = "") -> CheckResult:
    """The one :class:`CheckResult` of the prose part of ``question``.

    Its task is ``question.prose_task``, its check ``"rubric"`` and its ``max_score`` the
    question's prose points. ``details`` is the rubric's verdict (``ProseScore.to_dict()``:
    every key point's status and evidence sentence, flags, review reasons), ``needs_review``
    whether a person must look, and ``evidence`` the answer itself for that person. An empty
    answer is an ``error`` whose output is ``missing_message`` (or a default naming the
    heading to add).
    """
    score = score_answer(question, text)
    details = score.to_dict()
    evidence = {"answer": text[:REVIEW_EXCERPT], "truncated": len(text) > REVIEW_EXCERPT}
    if "empty" in score.flags:
        message = missing_message or (f"{ANSWERS_FILE} has no answer for {question.id} "
                                      f"(expected a heading '## {question.id}' followed by your answer)")
        return CheckResult(question.prose_task, "rubric", ERROR, 0.0, question.prose_points, message,
                           "visible", details, score.needs_review, evidence)
    return CheckResult(question.prose_task, "rubric", FAILED, round(score.fraction * question.prose_points, 2),
                       question.prose_points, score.summary(), "visible", details, score.needs_review, evidence)
