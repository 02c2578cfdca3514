"""Figures built from data. Each function returns a matplotlib Figure; callers save it.

Study colours come from :func:`study_colors`, which spaces hues by the golden angle and
alternates lightness, so they stay distinct for any number of studies (no 10- or
20-colour cycle that repeats).
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
import pandas as pd

GOLDEN = (math.sqrt(5) - 1) / 2


def study_colors(n: int) -> list[str]:
    """Return ``n`` distinct hex colours, perceptually spread, never repeating."""
    levels = [(0.42, 0.85), (0.62, 0.75), (0.32, 0.95)]  # (lightness, saturation)
    colors = []
    for i in range(n):
        hue = (0.58 + i * GOLDEN) % 1.0
        light, sat = levels[(i // 7) % len(levels)] if n > 7 else levels[0]
        r, g, b = colorsys.hls_to_rgb(hue, light, sat)
        colors.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return colors


def plain_text(text) -> str:
    """``text`` from the data (a study or analysis id) as matplotlib must show it: literally.

    An unescaped ``$`` would start mathtext (``Smith $\\foo$ 2010`` fails to draw); escaped
    as ``\\$`` it is drawn as a plain dollar sign and nothing else is parsed.
    """
    return str(text).replace("$", r"\$")


def _legend_layout(n: int) -> tuple[int, float]:
    """Columns and font size for a legend of ``n`` studies."""
    ncol = max(1, min(6, math.ceil(n / 6)))
    if n <= 8:
        ncol = 4
    fontsize = 9 if n <= 24 else 7.5 if n <= 60 else 6.5
    return ncol, fontsize


MAX_LEGEND_STUDIES = 120


def _add_study_legend(fig, study_ids: list[str], colors: dict[str, str]) -> None:
    """A multi-column legend below the brains; above 120 studies, a note that the key is in the report."""
    from matplotlib.lines import Line2D

    if len(study_ids) > MAX_LEGEND_STUDIES:
        fig.text(0.5, 0.02, f"{len(study_ids)} studies, one colour each: the colour key is in report.html",
                 ha="center", va="bottom", fontsize=9)
        return

    handles = [
        Line2D([0], [0], marker="o", color="none", markerfacecolor=colors[s], markeredgecolor="black",
               markeredgewidth=0.4, markersize=7, label=plain_text(s))
        for s in study_ids
    ]
    ncol, fontsize = _legend_layout(len(study_ids))
    fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, fontsize=fontsize,
               bbox_to_anchor=(0.5, 0.0))


def _figure_for_legend(n_studies: int, brain_height: float = 3.6):
    import matplotlib.pyplot as plt

    width = 9.0 if n_studies <= 40 else 11.0
    if n_studies > MAX_LEGEND_STUDIES:
        legend_h = 0.4
    else:
        ncol, fontsize = _legend_layout(n_studies)
        rows = math.ceil(n_studies / ncol)
        legend_h = 0.3 + rows * fontsize / 72 * 1.7
    fig = plt.figure(figsize=(width, brain_height + legend_h))
    bottom = legend_h / (brain_height + legend_h)
    return fig, bottom


def _glass_brain_with_foci(stat_img, coordinates: pd.DataFrame, study_ids: list[str], colors: dict[str, str],
                           marker_size: float, **kwargs):
    """A glass brain (with ``stat_img`` when given), every focus coloured by study, and the legend."""
    from nilearn.plotting import plot_glass_brain

    fig, bottom = _figure_for_legend(len(study_ids))
    display = plot_glass_brain(stat_img, display_mode="ortho", figure=fig, axes=[0, bottom, 1, 1 - bottom],
                               **kwargs)
    display.add_markers(
        coordinates[["x", "y", "z"]].to_numpy(),
        marker_color=[colors[s] for s in coordinates["study_id"]],
        marker_size=marker_size,
        edgecolors="black",
        linewidths=0.4,
    )
    _add_study_legend(fig, study_ids, colors)
    return fig


def plot_coordinates(coordinates: pd.DataFrame, study_ids: list[str], colors: dict[str, str], title: str):
    """All foci on a glass brain, coloured by study, with a legend."""
    return _glass_brain_with_foci(None, coordinates, study_ids, colors, 22, title=title)


def plot_overlay(stat_img, coordinates: pd.DataFrame, study_ids: list[str], colors: dict[str, str],
                 glass_threshold: float, cmap: str, title: str):
    """The unthresholded ALE map on a glass brain, with every focus on top."""
    return _glass_brain_with_foci(
        stat_img, coordinates, study_ids, colors, 14, cmap=cmap, colorbar=True, plot_abs=False,
        symmetric_cbar=False, threshold=glass_threshold, title=title,
    )


def plot_peak_orthoview(stat_img, peak_xyz, threshold: float, cmap: str, title: str):
    """The display-thresholded ALE map, cut through the peak."""
    import matplotlib.pyplot as plt
    from nilearn.plotting import plot_stat_map

    fig = plt.figure(figsize=(9, 3.6))
    plot_stat_map(stat_img, display_mode="ortho", cut_coords=tuple(peak_xyz), draw_cross=False, cmap=cmap,
                  symmetric_cbar=False, threshold=threshold, figure=fig, title=title)
    return fig


def plot_jackknife_means(table: pd.DataFrame):
    """Bar plot of each left-out analysis's mean contribution, on a 0..1 axis.

    Up to 60 analyses every bar is labelled; beyond that the three largest are named.
    """
    import matplotlib.pyplot as plt

    n = len(table)
    means = table["mean"].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(min(max(6.0, 0.35 * n + 2), 14.0), 4), constrained_layout=True)
    x = np.arange(n)
    ax.bar(x, means, color="#f58518", width=0.8 if n <= 60 else 1.0)
    if n <= 60:
        ax.set_xticks(x, [plain_text(i) for i in table["id"]], rotation=45 if n <= 30 else 90,
                      ha="right" if n <= 30 else "center", fontsize=9 if n <= 30 else 7)
    else:
        ax.set_xticks([])
        for i in np.argsort(-means, kind="stable")[:3]:
            ax.annotate(plain_text(table["id"].iloc[i]), (i, means[i]), xytext=(0, 3), textcoords="offset points",
                        ha="center", fontsize=7, rotation=90)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Analysis left out" + ("" if n <= 60 else f" ({n}, in file order)"))
    ax.set_ylabel("Mean contribution across clusters")
    ax.set_title("Jackknife: mean descriptive-cluster contribution")
    return fig
