"""Pieces every figure shares: the title strip, the figure's bands, colour bars with round
ticks, wrapped labels. Public names, used by the figure modules of :mod:`ale_app.present`.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

#: Inches above the brains kept for the title and its note.
TITLE_HEIGHT = 0.5
#: Above this many studies the coordinate figure has no legend, only a note.
MAX_LEGEND_STUDIES = 120


#: Experiment names wrap at this many characters (never cut).
WRAP_CHARS = 34


def wrap_label(text: str, width: int = WRAP_CHARS) -> str:
    """``text`` on lines of at most ``width`` characters, broken at spaces where it can be
    (an id without spaces is broken inside); nothing is left out."""
    return "\n".join(textwrap.wrap(str(text), width, break_long_words=True, break_on_hyphens=True)) or str(text)


def legend_layout(n: int) -> tuple[int, float]:
    """Columns and font size for a legend of ``n`` studies."""
    ncol = max(1, min(6, math.ceil(n / 6)))
    if n <= 8:
        ncol = 4
    fontsize = 9 if n <= 24 else 7.5 if n <= 60 else 6.5
    return ncol, fontsize


def split_figure(n_studies: int, legend: bool, brain_height: float = 3.6):
    """A figure with a title strip on top, the brains, and room for the legend below.

    Returns the figure and the (bottom, top) of the brains' band in figure fractions.
    """
    import matplotlib.pyplot as plt

    width = 9.0 if n_studies <= 40 or not legend else 11.0
    if not legend:
        legend_h = 0.0
    elif n_studies > MAX_LEGEND_STUDIES:
        legend_h = 0.4
    else:
        ncol, fontsize = legend_layout(n_studies)
        rows = math.ceil(n_studies / ncol)
        legend_h = 0.3 + (rows + 1) * fontsize / 72 * 1.7
    height = TITLE_HEIGHT + brain_height + legend_h
    fig = plt.figure(figsize=(width, height))
    return fig, legend_h / height, 1 - TITLE_HEIGHT / height


def add_title(fig, title: str | None, subtitle: str | None = None) -> None:
    """The title in its own strip above the brains, where no marker or cut can cover it.
    ``title=None`` (``figures.titles: false``) draws neither title nor note; the empty strip
    is cropped when the figure is saved."""
    if title is None:
        return
    fig.text(0.01, 1 - 0.06 / fig.get_figheight(), title, ha="left", va="top", fontsize=11, fontweight="bold")
    if subtitle:
        fig.text(0.01, 1 - 0.3 / fig.get_figheight(), subtitle, ha="left", va="top", fontsize=8.5,
                 color="#444444", parse_math=False)


def colorbar(fig, rect, cmap: str, vmax: float, label: str = "ALE", threshold: float | None = None):
    """A colour bar from 0 to ``vmax`` with a few round ticks and a label.

    Drawn by hand rather than by nilearn, whose bar puts a tick at the threshold on top of
    the tick at 0.
    """
    from matplotlib import colormaps
    from matplotlib.colorbar import ColorbarBase
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    ax = fig.add_axes(rect)
    norm = Normalize(vmin=0.0, vmax=vmax)
    cbar = ColorbarBase(ax, cmap=colormaps[cmap], norm=norm, orientation="vertical")
    ticks = [t for t in MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(0.0, vmax) if 0 <= t <= vmax]
    cbar.set_ticks(ticks, labels=tick_labels(ticks))
    cbar.ax.tick_params(labelsize=8)
    if threshold is not None and 0 < threshold < vmax:
        ax.axhspan(0, threshold, color="#dddddd", zorder=3)
        ax.axhline(threshold, color="black", linewidth=0.8, zorder=4)
    cbar.set_label(label, fontsize=9)
    return cbar


def tick_labels(ticks) -> list[str]:
    """The fewest decimals that tell every tick apart ("0", "0.01", "0.02")."""
    for decimals in range(0, 9):
        labels = [f"{t:.{decimals}f}" for t in ticks]
        if len(set(labels)) == len(labels):
            return ["0" if t == 0 else label for t, label in zip(ticks, labels)]
    return [f"{t:g}" for t in ticks]


def image_vmax(stat_img) -> float:
    data = np.asarray(stat_img.dataobj, dtype=float)
    top = float(np.nanmax(data)) if data.size else 0.0
    return top if top > 0 else 1.0
