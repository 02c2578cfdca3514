"""Figures of two or more groups: every group's foci on one glass brain, the signed
difference of a contrast and the conjunction, in the groups' colours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ale_app.present.figure_parts import add_title, colorbar, image_vmax, split_figure, tick_labels
from ale_app.present.foci import add_foci, foci_style
from ale_app.present.nilearn_speed import with_fast_nilearn


#: The two groups' colours in contrast figures (blue and orange: told apart with the common
#: colour-vision deficiencies); a difference map runs from the second group's colour
#: (negative) through white to the first group's (positive).
GROUP_COLORS = ("#1f77b4", "#e6730f")


def difference_cmap():
    """The diverging colour map of a difference: second group's colour, white, first group's."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("ale_app_difference", [GROUP_COLORS[1], "#f7f7f7", GROUP_COLORS[0]])


def group_colors(n: int) -> list[str]:
    """One colour per group: :data:`GROUP_COLORS` for the first two (a contrast's colours),
    then Okabe and Ito's colour-blind-safe palette for a project's others."""
    more = ["#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
    palette = list(GROUP_COLORS) + [c for c in more if c.lower() not in {g.lower() for g in GROUP_COLORS}]
    return [palette[i % len(palette)] for i in range(n)]


@with_fast_nilearn
def plot_group_coordinates(coordinates: pd.DataFrame, groups: list[str], title: str):
    """Every group's foci on one glass brain, one colour per group, with a legend entry each.

    ``coordinates`` has a ``group`` column naming each focus's group."""
    from matplotlib.lines import Line2D
    from nilearn.plotting import plot_glass_brain

    n_foci = len(coordinates)
    fig, bottom, top = split_figure(2, legend=True)
    display = plot_glass_brain(None, display_mode="ortho", figure=fig, axes=[0, bottom, 1, top - bottom])
    style = foci_style(n_foci, over_map=False)
    colors = dict(zip(groups, group_colors(len(groups))))
    for group in groups:
        own = coordinates[coordinates["group"] == group]
        if len(own):
            add_foci(display, own, colors[group], style)
    counts = coordinates.groupby("group").size()
    handles = [Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=colors[g],
                      markeredgecolor="black", markeredgewidth=0.4,
                      label=f"{g} ({int(counts.get(g, 0))} foci)") for g in groups]
    legend = fig.legend(handles=handles, loc="lower center", ncol=min(max(len(groups), 2), 4), frameon=False,
                        fontsize=9)
    for text in legend.get_texts():
        text.set_parse_math(False)
    add_title(fig, title, f"{n_foci} foci, coloured by group")
    return fig


def _diverging_colorbar(fig, rect, cmap, vmax: float, label: str, threshold: float | None = None):
    from matplotlib.colorbar import ColorbarBase
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    ax = fig.add_axes(rect)
    cbar = ColorbarBase(ax, cmap=cmap, norm=Normalize(vmin=-vmax, vmax=vmax), orientation="vertical")
    ticks = [t for t in MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10], symmetric=True).tick_values(-vmax, vmax)
             if -vmax <= t <= vmax]
    cbar.set_ticks(ticks, labels=tick_labels(ticks))
    cbar.ax.tick_params(labelsize=8)
    if threshold is not None and 0 < threshold < vmax:
        ax.axhspan(-threshold, threshold, color="#dddddd", zorder=3)
    cbar.set_label(label, fontsize=9)
    return cbar


@with_fast_nilearn
def plot_difference(diff_img, threshold: float, groups: list[str], title: str, subtitle: str,
                    label: str = "ALE difference", clusters: pd.DataFrame | None = None, prefix: str = "C"):
    """A signed map (first group minus second) on a glass brain, diverging colours, drawn above
    ``threshold`` in absolute value (greyed on the colour bar).

    With ``clusters`` (a cluster table: ``cluster_id``, ``peak``, ``x``, ``y``, ``z``), each
    cluster's name (``prefix`` + its number, as in the table) is written at its peak in every
    view, with the cluster maps' collision check."""
    from nilearn.plotting import plot_glass_brain

    from ale_app.present.cluster_figures import label_peaks

    fig, bottom, top = split_figure(0, legend=False)
    data = np.asarray(diff_img.dataobj, dtype=float)
    vmax = float(np.nanmax(np.abs(data))) if data.size else 0.0
    vmax = vmax if vmax > 0 else 1.0
    cmap = difference_cmap()
    display = plot_glass_brain(diff_img, display_mode="lyrz", figure=fig, axes=[0, bottom, 0.92, top - bottom],
                               colorbar=False, cmap=cmap, plot_abs=False, symmetric_cbar=True,
                               threshold=threshold, vmin=-vmax, vmax=vmax)
    if clusters is not None and len(clusters):
        label_peaks(display, clusters[clusters["peak"] == "main"].sort_values("cluster_id", kind="stable"), prefix)
    h = top - bottom
    _diverging_colorbar(fig, [0.935, bottom + 0.12 * h, 0.015, 0.76 * h], cmap, vmax,
                        f"{label}\n(blue: {groups[0]} > {groups[1]}; orange: {groups[1]} > {groups[0]})", threshold)
    add_title(fig, title, subtitle)
    return fig


@with_fast_nilearn
def plot_conjunction(conj_img, groups: list[str], cmap: str, title: str, subtitle: str):
    """The conjunction (minimum of the two groups' ALE where both pass) on a glass brain."""
    from nilearn.plotting import plot_glass_brain

    fig, bottom, top = split_figure(0, legend=False)
    vmax = image_vmax(conj_img)
    plot_glass_brain(conj_img, display_mode="lyrz", figure=fig, axes=[0, bottom, 0.92, top - bottom],
                     colorbar=False, cmap=cmap, plot_abs=False, symmetric_cbar=False, threshold=1e-12,
                     vmin=0.0, vmax=vmax)
    h = top - bottom
    colorbar(fig, [0.935, bottom + 0.12 * h, 0.015, 0.76 * h], cmap, vmax, label=f"min(ALE {groups[0]}, ALE {groups[1]})")
    add_title(fig, title, subtitle)
    return fig
