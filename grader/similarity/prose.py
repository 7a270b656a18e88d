"""Shared prose between two answers to one question: word n-grams, the question's own wording excluded.

An answer is read as words (letters, digits and underscores, so a code span such as
``return_sequences`` stays one word); each word is NFKC-normalised, case-folded and lightly
stemmed, and every run of ``N`` words is an n-gram. Markdown and code markup (backticks,
emphasis, headings, list marks, link targets, HTML tags) is never a word. Each word keeps
its character span in the original text, so a shared passage can be highlighted there.

N-grams the question prompt, the reference answer or the rubric also contain are
excluded (:func:`excluded_ngrams`): two students who both quote the question or the
reference are not flagged for it.

The stemmer is Harman's "S" stemmer (1991), plurals only: a paraphrase changes "gates" to
"gate" far more often than anything else a stemmer would undo, and stripping only plural
endings almost never merges two different words, which a fuller stemmer (Porter) does
("general"/"generate") at the cost of more chance overlap between honest answers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

N = 5                    # words per n-gram: 4-word runs ("the output of the") recur in honest answers
MAX_CHARS = 200_000      # an answer is a few paragraphs; past this it is not an answer
FLAG_CONTAINMENT = 0.2   # suggested: flag a pair when this share of the shorter answer's n-grams...
FLAG_SHARED = 8          # ...and at least this many n-grams (a shared run of 12 words, or several) are shared
CACHE_CHARS = 20_000     # longer texts are read on every comparison, not kept

_WORD = re.compile(r"[^\W_]+(?:[_'’][^\W_]+)*|_+[^\W_]\w*")
# Markup whose text is not prose: link and image targets, autolinks, HTML tags, URLs.
_MARKUP = re.compile(r"\]\([^)\n]{0,2000}\)|<[^<>\n]{0,2000}>|https?://\S+")


@dataclass(frozen=True)
class Word:
    text: str          # normalised
    start: int         # its characters in the original text: text[start:end]
    end: int


@dataclass(frozen=True)
class ProseMatch:
    """What two answers share: counts, containment, and the shared passages as character spans."""

    shared: int                                   # n-grams in both, the excluded ones left out
    containment: float                            # |A ∩ B| / min(|A|, |B|)
    jaccard: float                                # |A ∩ B| / |A ∪ B|
    passages_a: tuple[tuple[int, int], ...]       # (start, end) in ``a``: a[start:end] is a passage
    passages_b: tuple[tuple[int, int], ...]

    @property
    def flagged(self) -> bool:
        """The suggested rule: see ``FLAG_CONTAINMENT`` and ``FLAG_SHARED``."""
        return self.shared >= FLAG_SHARED and self.containment >= FLAG_CONTAINMENT


def stem(word: str) -> str:
    """Harman's S stemmer: plural endings only ("gates" -> "gate", "queries" -> "query")."""
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) <= 3 or "_" in word:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def words(text: str) -> list[Word]:
    """The normalised words of ``text`` (its first ``MAX_CHARS`` characters) with their spans."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[:MAX_CHARS]).decode("utf-8", errors="replace")
    text = text[:MAX_CHARS]
    blanked = _MARKUP.sub(lambda m: " " * len(m.group()), text)
    out = []
    for match in _WORD.finditer(blanked):
        normal = unicodedata.normalize("NFKC", match.group()).casefold().replace("’", "'").strip("_")
        if normal:
            out.append(Word(stem(normal), match.start(), match.end()))
    return out


def _grams(items: list[Word], n: int) -> list[str]:
    if len(items) < n:
        return [" ".join(w.text for w in items)] if items else []
    texts = [w.text for w in items]
    return [" ".join(texts[i:i + n]) for i in range(len(texts) - n + 1)]


def ngrams(text: str, n: int = N) -> list[str]:
    """``text``'s word n-grams in order, each as its words joined by one space (an answer shorter
    than ``n`` words is one n-gram)."""
    return _grams(words(text), n)


def excluded_ngrams(texts: Iterable[str], n: int = N) -> frozenset[str]:
    """Every n-gram of ``texts`` (the question prompt, the reference answer, the rubric wording)."""
    return frozenset(gram for text in texts if text for gram in ngrams(text, n))


def _passages(items: list[Word], shared: set[str], n: int) -> tuple[tuple[int, int], ...]:
    """Character spans of the maximal runs of words covered by shared n-grams."""
    covered = [False] * len(items)
    for i, gram in enumerate(_grams(items, n)):
        if gram in shared:
            for j in range(i, min(i + n, len(items))):
                covered[j] = True
    spans: list[tuple[int, int]] = []
    run_start = None
    for i, on in enumerate(covered + [False]):
        if on and run_start is None:
            run_start = i
        elif not on and run_start is not None:
            spans.append((items[run_start].start, items[i - 1].end))
            run_start = None
    return tuple(spans)


def _gram_set(text: str, n: int) -> frozenset[str]:
    return _cached_gram_set(text, n) if len(text) <= CACHE_CHARS else frozenset(ngrams(text, n))


# A class compares each answer with every other's, so each is read once: the cache holds a whole class's
# answers (400 students x 8 questions), and only n-gram sets of answer-sized texts, so it stays a few MB.
@lru_cache(maxsize=4096)
def _cached_gram_set(text: str, n: int) -> frozenset[str]:
    return frozenset(ngrams(text, n))


def compare_prose(a: str, b: str, *, exclude: frozenset[str] = frozenset(), n: int = N) -> ProseMatch:
    """What answers ``a`` and ``b`` share, leaving out the n-grams in ``exclude``. Never raises on any ``str``.

    Symmetric: ``compare_prose(b, a)`` swaps only the passages.
    """
    set_a, set_b = _gram_set(a, n) - exclude, _gram_set(b, n) - exclude
    both = set_a & set_b
    smaller = min(len(set_a), len(set_b))
    union = len(set_a | set_b)
    return ProseMatch(
        shared=len(both),
        containment=round(len(both) / smaller, 4) if smaller else 0.0,
        jaccard=round(len(both) / union, 4) if union else 0.0,
        passages_a=_passages(words(a), both, n) if both else (),
        passages_b=_passages(words(b), both, n) if both else (),
    )
