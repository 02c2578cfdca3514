"""The interpretation paragraph, the methods text, figures that scale, and the report in a
real browser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


from ale_app.present import detail_words as DW
from ale_app.present import figures as F
from ale_app.present import interpretation_words as W
from ale_app.present import page as R
from ale_app.present import report_view as V

BASELINES = Path(__file__).parent / "baseline"


def _inputs(jackknife: pd.DataFrame | None, n_experiments: int = 8) -> V.ReportInputs:
    clusters = pd.DataFrame({"cluster_id": [1, 1, 2], "peak": ["main", "sub-a", "main"], "x": [0, 2, 4],
                             "y": [0, 2, 4], "z": [0, 2, 4], "ale": [0.02, 0.01, 0.015],
                             "size_mm3": [4000, None, 5000]})
    return V.ReportInputs(
        title="t", n_experiments=n_experiments, n_studies=n_experiments, n_foci=10 * n_experiments,
        threshold_percentile=95, cluster_threshold_mm3=4000, dominance_ratio=2, dominance_min=0.25,
        kernel_text="each experiment's sample size", versions={"nimare": "0.22.1", "nilearn": "0.13.1"},
        peak_value=0.02, peak_xyz=(0.0, 0.0, 0.0), peak_label="in the right Precentral Gyrus",
        threshold=0.004, cluster_table=clusters, n_clusters=2, jackknife=jackknife,
    )


def _paragraph(r: V.ReportInputs) -> str:
    """The short interpretation and its details, as CITATION.md's Interpretation holds them."""
    return W.group_interpretation(r) + " " + DW.group_details(r)


def _jackknife(means: list[float]) -> pd.DataFrame:
    ids = [f"study-{i}" for i in range(len(means))]
    return pd.DataFrame({"id": ids, "cluster_1": means, "cluster_2": means, "mean": means})


def _assert_descriptive(text: str):
    lowered = text.lower()
    found = [p for p in W.FORBIDDEN_PHRASES if p in lowered]
    assert not found, found


def test_paragraph_names_the_dominant_analysis_and_no_other():
    table = _jackknife([0.05, 0.06, 0.40, 0.07, 0.30 * 0.5, 0.05, 0.08, 0.04])
    text = _paragraph(_inputs(table))
    lean = next(sentence for sentence in text.split(". ") if "leans on" in sentence)
    assert "the pattern leans on study-2 (mean 0.40)" in lean
    for other in ["study-0", "study-1", "study-3", "study-4", "study-5", "study-6", "study-7"]:
        assert other not in lean
    assert "No single experiment dominates" not in text
    assert "no voxelwise test was run" in text
    _assert_descriptive(text)


def test_paragraph_without_a_dominant_analysis():
    # 0.2 is >= 2 x the median but below dominance_min; 0.3 would pass the minimum but not the ratio.
    text = _paragraph(_inputs(_jackknife([0.05, 0.06, 0.20, 0.07, 0.05, 0.05, 0.08, 0.04])))
    assert "No single experiment dominates the descriptive clusters, on average or in any one cluster." in text
    assert "leans on" not in text and "none of the 2 descriptive clusters rests on one or two" in text
    _assert_descriptive(text)
    # No mean meets the dominance rule, but each cluster rests on two experiments (0.3 + 0.3):
    # the paragraph says so and does not claim that no experiment dominates.
    text = _paragraph(_inputs(_jackknife([0.3, 0.2, 0.25, 0.22, 0.3, 0.28])))
    assert "No single experiment dominates" not in text and "leans on" not in text
    assert "the average hides single clusters" in text
    assert "2 of the 2 descriptive clusters rest on two (D1: study-0 0.30 + study-4 0.30; D2: study-0 0.30 + study-4 0.30)" in text
    _assert_descriptive(text)


def test_paragraph_at_twenty_experiments_omits_the_size_warning():
    text = _paragraph(_inputs(_jackknife([0.05] * 20), n_experiments=20))
    assert "no voxelwise test" not in text
    assert "20 experiments" in text


def test_paragraph_states_small_contributions_with_a_digit_that_tells():
    # At hundreds of experiments each one's contribution is a few ten-thousandths: "0.00" says nothing.
    means = [0.0004] * 5 + [0.0002, 0.0003, 0.0155]
    text = _paragraph(_inputs(_jackknife(means)))
    assert "ranged from 0.0002 to 0.0155 (median 0.0004)." in text
    text = _paragraph(_inputs(_jackknife([0.05, 0.06, 0.07, 0.35])))
    assert "ranged from 0.05 to 0.35 (median 0.07)." in text  # two decimals where they tell


def test_methods_and_citation_are_descriptive_and_complete():
    r = _inputs(_jackknife([0.05, 0.06, 0.40]))
    text = R.citation_markdown(r)
    assert "lancaster2007" not in text  # nothing was converted, so Lancaster et al. (2007) is not cited
    _assert_descriptive(text)
    for needle in ("Eickhoff", "Turkeltaub", "NiMARE 0.22.1", "nilearn 0.13.1", "@article{eickhoff2009",
                   "@article{turkeltaub2012", "@article{eickhoff2016",
                   "threshold that is not statistical", "rests on one experiment", "```bibtex"):
        assert needle in text, needle


def test_study_colors_distinct_and_not_cycling():
    for n in (8, 21, 100, 300):
        colors = F.study_colors(n)
        assert len(set(colors)) == n
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in F.study_colors(21)], dtype=float)
    # neighbours in study order differ clearly (no smooth ramp, no repeats)
    assert np.min(np.linalg.norm(np.diff(rgb, axis=0), axis=1)) > 40


def _synthetic_coordinates(n_studies: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_studies):
        for _ in range(int(rng.integers(3, 12))):
            rows.append((f"study-{s:03d}", *rng.uniform([-60, -95, -35], [60, 60, 70])))
    return pd.DataFrame(rows, columns=["study_id", "x", "y", "z"])


def _compare_to_baseline(fig, name: str, tmp_path):
    from matplotlib.testing.compare import compare_images

    actual = tmp_path / name
    # Explicit: some imported libraries change the savefig rcParams (bbox, dpi) globally.
    fig.savefig(actual, dpi=80, bbox_inches="tight", metadata={"Software": None})
    baseline = BASELINES / actual.name
    if os.environ.get("ALE_APP_UPDATE_BASELINES"):
        shutil.copy(actual, baseline)
    assert baseline.exists(), f"no baseline; create it with ALE_APP_UPDATE_BASELINES=1 pytest {__file__}"
    result = compare_images(str(baseline), str(actual), tol=2)
    assert result is None, result


@pytest.mark.parametrize("n_studies", [8, 100])
def test_coordinate_figure_matches_baseline(n_studies, tmp_path):
    coords = _synthetic_coordinates(n_studies)
    ids = list(dict.fromkeys(coords["study_id"]))
    fig = F.plot_coordinates(coords, ids, dict(zip(ids, F.study_colors(len(ids)))), "Coordinates by study")
    _compare_to_baseline(fig, f"coordinates_{n_studies}.png", tmp_path)


def _synthetic_ale_image():
    """A small ALE-like map in MNI space: two Gaussian blobs, peak 0.02."""
    import nibabel as nib

    affine = np.array([[-4.0, 0, 0, 90], [0, 4, 0, -126], [0, 0, 4, -72], [0, 0, 0, 1]])
    ijk = np.indices((46, 55, 46)).reshape(3, -1).T
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    data = np.zeros(len(xyz))
    for centre, height in (((40, -20, 50), 0.02), ((-30, 20, 0), 0.012)):
        data += height * np.exp(-np.sum((xyz - centre) ** 2, axis=1) / (2 * 8.0 ** 2))
    return nib.Nifti1Image(data.reshape(46, 55, 46).astype(np.float32), affine)


@pytest.mark.parametrize("n_studies", [8, 300])
def test_overlay_figure_matches_baseline(n_studies, tmp_path):
    """A few foci keep their study colours; many become small translucent points over the map."""
    coords = _synthetic_coordinates(n_studies)
    ids = list(dict.fromkeys(coords["study_id"]))
    fig = F.plot_overlay(_synthetic_ale_image(), coords, ids, dict(zip(ids, F.study_colors(len(ids)))), 0.0001,
                         "viridis", "ALE with coordinates")
    _compare_to_baseline(fig, f"overlay_{n_studies}.png", tmp_path)


def test_overlay_colour_bar_is_labelled_with_distinct_ticks():
    fig = F.plot_overlay(_synthetic_ale_image(), _synthetic_coordinates(3), ["study-000", "study-001", "study-002"],
                         dict(zip(["study-000", "study-001", "study-002"], F.study_colors(3))), 0.0001, "viridis",
                         "t")
    (cbar_ax,) = [ax for ax in fig.axes if ax.get_ylabel() == "ALE"]
    labels = [t.get_text() for t in cbar_ax.get_yticklabels()]
    assert labels[0] == "0" and len(set(labels)) == len(labels) >= 3, labels
    assert "0.0001" not in labels


def test_tick_labels_use_the_fewest_decimals_that_tell_ticks_apart():
    assert F.tick_labels([0.0, 0.01, 0.02]) == ["0", "0.01", "0.02"]
    assert F.tick_labels([0.0, 0.005, 0.01, 0.015]) == ["0", "0.005", "0.010", "0.015"]
    assert F.tick_labels([0.0, 0.5, 1.0]) == ["0", "0.5", "1.0"]


def test_foci_are_drawn_smaller_and_fainter_as_they_grow():
    few, some, many = (F.foci_style(n, over_map=False) for n in (100, 1000, 9000))
    assert few["s"] > some["s"] > many["s"] and few["alpha"] > some["alpha"] > many["alpha"]
    assert F.foci_coloured_by_study_over_map(100, 8)
    assert not F.foci_coloured_by_study_over_map(9000, 300)


def _bars(fig):
    ax = fig.axes[0]
    return ax, [p for p in ax.patches if p.get_width() > 0]


def test_jackknife_plot_sorted_scaled_to_the_data_with_the_dominance_line():
    means = [0.01, 0.02, 0.015, 0.012, 0.011, 0.009, 0.013, 0.014]
    fig = F.plot_jackknife_means(_jackknife(means), dominance_ratio=2, dominance_min=0.25)
    ax, bars = _bars(fig)
    widths = [b.get_width() for b in sorted(bars, key=lambda b: b.get_y())]
    assert widths == sorted(means, reverse=True)
    assert ax.get_xlim()[1] < 0.05  # scaled to the largest bar (0.02), not 0..1
    assert "0 to 0.025" in ax.get_xlabel()
    # The cut-off (0.25) lies far beyond this axis: it is named, not drawn.
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "dominance cut-off 0.25" in texts and "beyond this axis" in texts


def test_jackknife_plot_marks_a_dominant_experiment():
    means = [0.05, 0.06, 0.40, 0.07, 0.15, 0.05, 0.08, 0.04]
    fig = F.plot_jackknife_means(_jackknife(means), dominance_ratio=2, dominance_min=0.25)
    ax, bars = _bars(fig)
    cutoff = max(2 * float(np.median(means)), 0.25)
    assert any(abs(line.get_xdata()[0] - cutoff) < 1e-12 for line in ax.lines)
    red = [b for b in bars if b.get_facecolor()[:3] != bars[-1].get_facecolor()[:3]]
    assert [b.get_width() for b in red] == [0.40]
    assert ax.get_yticklabels()[0].get_text() == "study-2"


def test_jackknife_plot_at_906_experiments_shows_the_largest_and_summarises_the_rest():
    rng = np.random.default_rng(1)
    means = list(rng.uniform(0, 0.02, 906))
    table = _jackknife(means)
    table["id"] = [f"a-very-long-study-name-{i:04d}-with-analysis-$x_{{{i}}}$-contrast" for i in range(906)]
    fig = F.plot_jackknife_means(table, 2, 0.25)
    ax, bars = _bars(fig)
    assert len(bars) == F.JACKKNIFE_TOP
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # Wrapped, never cut: every line is short and the lines put together give the whole id.
    from ale_app.present.cluster_figures import WRAP_CHARS

    ranked = F.sort_jackknife(table)
    assert labels[0].startswith("1. ")
    assert all(len(line) <= WRAP_CHARS for lab in labels for line in lab.split("\n"))
    for rank, lab in enumerate(labels, start=1):
        assert lab.replace("\n", "").replace(" ", "") == f"{rank}.{ranked['id'].iloc[rank - 1]}".replace(" ", "")
    assert any("876 more experiments" in t.get_text() for t in ax.texts)
    fig.canvas.draw()  # ids with "$" are not parsed as mathtext
    assert fig.get_layout_engine() is not None


def test_jackknife_plot_matches_baseline(tmp_path):
    fig = F.plot_jackknife_means(_jackknife([0.05, 0.06, 0.40, 0.07, 0.15, 0.05, 0.08, 0.04]), 2, 0.25)
    _compare_to_baseline(fig, "jackknife_8.png", tmp_path)


def test_report_tables_have_readable_headings_and_a_bounded_jackknife(tmp_path):
    rng = np.random.default_rng(2)
    r = _inputs(_jackknife(list(rng.uniform(0, 0.02, 906))), n_experiments=906)
    page = R.report_html(r, {})
    for raw in ("cluster_id", "size_mm3", "<th>ale</th>", "cluster_1"):
        assert raw not in page, raw
    for heading in ("Volume (mm\u00b3)", "ALE value", "x (mm)", "Experiment left out", "<th>D1</th>", "Mean"):
        assert heading in page, heading
    jk = page[page.index("Jackknife contributions"):]
    assert jk.count("<tr><td>") + jk.count('<tr class="dominant"><td>') == F.JACKKNIFE_TOP
    assert "876 more experiments" in jk
    assert '<a href="desc-jackknife_table.tsv">' in jk
    ranks = [int(x.split("</td>")[0]) for x in jk.split("<tr><td>")[1:]]
    assert ranks == list(range(1, F.JACKKNIFE_TOP + 1))


def test_report_shows_one_colour_key(tmp_path):
    small = _inputs(_jackknife([0.1] * 8))
    small.study_colors = dict(zip([f"s{i}" for i in range(8)], F.study_colors(8)))
    figure = tmp_path / "coordinates.png"
    figure.write_bytes(b"\x89PNG not really")
    # The coordinate figure's legend is the key; without that figure, the report has it.
    assert "Colour key" not in R.report_html(small, {"evidence": [("Coordinates", figure)]})
    assert R.report_html(small, {}).count("Colour key") == 1
    # Beyond MAX_STUDY_COLOURS studies the figure draws every focus in one colour: no key at all.
    big = _inputs(_jackknife([0.1] * 300), n_experiments=300)
    big.study_colors = dict(zip([f"s{i}" for i in range(300)], F.study_colors(300)))
    assert R.report_html(big, {}).count("Colour key") == 0


def test_coordinate_figure_colours_studies_only_while_they_can_be_told_apart():
    from matplotlib.collections import PathCollection

    for n, coloured in ((F.MAX_STUDY_COLOURS, True), (F.MAX_STUDY_COLOURS + 1, False)):
        coords = _synthetic_coordinates(n)
        ids = list(dict.fromkeys(coords["study_id"]))
        fig = F.plot_coordinates(coords, ids, dict(zip(ids, F.study_colors(len(ids)))), "t")
        markers = [c for c in fig.findobj(PathCollection) if len(c.get_offsets()) > 1]
        colours = {tuple(np.round(rgba[:3], 3)) for c in markers for rgba in c.get_facecolors()}
        assert len(colours) == (n if coloured else 1), (n, len(colours))
        assert bool(fig.legends) == coloured
