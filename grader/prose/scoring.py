"""Prose answers: reading ``answers.md`` and scoring each answer against its rubric.

Reading. ``answers.md`` holds one section per question, headed ``## Q1`` ...
``## Q8`` (``# Q1``, ``### Q1.``, ``## Question 1``, ``## Q1: title`` are
accepted too). :func:`parse_answers` returns the text of every section plus one
message per problem (missing or duplicated section); :func:`read_answers`
adds a size bound and one-line errors for unreadable files;
:func:`section_status` gives the self-check view, which only says whether each
section is present and non-empty and never reveals a score.

Scoring. :func:`score_answer` splits an answer into units (sentences, bullet
lines, code lines), normalises them (:func:`normalise`) and matches every
phrasing of the rubric (``"every|all + layer + return_sequences"``: each
`` + `` term needs one ``|`` alternative in the same unit, all within
:data:`MATCH_WINDOW` tokens). Each key point is

* ``met``: some unit states it plainly;
* ``uncertain``: it is stated only under an ambiguous negation ("image
  captioning is not ..."), in a hedged unit ("I'd guess ..."), across two
  neighbouring units, or in a unit that crams several key points into a
  keyword list;
* ``missed``: nothing states it, or every statement of it is negated ("you do
  not need ...", "it is not true that ...", "every layer except the top ...").

Contradictions are ``present`` / ``uncertain`` / ``absent`` the same way; a
negated contradiction is absent. ``fraction`` is the weighted share of met key
points (uncertain ones count half) minus the penalties of present
contradictions (half for uncertain ones), clipped to [0, 1]. An answer that is
mostly keyword lists (word salad) earns nothing from its lists and at most
:data:`STUFFED_CAP`.

Routing. An answer is auto-accepted (``needs_review`` False) only when every
key point is clearly met or clearly missed, no contradiction is uncertain and
nothing looks suspicious: keyword stuffing, a denied key point, an answer too
short to judge or much longer than usual, or a low score for an answer whose
wording the rubric mostly does not know (right ideas in unusual words are
what keyword rubrics miss). ``review_reasons`` says which.

:func:`prose_results` turns a score into the shared
:class:`~grader.core.results.CheckResult` shape (task ``q3_prose``, check
``rubric``); :func:`agreement` and :func:`quadratic_weighted_kappa` measure
scores against instructor labels (``bench/bench_prose.py``).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from grader.core.bank import Question
from grader.core.results import ERROR, FAILED, PASSED, CheckResult

ANSWERS_FILE = "answers.md"
MAX_ANSWERS_BYTES = 256 * 1024
DEFAULT_QUESTION_IDS = tuple(f"Q{n}" for n in range(1, 9))

PointStatus = Literal["met", "missed", "uncertain"]
ContradictionStatus = Literal["present", "absent", "uncertain"]
SectionStatus = Literal["present", "empty", "missing"]

CREDIT = {"met": 1.0, "uncertain": 0.5, "missed": 0.0}
PENALTY_SHARE = {"present": 1.0, "uncertain": 0.5, "absent": 0.0}

# Matched terms further apart than this are two separate statements, not one.
MATCH_WINDOW = 28
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
# Longer than any real sentence: a run-on that can "state" anything.
RUN_ON_TOKENS = 90
# Past this many words only the beginning is scored (and a reviewer looks).
MAX_SCORED_WORDS = 1500


class AnswersError(ValueError):
    """``answers.md`` cannot be read; the message is one line naming the file and the fix."""


# ---------------------------------------------------------------------------
# Reading answers.md
# ---------------------------------------------------------------------------

_HEADING_RE = re.compile(
    r"^\s{0,3}(#{1,6})\s*(?:\*\*|__)?\s*(?:q|question)\s*\.?\s*(\d{1,2})(?!\d)\s*(?:\*\*|__)?"
    r"\s*(?:[.:)\-–—]\s*)?(.*?)\s*#*\s*$",
    re.IGNORECASE,
)
_FENCE_RE = re.compile(r"^\s{0,3}(```|~~~)")


@dataclass(frozen=True)
class ParsedAnswers:
    """The sections of ``answers.md``.

    ``answers`` maps every expected question id to its text ("" when the
    section is missing); ``found`` lists the ids that had a heading;
    ``messages`` holds one line per problem, worded for the student.
    """

    answers: dict[str, str]
    found: frozenset[str]
    messages: tuple[str, ...] = ()

    def answer(self, qid: str) -> str:
        return self.answers.get(qid.upper(), "")

    def to_dict(self) -> dict[str, Any]:
        return {"answers": dict(self.answers), "found": sorted(self.found, key=_qid_order),
                "messages": list(self.messages)}


def _qid_order(qid: str) -> tuple[int, str]:
    digits = qid[1:]
    return (int(digits), qid) if digits.isdigit() else (10**6, qid)


def parse_answers(text: str, question_ids: tuple[str, ...] = DEFAULT_QUESTION_IDS) -> ParsedAnswers:
    """Split ``answers.md`` into one answer per question id.

    Headings ``## Q3``, ``# Q3``, ``### Q3.``, ``## Question 3`` and
    ``## Q3: title`` all open the section of Q3. A missing section gives an
    empty answer and a message; for a duplicated section the first is kept.
    Markdown inside a section is kept as it is.
    """
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    expected = tuple(q.upper() for q in question_ids)
    sections: dict[str, list[str]] = {}
    messages: list[str] = []
    current: list[str] | None = None
    preamble: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if _FENCE_RE.match(line):
            in_code = not in_code
        match = None if in_code else _HEADING_RE.match(line)
        if match is None:
            (current if current is not None else preamble).append(line)
            continue
        qid = f"Q{int(match.group(2))}"
        if qid not in expected:
            messages.append(f"{ANSWERS_FILE} has a section for {qid}, which is not a question of this "
                            f"assignment ({', '.join(expected)}); it is ignored")
            current = []
        elif qid in sections:
            messages.append(f"{ANSWERS_FILE} has two sections for {qid}; the first is graded and the "
                            f"second ignored")
            current = []
        else:
            current = sections.setdefault(qid, [])
    # A title heading above the first question is normal; prose there is not graded.
    if any(line.strip() and not line.lstrip().startswith("#") for line in preamble):
        messages.append(f"{ANSWERS_FILE} has text before the first question heading; it is not graded")
    answers = {qid: "\n".join(sections.get(qid, [])).strip() for qid in expected}
    for qid in expected:
        if qid not in sections:
            messages.append(f"{ANSWERS_FILE} has no section for {qid} (expected a heading '## {qid}')")
        elif not answers[qid]:
            messages.append(f"{ANSWERS_FILE}: the section for {qid} is empty")
    return ParsedAnswers(answers, frozenset(sections), tuple(messages))


def answers_from_bytes(data: bytes, name: str = ANSWERS_FILE, *,
                       max_bytes: int = MAX_ANSWERS_BYTES,
                       question_ids: tuple[str, ...] = DEFAULT_QUESTION_IDS) -> ParsedAnswers:
    """Decode ``answers.md`` (UTF-8, optional BOM) and parse it; raise :class:`AnswersError`."""
    if len(data) > max_bytes:
        raise AnswersError(f"{name} is {len(data) / 1024:.0f} KiB, more than the {max_bytes // 1024} KiB "
                           f"allowed; keep only your answers in it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise AnswersError(f"{name} is not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); "
                           f"save it with UTF-8 encoding") from None
    return parse_answers(text, question_ids)


def read_answers(path: str | Path, *, max_bytes: int = MAX_ANSWERS_BYTES,
                 question_ids: tuple[str, ...] = DEFAULT_QUESTION_IDS) -> ParsedAnswers:
    """Read and parse an ``answers.md`` file; raise :class:`AnswersError` with one line."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise AnswersError(f"{path.name} is {size / 1024:.0f} KiB, more than the {max_bytes // 1024} KiB "
                               f"allowed; keep only your answers in it")
        data = path.read_bytes()
    except FileNotFoundError:
        raise AnswersError(f"{path.name} not found at {path}; the answers belong in {ANSWERS_FILE}") from None
    except IsADirectoryError:
        raise AnswersError(f"{path} is a directory, expected the file {ANSWERS_FILE}") from None
    except PermissionError:
        raise AnswersError(f"{path.name} cannot be read (permission denied)") from None
    return answers_from_bytes(data, path.name, max_bytes=max_bytes, question_ids=question_ids)


def section_status(parsed: ParsedAnswers) -> dict[str, SectionStatus]:
    """Question id -> ``present`` / ``empty`` / ``missing``, for the student's self-check."""
    status: dict[str, SectionStatus] = {}
    for qid, text in parsed.answers.items():
        if qid not in parsed.found:
            status[qid] = "missing"
        else:
            status[qid] = "present" if text.strip() else "empty"
    return status


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
# words are also corrected by edit distance (see _Vocabulary.correct).
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
# Verbal negations that, right after a statement, deny it ("X is not Y").
_PREDICATE_NEGATIONS = frozenset({"not", "never"})
_EXCEPTIONS = (("except",), ("apart", "from"), ("other", "than"), ("besides",), ("excluding",),
               ("all", "but"))
_NARROW_NEGATIONS = (("instead", "of"), ("rather", "than"), ("unlike",), ("as", "opposed", "to"))
_NOT_NEGATION_AFTER = frozenset({"only", "just", "necessarily", "sure", "matter"})
_NOT_NEGATION_BEFORE = frozenset({"if", "or", "whether"})
_WHOLE_UNIT_NEGATIONS = (("not", "true", "that"), ("not", "the", "case", "that"), ("false", "that"),
                         ("myth", "that"), ("misconception", "that"), ("wrong", "to", "say"),
                         ("incorrect", "to", "say"), ("wrong", "that"), ("incorrect", "that"),
                         ("mistake", "to", "think"), ("not", "correct", "that"))
# "X is not necessary": a negated predicate about the whole statement before it.
_DENYING_PREDICATES = frozenset({"necessary", "needed", "required", "true", "correct", "right", "useful",
                                 "important", "essential", "mandatory"})
_HEDGES = (("not", "sure"), ("unsure",), ("guess",), ("no", "idea"), ("do", "not", "know"),
           ("not", "certain"))
_CLAUSE_WORDS = frozenset({"but", "whereas", "however", "although", "though", "yet", "while", "because",
                           "since", "so", "which", "otherwise", "instead"})

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "resp.", "fig.", "eq.", "no.")


def _stem(word: str) -> str:
    """A light Porter-like stemmer: plurals, -ed/-ing, -ly, -ize/-ise, -ation, final e."""
    if len(word) <= 3 or not word.isalpha():
        return word
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


@dataclass(frozen=True)
class _Token:
    raw: str       # lowercased word as written (contractions expanded, misspellings fixed)
    stem: str      # what phrasings are compared against
    clause: int    # index of the clause inside its unit, for negation scope


_RS_RE = re.compile(r"\breturn[_ ]?sequences?\s*(?:=|:)\s*(true|false)\b")
_APOSTROPHE_RE = re.compile(r"(\w)['’](s|re|ll|d|ve|m)\b")
_NT_RE = re.compile(r"\b(\w+?)n['’]t\b")
_CLAUSE_SPLIT_RE = re.compile(r"[,:()\[\]{}—–|]|\s-\s|\s--\s")


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("−", "-").replace("‐", "-").replace("‑", "-").replace("’", "'").replace("‘", "'")
    text = _RS_RE.sub(lambda m: f" return_sequences=={m.group(1)} ", text)
    text = re.sub(r"\breturn_?sequences?\b(?!==)", " return_sequences ", text)
    text = re.sub(r"\bcan['’]t\b", "can not", text)
    text = re.sub(r"\bwon['’]t\b", "will not", text)
    text = _NT_RE.sub(r"\1 not", text)
    text = _APOSTROPHE_RE.sub(r"\1", text)
    return text


def _words(text: str) -> list[str]:
    """Lowercased words of ``text`` with punctuation removed (``_`` kept, ``=`` only in return_sequences=...)."""
    text = text.replace("return_sequences==", "return_sequences\x00")
    text = re.sub(r"[^\w\s\x00]", " ", text).replace("\x00", "=")
    return [w.strip("_") for w in text.split() if w.strip("_")]


def _canonical(words: list[str], vocabulary: "_Vocabulary | None" = None) -> list[str]:
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
    return [_stem(w) for w in _canonical(_words(_clean(text)))]


def _tokens(unit: str, vocabulary: "_Vocabulary | None") -> list[_Token]:
    tokens: list[_Token] = []
    cleaned = _clean(unit)
    pieces = _CLAUSE_SPLIT_RE.split(cleaned)
    clause = 0
    for piece in pieces:
        words = _canonical(_words(piece), vocabulary)
        for word in words:
            if word in _CLAUSE_WORDS and tokens and tokens[-1].clause == clause:
                clause += 1
            tokens.append(_Token(word, _stem(word), clause))
        clause += 1
    return tokens


# ---------------------------------------------------------------------------
# Phrasings
# ---------------------------------------------------------------------------

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


class _Vocabulary:
    """The words of a question's rubric, used to correct near-miss spellings in answers."""

    def __init__(self, words: set[str]) -> None:
        self.words = frozenset(words)
        self.stems = frozenset(_stem(w) for w in words)
        self._by_length: dict[int, list[str]] = {}
        for word in self.words:
            if len(word) >= 6 and word.isalpha():
                self._by_length.setdefault(len(word), []).append(word)
        self._cache: dict[str, str] = {}

    def correct(self, word: str) -> str:
        """The rubric word ``word`` misspells, or ``word`` itself.

        Only an edit inside the word counts: a different ending is another
        form of a word ("encoded" / "encoder"), not a typo.
        """
        if word not in self._cache:
            self._cache[word] = word
            if len(word) >= 6 and word.isalpha() and word not in self.words and word not in _COMMON_WORDS \
                    and _stem(word) not in self.stems:
                for length in (len(word) - 1, len(word), len(word) + 1):
                    found = next((c for c in self._by_length.get(length, ())
                                  if c[0] == word[0] and _inner_edit(word, c)), None)
                    if found:
                        self._cache[word] = found
                        break
        return self._cache[word]


def _inner_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one insertion, deletion, substitution or swap before their last two letters."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    limit = max(len(a), len(b)) - 2
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if diff[-1] >= limit:
            return False
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return i < limit and short[i:] == long_[i + 1:]


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


@dataclass(frozen=True)
class _Rubric:
    points: tuple[tuple[str, float, tuple[Phrasing, ...]], ...]
    contradictions: tuple[tuple[str, float, tuple[Phrasing, ...]], ...]
    vocabulary: _Vocabulary
    topic_words: frozenset[str]
    answer_words: int


_RUBRICS: dict[Question, _Rubric] = {}


def _rubric(question: Question) -> _Rubric:
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
                raw.update(_canonical(_words(_clean(phrasing.replace("|", " ").replace("+", " ")))))
        reference = [_stem(w) for w in _canonical(_words(_clean(" ".join(
            [question.answer, question.prompt] + [p.text for p in question.key_points]))))]
        topic = frozenset(_stem(w) for w in raw) | frozenset(reference)
        topic = frozenset(w for w in topic if w not in _FUNCTION_STEMS and not w.isdigit() and len(w) > 2)
        _RUBRICS[key] = _Rubric(points, contradictions, _Vocabulary(raw),
                                topic, len(question.answer.split()))
    return _RUBRICS[key]


_FUNCTION_STEMS = frozenset(_stem(w) for w in FUNCTION_WORDS)


# ---------------------------------------------------------------------------
# Units (sentences, bullet lines, code lines)
# ---------------------------------------------------------------------------

_BULLET_RE = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)]|[a-z][.)])\s+", re.IGNORECASE)


class _Unit:
    """One sentence, bullet line or code line, tokenised once with what matching needs."""

    __slots__ = ("text", "tokens", "is_code", "list_like", "stems", "raws", "index", "cues", "hedged")

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
        self.hedged = any(_has_sequence(self.raws, hedge) >= 0 for hedge in _HEDGES)

    @classmethod
    def joined(cls, first: "_Unit", second: "_Unit") -> "_Unit":
        """Two neighbouring units read as one, their clauses kept apart."""
        offset = 1 + max((t.clause for t in first.tokens), default=0)
        tokens = first.tokens + tuple(_Token(t.raw, t.stem, t.clause + offset) for t in second.tokens)
        return cls(f"{first.text} / {second.text}", tokens, first.is_code and second.is_code)


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
        if _FENCE_RE.match(line):
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
    return ratio < 0.12 or (longest >= 9 and ratio < 0.25)


def _units(text: str, vocabulary: _Vocabulary | None) -> list[_Unit]:
    units = []
    for unit_text, is_code in split_units(text):
        tokens = _tokens(unit_text, vocabulary)
        if not tokens:
            continue
        # Equations (c(t) = f(t) * c(t-1) + ...) are terse by nature, not keyword lists.
        formula = bool(_FORMULA_RE.search(unit_text))
        units.append(_Unit(unit_text, tuple(tokens), is_code,
                           not is_code and not formula and _list_like(_words(_clean(unit_text)))))
    return units


# ---------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------

MatchKind = Literal["clean", "negated", "ambiguous", "hedged"]


@dataclass(frozen=True)
class _Match:
    unit: int
    kind: MatchKind
    positions: tuple[int, ...]


def _occurrences(unit: _Unit, alternative: Alternative) -> list[tuple[int, int]]:
    """(start, end) of every place ``alternative`` occurs in ``unit``.

    A single long alternative also matches words it begins ("translat" matches
    "translation"): rubric authors use such stems on purpose.
    """
    n = len(alternative)
    stems = unit.stems
    spans = [(i, i + n) for i in unit.index.get(alternative[0], ()) if stems[i:i + n] == alternative]
    if n == 1 and len(alternative[0]) >= 7:
        for stem, positions in unit.index.items():
            if stem != alternative[0] and stem.startswith(alternative[0]) and "_" not in stem and "=" not in stem:
                spans.extend((i, i + 1) for i in positions)
    return spans


def _match_phrasing(unit: _Unit, phrasing: Phrasing, limit: int = 24) -> list[tuple[int, ...]]:
    """Token positions of the ways ``phrasing`` matches ``unit``, tightest first (at most ``limit``).

    Each match takes one span per term, no two overlapping, within
    :data:`MATCH_WINDOW` tokens. To stay fast on long sentences, every match
    is built around a span of the rarest term with the nearest spans of the
    others, which always includes the tightest match in practice.
    """
    options = []
    for term in phrasing:
        spans = [span for alt in term for span in _occurrences(unit, alt)]
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


def _best_reading(unit: _Unit, phrasing: Phrasing) -> "tuple[MatchKind, tuple[int, ...]] | None":
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


def _has_sequence(raws: tuple[str, ...], phrase: tuple[str, ...], start: int = 0, stop: int | None = None) -> int:
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


def _classify(unit: _Unit, positions: tuple[int, ...]) -> MatchKind:
    """Whether the matched tokens are stated plainly, negated, or negated ambiguously."""
    tokens = unit.tokens
    first, last = positions[0], positions[-1]
    if unit.hedged:
        return "hedged"
    for phrase in _WHOLE_UNIT_NEGATIONS:
        if _has_sequence(unit.raws, phrase, 0, first) >= 0:
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
              and tokens[cue].raw in _PREDICATE_NEGATIONS):
            if cue + 1 < len(tokens) and tokens[cue + 1].raw in _DENYING_PREDICATES:
                return "negated"
            kind = "ambiguous"  # "X is not ...": the subject precedes the negation
    return kind


def _find_matches(units: list[_Unit], phrasings: tuple[Phrasing, ...], *,
                  skip_list_like: bool) -> list[_Match]:
    matches = []
    for index, unit in enumerate(units):
        if skip_list_like and unit.list_like:
            continue
        for phrasing in phrasings:
            reading = _best_reading(unit, phrasing)
            if reading is not None:
                matches.append(_Match(index, reading[0], reading[1]))
    return matches


def _split_match(units: list[_Unit], phrasings: tuple[Phrasing, ...], *, skip_list_like: bool) -> int | None:
    """Index of the first unit whose plain statement of a phrasing runs on into the next unit."""
    for index in range(len(units) - 1):
        a, b = units[index], units[index + 1]
        if (skip_list_like and (a.list_like or b.list_like)) or a.cues or b.cues:
            continue
        both = _Unit.joined(a, b)
        for phrasing in phrasings:
            for positions in _match_phrasing(both, phrasing):
                if positions[0] < len(a.tokens) <= positions[-1] and _classify(both, positions) == "clean":
                    return index
    return None


# ---------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PointScore:
    """One key point: ``met`` / ``missed`` / ``uncertain`` and the sentence that decided it."""

    id: str
    weight: float
    status: PointStatus
    evidence: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "weight": self.weight, "status": self.status,
                "evidence": self.evidence, "note": self.note}


@dataclass(frozen=True)
class ContradictionScore:
    """One contradiction: ``present`` / ``absent`` / ``uncertain`` and its evidence."""

    id: str
    penalty: float
    status: ContradictionStatus
    evidence: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "penalty": self.penalty, "status": self.status,
                "evidence": self.evidence, "note": self.note}


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

    def point(self, point_id: str) -> PointScore:
        for point in self.points:
            if point.id == point_id:
                return point
        raise KeyError(f"no key point {point_id!r} (known: {', '.join(p.id for p in self.points)})")

    def contradiction(self, contradiction_id: str) -> ContradictionScore:
        for item in self.contradictions:
            if item.id == contradiction_id:
                return item
        known = ", ".join(c.id for c in self.contradictions)
        raise KeyError(f"no contradiction {contradiction_id!r} (known: {known})")

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
                "flags": list(self.flags), "words": self.words}


def _evidence(units: list[_Unit], index: int) -> str:
    text = " ".join(units[index].text.split())
    return text if len(text) <= 240 else text[:237] + "..."


def _judge_point(units: list[_Unit], phrasings: tuple[Phrasing, ...], matches: list[_Match], *,
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
    split = _split_match(units, phrasings, skip_list_like=bool(ignored))
    if split is not None:
        return "uncertain", _evidence(units, split) + " / " + _evidence(units, split + 1), \
            "stated across two sentences"
    negated = [m for m in usable if m.kind == "negated"]
    if negated:
        return "missed", _evidence(units, negated[0].unit), "only stated negated"
    if matches:
        return "missed", _evidence(units, matches[0].unit), "only named in a keyword list"
    return "missed", "", ""


def _judge_contradiction(units: list[_Unit], matches: list[_Match]) -> tuple[ContradictionStatus, str, str]:
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


def _mentions_rubric(units: list[_Unit], rubric: _Rubric) -> bool:
    """Whether any alternative of any term of the rubric occurs in the answer."""
    return any(_occurrences(unit, alternative)
               for _, _, phrasings in rubric.points + rubric.contradictions
               for phrasing in phrasings for term in phrasing for alternative in term
               for unit in units)


def _first_words(text: str, limit: int) -> str:
    """``text`` cut after its ``limit``-th word."""
    for count, match in enumerate(re.finditer(r"\w+", text), start=1):
        if count == limit:
            return text[:match.end()]
    return text


def _is_stuffed(units: list[_Unit]) -> bool:
    """Most of the prose is keyword lists, or the whole answer has almost no function words."""
    prose = [u for u in units if not u.is_code]
    tokens = sum(len(u.tokens) for u in prose)
    if tokens < 6:
        return False
    listed = sum(len(u.tokens) for u in prose if u.list_like)
    raws = [w for u in prose for w in u.raws]
    function_share = sum(1 for w in raws if w in FUNCTION_WORDS) / len(raws)
    return listed >= 0.5 * tokens or function_share < 0.15


def _crowded_units(units: list[_Unit], point_matches: list[list[_Match]]) -> set[int]:
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


def score_answer(question: Question, text: str) -> ProseScore:
    """Score one prose answer against ``question``'s rubric (see the module docstring)."""
    rubric = _rubric(question)
    words = len(re.findall(r"\w+", text or ""))
    if not (text or "").strip():
        points = tuple(PointScore(pid, weight, "missed") for pid, weight, _ in rubric.points)
        contradictions = tuple(ContradictionScore(cid, penalty, "absent") for cid, penalty, _ in rubric.contradictions)
        return ProseScore(question.id, 0.0, points, contradictions, False, (), ("empty",), 0)

    units = _units(_first_words(text, MAX_SCORED_WORDS), rubric.vocabulary)
    stuffed = _is_stuffed(units)
    point_matches = [_find_matches(units, phrasings, skip_list_like=False) for _, _, phrasings in rubric.points]
    ignored = {i for i, u in enumerate(units) if u.list_like} if stuffed else set()
    crowded = _crowded_units(units, point_matches)

    points = []
    for (pid, weight, phrasings), matches in zip(rubric.points, point_matches):
        status, evidence, note = _judge_point(units, phrasings, matches, ignored=ignored, weak=crowded)
        points.append(PointScore(pid, weight, status, evidence, note))
    contradictions = []
    for cid, penalty, phrasings in rubric.contradictions:
        status, evidence, note = _judge_contradiction(units, _find_matches(units, phrasings, skip_list_like=False))
        contradictions.append(ContradictionScore(cid, penalty, status, evidence, note))

    total_weight = sum(p.weight for p in points) or 1.0
    fraction = sum(p.weight * CREDIT[p.status] for p in points) / total_weight
    fraction -= sum(c.penalty * PENALTY_SHARE[c.status] for c in contradictions)
    fraction = min(1.0, max(0.0, fraction))

    flags: list[str] = []
    reasons: list[str] = []
    uncertain = [p.id for p in points if p.status == "uncertain"]
    if uncertain:
        reasons.append(f"uncertain: {', '.join(uncertain)}")
    doubtful = [c.id for c in contradictions if c.status == "uncertain"]
    if doubtful:
        reasons.append(f"possible contradiction: {', '.join(doubtful)}")
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
               if t.stem not in _FUNCTION_STEMS and not t.stem.isdigit() and len(t.stem) > 2]
    topic_share = sum(1 for w in content if w in rubric.topic_words) / max(1, len(content))
    if all(p.status == "missed" for p in points) and all(c.status == "absent" for c in contradictions) \
            and (topic_share < OFF_TOPIC_SHARE or not _mentions_rubric(units, rubric)):
        flags.append("off_topic")
    denied = [p.id for p in points if p.note == "only stated negated"]
    if denied:
        flags.append("denies_key_point")
        reasons.append(f"denies a key point: {', '.join(denied)}")
    if (fraction < LOW_SCORE_REVIEW and not stuffed and words >= 25
            and (topic_share < FAMILIAR_SHARE or words >= SUBSTANTIAL_WORDS)):
        flags.append("unusual_wording")
        reasons.append("few key points recognised in an answer whose wording the rubric mostly does not know")
    return ProseScore(question.id, round(fraction, 4), tuple(points), tuple(contradictions), bool(reasons),
                      tuple(reasons), tuple(flags), words)


# ---------------------------------------------------------------------------
# Measuring the scorer against labelled answers
# ---------------------------------------------------------------------------

GRADES = (0.0, 0.25, 0.5, 0.75, 1.0)


def nearest_grade(fraction: float) -> float:
    """The nearest of 0, 0.25, 0.5, 0.75, 1 (the grades instructors label with)."""
    return min(GRADES, key=lambda grade: (abs(grade - fraction), grade))


def quadratic_weighted_kappa(labels: list[float], predictions: list[float]) -> float:
    """Cohen's kappa with quadratic weights over the five ordinal grades.

    1 is perfect agreement, 0 is chance level. When both raters use a single
    grade throughout, agreement is perfect exactly when they coincide.
    """
    import numpy as np

    k = len(GRADES)
    truth = np.array([GRADES.index(nearest_grade(x)) for x in labels])
    guess = np.array([GRADES.index(nearest_grade(x)) for x in predictions])
    if truth.size == 0:
        return float("nan")
    observed = np.zeros((k, k))
    np.add.at(observed, (truth, guess), 1.0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / truth.size
    grid = np.arange(k)
    weights = (grid[:, None] - grid[None, :]) ** 2 / (k - 1) ** 2
    denominator = float((weights * expected).sum())
    if denominator == 0:
        return 1.0 if bool((truth == guess).all()) else 0.0
    return 1.0 - float((weights * observed).sum()) / denominator


@dataclass(frozen=True)
class Agreement:
    """How a set of automatic scores agrees with instructor labels."""

    n: int
    qwk: float
    mae: float
    within_quarter: float
    auto_share: float
    auto_within_quarter: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def agreement(labels: list[float], fractions: list[float], needs_review: list[bool]) -> Agreement:
    """QWK, mean absolute error, share within 0.25, auto-accepted share and its accuracy.

    ``fractions`` are mapped to the nearest grade first, as a grade book would.
    """
    grades = [nearest_grade(f) for f in fractions]
    n = len(labels)
    errors = [abs(g - y) for g, y in zip(grades, labels)]
    auto = [e for e, review in zip(errors, needs_review) if not review]
    return Agreement(
        n=n,
        qwk=quadratic_weighted_kappa(labels, grades),
        mae=sum(errors) / n if n else float("nan"),
        within_quarter=sum(e <= 0.25 + 1e-9 for e in errors) / n if n else float("nan"),
        auto_share=len(auto) / n if n else float("nan"),
        auto_within_quarter=sum(e <= 0.25 + 1e-9 for e in auto) / len(auto) if auto else float("nan"),
    )


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------

def prose_results(question: Question, text: str, *, missing_message: str = "") -> tuple[CheckResult, dict[str, Any]]:
    """One :class:`CheckResult` for the prose part of ``question`` and its evidence dict.

    The result's task is ``question.prose_task``, its check ``"rubric"`` and
    its ``max_score`` the question's prose points; it passes only with full
    credit. An empty answer is an ``error`` whose output is
    ``missing_message`` (or a default naming the heading to add). ``details``
    and the evidence dict (``ProseScore.to_dict()``) carry every key point's
    status and evidence sentence and ``needs_review``.
    """
    score = score_answer(question, text)
    evidence = score.to_dict()
    details = {key: evidence[key] for key in ("fraction", "needs_review", "review_reasons", "flags",
                                               "points", "contradictions")}
    if "empty" in score.flags:
        message = missing_message or (f"{ANSWERS_FILE} has no answer for {question.id} "
                                      f"(expected a heading '## {question.id}' followed by your answer)")
        return CheckResult(question.prose_task, "rubric", ERROR, 0.0, question.prose_points, message,
                           "visible", details), evidence
    status = PASSED if score.fraction >= 0.999 else FAILED
    return CheckResult(question.prose_task, "rubric", status, round(score.fraction * question.prose_points, 2),
                       question.prose_points, score.summary(), "visible", details), evidence
