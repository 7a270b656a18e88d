"""Shared q6 code and prose (grader.similarity.code, .prose, .lsh): plain text in, findings out."""

from __future__ import annotations

import io
import keyword
import random
import tokenize

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.core.bank import load_bank
from grader.similarity import lsh
from grader.similarity.code import KEPT_NAMES, compare_code, fingerprint_code, normalised_tokens, template_hashes
from grader.similarity.prose import compare_prose, excluded_ngrams, ngrams, words

# -- q6 cells, written for these tests

ORIGINAL = '''"""My LSTM cell for question 6."""
import numpy as np


def sigmoid(z):
    # logistic function
    return 1.0 / (1.0 + np.exp(-z))


def split_gates(z, units):
    """Cut the pre-activations into the four Keras gates (i, f, c, o)."""
    i = z[:, :units]
    f = z[:, units:2 * units]
    g = z[:, 2 * units:3 * units]
    o = z[:, 3 * units:]
    return i, f, g, o


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """One time step of an LSTM layer."""
    units = h.shape[1]
    z = np.dot(x, kernel) + np.dot(h, recurrent_kernel) + bias
    i, f, g, o = split_gates(z, units)
    input_gate = sigmoid(i)
    forget_gate = sigmoid(f)
    candidate = np.tanh(g)
    output_gate = sigmoid(o)
    c_next = forget_gate * c + input_gate * candidate
    h_next = output_gate * np.tanh(c_next)
    return h_next, c_next
'''

# ORIGINAL with every name changed, the functions in reverse order, new comments and docstrings.
DISGUISED = '''import numpy as np

# Question 6: numpy LSTM


def lstm_step(inputs, state_h, state_c, W, U, b):
    # forward one step
    n = state_h.shape[1]
    pre = np.dot(inputs, W) + np.dot(state_h, U) + b   # all four gates at once
    a, bb, cc, d = gates(pre, n)
    ig = logistic(a)
    fg = logistic(bb)
    cand = np.tanh(cc)
    og = logistic(d)
    new_c = fg * state_c + ig * cand
    new_h = og * np.tanh(new_c)
    return new_h, new_c


def gates(pre, n):
    # slice into i, f, c, o
    a = pre[:, :n]
    bb = pre[:, n:2 * n]
    cc = pre[:, 2 * n:3 * n]
    d = pre[:, 3 * n:]
    return a, bb, cc, d


def logistic(v):
    """Squash to (0, 1)."""
    return 1 / (1 + np.exp(-v))
'''

# Two correct cells with structures of their own: a loop over named gates, and a loop over rows.
BY_GATE = '''import numpy as np

GATES = ("i", "f", "c", "o")


def _act(name, value):
    if name == "c":
        return np.tanh(value)
    return 0.5 * (np.tanh(0.5 * value) + 1.0)


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    width = kernel.shape[-1] // len(GATES)
    out = {}
    for k, name in enumerate(GATES):
        cols = slice(k * width, (k + 1) * width)
        pre = x.dot(kernel[:, cols]) + h.dot(recurrent_kernel[:, cols]) + bias[cols]
        out[name] = _act(name, pre)
    cell = out["f"] * c + out["i"] * out["c"]
    return out["o"] * np.tanh(cell), cell
'''

BY_ROW = '''from numpy import exp, tanh, matmul, zeros_like


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """Batch-first LSTM step; gate order i, f, c, o as Keras stores it."""
    n = c.shape[-1]
    acts = matmul(x, kernel)
    acts += matmul(h, recurrent_kernel)
    acts += bias
    result_c = zeros_like(c)
    result_h = zeros_like(h)
    for row in range(acts.shape[0]):
        gi = 1.0 / (1.0 + exp(-acts[row, 0:n]))
        gf = 1.0 / (1.0 + exp(-acts[row, n:2 * n]))
        gc = tanh(acts[row, 2 * n:3 * n])
        go = 1.0 / (1.0 + exp(-acts[row, 3 * n:4 * n]))
        result_c[row] = gf * c[row] + gi * gc
        result_h[row] = go * tanh(result_c[row])
    return result_h, result_c
'''

STARTER = '''import numpy as np


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """One LSTM time step, batch-first. Returns (h_new, c_new)."""
    z = x @ kernel + h @ recurrent_kernel + bias
    # TODO: split z into the gates i, f, c, o and compute the new states
    raise NotImplementedError
'''


def test_renamed_reordered_and_recommented_code_is_found():
    match = compare_code(fingerprint_code(ORIGINAL), fingerprint_code(DISGUISED))
    assert match.similarity > 0.9 and match.flagged, match
    # The passages cover the copied bodies of both files: sigmoid to the return, and lstm_step to logistic.
    assert match.passages_a[-1][1] >= 30 and match.passages_b[-1][1] >= 31
    assert sum(last - first + 1 for first, last in match.passages_a) >= 20


@pytest.mark.parametrize("other", [BY_GATE, BY_ROW], ids=["by_gate", "by_row"])
def test_independent_correct_cells_are_not_flagged(other):
    for mine in (ORIGINAL, BY_GATE, BY_ROW):
        if mine is other:
            continue
        match = compare_code(fingerprint_code(mine), fingerprint_code(other))
        assert match.similarity < 0.3 and not match.flagged, match


def test_starter_template_lines_never_count():
    exclude = template_hashes(STARTER)
    only_template = fingerprint_code(STARTER + "\n\n# I did not finish\n", exclude=exclude)
    assert not only_template.hashes
    # Two cells built on the template, finished independently: the template's lines are not shared.
    mine = STARTER.replace("    raise NotImplementedError\n",
                           "    i, f, g, o = np.split(z, 4, axis=1)\n    c = f * c + i * g\n    return o * c, c\n")
    theirs = STARTER.replace("    raise NotImplementedError\n",
                             "    out = []\n    for k in range(4):\n        out.append(z[:, k::4])\n"
                             "    return out[3] * np.tanh(c), c\n")
    match = compare_code(fingerprint_code(mine, exclude=exclude), fingerprint_code(theirs, exclude=exclude))
    assert match.shared == 0 and match.passages_a == () and match.passages_b == (), match
    without = compare_code(fingerprint_code(mine), fingerprint_code(theirs))
    assert without.shared >= 8 and without.passages_b[0] == (1, 6)     # what the exclusion removed


def test_docstrings_comments_and_layout_play_no_part():
    plain = "import numpy as np\n\ndef f(x):\n    return np.tanh(x) * 2 + 1\n"
    noisy = ('"""Module doc."""\nimport numpy as np  # numpy\n\n\ndef f(x):\n    """Doc\n    string."""\n'
             "    # a comment\n    return np.tanh(x) * \\\n        2 + 1\n")
    assert [t.text for t in normalised_tokens(plain)[0]] == [t.text for t in normalised_tokens(noisy)[0]]
    assert compare_code(fingerprint_code(plain), fingerprint_code(noisy)).similarity == 1.0


def test_a_file_tokenize_refuses_is_still_read():
    broken = ORIGINAL + "\n    x = (\n  'unterminated\n"
    fingerprints = fingerprint_code(broken)
    assert fingerprints.fallback
    assert compare_code(fingerprints, fingerprint_code(DISGUISED)).similarity > 0.8


@pytest.mark.parametrize("hostile", [
    bytes(random.Random(0).randrange(256) for _ in range(50_000)).decode("latin-1"),
    "x" * 1_000_000,
    "def f(x):\n    return x\x00\x00 + 1\n" * 100,
    "(" * 5000 + "\n",
    '"""' + "a" * 300_000,
    "\t\n  \x0c\r\n" * 1000 + "\udcff",
], ids=["garbage", "1MB line", "NUL bytes", "deep nesting", "unterminated docstring", "layout and a lone surrogate"])
def test_hostile_text_never_raises(hostile):
    fingerprints = fingerprint_code(hostile)
    compare_code(fingerprints, fingerprint_code(ORIGINAL))
    compare_prose(hostile, "an ordinary answer about the forget gate and the cell state", exclude=frozenset())
    assert len(words(hostile)) <= 200_000


_identifier = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: name not in KEPT_NAMES and not keyword.issoftkeyword(name))


@settings(max_examples=60, deadline=None)
@given(st.lists(_identifier, min_size=30, max_size=30, unique=True))
def test_renaming_every_variable_changes_no_fingerprint(names):
    """Any consistent renaming of the non-library names of a cell leaves it identical to the original."""
    tokens = list(tokenize.generate_tokens(io.StringIO(ORIGINAL).readline))
    own = sorted({t.string for t in tokens if t.type == tokenize.NAME and t.string not in KEPT_NAMES
                  and tokens[tokens.index(t) - 1].string != "."})
    assert len(own) <= len(names)
    mapping = dict(zip(own, names))
    renamed = tokenize.untokenize((t.type, mapping.get(t.string, t.string) if t.type == tokenize.NAME
                                   and tokens[i - 1].string != "." else t.string) for i, t in enumerate(tokens))
    match = compare_code(fingerprint_code(ORIGINAL), fingerprint_code(renamed))
    assert match.similarity == 1.0 and match.jaccard == 1.0


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.text(alphabet="abxy_ =+*()[]:,.\n 0123#'\"", max_size=400))
def test_comparison_is_symmetric_and_a_text_matches_itself(a, b):
    fa, fb = fingerprint_code(a), fingerprint_code(b)
    if fa.hashes:
        assert compare_code(fa, fingerprint_code(a)).similarity == 1.0
    ab, ba = compare_code(fa, fb), compare_code(fb, fa)
    assert (ab.shared, ab.similarity, ab.jaccard, ab.passages_a) == (ba.shared, ba.similarity, ba.jaccard, ba.passages_b)
    pab, pba = compare_prose(a, b), compare_prose(b, a)
    assert (pab.shared, pab.containment, pab.passages_a) == (pba.shared, pba.containment, pba.passages_b)
    if ngrams(a):
        assert compare_prose(a, a).containment == 1.0


# -- prose, written for these tests (question Q6: "Can you sketch the LSTM cell's architecture?")

LONG_ANSWER = """
An LSTM cell is basically a recurrent unit that keeps **two** separate states: the hidden state `h_t`,
which is what the layer outputs at every step, and the cell state `c_t`, which works like a conveyor belt
running through the whole sequence. Three sigmoid gates decide what happens to that belt. The forget gate
looks at the new input together with the previous hidden state and chooses which entries of the old cell
state should be wiped out. Then the input gate chooses how much of a freshly computed candidate vector,
produced by a tanh layer, gets written onto the belt. Finally the output gate picks which parts of the
squashed cell state are exposed as the new hidden state. Since the cell state is only ever updated by a
multiplication and an addition, gradients can travel back over long distances without vanishing, which is
why LSTMs remember dependencies that plain RNNs forget. In Keras, setting `return_sequences=True` returns
the hidden state of every time step instead of only the last one.
"""

# Synonyms swapped in, the first sentence's clauses reordered, the last two sentences dropped.
PARAPHRASE = """
An LSTM cell is essentially a recurrent unit that maintains two distinct states: the cell state `c_t`, which works
like a conveyor belt running through the entire sequence, and the hidden state `h_t`, which is what the
layer outputs at every step. Three sigmoid gates control what happens to that belt. The forget gate
looks at the new input together with the previous hidden state and selects which entries of the old cell
state should be erased. Then the input gate decides how much of a freshly computed candidate vector,
produced by a tanh layer, gets written onto the belt. Finally the output gate picks which parts of the
squashed cell state are exposed as the new hidden state. Because the cell states are only ever updated by a
multiplication and an addition, gradients can travel back over long distances without vanishing.
"""

OWN_WORDS_1 = """
Inside the cell there are four small dense layers that all receive x(t) and h(t-1). One of them, with a tanh
activation, produces candidate values; the other three are gates with a sigmoid activation, so each outputs
numbers between 0 and 1 that act as masks. The forget gate f(t) multiplies the previous cell state, dropping
information that is no longer useful, and the input gate i(t) scales the candidate before it is added in.
The resulting c(t) is the long-term memory. The output gate o(t) then filters tanh(c(t)) to give h(t), which
is both the output at this step and the short-term state passed to the next step.
"""

OWN_WORDS_2 = """
The LSTM cell has a long-term state c and a short-term state h. At each time step it concatenates the input
with the previous h and feeds the result to four fully connected layers. The forget gate decides which parts
of the long-term state to erase, the input gate decides which parts of the new candidate to keep, and the
output gate decides which parts of the long-term state to read out as h. The gates use the sigmoid function,
so a value of 0 closes the gate and 1 opens it. The candidate is computed with tanh. Because the cell state is
changed only by elementwise operations, gradients can flow across many steps.
"""

QUOTES_1 = """
Can you sketch the LSTM cell's architecture? An LSTM cell carries two state vectors from one time step to the
next: a short-term state h(t) and a long-term state c(t), the cell state. The forget gate f(t) decides which
parts of c(t−1) to erase; the input gate i(t) decides which parts of g(t) to add; the output gate o(t)
decides which parts of the long-term state to read out. I think this is the main idea.
"""

QUOTES_2 = """
The question asks us to sketch the LSTM cell's architecture. The gates: the **forget gate** f(t) decides which parts
of c(t−1) to erase; the input gate i(t) decides which parts of g(t) to add; the output gate o(t) decides which parts
of the long-term state to read out. The three gates use the logistic (sigmoid) function, so their outputs lie
between 0 and 1. My summary is that it has memory.
"""


@pytest.fixture(scope="module")
def q6_excluded() -> frozenset[str]:
    question = load_bank().question("Q6")
    rubric = [p.text for p in (*question.key_points, *question.contradictions)]
    rubric += [e for p in (*question.key_points, *question.contradictions) for e in p.examples]
    return excluded_ngrams([question.prompt, question.answer, *rubric])


def test_a_paraphrased_answer_is_found_with_its_passages(q6_excluded):
    match = compare_prose(LONG_ANSWER, PARAPHRASE, exclude=q6_excluded)
    assert match.flagged and match.containment > 0.5 and len(match.passages_a) >= 4, match
    shown_a = [LONG_ANSWER[s:e] for s, e in match.passages_a]
    shown_b = [PARAPHRASE[s:e] for s, e in match.passages_b]
    assert any("freshly computed candidate vector" in p for p in shown_a)
    assert any("freshly computed candidate vector" in p for p in shown_b)
    assert any(p.startswith("gradients can travel back") or "gradients can travel back" in p for p in shown_b)
    # Passages are maximal: none overlaps or touches the next.
    for spans in (match.passages_a, match.passages_b):
        assert all(end < start for (_, end), (start, _) in zip(spans, spans[1:]))
    assert not any("return_sequences" in p for p in shown_a)       # that sentence was dropped


def test_quoting_the_question_or_the_reference_is_not_shared_work(q6_excluded):
    without = compare_prose(QUOTES_1, QUOTES_2, exclude=frozenset())
    assert without.shared > 10                                       # they do overlap: in the reference's words
    match = compare_prose(QUOTES_1, QUOTES_2, exclude=q6_excluded)
    assert match.shared == 0 and not match.flagged and match.passages_a == (), match


def test_independent_answers_share_little(q6_excluded):
    answers = [LONG_ANSWER, OWN_WORDS_1, OWN_WORDS_2, QUOTES_1]
    for i, a in enumerate(answers):
        for b in answers[i + 1:]:
            match = compare_prose(a, b, exclude=q6_excluded)
            assert match.shared <= 2 and not match.flagged, (a[:40], b[:40], match)


def test_words_keep_code_spans_and_drop_markup():
    text = "Set `return_sequences=True` in **every** _recurrent_ layer, see [the docs](https://keras.io/x_y)."
    assert [w.text for w in words(text)] == ["set", "return_sequences", "true", "in", "every", "recurrent",
                                             "layer", "see", "the", "doc"]
    assert [text[w.start:w.end] for w in words(text)][1] == "return_sequences"
    assert ngrams("ＧＡＴＥＳ Gates gates gate") == ["gate gate gate gate"]      # NFKC, case, plurals


# -- candidate pairs at scale


def test_lsh_finds_a_planted_near_duplicate_and_not_all_pairs():
    rng = random.Random(7)
    sets = {f"s{i:03d}": {rng.getrandbits(64) for _ in range(120)} for i in range(300)}
    original = sorted(sets["s042"])
    sets["s299"] = set(original[:108]) | {rng.getrandbits(64) for _ in range(12)}     # Jaccard about 0.82
    pairs = lsh.candidate_pairs(sets, threshold=0.5)
    assert ("s042", "s299") in pairs
    assert len(pairs) < 20                                            # of 44,850
    assert pairs == lsh.candidate_pairs(sets, threshold=0.5)          # deterministic


def test_lsh_accepts_string_sets_and_skips_empty_ones():
    sets = {"a": ngrams(LONG_ANSWER), "b": ngrams(PARAPHRASE), "c": ngrams(OWN_WORDS_2), "d": [], "e": []}
    pairs = lsh.candidate_pairs(sets, threshold=0.3)
    assert ("a", "b") in pairs and not any("d" in p or "e" in p for p in pairs)
    with pytest.raises(ValueError, match="threshold"):
        lsh.candidate_pairs(sets, threshold=1.5)


def test_all_pairs_for_a_small_class():
    assert lsh.all_pairs(["c", "a", "b", "a"]) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert len(lsh.all_pairs(str(i) for i in range(lsh.LSH_FROM))) == lsh.LSH_FROM * (lsh.LSH_FROM - 1) // 2
