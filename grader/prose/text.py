"""From answer text to tokens: normalisation, spelling correction and units.

:func:`normalise` gives the stemmed tokens a phrasing alternative or an answer
is compared as (contractions expanded, ``seq2seq`` style names and common
misspellings fixed); :class:`Vocabulary` corrects near misses of a rubric's
words. :func:`answer_units` splits an answer into units (sentences, bullet
lines, code lines), each tokenised once with its clauses, negation cues and
hedges: what matching needs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from grader.prose.answers import FENCE_RE

# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

_CONTRACTED_NOT = {
    "dont": "do", "doesnt": "does", "didnt": "did", "isnt": "is", "arent": "are", "wasnt": "was",
    "werent": "were", "cant": "can", "cannot": "can", "wont": "will", "shouldnt": "should",
    "wouldnt": "would", "couldnt": "could", "havent": "have", "hasnt": "has", "hadnt": "had",
    "neednt": "need", "mustnt": "must", "aint": "is",
}
_CONTRACTED_STEMS = {word[:-1]: base for word, base in _CONTRACTED_NOT.items() if word.endswith("t")}

# Common misspellings in answers about neural networks. Near misses of rubric
# words are also corrected by edit distance (see Vocabulary.correct).
MISSPELLINGS = {
    "sequnce": "sequence", "sequnces": "sequences", "seqeunce": "sequence", "sequance": "sequence",
    "sequances": "sequences", "sequense": "sequence", "secuence": "sequence",
    "gradiant": "gradient", "gradiants": "gradients", "gradent": "gradient", "gradents": "gradients",
    "lenght": "length", "lenghts": "lengths", "legnth": "length",
    "reccurent": "recurrent", "recurent": "recurrent", "reccurrent": "recurrent", "recurrant": "recurrent",
    "reccurant": "recurrent", "reccurence": "recurrence", "recurence": "recurrence",
    "dimention": "dimension", "dimentions": "dimensions", "dimensionnal": "dimensional",
    "dimentional": "dimensional", "dimmension": "dimension",
    "ouput": "output", "ouputs": "outputs", "outpout": "output", "outpu": "output", "imput": "input",
    "imputs": "inputs", "inpt": "input",
    "lables": "labels", "seperate": "separate", "seperately": "separately",
    "paralel": "parallel", "parralel": "parallel", "paralell": "parallel", "parallell": "parallel",
    "vanising": "vanishing", "vanishin": "vanishing", "exploiding": "exploding", "explodding": "exploding",
    "memmory": "memory", "memorie": "memory", "weigths": "weights", "wieghts": "weights",
    "wieght": "weight", "neurone": "neuron", "neurones": "neurons", "nueron": "neuron", "nuerons": "neurons",
    "convolusion": "convolution", "convulution": "convolution", "convolutionnal": "convolutional",
    "convolutionel": "convolutional", "convultion": "convolution",
    "probabilites": "probabilities", "probabilties": "probabilities", "probabilty": "probability",
    "classifcation": "classification", "clasification": "classification", "classifiy": "classify",
    "bacth": "batch", "btach": "batch", "featues": "features", "fetures": "features",
    "netwrok": "network", "netowrk": "network", "archtecture": "architecture",
    "architechture": "architecture", "predicton": "prediction", "preditc": "predict",
    "sigmoïd": "sigmoid", "sigmoide": "sigmoid", "activaton": "activation",
    "normalisaton": "normalisation", "normalizaton": "normalization", "regularisaton": "regularisation",
    "translaton": "translation", "senitment": "sentiment", "sentimant": "sentiment",
    "wich": "which", "teh": "the", "beacuse": "because", "becuase": "because", "becasue": "because",
    "lstms": "lstm", "grus": "gru", "rnns": "rnn", "cnns": "cnn",
}

# Whole-token aliases that say the same thing in other words.
_TOKEN_SYNONYMS = {
    "seq2seq": ("sequence", "to", "sequence"), "s2s": ("sequence", "to", "sequence"),
    "sequence2sequence": ("sequence", "to", "sequence"), "seq2vec": ("sequence", "to", "vector"),
    "sequence2vector": ("sequence", "to", "vector"), "vec2seq": ("vector", "to", "sequence"),
    "vector2sequence": ("vector", "to", "sequence"), "seq": ("sequence",), "seqs": ("sequences",),
    "vec": ("vector",), "vecs": ("vectors",), "timestep": ("time", "step"), "timesteps": ("time", "steps"),
    "time_steps": ("time", "steps"), "time_step": ("time", "step"),
    "return_sequence": ("return_sequences",),
}
# The many-to-many / many-to-one / one-to-many names of the same three designs.
_PHRASE_SYNONYMS = {
    ("many", "to", "many"): ("sequence", "to", "sequence"),
    ("many", "to", "one"): ("sequence", "to", "vector"),
    ("one", "to", "many"): ("vector", "to", "sequence"),
}

FUNCTION_WORDS = frozenset("""
a an the of to in on at for with by from into onto over under about as than then so if
is are was were be been being am it its this that these those there here which who whom whose what
when where how why and or but nor not no yes do does did done has have had having can could will would
shall should may might must we you they he she i me my your our their them us him her his one ones
each every all any some only also just very more most less much many such both either neither other
another same own too while because since until after before between through during without within
against per via like unlike instead rather whether else well even still already again once
""".split())

# Unambiguous verb forms: a sentence without any that states several key
# points is a list of names, not a statement.
VERBS = frozenset("""
is are was were be been being am has have had do does did can could will would shall should must may might
need needs needed use uses used using return returns returned returning give gives gave given take takes took
taken make makes made keep keeps kept feed feeds fed pass passes passed get gets got produce produces produced
learn learns learned learnt help helps helped work works worked apply applies applied predict predicts predicted
compute computes computed decide decides decided expect expects expected require requires required contain
contains contained mean means meant let lets go goes went become becomes became read reads see sees saw set sets
look looks slide slides slid detect detects detected find finds found turn turns turned add adds added remove
removes removed multiply multiplies multiplied combine combines combined process processes processed generate
generates generated classify classifies classified convert converts converted call calls called emit emits
emitted hand hands handed carry carries carried store stores stored drop drops dropped replace replaces replaced
shorten shortens shortened reduce reduces reduced capture captures captured extract extracts extracted depend
depends depended choose chooses chose follow follows followed come comes came put puts want wants wanted
""".split())

_NEGATION_CUES = frozenset({"not", "no", "never", "without", "nor", "neither"})
_EXCEPTIONS = (("except",), ("apart", "from"), ("other", "than"), ("besides",), ("excluding",),
               ("all", "but"))
_NARROW_NEGATIONS = (("instead", "of"), ("rather", "than"), ("unlike",), ("as", "opposed", "to"))
_NOT_NEGATION_AFTER = frozenset({"only", "just", "necessarily", "sure", "matter"})
_NOT_NEGATION_BEFORE = frozenset({"if", "or", "whether"})
_HEDGES = (("not", "sure"), ("unsure",), ("guess",), ("no", "idea"), ("do", "not", "know"),
           ("not", "certain"))
_CLAUSE_WORDS = frozenset({"but", "whereas", "however", "although", "though", "yet", "while", "because",
                           "since", "so", "which", "otherwise", "instead"})

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "resp.", "fig.", "eq.", "no.")


def stem(word: str) -> str:
    """A light Porter-like stemmer: plurals, -ed/-ing, -ly, -ize/-ise, -ation, final e.

    A stem never collides with a negation ("note" stays "note", not "not").
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    stemmed = _stem(word)
    return word if stemmed in _NEGATION_CUES else stemmed


def _stem(word: str) -> str:
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ingly", "edly", "ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and re.search(r"[aeiouy]", word[:-len(suffix)]):
            word = word[:-len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and (word[-1] not in "lsz" or len(word) > 5):
                word = word[:-1]
            break
    if word.endswith("ly") and len(word) > 5 and not word.endswith("ply"):
        word = word[:-2]
    word = re.sub(r"is(ation|e|er|ing|ed)?$", lambda m: "iz" + (m.group(1) or ""), word) if len(word) > 5 else word
    for suffix, repl in (("izations", "iz"), ("ization", "iz"), ("izer", "iz"), ("ize", "iz"),
                         ("ational", "at"), ("ation", "at"), ("ional", "ion"), ("fully", "ful")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[:-len(suffix)] + repl
            break
    if word.endswith("y") and len(word) > 4:
        word = word[:-1] + "i"
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


FUNCTION_STEMS = frozenset(stem(w) for w in FUNCTION_WORDS)


@dataclass(frozen=True)
class _Token:
    raw: str       # lowercased word as written (contractions expanded, misspellings fixed)
    stem: str      # what phrasings are compared against
    clause: int    # index of the clause inside its unit, for negation scope
    item: bool = False   # its clause follows a comma outside brackets: a possible list item


_RS_RE = re.compile(r"\breturn[_ ]?sequences?\s*(?:=|:)\s*(true|false)\b")
_APOSTROPHE_RE = re.compile(r"(\w)['’](s|re|ll|d|ve|m)\b")
_NT_RE = re.compile(r"\b(\w+?)n['’]t\b")
_CLAUSE_SPLIT_RE = re.compile(r"[,:()\[\]{}—–|]|\s-\s|\s--\s")


def clean(text: str) -> str:
    """``text`` lowercased and NFKC-normalised, ``return_sequences = True`` spellings unified, ``n't`` expanded."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("−", "-").replace("‐", "-").replace("‑", "-").replace("’", "'").replace("‘", "'")
    text = _RS_RE.sub(lambda m: f" return_sequences=={m.group(1)} ", text)
    text = re.sub(r"\breturn_?sequences?\b(?!==)", " return_sequences ", text)
    text = re.sub(r"\bcan['’]t\b", "can not", text)
    text = re.sub(r"\bwon['’]t\b", "will not", text)
    text = _NT_RE.sub(r"\1 not", text)
    text = _APOSTROPHE_RE.sub(r"\1", text)
    return text


def split_words(text: str) -> list[str]:
    """Lowercased words of ``text`` with punctuation removed (``_`` kept, ``=`` only in return_sequences=...)."""
    text = text.replace("return_sequences==", "return_sequences\x00")
    text = re.sub(r"[^\w\s\x00]", " ", text).replace("\x00", "=")
    return [w.strip("_") for w in text.split() if w.strip("_")]


def canonical(words: list[str], vocabulary: "Vocabulary | None" = None) -> list[str]:
    """Expand contractions and aliases, fix misspellings, merge ``3 d`` into ``3d``."""
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word in _CONTRACTED_NOT:
            out += [_CONTRACTED_NOT[word], "not"]
        elif nxt == "t" and word in _CONTRACTED_STEMS:
            out += [_CONTRACTED_STEMS[word], "not"]
            i += 1
        elif word.isdigit() and len(word) == 1 and nxt == "d":
            out.append(word + "d")
            i += 1
        else:
            word = MISSPELLINGS.get(word, word)
            if vocabulary is not None:
                word = vocabulary.correct(word)
            out += _TOKEN_SYNONYMS.get(word, (word,))
        i += 1
    for phrase, replacement in _PHRASE_SYNONYMS.items():
        n = len(phrase)
        j = 0
        while j + n <= len(out):
            if tuple(out[j:j + n]) == phrase:
                out[j:j + n] = replacement
            j += 1
    return out


def normalise(text: str) -> list[str]:
    """The stemmed tokens a phrasing alternative or an answer is compared as.

    Lowercase; ``return_sequences = True`` spellings unified to
    ``return_sequences=true``; punctuation removed except ``_``; ``n't``
    expanded to ``not``; ``seq2seq`` / ``many-to-one`` style names expanded;
    common misspellings fixed; light suffix stemming.
    """
    return [stem(w) for w in canonical(split_words(clean(text)))]


def _tokens(unit: str, vocabulary: "Vocabulary | None") -> list[_Token]:
    tokens: list[_Token] = []
    cleaned = clean(unit)
    pieces = re.split(f"({_CLAUSE_SPLIT_RE.pattern})", cleaned)
    clause = depth = 0
    after_comma = False
    for index, piece in enumerate(pieces):
        if index % 2:               # a separator
            depth = max(0, depth + (piece in "([{") - (piece in ")]}"))
            after_comma = piece == "," and depth == 0
            continue
        words = canonical(split_words(piece), vocabulary)
        for word in words:
            if word in _CLAUSE_WORDS and tokens and tokens[-1].clause == clause:
                clause += 1
            tokens.append(_Token(word, stem(word), clause, after_comma and depth == 0))
        clause += 1
    return tokens


# ---------------------------------------------------------------------------
# Spelling correction against a rubric's words
# ---------------------------------------------------------------------------

class Vocabulary:
    """The words of a question's rubric, used to correct near-miss spellings in answers."""

    def __init__(self, words: set[str]) -> None:
        self.words = frozenset(words)
        self.stems = frozenset(stem(w) for w in words)
        self._by_length: dict[int, list[str]] = {}
        for word in self.words:
            if len(word) >= 5 and word.isalpha():
                self._by_length.setdefault(len(word), []).append(word)
        self._cache: dict[str, str] = {}

    def correct(self, word: str) -> str:
        """The rubric word ``word`` misspells, or ``word`` itself.

        A near miss is found with rapidfuzz's Levenshtein distance: one edit for
        words of five to eight letters, two from nine. The first letter and the
        last two must agree: a different ending is another form of a word
        ("encoded" / "encoder"), not a typo.
        """
        if word not in self._cache:
            self._cache[word] = word
            if len(word) >= 5 and word.isalpha() and word not in self.words and word not in _COMMON_WORDS \
                    and stem(word) not in self.stems:
                limit = 1 if len(word) <= 8 else 2
                candidates = [c for length in range(len(word) - limit, len(word) + limit + 1)
                              for c in self._by_length.get(length, ()) if c[0] == word[0] and c[-2:] == word[-2:]]
                found = process.extractOne(word, candidates, scorer=Levenshtein.distance, score_cutoff=limit)
                if found is not None:
                    self._cache[word] = found[0]
        return self._cache[word]


# Real words one edit away from rubric words; never "corrected".
_COMMON_WORDS = frozenset("""
simple sample better letter latter matter filter fitter layers player players lasers stated states
format formal normal former forget forgot target mention motion notion action nation ration
series serial second seconds reason season person prison design desire result remain
detail retail listed lasted tested rested inputs output reader leader header center centre
select delete defect effect affect expect except accept extent extend intent intend content
context contest contact compact impact import export report repeat repeats recall record
recent decent decide divide beside inside outside within without method methods
models modes module modulo vector victor sector factor faster master poster roster
""".split())


# ---------------------------------------------------------------------------
# Units (sentences, bullet lines, code lines)
# ---------------------------------------------------------------------------

_BULLET_RE = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)]|[a-z][.)])\s+", re.IGNORECASE)


class Unit:
    """One sentence, bullet line or code line, tokenised once with what matching needs."""

    __slots__ = ("text", "tokens", "is_code", "list_like", "stems", "raws", "index", "cues", "hedged", "enumerated",
                 "whole_negation_end", "_prefixed")

    def __init__(self, text: str, tokens: tuple[_Token, ...], is_code: bool, list_like: bool = False) -> None:
        self.text = text
        self.tokens = tokens
        self.is_code = is_code
        self.list_like = list_like
        self.stems = tuple(t.stem for t in tokens)
        self.raws = tuple(t.raw for t in tokens)
        self.index: dict[str, list[int]] = {}
        for position, stem in enumerate(self.stems):
            self.index.setdefault(stem, []).append(position)
        self.cues = _negation_cues(tokens, self.raws)
        self.hedged = any(has_sequence(self.raws, hedge) >= 0 for hedge in _HEDGES)
        self.enumerated = _enumerated(tokens)
        self.whole_negation_end: int | None = None      # filled in by matching, once
        self._prefixed: dict[str, tuple[int, ...]] = {}

    def prefixed(self, prefix: str) -> tuple[int, ...]:
        """Positions of the words that extend ``prefix`` ("translat" -> "translation"), not identifiers."""
        if prefix not in self._prefixed:
            self._prefixed[prefix] = tuple(i for stem, positions in self.index.items()
                                           if stem != prefix and stem.startswith(prefix)
                                           and "_" not in stem and "=" not in stem for i in positions)
        return self._prefixed[prefix]

    @classmethod
    def joined(cls, first: "Unit", second: "Unit") -> "Unit":
        """Two neighbouring units read as one, their clauses kept apart."""
        offset = 1 + max((t.clause for t in first.tokens), default=0)
        tokens = first.tokens + tuple(_Token(t.raw, t.stem, t.clause + offset, t.item) for t in second.tokens)
        return cls(f"{first.text} / {second.text}", tokens, first.is_code and second.is_code)


# An enumeration: at least this many comma-separated items in a row, each a few words with no verb.
ENUMERATION_ITEMS = 5
ENUMERATION_ITEM_TOKENS = 5


def _enumerated(tokens: tuple[_Token, ...]) -> frozenset[int]:
    """Positions of the tokens inside an enumeration ("gates, states, sigmoids, tanh and weights").

    Items are separated by commas outside brackets: a shape ``[batch, time steps, features]``
    or a parenthesis ``(SimpleRNN, LSTM, GRU)`` is not a keyword list.
    """
    clauses: dict[int, list[int]] = {}
    for position, token in enumerate(tokens):
        clauses.setdefault(token.clause, []).append(position)
    inside: set[int] = set()
    run: list[list[int]] = []
    for clause in sorted(clauses) + [None]:
        positions = clauses.get(clause, []) if clause is not None else []
        words = [tokens[p].raw for p in positions if tokens[p].raw not in FUNCTION_WORDS]
        item = clause is not None and 0 < len(words) <= ENUMERATION_ITEM_TOKENS \
            and not any(tokens[p].raw in VERBS for p in positions) \
            and (not run or tokens[positions[0]].item)     # items after the first follow a comma
        if item:
            run.append(positions)
            continue
        if len(run) >= ENUMERATION_ITEMS - 1:      # the last item often shares its clause ("x and y")
            inside.update(p for item_positions in run for p in item_positions)
        run = []
    return frozenset(inside)


def has_sequence(raws: tuple[str, ...], phrase: tuple[str, ...], start: int = 0, stop: int | None = None) -> int:
    """Position of the first ``phrase`` in ``raws[start:stop]``, or -1."""
    stop = len(raws) if stop is None else stop
    for i in range(start, stop - len(phrase) + 1):
        if raws[i:i + len(phrase)] == phrase:
            return i
    return -1


def _negation_cues(tokens: tuple[_Token, ...], raws: tuple[str, ...]) -> list[tuple[int, int]]:
    """(position, scope end) of every negation or exception cue; the scope runs to the clause end."""
    clause_end: dict[int, int] = {}
    for position, token in enumerate(tokens):
        clause_end[token.clause] = position + 1
    cues = []
    for i, token in enumerate(tokens):
        scope_end = clause_end[token.clause]
        if token.raw in _NEGATION_CUES:
            after = raws[i + 1] if i + 1 < len(raws) else ""
            before = raws[i - 1] if i > 0 else ""
            if after not in _NOT_NEGATION_AFTER and before not in _NOT_NEGATION_BEFORE:
                cues.append((i, scope_end))
        for phrase in _NARROW_NEGATIONS:
            if raws[i:i + len(phrase)] == phrase:
                cues.append((i, min(scope_end, i + len(phrase) + 3)))
        # "every layer except the top": an exception denies the universal claim
        for phrase in _EXCEPTIONS:
            if raws[i:i + len(phrase)] == phrase:
                end = i + len(phrase) - 1
                cues.append((end, clause_end[tokens[end].clause]))
    return cues


def _split_sentences(paragraph: str) -> list[str]:
    protected = paragraph
    for abbreviation in _ABBREVIATIONS:
        protected = re.sub(re.escape(abbreviation), abbreviation.replace(".", "\x01"), protected,
                           flags=re.IGNORECASE)
    pieces = re.split(r"(?<=[.!?;])\s+|(?<=;)(?=\S)", protected)
    return [p.replace("\x01", ".").strip() for p in pieces if p.strip()]


def split_units(text: str) -> list[tuple[str, bool]]:
    """(text, is_code) for every sentence, bullet line and code line of an answer."""
    units: list[tuple[str, bool]] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            units.extend((s, False) for s in _split_sentences(" ".join(paragraph)))
            paragraph.clear()

    in_code = False
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if FENCE_RE.match(line):
            flush()
            in_code = not in_code
            continue
        if in_code:
            if stripped:
                units.append((stripped, True))
            continue
        if not stripped or stripped.startswith("#") or stripped.startswith("|"):
            flush()
            if stripped:
                units.append((stripped.strip("#| "), False))
            continue
        bullet = _BULLET_RE.match(stripped)
        # A hard-wrapped paragraph continues on the next line; a new bullet,
        # or a line after a short or finished one, starts a new unit.
        continues = (paragraph and not bullet and stripped[0].islower()
                     and len(paragraph[-1]) >= 50 and not paragraph[-1].rstrip().endswith((".", "!", "?", ":", ";")))
        if not continues:
            flush()
        paragraph.append(stripped[bullet.end():] if bullet else stripped)
    flush()
    return [(u, code) for u, code in units if re.search(r"\w", u)]


RELATION_RE = re.compile(r"→|⇒|->|=>|⟶")
_FORMULA_RE = re.compile(r"\w\s*\([^()]*\)\s*=|=\s*[\wσ]+\s*\(")


def _list_like(raw_words: list[str]) -> bool:
    """A run of keywords that asserts nothing: few function words, no clause structure."""
    if len(raw_words) < 6:
        return False
    function = sum(1 for w in raw_words if w in FUNCTION_WORDS)
    ratio = function / len(raw_words)
    longest = run = 0
    for word in raw_words:
        run = 0 if word in FUNCTION_WORDS else run + 1
        longest = max(longest, run)
    # A verb every few words makes a terse sentence a claim ("Conv1D makes sequences shorter").
    predicates = sum(1 for w in raw_words if w in VERBS)
    if predicates and len(raw_words) <= 8 * predicates and longest < 7:
        return False
    return ratio < 0.12 or (longest >= 9 and ratio < 0.25)


def answer_units(text: str, vocabulary: Vocabulary | None) -> list[Unit]:
    """The units of an answer, tokenised (near misses of ``vocabulary`` corrected); units without words are dropped."""
    units = []
    for unit_text, is_code in split_units(text):
        tokens = _tokens(unit_text, vocabulary)
        if not tokens:
            continue
        # Equations (c(t) = f(t) * c(t-1) + ...) are terse by nature, not keyword lists.
        formula = bool(_FORMULA_RE.search(unit_text))
        # "Unstable gradients -> clipping, LayerNorm": an arrow states a relation, terse but a claim.
        relation = bool(RELATION_RE.search(unit_text))
        units.append(Unit(unit_text, tuple(tokens), is_code,
                          not is_code and not formula and not relation
                          and _list_like(split_words(clean(unit_text)))))
    return units
