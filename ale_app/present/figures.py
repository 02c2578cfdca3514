"""Figures built from data. Each function returns a matplotlib Figure; callers save it.

Study colours come from :func:`study_colors`, which spaces hues by the golden angle and
alternates lightness, so they stay distinct for any number of studies (no 10- or
20-colour cycle that repeats).

Each figure's design follows from its data, not one design for every size:

- foci (:func:`foci_style`): up to :data:`FEW_FOCI` large outlined dots; beyond, small
  translucent points, smaller and fainter again beyond :data:`MANY_FOCI` (rasterised in
  SVG), so the brain and the pattern stay visible;
- the overlay keeps study colours only for a few foci of a few studies
  (:func:`foci_coloured_by_study_over_map`); otherwise its foci are small dark points and
  the ALE map stays readable under them; its colour bar runs from 0 with distinct ticks
  and the label "ALE";
- the study legend sits under the coordinate figure up to :data:`MAX_LEGEND_STUDIES`
  studies; beyond, the figure says the key is in the report;
- titles sit in their own strip above the brains, where no marker can cover them;
- the jackknife plot is sorted, horizontal, on an axis scaled to the data, with the
  dominance cut-off marked and a legend for its colours; long experiment names are wrapped,
  never cut; beyond :data:`JACKKNIFE_ALL_UP_TO` experiments it shows the
  largest :data:`JACKKNIFE_TOP` and summarises the rest.

Text that comes from the data (study ids, experiment ids) is never parsed as mathtext.
"""

from __future__ import annotations

import colorsys
import math
import textwrap

import numpy as np
import pandas as pd

GOLDEN = (math.sqrt(5) - 1) / 2


#: Experiment names wrap at this many characters (never cut).
WRAP_CHARS = 34


def wrap_label(text: str, width: int = WRAP_CHARS) -> str:
    """``text`` on lines of at most ``width`` characters, broken at spaces where it can be
    (an id without spaces is broken inside); nothing is left out."""
    return "\n".join(textwrap.wrap(str(text), width, break_long_words=True, break_on_hyphens=True)) or str(text)


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


def study_color_map(study_ids: list[str]) -> dict[str, str]:
    """Each study's colour, the same in every figure and in the report's key."""
    return dict(zip(study_ids, study_colors(len(study_ids))))


def _legend_layout(n: int) -> tuple[int, float]:
    """Columns and font size for a legend of ``n`` studies."""
    ncol = max(1, min(6, math.ceil(n / 6)))
    if n <= 8:
        ncol = 4
    fontsize = 9 if n <= 24 else 7.5 if n <= 60 else 6.5
    return ncol, fontsize


MAX_LEGEND_STUDIES = 120
#: Foci are coloured by study only up to this many studies, while the colours stay easy to
#: tell apart; beyond, every focus is drawn in one colour (translucent: darker where foci
#: pile up) and the figure says why.
MAX_STUDY_COLOURS = 24
ONE_COLOUR = "#1a4f8a"
#: Up to this many foci, markers are large outlined dots; up to MANY_FOCI, small
#: translucent points; beyond, smaller and fainter points.
FEW_FOCI = 400
MANY_FOCI = 2500
#: The overlay colours foci by study (as outlined dots) only up to this many foci and
#: studies; beyond, its foci are small dark points, so the map stays readable under them.
OVERLAY_FEW_FOCI = 150
MAX_OVERLAY_STUDY_COLOURS = 24  # = MAX_STUDY_COLOURS
#: Inches above the brains kept for the title and its note.
TITLE_HEIGHT = 0.5


def _add_study_legend(fig, study_ids: list[str], colors: dict[str, str]) -> None:
    """A multi-column legend below the brains; above :data:`MAX_LEGEND_STUDIES` studies, a note
    that the key is in the report."""
    from matplotlib.lines import Line2D

    if len(study_ids) > MAX_LEGEND_STUDIES:
        fig.text(0.5, 0.02, f"{len(study_ids)} studies, one colour each: the colour key is in report.html",
                 ha="center", va="bottom", fontsize=9)
        return

    handles = [
        Line2D([0], [0], marker="o", color="none", markerfacecolor=colors[s], markeredgecolor="black",
               markeredgewidth=0.4, markersize=7, label=s)
        for s in study_ids
    ]
    ncol, fontsize = _legend_layout(len(study_ids))
    legend = fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, fontsize=fontsize,
                        bbox_to_anchor=(0.5, 0.0), title="Study id (as in the report's experiment key)",
                        title_fontsize=fontsize)
    for text in legend.get_texts():
        text.set_parse_math(False)  # study ids are data, never mathtext


def _split_figure(n_studies: int, legend: bool, brain_height: float = 3.6):
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
        ncol, fontsize = _legend_layout(n_studies)
        rows = math.ceil(n_studies / ncol)
        legend_h = 0.3 + (rows + 1) * fontsize / 72 * 1.7
    height = TITLE_HEIGHT + brain_height + legend_h
    fig = plt.figure(figsize=(width, height))
    return fig, legend_h / height, 1 - TITLE_HEIGHT / height


def _add_title(fig, title: str | None, subtitle: str | None = None) -> None:
    """The title in its own strip above the brains, where no marker or cut can cover it.
    ``title=None`` (``figures.titles: false``) draws neither title nor note; the empty strip
    is cropped when the figure is saved."""
    if title is None:
        return
    fig.text(0.01, 1 - 0.06 / fig.get_figheight(), title, ha="left", va="top", fontsize=11, fontweight="bold")
    if subtitle:
        fig.text(0.01, 1 - 0.3 / fig.get_figheight(), subtitle, ha="left", va="top", fontsize=8.5,
                 color="#444444", parse_math=False)


def foci_style(n_foci: int, over_map: bool) -> dict:
    """How to draw ``n_foci`` markers: large outlined dots for a few, small translucent
    points for many (so that neither the brain outline nor the ALE map under them disappears).

    The tiers depend only on the number of foci, so a figure's design follows from its data.
    """
    if over_map and n_foci <= OVERLAY_FEW_FOCI:
        return {"s": 14, "alpha": 1.0, "linewidths": 0.4, "edgecolors": "black"}
    if over_map and n_foci <= FEW_FOCI:
        return {"s": 7, "alpha": 0.75, "linewidths": 0.3, "edgecolors": "white"}
    if n_foci <= FEW_FOCI:
        return {"s": 22, "alpha": 1.0, "linewidths": 0.4, "edgecolors": "black"}
    if n_foci <= MANY_FOCI:
        return {"s": 5 if over_map else 9, "alpha": 0.6 if over_map else 0.8, "linewidths": 0.0,
                "edgecolors": "none"}
    return {"s": 1.5 if over_map else 3, "alpha": 0.25 if over_map else 0.45, "linewidths": 0.0,
            "edgecolors": "none"}


def foci_coloured_by_study_over_map(n_foci: int, n_studies: int) -> bool:
    """Whether the overlay colours its foci by study (a few foci of a few studies) or draws
    them in one neutral colour (the ALE map's colours must stay readable under many)."""
    return n_foci <= OVERLAY_FEW_FOCI and n_studies <= MAX_OVERLAY_STUDY_COLOURS


def _add_foci(display, coordinates: pd.DataFrame, colors, style: dict) -> None:
    display.add_markers(coordinates[["x", "y", "z"]].to_numpy(), marker_color=colors, marker_size=style["s"],
                        edgecolors=style["edgecolors"], linewidths=style["linewidths"], alpha=style["alpha"],
                        rasterized=len(coordinates) > FEW_FOCI)  # thousands of SVG circles help no one


def _foci_note(n_foci: int, n_studies: int, style: dict, coloured: bool) -> str:
    what = f"{n_foci} {'focus' if n_foci == 1 else 'foci'} from {n_studies} {'study' if n_studies == 1 else 'studies'}"
    how = "coloured by study" if coloured else "in one colour"
    if style["alpha"] < 1:
        how += ", drawn as small translucent points (darker where many overlap)"
    return f"{what}, {how}"


def _colorbar(fig, rect, cmap: str, vmax: float, label: str = "ALE", threshold: float | None = None):
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
    cbar.set_ticks(ticks, labels=_tick_labels(ticks))
    cbar.ax.tick_params(labelsize=8)
    if threshold is not None and 0 < threshold < vmax:
        ax.axhspan(0, threshold, color="#dddddd", zorder=3)
        ax.axhline(threshold, color="black", linewidth=0.8, zorder=4)
    cbar.set_label(label, fontsize=9)
    return cbar


def _tick_labels(ticks) -> list[str]:
    """The fewest decimals that tell every tick apart ("0", "0.01", "0.02")."""
    for decimals in range(0, 9):
        labels = [f"{t:.{decimals}f}" for t in ticks]
        if len(set(labels)) == len(labels):
            return ["0" if t == 0 else label for t, label in zip(ticks, labels)]
    return [f"{t:g}" for t in ticks]


def _vmax(stat_img) -> float:
    data = np.asarray(stat_img.dataobj, dtype=float)
    top = float(np.nanmax(data)) if data.size else 0.0
    return top if top > 0 else 1.0


def plot_coordinates(coordinates: pd.DataFrame, study_ids: list[str], colors: dict[str, str], title: str | None):
    """All foci on a glass brain, coloured by study, with a legend, up to
    :data:`MAX_STUDY_COLOURS` studies; beyond, in one translucent colour (density shows where
    foci pile up), since more colours could not be told apart.

    Beyond :data:`FEW_FOCI` foci they are drawn as small translucent points, beyond
    :data:`MANY_FOCI` smaller and fainter still, so the brain outline and the pattern stay
    visible."""
    from nilearn.plotting import plot_glass_brain

    n_foci, n_studies = len(coordinates), len(study_ids)
    coloured = studies_coloured(n_studies)
    fig, bottom, top = _split_figure(n_studies, legend=coloured)
    display = plot_glass_brain(None, display_mode="ortho", figure=fig, axes=[0, bottom, 1, top - bottom])
    style = foci_style(n_foci, over_map=False)
    if coloured:
        _add_foci(display, coordinates, [colors[s] for s in coordinates["study_id"]], style)
        _add_title(fig, title, _foci_note(n_foci, n_studies, style, coloured=True))
        _add_study_legend(fig, study_ids, colors)
    else:
        style = {**style, "alpha": min(style["alpha"], 0.5)}
        _add_foci(display, coordinates, ONE_COLOUR, style)
        _add_title(fig, title, _foci_note(n_foci, n_studies, style, coloured=False)
                   + f" (more than {MAX_STUDY_COLOURS} studies: too many to tell apart by colour)")
    return fig


def studies_coloured(n_studies: int) -> bool:
    """Whether the coordinate figure colours foci by study (up to :data:`MAX_STUDY_COLOURS`)."""
    return n_studies <= MAX_STUDY_COLOURS


def plot_overlay(stat_img, coordinates: pd.DataFrame, study_ids: list[str], colors: dict[str, str],
                 glass_threshold: float, cmap: str, title: str | None):
    """The unthresholded ALE map on a glass brain, with every focus on top.

    A few foci of a few studies (:func:`foci_coloured_by_study_over_map`) keep their study
    colours (the key is the coordinate figure's); more are drawn as small translucent
    dark points, so the map under them stays readable. The colour bar runs from 0 to the
    map's maximum, labelled "ALE"."""
    from nilearn.plotting import plot_glass_brain

    n_foci, n_studies = len(coordinates), len(study_ids)
    fig, bottom, top = _split_figure(n_studies, legend=False)
    vmax = _vmax(stat_img)
    display = plot_glass_brain(stat_img, display_mode="ortho", figure=fig, axes=[0, bottom, 0.92, top - bottom],
                               colorbar=False, cmap=cmap, plot_abs=False, symmetric_cbar=False,
                               threshold=glass_threshold, vmin=0.0, vmax=vmax)
    coloured = foci_coloured_by_study_over_map(n_foci, n_studies)
    style = foci_style(n_foci, over_map=True)
    marker_colors = [colors[s] for s in coordinates["study_id"]] if coloured else "#1a1a1a"
    _add_foci(display, coordinates, marker_colors, style)
    h = top - bottom
    _colorbar(fig, [0.935, bottom + 0.12 * h, 0.015, 0.76 * h], cmap, vmax)
    note = _foci_note(n_foci, n_studies, style, coloured)
    if coloured:
        note += " (key: the coordinate figure)"
    _add_title(fig, title, f"{note}; map drawn above {glass_threshold:g}")
    return fig


def plot_peak_orthoview(stat_img, peak_xyz, threshold: float, cmap: str, title: str | None):
    """The display-thresholded ALE map, cut through the peak; the colour bar greys out the
    values below the threshold."""
    import matplotlib.pyplot as plt
    from nilearn.plotting import plot_stat_map

    height = TITLE_HEIGHT + 3.6
    fig = plt.figure(figsize=(9, height))
    top = 1 - TITLE_HEIGHT / height
    vmax = _vmax(stat_img)
    plot_stat_map(stat_img, display_mode="ortho", cut_coords=tuple(peak_xyz), draw_cross=False, cmap=cmap,
                  symmetric_cbar=False, threshold=threshold, figure=fig, axes=[0, 0, 0.92, top], colorbar=False,
                  vmin=0.0, vmax=vmax)
    _colorbar(fig, [0.935, 0.12 * top, 0.015, 0.76 * top], cmap, vmax, threshold=threshold)
    _add_title(fig, title, "cut at x={:.0f}, y={:.0f}, z={:.0f} mm (MNI); grey on the colour bar: below the "
               "display threshold".format(*peak_xyz))
    return fig


# --------------------------------------------------------------------------- jackknife

#: Up to this many experiments the jackknife plot (and the report's table) shows every
#: one; beyond it, the :data:`JACKKNIFE_TOP` largest and a summary of the rest.
JACKKNIFE_ALL_UP_TO = 60
JACKKNIFE_TOP = 30
def dominance_cutoff(means, ratio: float, minimum: float) -> float:
    """The smallest mean contribution that counts as dominant: ``max(ratio x median, minimum)``
    (the rule of :func:`ale_app.present.report.dominant_analyses`)."""
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

    ax.legend(handles=[Patch(color="#c0392b", label="meets the dominance rule (dashed line)"),
                       Patch(color="#f58518", label="below it")], loc="lower right", fontsize=8, frameon=False)
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
    ax.set_xticks(ticks, _tick_labels(ticks))
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


# --------------------------------------------------------------------------- two groups

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


def plot_group_coordinates(coordinates: pd.DataFrame, groups: list[str], title: str):
    """Every group's foci on one glass brain, one colour per group, with a legend entry each.

    ``coordinates`` has a ``group`` column naming each focus's group."""
    from matplotlib.lines import Line2D
    from nilearn.plotting import plot_glass_brain

    n_foci = len(coordinates)
    fig, bottom, top = _split_figure(2, legend=True)
    display = plot_glass_brain(None, display_mode="ortho", figure=fig, axes=[0, bottom, 1, top - bottom])
    style = foci_style(n_foci, over_map=False)
    colors = dict(zip(groups, group_colors(len(groups))))
    for group in groups:
        own = coordinates[coordinates["group"] == group]
        if len(own):
            _add_foci(display, own, colors[group], style)
    counts = coordinates.groupby("group").size()
    handles = [Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=colors[g],
                      markeredgecolor="black", markeredgewidth=0.4,
                      label=f"{g} ({int(counts.get(g, 0))} foci)") for g in groups]
    legend = fig.legend(handles=handles, loc="lower center", ncol=min(max(len(groups), 2), 4), frameon=False,
                        fontsize=9)
    for text in legend.get_texts():
        text.set_parse_math(False)
    _add_title(fig, title, f"{n_foci} foci, coloured by group")
    return fig


def _diverging_colorbar(fig, rect, cmap, vmax: float, label: str, threshold: float | None = None):
    from matplotlib.colorbar import ColorbarBase
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    ax = fig.add_axes(rect)
    cbar = ColorbarBase(ax, cmap=cmap, norm=Normalize(vmin=-vmax, vmax=vmax), orientation="vertical")
    ticks = [t for t in MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10], symmetric=True).tick_values(-vmax, vmax)
             if -vmax <= t <= vmax]
    cbar.set_ticks(ticks, labels=_tick_labels(ticks))
    cbar.ax.tick_params(labelsize=8)
    if threshold is not None and 0 < threshold < vmax:
        ax.axhspan(-threshold, threshold, color="#dddddd", zorder=3)
    cbar.set_label(label, fontsize=9)
    return cbar


def plot_difference(diff_img, threshold: float, groups: list[str], title: str, subtitle: str,
                    label: str = "ALE difference"):
    """A signed map (first group minus second) on a glass brain, diverging colours, drawn above
    ``threshold`` in absolute value (greyed on the colour bar)."""
    from nilearn.plotting import plot_glass_brain

    fig, bottom, top = _split_figure(0, legend=False)
    data = np.asarray(diff_img.dataobj, dtype=float)
    vmax = float(np.nanmax(np.abs(data))) if data.size else 0.0
    vmax = vmax if vmax > 0 else 1.0
    cmap = difference_cmap()
    plot_glass_brain(diff_img, display_mode="lyrz", figure=fig, axes=[0, bottom, 0.92, top - bottom],
                     colorbar=False, cmap=cmap, plot_abs=False, symmetric_cbar=True,
                     threshold=threshold, vmin=-vmax, vmax=vmax)
    h = top - bottom
    _diverging_colorbar(fig, [0.935, bottom + 0.12 * h, 0.015, 0.76 * h], cmap, vmax,
                        f"{label}\n(blue: {groups[0]} > {groups[1]}; orange: {groups[1]} > {groups[0]})", threshold)
    _add_title(fig, title, subtitle)
    return fig


def plot_conjunction(conj_img, groups: list[str], cmap: str, title: str, subtitle: str):
    """The conjunction (minimum of the two groups' ALE where both pass) on a glass brain."""
    from nilearn.plotting import plot_glass_brain

    fig, bottom, top = _split_figure(0, legend=False)
    vmax = _vmax(conj_img)
    plot_glass_brain(conj_img, display_mode="lyrz", figure=fig, axes=[0, bottom, 0.92, top - bottom],
                     colorbar=False, cmap=cmap, plot_abs=False, symmetric_cbar=False, threshold=1e-12,
                     vmin=0.0, vmax=vmax)
    h = top - bottom
    _colorbar(fig, [0.935, bottom + 0.12 * h, 0.015, 0.76 * h], cmap, vmax, label=f"min(ALE {groups[0]}, ALE {groups[1]})")
    _add_title(fig, title, subtitle)
    return fig
