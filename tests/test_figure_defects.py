"""Figure defects of issue 39, each checked on the figure's artists (bounding boxes,
colours), not only on a file: cluster names that never overlap, a jackknife legend outside
the bars and the footnote, foci with an edge that shows over any map, study colours that
differ perceptually, contrast clusters named as in their table."""

from __future__ import annotations

import itertools

import matplotlib
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from ale_app.present import cluster_figures as C  # noqa: E402
from ale_app.present import figures as F  # noqa: E402

AFFINE = np.array([[-4.0, 0, 0, 90], [0, 4, 0, -126], [0, 0, 4, -72], [0, 0, 0, 1]])


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _rendered(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _name_boxes(fig, names: set[str]):
    """{axes: [(name, display bbox of its box)]} of the cluster names drawn in each axes."""
    renderer = _rendered(fig)
    found = {}
    for ax in fig.axes:
        boxes = []
        for text in ax.texts:
            if text.get_text() in names:
                patch = text.get_bbox_patch()
                box = patch.get_window_extent(renderer) if patch is not None else text.get_window_extent(renderer)
                boxes.append((text.get_text(), box))
        if boxes:
            found[ax] = boxes
    return found


#: The FWE peaks of the bundled inferential example (pain, 21 analyses): in the sagittal view
#: F1/F3 and F2/F6 lie 6 to 10 mm apart, and their names collided.
PAIN_FWE_PEAKS = [(38, 4, 2), (54, -28, 20), (-34, 14, 0), (2, 4, 52), (-32, -60, -34), (-62, -22, 20)]


def _crowded_clusters():
    """Small clusters at the pain example's FWE peaks (names that must be moved apart)."""
    labels = np.zeros((46, 55, 46), dtype=np.int16)
    rows = []
    for k, peak in enumerate(PAIN_FWE_PEAKS, start=1):
        xyz = np.array(peak, dtype=float)
        i, j, kk = np.rint(np.linalg.inv(AFFINE) @ np.r_[xyz, 1])[:3].astype(int)
        labels[i - 1:i + 2, j - 1:j + 2, kk - 1:kk + 2] = k
        rows.append({"cluster_id": k, "peak": "main", "x": xyz[0], "y": xyz[1], "z": xyz[2]})
    return nib.Nifti1Image(labels, AFFINE), pd.DataFrame(rows)


def test_cluster_names_never_overlap_in_any_view():
    img, table = _crowded_clusters()
    fig = C.plot_cluster_map(img, table, "F", "crowded", None)
    views = _name_boxes(fig, {f"F{k}" for k in table["cluster_id"]})
    assert views, "no cluster names found"
    for boxes in views.values():
        assert len(boxes) >= 2
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
            assert not box_a.overlaps(box_b), (a, b, box_a, box_b)


@pytest.mark.parametrize("n", [8, 21, 906])
def test_jackknife_legend_is_outside_the_bars_and_the_footnote(n):
    rng = np.random.default_rng(n)
    means = rng.uniform(0.0, 0.2, n)
    table = pd.DataFrame({"id": [f"study-{i}" for i in range(n)], "cluster_1": means, "mean": means})
    fig = F.plot_jackknife_means(table, 2, 0.25)
    renderer = _rendered(fig)
    (ax,) = fig.axes
    legends = fig.legends + ([ax.get_legend()] if ax.get_legend() is not None else [])
    assert len(legends) == 1
    legend = legends[0].get_window_extent(renderer)
    assert not legend.overlaps(ax.get_window_extent(renderer))  # not over the bars
    for text in [*ax.texts, ax.xaxis.label]:
        assert not legend.overlaps(text.get_window_extent(renderer)), text.get_text()
    if n > 60:
        assert any("more experiments" in t.get_text() for t in ax.texts)  # the footnote is there


def _luminance(rgb) -> float:
    """WCAG relative luminance of an sRGB colour (0..1 channels)."""
    c = np.asarray(rgb[:3], dtype=float)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def _contrast(a, b) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _ale_image():
    ijk = np.indices((46, 55, 46)).reshape(3, -1).T
    xyz = ijk @ AFFINE[:3, :3].T + AFFINE[:3, 3]
    data = 0.02 * np.exp(-np.sum((xyz - (40, -20, 50)) ** 2, axis=1) / (2 * 20.0 ** 2))
    return nib.Nifti1Image(data.reshape(46, 55, 46).astype(np.float32), AFFINE)


@pytest.mark.parametrize("n_studies, per_study", [(8, 3), (21, 13), (100, 12), (300, 12)])
def test_foci_show_on_the_darkest_and_brightest_colours_of_the_overlay(n_studies, per_study):
    """On the overlay, each focus's fill or its ring (at least 0.5 pt) contrasts (WCAG ratio at
    least 3) with both ends of the map's colour map, so no focus vanishes in the map (the
    pain example's 267 foci were dark points in a 0.3 pt white ring, lost in viridis's purple)."""
    from matplotlib import colormaps
    from matplotlib.collections import PathCollection

    rng = np.random.default_rng(1)
    rows = [(f"s{s}", *rng.uniform([-50, -80, -20], [50, 50, 60])) for s in range(n_studies) for _ in range(per_study)]
    coords = pd.DataFrame(rows, columns=["study_id", "x", "y", "z"])
    ids = list(dict.fromkeys(coords["study_id"]))
    fig = F.plot_overlay(_ale_image(), coords, ids, F.study_color_map(ids), 1e-4, "viridis", "t")
    _rendered(fig)
    ends = [colormaps["viridis"](0.0), colormaps["viridis"](1.0)]
    checked = 0
    for ax in fig.axes:
        foci = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
        if not foci:
            continue
        # What a focus shows: its fill, and its ring or halo where at least 0.5 pt wide.
        rings = [c for c in foci if float(np.max(c.get_linewidths())) >= 0.5]
        assert rings, n_studies
        for end in ends:
            # the focus's darkest-against-this-end component: every focus carries the same set
            best = max(_contrast(colour, end) for colour in [*rings[-1].get_edgecolors(), *_fills(foci)])
            assert best >= 3, (n_studies, end, best)
        checked += 1
    assert checked >= 3  # the foci of every view


def _fills(foci):
    """The fill every focus shows: the one fill of a one-colour layer (a halo or white points);
    a layer of study colours shows each focus's own colour, so it counts only where one colour
    serves all."""
    return [c.get_facecolors()[0] for c in foci if len(c.get_facecolors()) == 1]


def _lab(hex_colour: str) -> np.ndarray:
    """CIELAB (D65) of an sRGB hex colour."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    xyz /= [0.95047, 1.0, 1.08883]
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("n", [2, 8, 12, 21, 24])
def test_study_colours_differ_perceptually_up_to_24_studies(n):
    """Every two of the first ``n`` study colours are at least 20 CIELAB units apart (Delta E
    1976; about 2.3 is a just-noticeable difference): the golden-angle hues of earlier versions
    put two teals 12.5 units apart at 21 studies."""
    labs = [_lab(c) for c in F.study_colors(n)]
    closest = min(np.linalg.norm(a - b) for a, b in itertools.combinations(labs, 2))
    assert closest >= 20, closest


def test_contrast_z_figure_names_its_clusters_as_in_their_table():
    """The contrast's z figure writes C1 (as the cluster table and the report name it) at its
    peak when given the table; ``contrast_registry._fig_z`` passes ``clusters=cc.table``."""
    ijk = np.indices((46, 55, 46)).reshape(3, -1).T
    xyz = ijk @ AFFINE[:3, :3].T + AFFINE[:3, 3]
    z = 4.0 * np.exp(-np.sum((xyz - (2, 24, 32)) ** 2, axis=1) / (2 * 6.0 ** 2))
    img = nib.Nifti1Image(np.where(z > 2, -z, 0).reshape(46, 55, 46).astype(np.float32), AFFINE)
    table = pd.DataFrame({"tail": ["negative", "negative"], "cluster_id": [1, 1], "peak": ["main", "sub-a"],
                          "x": [2, 6], "y": [24, 12], "z": [32, 46]})
    fig = F.plot_difference(img, 0.0, ["nback", "flanker"], "z", "note", label="z", clusters=table)
    views = _name_boxes(fig, {"C1"})
    assert len(views) >= 3  # the peak (x = 2) is named in the right, coronal and axial views
    assert all(len(boxes) == 1 for boxes in views.values())


def test_fast_nilearn_leaves_nilearn_as_it_found_it():
    """The glass brain outline and the template are swapped only inside the block."""
    from nilearn.plotting.displays import _axes
    from nilearn.plotting.image.utils import _MNI152Template

    from ale_app.present.nilearn_speed import fast_nilearn

    before = (_axes.plot_brain_schematics, _MNI152Template.__dict__.get("data"))
    with fast_nilearn():
        assert _axes.plot_brain_schematics is not before[0]
    assert (_axes.plot_brain_schematics, _MNI152Template.__dict__.get("data")) == before


def test_glass_brain_outline_is_nilearns_pixel_for_pixel():
    """One artist per view draws the same pixels as nilearn's one patch per stroke."""
    import io

    import matplotlib.pyplot as plt
    from nilearn.plotting import plot_glass_brain
    from PIL import Image

    from ale_app.present.nilearn_speed import fast_nilearn

    def pixels(fast: bool):
        fig = plt.figure(figsize=(6, 2.5))
        if fast:
            with fast_nilearn():
                plot_glass_brain(None, display_mode="lyrz", figure=fig)
        else:
            plot_glass_brain(None, display_mode="lyrz", figure=fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        return np.asarray(Image.open(buf))

    assert np.array_equal(pixels(False), pixels(True))


def test_png_canvas_writes_matplotlibs_pixels_as_rgb():
    """ale-app's PNG writer (RGB, zlib level 3) decodes to the pixels of matplotlib's own PNG."""
    import io

    from PIL import Image

    from ale_app.outputs.writing import render_figure

    fig = F.plot_jackknife_means(pd.DataFrame({"id": ["a", "b"], "cluster_1": [0.1, 0.3], "mean": [0.1, 0.3]}))
    ours = Image.open(io.BytesIO(render_figure(fig, ["png"], 100)["png"]))
    fig = F.plot_jackknife_means(pd.DataFrame({"id": ["a", "b"], "cluster_1": [0.1, 0.3], "mean": [0.1, 0.3]}))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", facecolor="white", metadata={"Software": None})
    theirs = Image.open(buf)
    assert ours.mode == "RGB" and theirs.mode == "RGBA"
    assert np.array_equal(np.asarray(ours), np.asarray(theirs)[..., :3])
    assert (np.asarray(theirs)[..., 3] == 255).all()


def test_slices_are_drawn_in_one_batch_and_other_figures_alone():
    """One worker loads the MNI152 template for every slice figure; the rest are shared out."""
    from types import SimpleNamespace

    from ale_app.outputs.writing import figure_batches

    entries = [SimpleNamespace(name=n, draw_cost=c) for n, c in
               [("glass-a", 1.0), ("peak", 2.5), ("glass-b", 1.0), ("fwepeaks", 3.0), ("bars", 1.0)]]
    assert figure_batches(entries) == [("fwepeaks", "peak"), ("glass-a",), ("glass-b",), ("bars",)]
    assert figure_batches(entries[:1]) == [("glass-a",)]
