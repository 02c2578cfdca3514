"""The jackknife bar plot: each left-out experiment's mean contribution, sorted, on an axis
scaled to the data, with the dominance rule marked and its legend under the axis, outside the bars and the footnote
(and the helpers the report shares with it).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ale_app.present.figure_parts import tick_labels, wrap_label


#: Up to this many experiments the jackknife plot (and the report's table) shows every
#: one; beyond it, the :data:`JACKKNIFE_TOP` largest and a summary of the rest.
JACKKNIFE_ALL_UP_TO = 60
JACKKNIFE_TOP = 30
def dominance_cutoff(means, ratio: float, minimum: float) -> float:
    """The smallest mean contribution that counts as dominant: ``max(ratio x median, minimum)``
    (the rule of :func:`ale_app.present.dependence.dominant_analyses`)."""
    means = np.asarray(means, dtype=float)
    return max(ratio * float(np.median(means)), float(minimum)) if means.size else float(minimum)


def sort_jackknife(table: pd.DataFrame) -> pd.DataFrame:
    """The jackknife table sorted by mean contribution, largest first (ties in file order),
    with ``rank`` (1 = largest) as its first column."""
    order = np.argsort(-table["mean"].to_numpy(dtype=float), kind="stable")
    ranked = table.iloc[order].reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked


def jackknife_rows_shown(n: int, n_dominant: int = 0) -> int:
    """How many of ``n`` sorted experiments the plot and the report show one by one."""
    return n if n <= JACKKNIFE_ALL_UP_TO else min(n, max(JACKKNIFE_TOP, n_dominant))


def _fmt_value(v: float) -> str:
    return f"{v:.3g}" if v else "0"


def plot_jackknife_means(table: pd.DataFrame, dominance_ratio: float = 2.0, dominance_min: float = 0.25,
                         title: str | None = "Jackknife: mean contribution of each experiment, largest first"):
    """Horizontal bars of each left-out experiment's mean contribution, largest on top.

    The axis is scaled to the data (the scale is stated under it); a dashed line marks the
    dominance rule, ``max(dominance_ratio x median, dominance_min)``, and bars at or beyond
    it are red. Up to :data:`JACKKNIFE_ALL_UP_TO` experiments every one has a bar; beyond,
    the :data:`JACKKNIFE_TOP` largest do and a line under them summarises the rest. Ids
    are wrapped onto lines of
    :data:`WRAP_CHARS` characters, never cut; beyond
    :data:`JACKKNIFE_ALL_UP_TO` experiments they are numbered by rank.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    ranked = sort_jackknife(table)
    n = len(ranked)
    means = ranked["mean"].to_numpy(dtype=float)
    cutoff = dominance_cutoff(means, dominance_ratio, dominance_min)
    dominant = means >= cutoff
    k = jackknife_rows_shown(n, int(dominant.sum()))
    shown, rest = means[:k], means[k:]
    ids = [str(i) for i in ranked["id"].iloc[:k]]

    numbered = n > JACKKNIFE_ALL_UP_TO
    labels = [wrap_label(f"{r}. {i}" if numbered else i) for r, i in zip(ranked["rank"].iloc[:k], ids)]
    lines = max((lab.count("\n") + 1 for lab in labels), default=1)
    fontsize = 9 if k <= 30 else 7

    height = 1.9 + k * (0.24 if k <= 30 else 0.16) * (1 + 0.55 * (lines - 1)) + (0.3 if len(rest) else 0.0)
    fig, ax = plt.subplots(figsize=(8.0, height), layout="constrained")
    y = np.arange(k)
    ax.barh(y, shown, height=0.75, color=np.where(dominant[:k], "#c0392b", "#f58518"))
    from matplotlib.patches import Patch

    # The legend sits under the axis, outside the bars and the footnote under them.
    fig.legend(handles=[Patch(color="#c0392b", label="meets the dominance rule (dashed line)"),
                        Patch(color="#f58518", label="below it")], loc="outside lower center", ncol=2, fontsize=8,
               frameon=False)
    ax.set_yticks(y, labels, fontsize=fontsize, parse_math=False)
    ax.set_ylim(k - 0.4 + (1.3 if len(rest) else 0.0), -0.6)

    top = float(means.max()) if n else 0.0
    limit = _nice_limit(max(top, 1e-6) * 1.12)
    line_on_axis = cutoff <= 1.5 * limit
    if line_on_axis:
        limit = max(limit, _nice_limit(cutoff * 1.08))
    ax.set_xlim(0, limit)
    median = float(np.median(means)) if n else 0.0
    rule = (f"dominance cut-off {_fmt_value(cutoff)} = max({dominance_ratio:g} \u00d7 median {_fmt_value(median)}, "
            f"{dominance_min:g})")
    if line_on_axis:
        ax.axvline(cutoff, color="#c0392b", linestyle="--", linewidth=1.2)
        ax.text(cutoff, 1.0, f" {rule} ", transform=ax.get_xaxis_transform(),
                ha="left" if cutoff < 0.6 * limit else "right", va="bottom", fontsize=8, color="#c0392b",
                parse_math=False)
    else:
        ax.text(1.0, 1.0, f"{rule}: beyond this axis \u2192", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=8, color="#c0392b", parse_math=False)
    if len(rest):
        ax.text(0.0, k + 0.35, f"  \u2026 and {len(rest)} more experiments, each at most {_fmt_value(rest.max())} "
                f"(their median {_fmt_value(float(np.median(rest)))});\n  all {n} in desc-jackknife_table.tsv",
                fontsize=8, va="center", ha="left", color="#444444", parse_math=False)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", labelsize=8)
    ticks = [t for t in MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(0.0, limit) if 0 <= t <= limit]
    ax.set_xticks(ticks, tick_labels(ticks))
    scale = ("full scale, 0 to 1" if limit >= 1 else
             f"axis scaled to the data: 0 to {_fmt_value(limit)} of a possible 1")
    ax.set_xlabel(f"Mean drop in cluster ALE without the experiment ({scale})", fontsize=9)
    what = "Experiment id left out" + (f" (largest {k} of {n}, by rank)" if len(rest) else "")
    ax.set_ylabel(what, fontsize=9)
    if title is not None:
        ax.set_title(title, fontsize=11, loc="left", pad=16)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _nice_limit(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 x a power of ten at or above ``value`` (at most 1)."""
    if value >= 1:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * 10 ** exp >= value - 1e-15:
            return min(1.0, step * 10 ** exp)
    return 1.0
