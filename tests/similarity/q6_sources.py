"""Student q6_lstm_cell.py files: the instructor's starter, and correct solutions written on it.

A solution is rendered from a :class:`Q6Style`. Its *structural* choices (how the gates are
computed, how the fused weights are cut, which sigmoid, which product) are what an independent
author decides; its *surface* choices (names, comments, helper order, indentation, blank lines)
are what a copier changes to hide a copy. Honest students differ in structure; a
``q6_renamed`` copy keeps the friend's structure and redraws only the surface.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

STARTER = '''"""Assignment 7, question 6: one time step of an LSTM cell, in NumPy.

Write lstm_step so that it returns what one step of keras.layers.LSTM computes
(default activations: tanh, and the logistic sigmoid for the gates). Keras keeps
the weights of the four gates side by side, in the order i (input), f (forget),
c (cell candidate), o (output). NumPy only: do not import TensorFlow or Keras.
"""

import numpy as np


def sigmoid(z):
    """The logistic function, element-wise."""
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """Return (h_new, c_new) after one LSTM step.

    x:                (batch, input_dim)
    h, c:             (batch, units)    previous hidden and cell states
    kernel:           (input_dim, 4 * units)
    recurrent_kernel: (units, 4 * units)
    bias:             (4 * units,)
    """
    # TODO: compute the pre-activations of the four gates
    # TODO: apply the sigmoid to the gates and tanh to the candidate
    # TODO: update the cell state, then the hidden state
    raise NotImplementedError("lstm_step is not written yet")
'''

STARTER_DOCSTRING = STARTER.split('"""', 2)[1]
STARTER_STEP_DOC = STARTER.split("def lstm_step", 1)[1].split('"""')[1]

FAMILIES = ("fused_split", "fused_slices", "per_gate", "per_sample")
PRODUCTS = ("at", "dot", "matmul")
SIGMOIDS = ("starter", "stable", "tanh_form", "inline")
UNITS_FROM = ("h.shape[1]", "h.shape[-1]", "recurrent_kernel.shape[0]", "kernel.shape[1] // 4", "bias.shape[0] // 4")
GATE_NAMES = (("i", "f", "g", "o"), ("i_t", "f_t", "g_t", "o_t"),
              ("input_gate", "forget_gate", "candidate", "output_gate"), ("ig", "fg", "cand", "og"),
              ("in_g", "forget", "c_hat", "out_g"))
STATE_NAMES = (("h_new", "c_new"), ("h_next", "c_next"), ("new_h", "new_c"), ("h_t", "c_t"), ("h_out", "c_out"))
PRE_NAMES = ("z", "gates", "pre", "a", "preact", "s")
HELPER_NAMES = ("_row_step", "one_sample", "_single", "step_row", "cell_for_row")


@dataclass(frozen=True)
class Q6Style:
    """Every choice that shapes a solution; the first group is structure, the second surface."""

    family: str
    product: str
    sigmoid: str
    units_from: str
    variant: int        # a family's own sub-choice (split axis, loop form, list vs stack ...)
    activate_early: bool  # apply the activations where the gates are cut, or on separate lines
    gate_names: tuple[str, str, str, str]
    state_names: tuple[str, str]
    pre_name: str
    helper_name: str
    comments: str       # "todo" keeps the starter's TODO lines, "own", or "none"
    keep_docstring: bool
    helper_last: bool   # own helpers after lstm_step rather than before
    indent: int
    blank_lines: int    # between top-level definitions

    @property
    def structure(self) -> tuple:
        return (self.family, self.product, self.sigmoid, self.units_from, self.variant, self.activate_early)


def random_style(rng: random.Random, **fixed) -> Q6Style:
    style = Q6Style(
        family=rng.choice(FAMILIES), product=rng.choice(PRODUCTS), sigmoid=rng.choice(SIGMOIDS),
        units_from=rng.choice(UNITS_FROM), variant=rng.randrange(2), activate_early=rng.random() < 0.5,
        gate_names=rng.choice(GATE_NAMES), state_names=rng.choice(STATE_NAMES), pre_name=rng.choice(PRE_NAMES),
        helper_name=rng.choice(HELPER_NAMES), comments=rng.choice(("todo", "own", "none")),
        keep_docstring=rng.random() < 0.7, helper_last=rng.random() < 0.3, indent=4,
        blank_lines=2)
    return replace(style, **fixed)


def redraw_surface(style: Q6Style, rng: random.Random) -> Q6Style:
    """A copier's disguise: new names, comments, helper order and layout on the same structure."""
    def other(options, current):
        return rng.choice([option for option in options if option != current])

    return replace(
        style, gate_names=other(GATE_NAMES, style.gate_names), state_names=other(STATE_NAMES, style.state_names),
        pre_name=other(PRE_NAMES, style.pre_name), helper_name=other(HELPER_NAMES, style.helper_name),
        comments=other(("todo", "own", "none"), style.comments), keep_docstring=not style.keep_docstring,
        helper_last=not style.helper_last, indent=2 if style.indent == 4 else 4,
        blank_lines=1 if style.blank_lines == 2 else 2)


def _mul(style: Q6Style, a: str, b: str) -> str:
    return {"at": f"{a} @ {b}", "dot": f"np.dot({a}, {b})", "matmul": f"np.matmul({a}, {b})"}[style.product]


def _sig(style: Q6Style, expr: str) -> str:
    if style.sigmoid == "inline":
        return f"1.0 / (1.0 + np.exp(-{expr}))"
    name = {"starter": "sigmoid", "stable": "_stable_sigmoid", "tanh_form": "logistic"}[style.sigmoid]
    return f"{name}({expr})"


def _helpers(style: Q6Style) -> list[list[str]]:
    """Top-level functions a solution adds besides the starter's sigmoid, each as a list of lines."""
    found = []
    if style.sigmoid == "stable":
        found.append(["def _stable_sigmoid(z):",
                      "    # avoids overflow in np.exp for large negative inputs" if style.comments == "own" else None,
                      "    out = np.empty_like(z)",
                      "    pos = z >= 0",
                      "    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))",
                      "    ez = np.exp(z[~pos])",
                      "    out[~pos] = ez / (1.0 + ez)",
                      "    return out"])
    if style.sigmoid == "tanh_form":
        found.append(["def logistic(v):",
                      '    """sigma(v) written with tanh, which never overflows."""' if style.comments == "own" else None,
                      "    return 0.5 * (1.0 + np.tanh(0.5 * v))"])
    if style.family == "per_sample":
        found.append([f"def {style.helper_name}(xr, hr, cr, kernel, recurrent_kernel, bias, units):",
                      "    # one row of the batch" if style.comments == "own" else None,
                      *_gate_body(style, _mul(style, "xr", "kernel") + " + " + _mul(style, "hr", "recurrent_kernel")
                                  + " + bias", "cr", "units"),
                      f"    return {style.state_names[0]}, {style.state_names[1]}"])
    return [[line for line in helper if line is not None] for helper in found]


def _gate_body(style: Q6Style, fused: str, c_name: str, units: str) -> list[str]:
    """Lines (indented once) that cut the fused pre-activations into gates and update the states."""
    i, f, g, o = style.gate_names
    h_new, c_new = style.state_names
    pre = style.pre_name
    lines = [f"    {pre} = {fused}"]
    if style.family == "fused_split" or (style.family == "per_sample" and style.variant == 0):
        axis = "-1" if style.variant == 0 else "1"
        if style.family == "per_sample":
            axis = "-1"
        lines.append(f"    {i}, {f}, {g}, {o} = np.split({pre}, 4, axis={axis})")
        if style.activate_early:
            lines.append(f"    {i}, {f}, {o} = {_sig(style, i)}, {_sig(style, f)}, {_sig(style, o)}")
            lines.append(f"    {g} = np.tanh({g})")
            gi, gf, gg, go = i, f, g, o
        else:
            gi, gf, gg, go = _sig(style, i), _sig(style, f), f"np.tanh({g})", _sig(style, o)
    else:
        cols = [f"{pre}[..., :{units}]", f"{pre}[..., {units}:2*{units}]",
                f"{pre}[..., 2*{units}:3*{units}]", f"{pre}[..., 3*{units}:]"]
        if style.activate_early:
            lines += [f"    {i} = {_sig(style, cols[0])}", f"    {f} = {_sig(style, cols[1])}",
                      f"    {g} = np.tanh({cols[2]})", f"    {o} = {_sig(style, cols[3])}"]
            gi, gf, gg, go = i, f, g, o
        else:
            lines += [f"    {name} = {col}" for name, col in zip((i, f, g, o), cols)]
            gi, gf, gg, go = _sig(style, i), _sig(style, f), f"np.tanh({g})", _sig(style, o)
    lines.append(f"    {c_new} = {gf} * {c_name} + {gi} * {gg}")
    lines.append(f"    {h_new} = {go} * np.tanh({c_new})")
    return lines


def _step_body(style: Q6Style) -> list[str]:
    i, f, g, o = style.gate_names
    h_new, c_new = style.state_names
    pre = style.pre_name
    own = style.comments == "own"
    lines: list[str] = []
    if style.family != "fused_split":
        lines.append(f"    units = {style.units_from}")
    if style.family in ("fused_split", "fused_slices"):
        if style.comments == "todo":
            lines.append("    # TODO: compute the pre-activations of the four gates")
        elif own:
            lines.append("    # all four gates in one product, Keras order i, f, c, o")
        fused = (_mul(style, "x", "kernel") + " + " + _mul(style, "h", "recurrent_kernel") + " + bias")
        body = _gate_body(style, fused, "c", "units")
        if style.comments == "todo":
            body.insert(-2, "    # TODO: update the cell state, then the hidden state")
        elif own:
            body.insert(-2, "    # forget some old memory, add the gated candidate")
        lines += body
    elif style.family == "per_gate":
        if own:
            lines.append("    # each gate has its own block of columns in the fused weights")
        elif style.comments == "todo":
            lines.append("    # TODO: compute the pre-activations of the four gates")
        if style.variant == 0:
            lines += ["    blocks = []",
                      "    for k in range(4):",
                      "        cols = slice(k * units, (k + 1) * units)",
                      "        blocks.append(" + _mul(style, "x", "kernel[:, cols]") + " + "
                      + _mul(style, "h", "recurrent_kernel[:, cols]") + " + bias[cols])",
                      f"    {i}, {f}, {g}, {o} = blocks"]
        else:
            lines += [f"    {pre} = {{}}",
                      "    for k, name in enumerate(\"ifco\"):",
                      "        w = kernel[:, k * units:(k + 1) * units]",
                      "        u = recurrent_kernel[:, k * units:(k + 1) * units]",
                      f"        {pre}[name] = " + _mul(style, "x", "w") + " + " + _mul(style, "h", "u")
                      + " + bias[k * units:(k + 1) * units]",
                      f"    {i}, {f}, {g}, {o} = {pre}['i'], {pre}['f'], {pre}['c'], {pre}['o']"]
        if style.comments == "todo":
            lines.append("    # TODO: apply the sigmoid to the gates and tanh to the candidate")
        if style.activate_early:
            lines += [f"    {i} = {_sig(style, i)}", f"    {f} = {_sig(style, f)}", f"    {o} = {_sig(style, o)}",
                      f"    {c_new} = {f} * c + {i} * np.tanh({g})",
                      f"    {h_new} = {o} * np.tanh({c_new})"]
        else:
            lines += [f"    {c_new} = {_sig(style, f)} * c + {_sig(style, i)} * np.tanh({g})",
                      f"    {h_new} = {_sig(style, o)} * np.tanh({c_new})"]
    else:  # per_sample: a Python loop over the rows of the batch
        if own:
            lines.append("    # one row at a time, easier to check against the equations")
        elif style.comments == "todo":
            lines.append("    # TODO: update the cell state, then the hidden state")
        call = f"{style.helper_name}(x[b], h[b], c[b], kernel, recurrent_kernel, bias, units)"
        if style.variant == 0:
            lines += ["    rows_h, rows_c = [], []",
                      "    for b in range(x.shape[0]):",
                      f"        hb, cb = {call}",
                      "        rows_h.append(hb)",
                      "        rows_c.append(cb)",
                      f"    {h_new}, {c_new} = np.stack(rows_h), np.stack(rows_c)"]
        else:
            lines += [f"    {h_new} = np.zeros_like(h, dtype=float)",
                      f"    {c_new} = np.zeros_like(c, dtype=float)",
                      "    for b in range(len(x)):",
                      f"        {h_new}[b], {c_new}[b] = {call}"]
    lines.append(f"    return {h_new}, {c_new}")
    return lines


def render(style: Q6Style) -> str:
    """The text of a q6_lstm_cell.py written on the starter in ``style``."""
    docstring = [f'"""{STARTER_DOCSTRING}"""', ""] if style.keep_docstring else []
    head = [*docstring, "import numpy as np"]
    starter_sigmoid = ["def sigmoid(z):", '    """The logistic function, element-wise."""',
                       "    return 1.0 / (1.0 + np.exp(-z))"]
    step_doc = ([f'    """{STARTER_STEP_DOC}"""'] if style.keep_docstring
                else ['    """One LSTM step; returns the new hidden and cell states."""'])
    step = ["def lstm_step(x, h, c, kernel, recurrent_kernel, bias):", *step_doc, *_step_body(style)]
    helpers = _helpers(style)
    functions = ([starter_sigmoid] if style.sigmoid == "starter" or style.keep_docstring else [])
    functions += [step, *helpers] if style.helper_last else [*helpers, step]
    blocks = [head, *functions]
    gap = [""] * style.blank_lines
    lines: list[str] = []
    for index, block in enumerate(blocks):
        if index:
            lines += gap
        lines += block
    text = "\n".join(lines) + "\n"
    if style.indent != 4:
        text = "\n".join(_reindent(line, style.indent) for line in text.split("\n"))
    return text


def _reindent(line: str, width: int) -> str:
    stripped = line.lstrip(" ")
    depth = (len(line) - len(stripped)) // 4
    rest = (len(line) - len(stripped)) % 4
    return " " * (depth * width + rest) + stripped
