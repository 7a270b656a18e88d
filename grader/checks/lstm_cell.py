"""The q6 rules: ``lstm_step``'s signature, and the numeric check on random LSTM cases drawn and
answered in the grader, never in the sandbox.

The student's ``lstm_step`` runs in a fresh sandboxed process that receives the
*inputs* of each case and nothing else. The expected ``(h, c)`` are computed here,
in the grader's process, by the NumPy reference of Keras's LSTM cell
(:mod:`reference_models.lstm_cell`, which the test suite checks against
``keras.layers.LSTMCell`` on random shapes). Every grading draws a fresh seed
from :mod:`secrets`, so no file, variable or published constant the student code
can reach holds the answers: the only way to score is to compute them.

What comes back from the sandbox is untrusted: :func:`read_reply` accepts only
arrays of exactly the expected shape and error reports made of an exception name
from a fixed list and a line number inside the student's own file. The student's
exception *messages* never leave the sandbox, so its text output cannot carry the
contents of files it managed to read.
"""

from __future__ import annotations

import builtins
import math
import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from grader.checks.evidence import Evidence
from grader.core.errors import GraderError
from grader.core.results import Outcome

TOLERANCE = 1e-5
ARGUMENTS = ("x", "h", "c", "kernel", "recurrent_kernel", "bias")
SOURCE_EXCERPT = 80
# What a well-behaved reply can hold for the largest cases drawn below, with room to spare.
REPLY_LIMIT = 64 * 1024

# Exception names a student may see; anything else is reported as "an exception".
KNOWN_EXCEPTIONS = frozenset(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
) | {"LinAlgError", "AxisError", "ComplexWarning"}


@dataclass(frozen=True)
class LstmCase:
    """One call of ``lstm_step``: its six arguments and the reference answer (kept in the grader)."""

    inputs: dict[str, np.ndarray]
    h_expected: np.ndarray
    c_expected: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.h_expected.shape)   # (batch, units)

    def describe(self) -> dict[str, int]:
        batch, input_dim = self.inputs["x"].shape
        return {"batch": int(batch), "input_dim": int(input_dim), "units": int(self.h_expected.shape[1])}


@dataclass(frozen=True)
class LstmCases:
    seed: int
    cases: tuple[LstmCase, ...] = field(default_factory=tuple)

    def payload(self) -> list[dict[str, Any]]:
        """The inputs only, as JSON lists: exactly what the sandbox is given."""
        return [{name: case.inputs[name].tolist() for name in ARGUMENTS} for case in self.cases]


def reference_step(x, h, c, kernel, recurrent_kernel, bias):
    from reference_models.lstm_cell import lstm_step

    return lstm_step(x, h, c, kernel, recurrent_kernel, bias)


def _shapes(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Three (batch, input_dim, units): two general ones with input_dim != units, one single-sample edge case."""
    shapes = []
    for _ in range(2):
        batch, input_dim, units = (int(v) for v in rng.integers(2, 8, size=3))
        if input_dim == units:
            units += 1
        shapes.append((batch, input_dim, units))
    shapes.append((1, 1, int(rng.integers(3, 10))))
    return shapes


def draw_cases(seed: int | None = None) -> LstmCases:
    """Random inputs and weights (float32 values held as float64) and the reference answers."""
    seed = secrets.randbits(63) if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    cases = []
    for batch, input_dim, units in _shapes(rng):
        inputs = {
            "x": rng.normal(size=(batch, input_dim)),
            "h": rng.normal(scale=0.5, size=(batch, units)),
            "c": rng.normal(scale=0.5, size=(batch, units)),
            "kernel": rng.normal(scale=0.5, size=(input_dim, 4 * units)),
            "recurrent_kernel": rng.normal(scale=0.5, size=(units, 4 * units)),
            "bias": rng.normal(scale=0.5, size=(4 * units,)),
        }
        inputs = {name: value.astype("float32").astype("float64") for name, value in inputs.items()}
        h_new, c_new = reference_step(*(inputs[name] for name in ARGUMENTS))
        cases.append(LstmCase(inputs, np.asarray(h_new, "float64"), np.asarray(c_new, "float64")))
    return LstmCases(seed, tuple(cases))


# --------------------------------------------------------------------------- reading the sandbox's reply

class MalformedReply(GraderError, ValueError):
    """The sandbox's reply is not what the run_lstm_step op returns; the student sees one fixed line."""


def _matrix(value: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """``value`` as a float64 array of exactly ``shape``, or None when it is anything else."""
    if not isinstance(value, list) or len(value) != shape[0]:
        return None
    if not all(isinstance(row, list) and len(row) == shape[1] for row in value):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for row in value for v in row):
        return None
    try:   # a forged reply may hold integers too large for a float
        return np.asarray(value, dtype="float64").reshape(shape)
    except (OverflowError, ValueError, TypeError):
        return None


def _small_int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _rank(value: Any) -> int | None:
    return _small_int(value, 0, 64)


@dataclass(frozen=True)
class Raised:
    """An exception inside student code: its name (if a known one) and the line of the student's file."""

    name: str
    line: int | None

    def describe(self, source_lines: list[str], file_name: str) -> str:
        what = self.name if self.name != "Exception" else "an exception"
        if self.line is None:
            return f"raised {what}"
        text = " ".join(source_lines[self.line - 1].split()) if self.line <= len(source_lines) else ""
        if len(text) > SOURCE_EXCERPT:
            text = text[: SOURCE_EXCERPT - 1] + "…"
        return f"raised {what} at line {self.line} of {file_name}" + (f": `{text}`" if text else "")


def _raised(value: Any, n_lines: int) -> Raised:
    if not isinstance(value, dict):
        raise MalformedReply("error report is not an object")
    name = value.get("type")
    name = name if isinstance(name, str) and name in KNOWN_EXCEPTIONS else "Exception"
    return Raised(name, _small_int(value.get("line"), 1, max(n_lines, 1)))


@dataclass(frozen=True)
class StudentOutputs:
    """What the student's code returned, validated: per case the arrays, a wrong shape, or an exception."""

    import_error: Raised | None
    arrays: dict[int, tuple[np.ndarray, np.ndarray]]
    ranks: dict[int, tuple[int | None, int | None]]     # a wrong shape, told by rank only
    raised: dict[int, Raised]
    missing_function: bool = False


def read_reply(reply: Mapping[str, Any], cases: LstmCases, n_lines: int) -> StudentOutputs:
    """Validate the run_lstm_step reply against what the op returns for ``cases``; raises MalformedReply."""
    if not isinstance(reply, Mapping):
        raise MalformedReply("reply is not an object")
    if reply.get("import_error") is not None:
        return StudentOutputs(_raised(reply["import_error"], n_lines), {}, {}, {})
    if reply.get("missing_function"):
        return StudentOutputs(None, {}, {}, {}, missing_function=True)
    results = reply.get("results")
    if not isinstance(results, list) or len(results) != len(cases.cases):
        raise MalformedReply("reply does not hold one result per case")
    arrays, ranks, raised = {}, {}, {}
    for n, (case, entry) in enumerate(zip(cases.cases, results)):
        if not isinstance(entry, dict):
            raise MalformedReply("a case result is not an object")
        if "raised" in entry:
            raised[n] = _raised(entry["raised"], n_lines)
            continue
        if "h_rank" in entry or "c_rank" in entry:
            ranks[n] = (_rank(entry.get("h_rank")), _rank(entry.get("c_rank")))
            continue
        h, c = _matrix(entry.get("h"), case.shape), _matrix(entry.get("c"), case.shape)
        if h is None or c is None:
            raise MalformedReply("a case result holds no arrays of the expected shape")
        arrays[n] = (h, c)
    return StudentOutputs(None, arrays, ranks, raised)


# --------------------------------------------------------------------------- comparing

def compare(cases: LstmCases, outputs: StudentOutputs, source_lines: list[str], file_name: str) -> dict[str, Any]:
    """The probe evidence of the q6 check: per case the largest deviation, or why there is none."""
    if outputs.import_error is not None:
        return {"error": f"importing {file_name} {outputs.import_error.describe(source_lines, file_name)}"}
    if outputs.missing_function:
        return {"error": f"{file_name} defines no function lstm_step after it is imported"}
    results = []
    for n, case in enumerate(cases.cases):
        entry: dict[str, Any] = case.describe()
        if n in outputs.raised:
            entry["error"] = f"lstm_step {outputs.raised[n].describe(source_lines, file_name)}"
        elif n in outputs.ranks:
            got_h, got_c = outputs.ranks[n]
            entry["error"] = (f"lstm_step must return (h, c) each of shape {case.shape} (batch, units); "
                              f"it returned {_shown(got_h)} and {_shown(got_c)}")
        else:
            h, c = outputs.arrays[n]
            with np.errstate(invalid="ignore"):
                entry["h_error"] = float(np.nan_to_num(np.abs(h - case.h_expected), nan=np.inf).max())
                entry["c_error"] = float(np.nan_to_num(np.abs(c - case.c_expected), nan=np.inf).max())
            if max(entry["h_error"], entry["c_error"]) > TOLERANCE:
                entry["hint"] = mistake_hint(case, h, c)
        results.append(entry)
    return {"cases": results, "tolerance": TOLERANCE, "seed": cases.seed}


def _shown(rank: int | None) -> str:
    """A returned array described by its rank only: its sizes are the student's to choose, so they could
    spell out a file's bytes."""
    if rank is None:
        return "something that is not an array"
    return "a scalar" if rank == 0 else f"a {rank}-D array of another shape"


def mistake_hint(case: LstmCase, h: np.ndarray, c: np.ndarray) -> str:
    """Name the classic mistake the student's output matches, if any."""
    args = [case.inputs[name] for name in ARGUMENTS]

    def reorder(order: tuple[int, int, int, int]) -> tuple[Any, Any]:
        def perm(w):
            blocks = np.split(w, 4, axis=-1)
            return np.concatenate([blocks[i] for i in order], axis=-1)
        return reference_step(args[0], args[1], args[2], perm(args[3]), perm(args[4]), perm(args[5]))

    guesses = {
        "the gates look ordered i, f, o, c: Keras stores them as i, f, c, o": reorder((0, 1, 3, 2)),
        "the gates look ordered f, i, c, o: Keras stores them as i, f, c, o": reorder((1, 0, 2, 3)),
    }
    z = args[0] @ args[3] + args[1] @ args[4] + args[5]
    i, f, g, o = np.split(z, 4, axis=-1)

    def sig(v):
        return 1 / (1 + np.exp(-v))

    c_new = sig(f) * args[2] + sig(i) * np.tanh(g)
    guesses["h looks like o * c: the hidden state is o * tanh(c)"] = (sig(o) * c_new, c_new)
    with np.errstate(all="ignore"):
        for hint, (gh, gc) in guesses.items():
            if np.allclose(h, gh, atol=1e-4) and np.allclose(c, gc, atol=1e-4):
                return hint
    return "check the gate order (i, f, c, o), the sigmoid gates, the tanh candidate, and h = o * tanh(c)"


# --------------------------------------------------------------------------- the rules

def lstm_step_signature(ev: Evidence, task: Any) -> Outcome:
    """The file defines lstm_step callable with the six contract arguments."""
    source = ev.source or {}
    if source.get("error"):
        return Outcome.fail(str(source["error"]))
    function = (source.get("functions") or {}).get("lstm_step")
    wanted = f"lstm_step({', '.join(ARGUMENTS)})"
    if function is None:
        return Outcome.fail(f"{task.file} defines no top-level function {wanted}")
    positional, defaults, varargs = function["positional"], function["defaults"], function["varargs"]
    required = positional - defaults
    if required > 6 or (positional < 6 and not varargs):
        return Outcome.fail(f"lstm_step takes {positional} positional argument(s) ({', '.join(function.get('names', []))}): "
                            f"the contract calls it as {wanted}")
    return Outcome.ok(f"{wanted} is defined")


def lstm_step_matches_keras(ev: Evidence, task: Any) -> Outcome:
    """lstm_step agrees with Keras's LSTM cell on random inputs and weights.

    The cases' seed is kept in the details (``cases_seed``) so that an instructor can
    reproduce a grading; it is never part of the message.
    """
    probe = ev.probe or {}
    seed = {"cases_seed": probe["seed"]} if "seed" in probe else {}
    if probe.get("error"):
        return Outcome.fail(str(probe["error"]), **seed)
    cases = probe.get("cases") or []
    if not cases:
        return Outcome.error("lstm_step was not run (no probe result)")
    tolerance = probe.get("tolerance", 1e-5)
    for number, case in enumerate(cases, 1):
        if case.get("error"):
            return Outcome.fail(f"case {number}: {case['error']}", **seed)
        worst = max(case["h_error"], case["c_error"])
        if not math.isfinite(worst) or worst > tolerance:
            which = "h" if not math.isfinite(case["h_error"]) or case["h_error"] >= case["c_error"] else "c"
            hint = case.get("hint") or "check the gate order (i, f, c, o), the sigmoid gates, and h = o * tanh(c)"
            return Outcome.fail(f"case {number} (batch {case['batch']}, input {case['input_dim']}, units "
                                f"{case['units']}): {which} differs from Keras's LSTM cell by up to {worst:.3g} "
                                f"(tolerance {tolerance:g}): {hint}", worst=worst, **seed)
    worst = max(max(c["h_error"], c["c_error"]) for c in cases)
    return Outcome.ok(f"matches Keras's LSTM cell on {len(cases)} random cases (max error {worst:.1e})",
                      worst=worst, **seed)
