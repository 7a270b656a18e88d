"""Shared code between two ``q6_lstm_cell.py`` files: winnowed fingerprints of normalised tokens (MOSS).

A file is read as Python tokens (the standard ``tokenize`` module; a file it cannot read,
or one holding NUL bytes, falls back to a regular expression), then normalised so that
cosmetic edits change nothing:

- comments, docstrings (string statements) and layout tokens are dropped;
- Python keywords, builtins and the library names a NumPy cell may import (``np``,
  ``numpy``, ``math``) are kept; every other identifier becomes ``V``, so renaming a
  variable or a helper is invisible;
- attribute names after a dot are kept: in a NumPy step function they name library API
  (``np.tanh``, ``.T``, ``.reshape``), which a copier keeps and independent authors choose
  differently, and normalising them would make ``np.split(`` and ``np.tanh(`` one token;
- numbers are bucketed by value (``0``, ``1``, small integer, other integer, fraction), so
  ``1`` and ``1.0`` read alike; every string is ``S``.

Every run of ``K`` tokens is hashed (BLAKE2b, stable across processes, unlike ``hash()``)
and one hash per window of ``W`` consecutive ones is kept (Schleimer, Wilkerson and Aiken
2003: the window's minimum, the rightmost on ties). Any passage of ``K + W - 1`` tokens two
files share is therefore found, and the fingerprints are a set, so reordering functions
hides nothing. Each fingerprint keeps the lines its tokens span, for showing passages.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import keyword
import re
import tokenize
from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterable

K = 6                  # tokens per k-gram: 5 normalised tokens are still generic ("V = V @ V +")
W = 4                  # window: any shared run of K + W - 1 = 9 tokens is found
MAX_CHARS = 200_000    # a q6 cell is a few hundred lines at most; past this the file is not a cell
# Suggested rule for a finding: a copy with renamed variables keeps over 0.9; the canonical five-line
# solution (one matmul, ``np.split``, two updates) written twice independently reaches about 0.5.
FLAG_SIMILARITY = 0.6  # share of the smaller file's fingerprints...
FLAG_SHARED = 8        # ...and at least this many shared (a few lines: a tiny file proves nothing)

KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(n for n in dir(builtins) if not n.startswith("_")) \
    | frozenset({"np", "numpy", "math", "typing"})
_LAYOUT = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT,
           tokenize.ENCODING, tokenize.ENDMARKER}
_FSTRING = tuple(getattr(tokenize, name) for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
                 if hasattr(tokenize, name))
_STATEMENT_START = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
_CONTINUES = frozenset({"(", "[", "{", ",", "\\", "+", "-", "*", "/", "@", "=", "%", "**", "//"})
_FALLBACK = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>(?:[rRbBuUfF]{0,2})(?:'''[\s\S]*?(?:'''|\Z)|\"\"\"[\s\S]*?(?:\"\"\"|\Z)|'[^'\n]*'?|"[^"\n]*"?))
  | (?P<number>\d[\w.]*|\.\d[\w]*)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\*\*=?|//=?|<<=?|>>=?|->|:=|[-+*/%@&|^<>=!]=|[^\s\w])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    text: str          # the normalised token
    first: int         # the lines it spans (1-based)
    last: int


@dataclass(frozen=True)
class Fingerprints:
    """One file's winnowed fingerprints: the hash set, and where each selected hash sits."""

    hashes: frozenset[int]
    positions: tuple[tuple[int, int, int], ...]     # (hash, first line, last line), in file order
    tokens: int = 0                                 # normalised tokens read
    fallback: bool = False                          # read by the regular expression, not ``tokenize``


@dataclass(frozen=True)
class CodeMatch:
    """What two files share: counts, similarity, and the shared passages as line ranges in each."""

    shared: int                                      # fingerprints in both
    similarity: float                                # |A ∩ B| / min(|A|, |B|)
    jaccard: float                                   # |A ∩ B| / |A ∪ B|
    passages_a: tuple[tuple[int, int], ...]          # (first line, last line), merged
    passages_b: tuple[tuple[int, int], ...]

    @property
    def flagged(self) -> bool:
        """The suggested rule: see ``FLAG_SIMILARITY`` and ``FLAG_SHARED``."""
        return self.shared >= FLAG_SHARED and self.similarity >= FLAG_SIMILARITY


def _number(text: str) -> str:
    clean = text.replace("_", "").lower()
    try:
        if clean.endswith("j"):
            return "Nc"
        value = float(int(clean, 0)) if clean[:2] in ("0x", "0o", "0b") else float(clean)
    except (ValueError, OverflowError):
        return "N?"
    if value == 0:
        return "0"
    if value == 1:
        return "1"
    if value.is_integer():
        return "Ns" if abs(value) <= 16 else "Ni"
    return "Nf"                          # fractions, and inf/nan


def _name(text: str, after_dot: bool) -> str:
    return text if after_dot or text in KEPT_NAMES else "V"


def _python_tokens(text: str) -> list[Token]:
    """Normalised tokens by ``tokenize``; raises on what it cannot read."""
    out: list[Token] = []
    previous = tokenize.NEWLINE          # the type of the last significant token (for docstrings)
    after_dot = False
    in_fstring = 0
    raw = list(tokenize.generate_tokens(io.StringIO(text).readline))
    for index, tok in enumerate(raw):
        kind = tok.type
        if _FSTRING and kind in _FSTRING:
            # 3.12+ splits f-strings into parts: one ``S`` for the whole.
            if kind == _FSTRING[0]:
                if in_fstring == 0:
                    out.append(Token("S", tok.start[0], tok.start[0]))
                in_fstring += 1
            elif kind == _FSTRING[-1]:
                in_fstring = max(0, in_fstring - 1)
                if out:
                    out[-1] = Token("S", out[-1].first, tok.end[0])
            previous = kind
            continue
        if in_fstring:
            continue
        if kind in _LAYOUT:
            if kind != tokenize.COMMENT:
                previous = kind
            continue
        if kind == tokenize.ERRORTOKEN and not tok.string.strip():
            continue
        if kind == tokenize.STRING and previous in _STATEMENT_START and _ends_statement(raw, index):
            previous = kind
            continue                     # a docstring, or a string used as a comment
        if kind == tokenize.NAME:
            normal = _name(tok.string, after_dot)
        elif kind == tokenize.NUMBER:
            normal = _number(tok.string)
        elif kind == tokenize.STRING:
            if out and out[-1].text == "S":      # implicit concatenation: one string
                out[-1] = Token("S", out[-1].first, tok.end[0])
                previous = kind
                continue
            normal = "S"
        else:
            normal = tok.string
        after_dot = normal == "."
        out.append(Token(normal, tok.start[0], tok.end[0]))
        previous = kind
    return out


def _ends_statement(raw: list[tokenize.TokenInfo], index: int) -> bool:
    """Whether the string at ``index`` is followed only by more strings and the end of its statement."""
    for position in range(index + 1, len(raw)):        # by index: a slice per string is quadratic
        kind = raw[position].type
        if kind in (tokenize.STRING, tokenize.COMMENT, tokenize.NL):
            continue
        return kind in (tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.DEDENT)
    return True


def _regex_tokens(text: str) -> list[Token]:
    """Normalised tokens by a regular expression: for files ``tokenize`` refuses (never raises)."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out: list[Token] = []
    after_dot = False
    end = 0                                  # where the last token read (kept or not) ended
    for match in _FALLBACK.finditer(text):
        group, value = match.lastgroup, match.group()
        if group == "comment":
            continue
        # A string opening a line (not continuing an open expression) and closing it is a docstring.
        opens_line = "\n" in text[end:match.start()] or not out
        continues = bool(out) and out[-1].text in _CONTINUES
        end = match.end()
        if group == "string":
            rest = text[end:end + 200].split("\n", 1)[0].lstrip()
            if opens_line and not continues and (not rest or rest.startswith("#")):
                continue
            normal = "S"
        elif group == "number":
            normal = _number(value)
        elif group == "name":
            normal = _name(value, after_dot)
        else:
            normal = value
        after_dot = normal == "."
        out.append(Token(normal, bisect_right(starts, match.start()), bisect_right(starts, end - 1)))
    return out


def normalised_tokens(text: str) -> tuple[list[Token], bool]:
    """``text``'s normalised tokens (at most ``MAX_CHARS`` characters read), and whether the fallback read them."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[:MAX_CHARS]).decode("utf-8", errors="replace")
    text = text[:MAX_CHARS]
    if "\x00" not in text:
        try:
            return _python_tokens(text), False
        except (tokenize.TokenError, SyntaxError, ValueError, RecursionError):
            pass
    return _regex_tokens(text.replace("\x00", " ")), True


def _gram_hash(texts: Iterable[str]) -> int:
    digest = hashlib.blake2b("\x1f".join(texts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def kgrams(tokens: list[Token], k: int = K) -> list[tuple[int, int, int]]:
    """Every run of ``k`` tokens as (hash, first line, last line); a file shorter than ``k`` is one run."""
    if not tokens:
        return []
    if len(tokens) < k:
        return [(_gram_hash(t.text for t in tokens), tokens[0].first, tokens[-1].last)]
    texts = [t.text for t in tokens]
    # Tokens come in file order, so a run ends on the line its last token ends on.
    return [(_gram_hash(texts[i:i + k]), tokens[i].first, tokens[i + k - 1].last) for i in range(len(tokens) - k + 1)]


def winnow(hashes: list[int], w: int = W) -> list[int]:
    """The index of the minimum hash of each window of ``w`` (rightmost on ties), each index once, in order."""
    if not hashes:
        return []
    if len(hashes) <= w:
        return [min(range(len(hashes)), key=lambda i: (hashes[i], -i))]
    chosen: list[int] = []
    for start in range(len(hashes) - w + 1):
        index = min(range(start, start + w), key=lambda i: (hashes[i], -i))
        if not chosen or chosen[-1] != index:
            chosen.append(index)
    return chosen


def fingerprint_code(text: str, *, k: int = K, w: int = W, exclude: frozenset[int] = frozenset()) -> Fingerprints:
    """The winnowed fingerprints of ``text``; none of them touches a passage of the template ``exclude``.

    ``exclude`` is :func:`template_hashes` of the instructor's starter code: all of its k-grams
    (a window straddling the template and a student's own code may select a template k-gram the
    template alone did not). Every token of a k-gram in ``exclude`` is the template's, and a
    fingerprint that includes one is dropped, so the k-grams bridging the template's last line
    and a student's first one ("both start with an assignment") do not count either.
    Never raises on any ``str``.
    """
    tokens, fallback = normalised_tokens(text)
    grams = kgrams(tokens, k)
    span = min(k, len(tokens))
    template = [False] * len(tokens)
    if exclude:
        for i, (digest, _, _) in enumerate(grams):
            if digest in exclude:
                template[i:i + span] = [True] * span
    selected = [grams[i] for i in winnow([g[0] for g in grams], w) if not any(template[i:i + span])]
    return Fingerprints(frozenset(p[0] for p in selected), tuple(selected), len(tokens), fallback)


def template_hashes(text: str, *, k: int = K) -> frozenset[int]:
    """Every k-gram hash of a starter template: pass it as ``exclude`` so template lines never count."""
    return frozenset(h for h, _, _ in kgrams(normalised_tokens(text)[0], k))


def merge_spans(spans: Iterable[tuple[int, int]], gap: int = 1) -> tuple[tuple[int, int], ...]:
    """Overlapping spans, or spans less than ``gap`` apart, as maximal ones, in order."""
    merged: list[list[int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + gap:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return tuple((a, b) for a, b in merged)


def compare_code(a: Fingerprints, b: Fingerprints) -> CodeMatch:
    """What ``a`` and ``b`` share. Symmetric: ``compare_code(b, a)`` swaps only the passages."""
    both = a.hashes & b.hashes
    smaller = min(len(a.hashes), len(b.hashes))
    union = len(a.hashes | b.hashes)
    return CodeMatch(
        shared=len(both),
        similarity=round(len(both) / smaller, 4) if smaller else 0.0,
        jaccard=round(len(both) / union, 4) if union else 0.0,
        passages_a=merge_spans((first, last) for h, first, last in a.positions if h in both) if both else (),
        passages_b=merge_spans((first, last) for h, first, last in b.positions if h in both) if both else (),
    )
