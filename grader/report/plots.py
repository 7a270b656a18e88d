"""Small matplotlib figures rendered to inline SVG strings for the HTML reports.

Every function takes numbers (and labels chosen by the grader, never student
ids or other student text) and returns one ``<svg>`` element ready to be
embedded in a page: no XML prolog, no fixed size (it scales to its
container), deterministic ids and text kept as ``<text>`` (``svg.fonttype =
'none'``), which keeps the files small. Figures are built with
:class:`matplotlib.figure.Figure` directly, so no pyplot state is kept and
nothing needs closing.

Readable at a glance: every figure is :data:`WIDTH` inches wide (630 SVG
units at 72 an inch) with both axes labelled, and ``style.css`` draws it 600
to 900 px wide, so its 10 pt text shows at about 10 to 14 px.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

ACTUAL = "#222222"
NAIVE = "#9a9a9a"
SEASONAL = "#d9822b"
REFERENCE = "#7b3fa0"
BEST = "#2a9d55"
MEDIAN = "#2f6fb5"
BAR = "#5b8dc9"

WIDTH = 8.75                # inches: 630 SVG units, drawn 600-900 px wide by style.css
_RC = {
    "svg.fonttype": "none",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 9,
    "legend.frameon": False,
}

_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_ID_REF = re.compile(r'(\bid="|url\(#|xlink:href="#)')
_SIZE = re.compile(r'<svg([^>]*?) width="[^"]*" height="[^"]*"')


def render_svg(fig: Figure, name: str, label: str = "") -> str:
    """``fig`` as an inline ``<svg id="plot-<name>" class="plot">``.

    ``name`` (made id-safe) salts matplotlib's hashed ids and prefixes every
    other id, so several plots share one HTML page without clashes.
    """
    name = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"rnn-grader-{name}"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _METADATA.sub("", _PROLOG.sub("", buffer.getvalue(), count=1), count=1)
    svg = _ID_REF.sub(lambda m: f"{m.group(1)}{name}-", svg)
    # matplotlib's embedded stylesheet uses a bare '*' selector; scope it to this plot.
    svg = svg.replace("*{stroke-linejoin", f"svg#plot-{name} *{{stroke-linejoin", 1)
    opening = f'<svg id="plot-{name}" class="plot" role="img" aria-label="{html.escape(label or name)}"'
    return _SIZE.sub(lambda m: opening + m.group(1), svg, count=1).strip()


def _figure(height: float) -> Figure:
    return Figure(figsize=(WIDTH, height))


def score_histogram(totals: Sequence[float], max_score: float, *, name: str = "histogram") -> str:
    """Histogram of the students' total scores on 0 .. ``max_score``."""
    with matplotlib.rc_context(_RC):
        fig = _figure(2.8)
        ax = fig.add_subplot()
        top = max_score if max_score > 0 else max(list(totals) + [1.0])
        bins = [top * i / 20 for i in range(21)]
        ax.hist([min(max(t, 0.0), top) for t in totals], bins=bins, color=BAR, edgecolor="white",
                linewidth=0.6)
        ax.set_xlim(0, top)
        ax.set_xlabel(f"total score (of {top:g})")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.18, top=0.95)
        return render_svg(fig, name, "histogram of total scores")


def question_boxplot(scores: Mapping[str, Sequence[float]], max_points: Mapping[str, float], *,
                     name: str = "questions") -> str:
    """One box (quartiles, whiskers at 1.5 IQR) per question with its mean marked, as a share of its points."""
    labels = list(scores)
    shares = [[100.0 * s / max_points[q] if max_points.get(q) else 0.0 for s in scores[q]] or [math.nan]
              for q in labels]
    with matplotlib.rc_context(_RC):
        fig = _figure(3.2)
        ax = fig.add_subplot()
        ax.boxplot(shares, tick_labels=labels, widths=0.55, patch_artist=True,
                   boxprops={"facecolor": "#dbe6f4", "edgecolor": MEDIAN},
                   medianprops={"color": MEDIAN, "linewidth": 1.5},
                   whiskerprops={"color": MEDIAN}, capprops={"color": MEDIAN},
                   flierprops={"marker": ".", "markersize": 3, "markeredgecolor": NAIVE},
                   showmeans=True, meanprops={"marker": "D", "markersize": 4, "markerfacecolor": SEASONAL,
                                              "markeredgecolor": SEASONAL})
        ax.set_ylim(-3, 103)
        ax.set_xlabel("question")
        ax.set_ylabel("% of the question's points")
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.16, top=0.95)
        return render_svg(fig, name, "distribution of scores per question")


def horizon_mae(panels: Sequence[Mapping[str, object]], *, name: str = "horizons") -> str:
    """MAE per forecast day, one panel per task.

    ``panels``: ``[{"title": "q4_forecaster", "lines": {"reference": [7 floats], "class median": [...],
    "seasonal naive": [...]}}]``; a line that is ``None`` or not 7 long is skipped.
    """
    colours = {"reference": REFERENCE, "class median": MEDIAN, "seasonal naive": SEASONAL, "naive": NAIVE}
    with matplotlib.rc_context(_RC):
        fig = _figure(3.4)
        axes = fig.subplots(1, max(len(panels), 1), squeeze=False, sharey=True)[0]
        days = list(range(1, 8))
        for ax, panel in zip(axes, panels):
            lines = panel.get("lines") or {}
            for label, values in lines.items():  # type: ignore[union-attr]
                if values is None or len(values) != 7:
                    continue
                ax.plot(days, [v / 1000 for v in values], marker="o", markersize=3, linewidth=1.4,
                        color=colours.get(label, ACTUAL), label=label,
                        linestyle="--" if label == "seasonal naive" else "-")
            ax.set_title(str(panel.get("title", "")))
            ax.set_xticks(days)
            ax.set_xlabel("days ahead")
        axes[0].set_ylabel("MAE (thousands)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncols=len(labels) or 1)
        fig.subplots_adjust(left=0.09, right=0.99, bottom=0.3, top=0.9, wspace=0.08)
        return render_svg(fig, name, "mean absolute error per forecast day")


def forecast_window(history_days: Sequence[int], history: Sequence[float], target_days: Sequence[int],
                    actual: Sequence[float], forecasts: Mapping[str, Sequence[float]], *, title: str,
                    name: str, xlabel: str = "days from the forecast origin") -> str:
    """One held-out window: the last input days, the 7 actual days and each named forecast of them.

    Day numbers are offsets from the window's origin (0 is the last input day).
    Known labels get fixed colours (``naive``, ``seasonal naive``, ``best student``, ``median student``).
    """
    colours = {"naive": NAIVE, "seasonal naive": SEASONAL, "best student": BEST, "median student": MEDIAN,
               "forecast": MEDIAN, "reference": REFERENCE}
    with matplotlib.rc_context(_RC):
        fig = _figure(3.2)
        ax = fig.add_subplot()
        ax.plot(list(history_days), [v / 1000 for v in history], color=ACTUAL, linewidth=1.2, label="actual")
        # Join the last input day to the actual days so the series reads as one line.
        ax.plot([list(history_days)[-1]] + list(target_days), [v / 1000 for v in [history[-1], *actual]],
                color=ACTUAL, linewidth=2.0, marker="o", markersize=3, markevery=list(range(1, len(actual) + 1)))
        for label, values in forecasts.items():
            ax.plot(list(target_days), [v / 1000 for v in values], color=colours.get(label, REFERENCE),
                    linewidth=1.5, marker=".", label=label,
                    linestyle=":" if label in ("naive", "seasonal naive") else "-")
        ax.axvline(0.5, color=NAIVE, linewidth=0.8, linestyle="--")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("value (thousands)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.subplots_adjust(left=0.09, right=0.78, bottom=0.16, top=0.9)
        return render_svg(fig, name, title)


class SampleWindows:
    """Sample windows side by side on one axis: recent actual days, the 7 actual days and a forecast of them.

    Every student is scored on the same windows, so the figure is built once
    and :meth:`render` only swaps the forecast lines: most of matplotlib's time
    goes into building axes and ticks, and a class of feedback pages reuses
    them. ``windows``: ``[{"label": "2019-03-05", "history": [...], "actual": [7]}]``.
    """

    GAP = 3

    def __init__(self, windows: Sequence[Mapping[str, object]], *, title: str, name: str) -> None:
        self.name, self.title = name, title
        with matplotlib.rc_context(_RC):
            self.fig = _figure(2.8)
            ax = self.ax = self.fig.add_subplot()
            start, ticks, labels, known = 0, [], [], []
            self.lines = []
            for number, window in enumerate(windows):
                history = [v / 1000 for v in window["history"]]  # type: ignore[attr-defined]
                actual = [v / 1000 for v in window["actual"]]  # type: ignore[attr-defined]
                origin = start + len(history) - 1
                ax.plot(range(start, origin + 1), history, color=ACTUAL, linewidth=1.0)
                ax.plot(range(origin, origin + len(actual) + 1), [history[-1], *actual], color=ACTUAL,
                        linewidth=1.8, label="actual" if number == 0 else None)
                line, = ax.plot(range(origin + 1, origin + len(actual) + 1), [math.nan] * len(actual),
                                color=MEDIAN, linewidth=1.5, marker=".", markersize=4,
                                label="your forecast" if number == 0 else None)
                self.lines.append(line)
                ax.axvline(origin + 0.5, color=NAIVE, linewidth=0.8, linestyle="--")
                ticks.append(origin)
                labels.append(str(window.get("label", "")))
                known += history + actual
                start = origin + len(actual) + self.GAP + 1
            self.known = [v for v in known if math.isfinite(v)]
            ax.set_xticks(ticks, labels)
            ax.set_xlim(-1, max(start - self.GAP, 1))
            ax.set_xlabel("sample week (last day of input)")
            ax.set_ylabel("value (thousands)")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
            ax.set_title(title, loc="left")
            self.fig.subplots_adjust(left=0.09, right=0.83, bottom=0.2, top=0.88)

    def render(self, forecasts: Sequence[Sequence[float]]) -> str:
        """The figure with ``forecasts`` (one list of 7 values per window, published units) as SVG."""
        values = list(self.known)
        for line, forecast in zip(self.lines, forecasts):
            scaled = [v / 1000 for v in forecast]
            line.set_ydata(scaled)
            values += [v for v in scaled if math.isfinite(v)]
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        margin = (high - low) * 0.06 or 1.0
        self.ax.set_ylim(low - margin, high + margin)
        with matplotlib.rc_context(_RC):
            return render_svg(self.fig, self.name, self.title)

