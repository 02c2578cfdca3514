"""Figures of clusters: numbered cluster maps (D1, D2 ... descriptive; F1, F2 ... passed
cluster-level FWE), the FWE result as a thresholded map and cut at each FWE peak, the z map,
and the experiments-by-clusters dependence heatmap.

Each function returns a matplotlib Figure; callers save it. ``title=None`` draws no title
strip (``figures.titles: false``). Text from the data is never parsed as mathtext.
"""

from __future__ import annotations


import nibabel as nib
import math

import numpy as np
import pandas as pd

from ale_app.present.figure_parts import (TITLE_HEIGHT, WRAP_CHARS, add_title, colorbar, image_vmax, split_figure,
                                        wrap_label)
from ale_app.present.nilearn_speed import with_fast_nilearn

#: Colours of numbered clusters (Okabe-Ito, told apart with the common colour-vision
#: deficiencies); beyond them clusters cycle through the same colours, but their numbers
#: on the map tell them apart.
CLUSTER_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: At most this many FWE peaks get a row of their own in the peak figure.
MAX_PEAK_ROWS = 6
#: The dependence heatmap shows every experiment up to this many; beyond, those with the
#: largest contribution to any cluster.
HEATMAP_ALL_UP_TO = 40
HEATMAP_TOP = 30
#: At most this many clusters (columns) in the heatmap; the rest are in the tables.
HEATMAP_MAX_CLUSTERS = 40


def _peak_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["peak"] == "main"].sort_values("cluster_id", kind="stable")


#: Display pixels kept free between two cluster names' boxes.
_LABEL_GAP_PX = 1.5


def _free_offset(box, placed: list, step: float) -> float:
    """The vertical shift (display pixels; 0, then up or down in steps of ``step``) nearest
    0 at which ``box`` overlaps none of the ``placed`` boxes."""
    for k in range(0, 40):
        for dv in ((0.0,) if k == 0 else (k * step, -k * step)):
            moved = box.translated(0.0, dv)
            if not any(moved.overlaps(other) for other in placed):
                return dv
    return 0.0


def label_peaks(display, peaks: pd.DataFrame, prefix: str) -> None:
    """Write each cluster's name (``prefix`` + number, as in its table) beside its peak in
    every view of a glass brain.

    The collision check is made on the names' real boxes: each name is drawn, its box
    (text and padding) measured by the renderer with the view's final aspect, and a name
    whose box would overlap any box already placed in that view is moved up or down to the
    nearest free place and tied to its peak by a thin line."""
    from matplotlib.transforms import Bbox
    from nilearn.plotting.displays._axes import coords_3d_to_2d

    for direction, axes in display.axes.items():
        ax = axes.ax
        ax.apply_aspect()  # the view's final box: names are measured where they will be drawn
        renderer = ax.figure.canvas.get_renderer()
        placed: list[Bbox] = []
        for row in peaks.itertuples():
            xyz = np.array([[row.x, row.y, row.z]], dtype=float)
            if direction in "lr" and ((direction == "r" and row.x < 0) or (direction == "l" and row.x > 0)):
                continue
            (u, v), = coords_3d_to_2d(xyz, direction)
            text = ax.text(u, v, f"{prefix}{row.cluster_id}", fontsize=7, fontweight="bold", ha="center",
                           va="center", color="black", zorder=2000, parse_math=False,
                           bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                                 "alpha": 0.8})
            text.update_bbox_position_size(renderer)
            box = text.get_bbox_patch().get_window_extent(renderer).padded(_LABEL_GAP_PX)
            dv = _free_offset(box, placed, box.height / 2)
            placed.append(box.translated(0.0, dv))
            if dv:
                x_px, y_px = ax.transData.transform((u, v))
                lu, lv = ax.transData.inverted().transform((x_px, y_px + dv))
                text.set_position((lu, lv))
                ax.plot([u, lu], [v, lv], color="black", linewidth=0.6, zorder=1999)


@with_fast_nilearn
def plot_cluster_map(label_img: nib.Nifti1Image, table: pd.DataFrame, prefix: str, title: str | None,
                     note: str | None = None):
    """The numbered clusters of ``label_img`` on a glass brain, one colour per cluster and its
    name (``prefix`` + number) at its peak in every view."""
    from matplotlib.colors import ListedColormap
    from nilearn.plotting import plot_glass_brain

    labels = np.asarray(label_img.dataobj).astype(np.int32)
    k = int(labels.max()) if labels.size else 0
    fig, bottom, top = split_figure(0, legend=False)
    colours = [CLUSTER_COLORS[i % len(CLUSTER_COLORS)] for i in range(max(k, 1))]
    img = nib.Nifti1Image(labels.astype(np.float32), label_img.affine)
    display = plot_glass_brain(img, display_mode="ortho", figure=fig, axes=[0, bottom, 1, top - bottom],
                               colorbar=False, cmap=ListedColormap(colours), plot_abs=False, threshold=0.5,
                               vmin=0.5, vmax=max(k, 1) + 0.5, symmetric_cbar=False, resampling_interpolation="nearest")
    label_peaks(display, _peak_rows(table), prefix)
    if title is not None:
        add_title(fig, title, note)
    return fig


def masked_image(stat_img: nib.Nifti1Image, label_img: nib.Nifti1Image) -> nib.Nifti1Image:
    """``stat_img`` inside the clusters of ``label_img`` (label > 0), 0 elsewhere."""
    data = np.asarray(stat_img.dataobj, dtype=np.float32)
    inside = np.asarray(label_img.dataobj) > 0
    return nib.Nifti1Image(np.where(inside, data, 0).astype(np.float32), stat_img.affine)


@with_fast_nilearn
def plot_fwe_glass(stat_img, label_img, table: pd.DataFrame, cmap: str, title: str | None, note: str | None):
    """The ALE values of the clusters that passed cluster-level FWE (nothing else drawn), on a
    glass brain, each cluster's name at its peak."""
    from nilearn.plotting import plot_glass_brain

    fig, bottom, top = split_figure(0, legend=False)
    shown = masked_image(stat_img, label_img)
    vmax = image_vmax(stat_img)
    display = plot_glass_brain(shown, display_mode="ortho", figure=fig, axes=[0, bottom, 0.92, top - bottom],
                               colorbar=False, cmap=cmap, plot_abs=False, symmetric_cbar=False, threshold=1e-12,
                               vmin=0.0, vmax=vmax)
    label_peaks(display, _peak_rows(table), "F")
    h = top - bottom
    colorbar(fig, [0.935, bottom + 0.12 * h, 0.015, 0.76 * h], cmap, vmax)
    if title is not None:
        add_title(fig, title, note)
    return fig


@with_fast_nilearn
def plot_fwe_peaks(stat_img, label_img, table: pd.DataFrame, cmap: str, title: str | None):
    """The FWE clusters' ALE cut at each FWE peak, one row per cluster (the first
    :data:`MAX_PEAK_ROWS`), on the MNI152 template."""
    import matplotlib.pyplot as plt
    from nilearn.plotting import plot_stat_map

    peaks = _peak_rows(table).iloc[:MAX_PEAK_ROWS]
    n = max(len(peaks), 1)
    row_h = 2.6
    head = TITLE_HEIGHT if title is not None else 0.0
    height = head + n * row_h
    fig = plt.figure(figsize=(9, height))
    shown = masked_image(stat_img, label_img)
    vmax = image_vmax(stat_img)
    usable = 1 - head / height
    for i, row in enumerate(peaks.itertuples()):
        bottom = usable - (i + 1) * row_h / height
        plot_stat_map(shown, display_mode="ortho", cut_coords=(row.x, row.y, row.z), draw_cross=True, cmap=cmap,
                      symmetric_cbar=False, threshold=1e-12, figure=fig, axes=[0.06, bottom, 0.86, row_h / height],
                      colorbar=False, vmin=0.0, vmax=vmax, annotate=True)
        fig.text(0.005, bottom + 0.5 * row_h / height, f"F{row.cluster_id}\n{row.x:.0f}, {row.y:.0f}, {row.z:.0f}",
                 fontsize=8, fontweight="bold", va="center", ha="left", parse_math=False)
    colorbar(fig, [0.935, 0.1 * usable, 0.015, 0.8 * usable], cmap, vmax)
    if title is not None:
        more = len(_peak_rows(table)) - len(peaks)
        add_title(fig, title, "cut at each FWE cluster's peak (x, y, z in mm, MNI); only voxels of FWE clusters drawn"
                   + (f"; {more} more clusters in the table" if more > 0 else ""))
    return fig


@with_fast_nilearn
def plot_z_map(z_img, z_threshold: float, voxel_p: float, title: str | None):
    """The uncorrected voxel-level z map on a glass brain, drawn above the z of the
    cluster-forming p (voxels that form clusters; not FWE-corrected)."""
    from nilearn.plotting import plot_glass_brain

    fig, bottom, top = split_figure(0, legend=False)
    vmax = image_vmax(z_img)
    plot_glass_brain(z_img, display_mode="ortho", figure=fig, axes=[0, bottom, 0.92, top - bottom], colorbar=False,
                     cmap="viridis", plot_abs=False, symmetric_cbar=False, threshold=z_threshold, vmin=0.0, vmax=vmax)
    h = top - bottom
    colorbar(fig, [0.935, bottom + 0.12 * h, 0.015, 0.76 * h], "viridis", vmax, label="z (uncorrected)",
              threshold=z_threshold)
    if title is not None:
        add_title(fig, title, f"drawn above z = {z_threshold:.2f} (uncorrected p < {voxel_p:g}, the cluster-forming "
                   "threshold); not FWE-corrected")
    return fig


def heatmap_rows(jackknife: pd.DataFrame) -> pd.DataFrame:
    """The experiments the dependence heatmap shows, largest single-cluster contribution
    first: all up to :data:`HEATMAP_ALL_UP_TO`, else the :data:`HEATMAP_TOP` largest."""
    cols = [c for c in jackknife.columns if str(c).startswith("cluster_")][:HEATMAP_MAX_CLUSTERS]
    top = jackknife[cols].astype(float).max(axis=1).to_numpy()
    order = np.argsort(-top, kind="stable")
    keep = order if len(order) <= HEATMAP_ALL_UP_TO else order[:HEATMAP_TOP]
    return jackknife.iloc[keep][["id", *cols]].reset_index(drop=True)


def _round_up(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value``."""
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * 10 ** exponent >= value - 1e-12:
            return float(f"{step * 10 ** exponent:.6g}")
    return 1.0


def plot_dependence(jackknife: pd.DataFrame, prefix: str, rests_on: float, title: str | None):
    """Experiments by clusters: each cell is the share of the cluster's ALE that leaving the
    experiment out removes (0 to 1); cells at or above ``rests_on`` are outlined and printed.
    Up to :data:`HEATMAP_ALL_UP_TO` experiments every one has a row; beyond, the
    :data:`HEATMAP_TOP` with the largest share of any cluster."""
    import matplotlib.pyplot as plt

    shown = heatmap_rows(jackknife)
    cols = [c for c in shown.columns if c != "id"]
    values = shown[cols].to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    labels = [wrap_label(i) for i in shown["id"]]
    lines = max((lab.count("\n") + 1 for lab in labels), default=1)
    row_h = 0.2 + 0.12 * (lines - 1)
    width = min(16.0, 3.2 + 0.55 * n_cols + 0.065 * WRAP_CHARS)
    height = 1.6 + n_rows * row_h + (0.35 if title is not None else 0.0)
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    # Scale 0..1 when some cell reaches the rule; otherwise 0..(a round number above the largest
    # share), so that small shares stay visible and the bar says how small they are.
    top = float(np.nanmax(values)) if values.size and np.isfinite(values).any() else 0.0
    vmax = 1.0 if top >= rests_on else _round_up(max(top, 0.01))
    image = ax.imshow(np.clip(values, 0, vmax), cmap="Oranges", vmin=0, vmax=vmax, aspect="auto",
                      interpolation="nearest")
    ax.set_xticks(np.arange(n_cols), [f"{prefix}{c.split('_', 1)[1]}" for c in cols], fontsize=8)
    ax.set_yticks(np.arange(n_rows), labels, fontsize=7 if n_rows > 30 else 8, parse_math=False)
    ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False)
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if v >= rests_on:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.2))
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6.5, color="white")
    cbar = fig.colorbar(image, ax=ax, shrink=min(1.0, 4.0 / max(height, 1)), pad=0.02)
    cbar.set_label("Share of the cluster's ALE removed\nwhen the experiment is left out", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    n_all = len(jackknife)
    what = "Experiment id left out" + (f" ({n_rows} of {n_all}: largest share of any cluster)" if n_rows < n_all else "")
    ax.set_ylabel(what, fontsize=9)
    if vmax < 1:
        ax.set_xlabel(f"No share reaches {rests_on:.0%} (no cluster rests on one experiment); colour scale 0 to "
                      f"{vmax:g}", fontsize=8)
    else:
        ax.set_xlabel(f"Outlined and printed: at least {rests_on:.0%}, the cluster rests on that experiment",
                      fontsize=8)
    if title is not None:
        ax.set_title(title, fontsize=11, loc="left", pad=8)
    return fig
