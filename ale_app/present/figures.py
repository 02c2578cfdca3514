"""Figures built from data. Each function returns a matplotlib Figure; callers save it.

The figures of one group's foci and ALE map live here; the jackknife bar plot in
:mod:`ale_app.present.jackknife_figure`, the figures of two groups in
:mod:`ale_app.present.comparison_figures`, cluster maps in :mod:`ale_app.present.cluster_figures`,
study colours and markers in :mod:`ale_app.present.foci`, the shared pieces in
:mod:`ale_app.present.figure_parts` (their public names are imported here too, where callers
have always found them). Glass brains and slices are drawn inside
:func:`ale_app.present.nilearn_speed.fast_nilearn`.

Each figure's design follows from its data, not one design for every size:

- foci (:func:`foci_style`): up to :data:`FEW_FOCI` large outlined dots; beyond, small
  translucent points, smaller and fainter again beyond :data:`MANY_FOCI` (rasterised in
  SVG), so the brain and the pattern stay visible;
- the overlay keeps study colours only for a few foci of a few studies
  (:func:`foci_coloured_by_study_over_map`), in a dark ring on a white halo; otherwise its foci are small
  light points in a dark ring, visible on the map's darkest and brightest colours, and the
  ALE map stays readable under them; its colour bar runs from 0 with distinct ticks
  and the label "ALE";
- the study legend sits under the coordinate figure up to :data:`MAX_LEGEND_STUDIES`
  studies; beyond, the figure says the key is in the report;
- titles sit in their own strip above the brains, where no marker can cover them;

Text that comes from the data (study ids, experiment ids) is never parsed as mathtext.
"""

from __future__ import annotations

import pandas as pd

from ale_app.present.figure_parts import (MAX_LEGEND_STUDIES, TITLE_HEIGHT, WRAP_CHARS, add_title,
                                        colorbar, image_vmax, legend_layout, split_figure, tick_labels, wrap_label)
from ale_app.present.foci import (FEW_FOCI, MANY_FOCI, OVERLAY_FEW_FOCI, OVERLAY_FILL, STUDY_PALETTE, STUDY_HALO,
                                  add_foci, foci_style, study_color_map, study_colors)
from ale_app.present.comparison_figures import (GROUP_COLORS, difference_cmap, group_colors, plot_conjunction,
                                           plot_difference, plot_group_coordinates)
from ale_app.present.jackknife_figure import (JACKKNIFE_ALL_UP_TO, JACKKNIFE_TOP, dominance_cutoff,
                                              jackknife_rows_shown, plot_jackknife_means, sort_jackknife)
from ale_app.present.nilearn_speed import with_fast_nilearn

__all__ = [
    "FEW_FOCI", "GROUP_COLORS", "JACKKNIFE_ALL_UP_TO", "JACKKNIFE_TOP", "MANY_FOCI", "MAX_LEGEND_STUDIES",
    "OVERLAY_FEW_FOCI", "STUDY_PALETTE", "TITLE_HEIGHT", "WRAP_CHARS", "difference_cmap", "dominance_cutoff",
    "foci_style", "group_colors", "jackknife_rows_shown", "plot_conjunction", "plot_coordinates",
    "plot_difference", "plot_group_coordinates", "plot_jackknife_means", "plot_overlay", "plot_peak_orthoview",
    "sort_jackknife", "studies_coloured", "study_color_map", "study_colors", "tick_labels", "wrap_label",
]



#: Foci are coloured by study only up to this many studies, while the colours stay easy to
#: tell apart; beyond, every focus is drawn in one colour (translucent: darker where foci
#: pile up) and the figure says why.
MAX_STUDY_COLOURS = 24
ONE_COLOUR = "#1a4f8a"
MAX_OVERLAY_STUDY_COLOURS = 24  # = MAX_STUDY_COLOURS


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
    ncol, fontsize = legend_layout(len(study_ids))
    legend = fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, fontsize=fontsize,
                        bbox_to_anchor=(0.5, 0.0), title="Study id (as in the report's experiment key)",
                        title_fontsize=fontsize)
    for text in legend.get_texts():
        text.set_parse_math(False)  # study ids are data, never mathtext


def foci_coloured_by_study_over_map(n_foci: int, n_studies: int) -> bool:
    """Whether the overlay colours its foci by study (a few foci of a few studies) or draws
    them in one neutral colour (the ALE map's colours must stay readable under many)."""
    return n_foci <= OVERLAY_FEW_FOCI and n_studies <= MAX_OVERLAY_STUDY_COLOURS


def _foci_note(n_foci: int, n_studies: int, style: dict, coloured: bool, over_map: bool = False) -> str:
    what = f"{n_foci} {'focus' if n_foci == 1 else 'foci'} from {n_studies} {'study' if n_studies == 1 else 'studies'}"
    if over_map:
        how = "coloured by study, in a dark ring on a white halo" if coloured else "as white points in a dark ring"
        return f"{what}, {how}" + (" (translucent where many overlap)" if style["alpha"] < 1 else "")
    how = "coloured by study" if coloured else "in one colour"
    if style["alpha"] < 1:
        how += ", drawn as small translucent points (darker where many overlap)"
    return f"{what}, {how}"


@with_fast_nilearn
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
    fig, bottom, top = split_figure(n_studies, legend=coloured)
    display = plot_glass_brain(None, display_mode="ortho", figure=fig, axes=[0, bottom, 1, top - bottom])
    style = foci_style(n_foci, over_map=False)
    if coloured:
        add_foci(display, coordinates, [colors[s] for s in coordinates["study_id"]], style)
        add_title(fig, title, _foci_note(n_foci, n_studies, style, coloured=True))
        _add_study_legend(fig, study_ids, colors)
    else:
        style = {**style, "alpha": min(style["alpha"], 0.5)}
        add_foci(display, coordinates, ONE_COLOUR, style)
        add_title(fig, title, _foci_note(n_foci, n_studies, style, coloured=False)
                   + f" (more than {MAX_STUDY_COLOURS} studies: too many to tell apart by colour)")
    return fig


def studies_coloured(n_studies: int) -> bool:
    """Whether the coordinate figure colours foci by study (up to :data:`MAX_STUDY_COLOURS`)."""
    return n_studies <= MAX_STUDY_COLOURS


@with_fast_nilearn
def plot_overlay(stat_img, coordinates: pd.DataFrame, study_ids: list[str], colors: dict[str, str],
                 glass_threshold: float, cmap: str, title: str | None):
    """The unthresholded ALE map on a glass brain, with every focus on top.

    A few foci of a few studies (:func:`foci_coloured_by_study_over_map`) keep their study
    colours in a dark ring on a white halo (the key is the coordinate figure's); more are drawn as small
    white points in a dark ring, so that they show on every colour of the map and the map under
    them stays readable. The colour bar runs from 0 to the
    map's maximum, labelled "ALE"."""
    from nilearn.plotting import plot_glass_brain

    n_foci, n_studies = len(coordinates), len(study_ids)
    fig, bottom, top = split_figure(n_studies, legend=False)
    vmax = image_vmax(stat_img)
    display = plot_glass_brain(stat_img, display_mode="ortho", figure=fig, axes=[0, bottom, 0.92, top - bottom],
                               colorbar=False, cmap=cmap, plot_abs=False, symmetric_cbar=False,
                               threshold=glass_threshold, vmin=0.0, vmax=vmax)
    coloured = foci_coloured_by_study_over_map(n_foci, n_studies)
    style = foci_style(n_foci, over_map=True)
    if coloured:  # each study's colour in a dark ring on a light halo
        add_foci(display, coordinates, STUDY_HALO, {**style, "s": style["s"] * 2.2, "linewidths": 0.0,
                                                     "edgecolors": "none"})
        add_foci(display, coordinates, [colors[s] for s in coordinates["study_id"]], style)
    else:  # a light fill in a dark ring (foci_style)
        add_foci(display, coordinates, OVERLAY_FILL, style)
    h = top - bottom
    colorbar(fig, [0.935, bottom + 0.12 * h, 0.015, 0.76 * h], cmap, vmax)
    note = _foci_note(n_foci, n_studies, style, coloured, over_map=True)
    if coloured:
        note += " (key: the coordinate figure)"
    add_title(fig, title, f"{note}; map drawn above {glass_threshold:g}")
    return fig


@with_fast_nilearn
def plot_peak_orthoview(stat_img, peak_xyz, threshold: float, cmap: str, title: str | None):
    """The display-thresholded ALE map, cut through the peak; the colour bar greys out the
    values below the threshold."""
    import matplotlib.pyplot as plt
    from nilearn.plotting import plot_stat_map

    height = TITLE_HEIGHT + 3.6
    fig = plt.figure(figsize=(9, height))
    top = 1 - TITLE_HEIGHT / height
    vmax = image_vmax(stat_img)
    plot_stat_map(stat_img, display_mode="ortho", cut_coords=tuple(peak_xyz), draw_cross=False, cmap=cmap,
                  symmetric_cbar=False, threshold=threshold, figure=fig, axes=[0, 0, 0.92, top], colorbar=False,
                  vmin=0.0, vmax=vmax)
    colorbar(fig, [0.935, 0.12 * top, 0.015, 0.76 * top], cmap, vmax, threshold=threshold)
    add_title(fig, title, "cut at x={:.0f}, y={:.0f}, z={:.0f} mm (MNI); grey on the colour bar: below the "
               "display threshold".format(*peak_xyz))
    return fig


