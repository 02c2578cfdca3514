"""Words a paper can use: every sentence of the paragraph checked against the tables and maps
it summarises, on generated evidence bases (seeded, :mod:`tests.generate`'s helpers) where
one experiment carries a cluster, where the Monte Carlo floor is hit and where a cluster's
FWE p equals alpha.

The reference numbers are recomputed here from the written files (the ALE map, the Monte
Carlo null, the jackknife table), never typed in.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import generate
from conftest import assert_drawn_png

from ale_app.cli import main
from ale_app.outputs import registry as O
from ale_app.present import dependence as D
from ale_app.present import interpretation_words as W


@pytest.fixture(scope="module")
def brain():
    return generate.template_mask()


def _write(folder: Path, experiments: list[np.ndarray], options: dict) -> Path:
    rows = []
    for e, pts in enumerate(experiments):
        for x, y, z in np.asarray(pts, dtype=int):
            rows.append({"study_id": f"study{e:02d}", "analysis_id": "c1", "x": int(x), "y": int(y), "z": int(z),
                         "space": "MNI", "sample_size": 20})
    case = generate.Case(index=0, seed=0, kind="generated", n_experiments=len(experiments), space="MNI", rows=rows,
                         spec_options={"figures": {"formats": ["png"], "dpi": 50}, **options})
    return generate.write_case(case, folder)


def _interpretation(out: Path) -> str:
    text = (out / O.CITATION).read_text()
    return text.split("## Interpretation\n\n", 1)[1].split("\n\n## ", 1)[0]


def _core_points(brain, rng, n):
    mask, affine = brain
    return generate._in_mask_points(rng, np.argwhere(generate._erode(mask, 6)), affine, n)


# --------------------------------------------------------------------------- one experiment carries a cluster


@pytest.fixture(scope="module")
def carried(tmp_path_factory, brain):
    """Six experiments: five report foci around one place; one of them (study05) also reports
    three foci at a place of its own, so one cluster rests on it alone."""
    mask, affine = brain
    rng = np.random.default_rng(22)
    shared, alone = _core_points(brain, rng, 2)
    experiments = [generate._keep_in_brain(rng, generate._near(rng, shared, 4, 3), mask, np.argwhere(mask), affine)
                   for _ in range(5)]
    experiments.append(np.vstack([generate._near(rng, alone, 2, 3), generate._near(rng, shared, 4, 1)]))
    folder = tmp_path_factory.mktemp("carried")
    spec = _write(folder, experiments, {"jackknife": {"cluster_threshold_mm3": 100}})
    out = folder / "out"
    assert main([str(spec), str(out), "-q", "--n-jobs", "1"]) == 0
    return out


def test_paragraph_names_every_cluster_that_rests_on_one_experiment(carried):
    jk = pd.read_csv(carried / O.JACKKNIFE_TABLE, sep="\t")
    columns = [c for c in jk.columns if c.startswith("cluster_")]
    text = _interpretation(carried)
    one, two = [], []
    for column in columns:
        order = jk[column].astype(float).sort_values(ascending=False, kind="stable")
        top, second = order.iloc[0], order.iloc[1]
        who = jk.loc[order.index[0], "id"]
        name = f"D{column.split('_')[1]}"
        if top >= D.RESTS_ON:
            one.append(name)
            assert f"{name}: {who} {top:.2f}" in text
        elif top + second >= D.RESTS_ON:
            two.append(name)
    assert one, "the generated base should have a cluster that rests on one experiment"
    assert any(jk.loc[jk[c].astype(float).idxmax(), "id"] == "study05-c1" for c in columns
               if jk[c].max() >= D.RESTS_ON)
    k = len(columns)
    assert f"{len(one)} of the {k} descriptive clusters rest{'s' if len(one) == 1 else ''} on one experiment" in text
    if two:
        assert f"{len(two)} rest{'s' if len(two) == 1 else ''} on two" in text
    assert "No single experiment dominates" not in text
    assert "at least 50%" in text and "Eickhoff et al. (2016)" in text
    # The report's cluster table says the same per cluster, and the heatmap was drawn.
    page = (carried / O.REPORT).read_text()
    assert page.count("one: study05-c1") == sum(
        1 for c in columns if jk.loc[jk[c].astype(float).idxmax(), "id"] == "study05-c1" and jk[c].max() >= D.RESTS_ON)
    assert_drawn_png(carried / f"{O.FIG_DEPENDENCE}.png")
    for phrase in W.FORBIDDEN_PHRASES:
        assert phrase not in text.lower(), phrase


def test_methods_state_the_kernel_that_ran(carried):
    from nimare.meta.utils import get_ale_kernel
    from nimare.utils import get_template

    methods = (carried / O.CITATION).read_text().split("## Methods\n\n", 1)[1].split("\n\n## ", 1)[0]
    template = get_template("mni152_2mm", mask="brain")
    sigma_vox, _ = get_ale_kernel(template, sample_size=20)
    # NiMARE's sigma in voxels back to the FWHM in mm it came from.
    fwhm = sigma_vox * 2.0 * math.sqrt(2.0 * math.log(2.0)) / math.sqrt(2.0) * math.sqrt(
        np.prod(template.header.get_zooms()))
    assert f"20 to 20 subjects (median 20) gave FWHMs of {fwhm:.2f} to {fwhm:.2f} mm" in methods


# --------------------------------------------------------------------------- the Monte Carlo floor and alpha


def _inferential_base(brain):
    """Six experiments: all report foci at one place (a strong cluster), three at a second
    place, two at a third, and each a few foci scattered over the brain."""
    mask, affine = brain
    rng = np.random.default_rng(7)
    centres = _core_points(brain, rng, 3)
    mask_ijk = np.argwhere(generate._erode(mask, 3))
    experiments = []
    for e in range(6):
        pts = [generate._near(rng, centres[0], 3, 2)]
        if e < 3:
            pts.append(generate._near(rng, centres[1], 3, 2))
        if e < 2:
            pts.append(generate._near(rng, centres[2], 3, 1))
        pts.append(generate._in_mask_points(rng, mask_ijk, affine, 4))
        experiments.append(np.vstack(pts))
    return experiments


def _run_inferential(folder: Path, experiments, alpha: float) -> Path:
    spec = _write(folder, experiments, {
        "mode": "inferential", "jackknife": {"cluster_threshold_mm3": 100},
        "inference": {"min_experiments": 5, "n_iterations": 200, "seed": 3, "fwe_alpha": alpha}})
    out = folder / "out"
    assert main([str(spec), str(out), "-q", "--n-jobs", "1"]) == 0
    return out


def _clusters_from_maps(out: Path) -> pd.DataFrame:
    """Every cluster above the cluster-forming ALE, with its size and FWE p, recomputed from
    the written ALE map, the sidecar's cluster-forming value and the written null."""
    from scipy import ndimage

    side = json.loads((out / O.LOGP_CLUSTER_FWE.replace(".nii.gz", ".json")).read_text())
    ale = np.asarray(nib.load(out / O.STATMAP).dataobj, dtype=np.float32)
    null = pd.read_csv(out / O.MCNULL_TABLE, sep="\t")["max_cluster_size_voxels"].to_numpy(dtype=float)
    labels, n = ndimage.label(ale > np.float64(side["ClusterFormingALE"]),
                              ndimage.generate_binary_structure(3, 1))
    sizes = ndimage.sum_labels(np.ones_like(ale), labels, np.arange(1, n + 1))
    p = np.array([max(1 / len(null), min(1 - 1 / len(null), float(np.mean(null >= s)))) for s in sizes])
    return pd.DataFrame({"size": sizes, "p": p, "se": np.sqrt(p * (1 - p) / len(null))})


@pytest.fixture(scope="module")
def floor_run(tmp_path_factory, brain):
    return _run_inferential(tmp_path_factory.mktemp("floor"), _inferential_base(brain), 0.05)


def test_p_at_the_floor_reads_as_an_inequality_with_the_caveats(floor_run):
    text = _interpretation(floor_run)
    table = pd.read_csv(floor_run / O.FWE_CLUSTER_TABLE, sep="\t")
    mains = table[table["peak"] == "main"]
    recomputed = _clusters_from_maps(floor_run)
    assert sorted(mains["p_fwe"]) == sorted(recomputed.loc[recomputed["p"] < 0.05, "p"])
    at_floor = mains[np.isclose(mains["p_fwe"], 1 / 200)]
    assert len(at_floor), "the strong cluster should reach the floor of 200 iterations"
    for row in at_floor.itertuples():
        segment = re.split(r"; F\d+ at |\. ", text[text.index(f"F{row.cluster_id} at "):])[0]
        assert segment.endswith("FWE-corrected p \u2264 0.005 (the smallest p 200 iterations can give)"), segment
    assert "p = 0.0050" not in text
    assert "below the 17 to 20 that Eickhoff et al. (2016) recommend" in text
    assert "only 200 Monte Carlo iterations (fewer than 5,000)" in text
    methods = (floor_run / "CITATION.md").read_text().split("## Methods\n\n", 1)[1].split("\n\n", 1)[0]
    assert "fewer than the 17 to 20 experiments that Eickhoff et al. (2016) recommend" in methods
    assert "lowered to 5" in methods and "Only 200 Monte Carlo iterations were run" in methods
    # The paragraph opens with the test; the description comes after it.
    assert text.startswith("Inference was declared") and text.index("Beside that test") > text.index("F1 at")


def test_cluster_fwe_sidecar_says_what_the_map_holds(floor_run):
    side = json.loads((floor_run / O.LOGP_CLUSTER_FWE.replace(".nii.gz", ".json")).read_text())
    logp = np.asarray(nib.load(floor_run / O.LOGP_CLUSTER_FWE).dataobj, dtype=np.float32)
    ale = np.asarray(nib.load(floor_run / O.STATMAP).dataobj, dtype=np.float32)
    mask = generate.template_mask()[0]
    outside = mask & ~(ale > np.float64(side["ClusterFormingALE"]))
    assert np.all(logp[outside] == np.float32(side["ValueOutsideClusters"]))
    assert side["ValueOutsideClusters"] == pytest.approx(-math.log10(1 - 1 / 200), rel=1e-6)
    assert "not 0" in side["Description"] and "-log10(1 - 1/200)" in side["Description"]
    assert float(logp.max()) <= side["LargestPossibleValue"] + 1e-6


def test_a_cluster_at_alpha_is_named_as_borderline(tmp_path, brain, floor_run):
    recomputed = _clusters_from_maps(floor_run)
    middle = recomputed[(recomputed["p"] > 1 / 200) & (recomputed["p"] < 0.5)].sort_values("size")
    assert len(middle), "the generated base should have a cluster with an intermediate p"
    alpha = float(middle["p"].iloc[-1])
    out = _run_inferential(tmp_path, _inferential_base(brain), alpha)
    text = _interpretation(out)
    table = pd.read_csv(out / O.FWE_CLUSTER_TABLE, sep="\t")
    mains = table[table["peak"] == "main"]
    # p must be below alpha: the cluster at alpha exactly does not pass ...
    assert sorted(mains["p_fwe"]) == sorted(recomputed.loc[recomputed["p"] < alpha, "p"])
    # ... and the paragraph names it, and every other cluster within one standard error of alpha.
    border = recomputed[(recomputed["p"] - alpha).abs() <= recomputed["se"]]
    assert len(border) >= 1
    sentence = text[text.index("Borderline"):].split(". ", 1)[0]
    assert sentence.count("(p = ") == len(border)
    for row in border.itertuples():
        assert f"p = {row.p:.4f}, standard error {row.se:.4f}" in sentence
    assert "did not pass, as p must be below alpha" in sentence


# --------------------------------------------------------------------------- one id scheme, with a key


def _nimads_with_names(brain, rng) -> dict:
    """Five experiments in three named studies (authors, journal, analysis names), all near one
    place, written by hand as NIMADS as a user's export would carry them."""
    mask, affine = brain
    centre, = _core_points(brain, rng, 1)
    studies = []
    people = ["Okafor, Ada;Lind, Bo", "Ruiz, Carmen", "T. Nakamura; S. Berg; P. Osei"]
    for s, authors in enumerate(people):
        analyses = []
        for a in range(2 if s < 2 else 1):
            pts = generate._keep_in_brain(rng, generate._near(rng, centre, 4, 4), mask, np.argwhere(mask), affine)
            analyses.append({"id": f"c{a + 1}", "name": f"Task {s}{a} > rest",
                             "points": [{"space": "MNI", "coordinates": [float(v) for v in p]} for p in pts],
                             "metadata": {"sample_sizes": [18 + s]}})
        studies.append({"id": f"st{s}", "name": f"A study of things, part {s}", "authors": authors,
                        "publication": "Journal of Made-up Results", "analyses": analyses})
    return {"id": "named", "name": "named", "studies": studies}


def test_every_id_in_tables_and_figures_is_in_the_key(tmp_path, brain):
    """Tables, the heatmap and the report name experiments by one id, ``<study>-<analysis>``;
    the report's key lists each of them once with the names the input carries."""
    rng = np.random.default_rng(5)
    (tmp_path / "named.json").write_text(json.dumps(_nimads_with_names(brain, rng)))
    (tmp_path / "spec.yaml").write_text(json.dumps({
        "spec_version": 1, "input": {"path": "named.json", "format": "nimads"},
        "jackknife": {"cluster_threshold_mm3": 100}, "figures": {"formats": ["png"], "dpi": 50}}))
    out = tmp_path / "out"
    assert main([str(tmp_path / "spec.yaml"), str(out), "-q", "--n-jobs", "1"]) == 0
    coords = pd.read_csv(out / "coordinates.tsv", sep="\t")
    ids = list(dict.fromkeys(coords["analysis_id"]))
    assert ids == ["st0-c1", "st0-c2", "st1-c1", "st1-c2", "st2-c1"]
    assert all(a.startswith(f"{s}-") for a, s in zip(coords["analysis_id"], coords["study_id"]))
    jack = pd.read_csv(out / "desc-jackknife_table.tsv", sep="\t")
    assert set(jack["id"]) == set(ids)

    page = (out / "report.html").read_text()
    key_html = page.split("<h3>Experiments and their ids</h3>", 1)[1].split("</table>", 1)[0]
    heads = [html.unescape(h) for h in re.findall(r"<th(?: [^>]*)?>(.*?)</th>", key_html)]
    rows = [[html.unescape(c) for c in re.findall(r"<td(?: [^>]*)?>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", key_html) if "<td>" in tr]
    key = pd.DataFrame(rows, columns=heads)
    assert list(key["Experiment id"]) == ids
    assert list(key["Study id"]) == [i.split("-")[0] for i in ids]
    assert list(key["First author"]) == ["Okafor, Ada et al."] * 2 + ["Ruiz, Carmen"] * 2 + ["T. Nakamura et al."]
    assert list(key["Analysis"]) == ["Task 00 > rest", "Task 01 > rest", "Task 10 > rest", "Task 11 > rest",
                                     "Task 20 > rest"]
    assert list(key["Subjects"]) == ["18", "18", "19", "19", "20"]
    assert list(key["Foci"]) == [str(int((coords["analysis_id"] == i).sum())) for i in ids]
    # Every experiment id the page names elsewhere is one of the key's.
    named = set(re.findall(r"st\d-c\d", page))
    assert named <= set(ids)


def test_cluster_names_on_a_glass_brain_do_not_overlap(brain):
    """Two FWE clusters whose peaks lie 4 mm apart: their names are moved apart in every view."""
    import matplotlib

    matplotlib.use("Agg")
    from ale_app.present.cluster_figures import plot_cluster_map

    mask, affine = brain
    labels = np.zeros(mask.shape, dtype=np.int16)
    peaks = [(40, 60, 40), (42, 60, 40), (20, 40, 30)]
    for k, (i, j, m) in enumerate(peaks, start=1):
        labels[i - 1:i + 1, j - 1:j + 2, m - 1:m + 2] = k
    xyz = nib.affines.apply_affine(affine, np.array(peaks))
    table = pd.DataFrame({"cluster_id": [1, 2, 3], "peak": ["main"] * 3, "x": xyz[:, 0], "y": xyz[:, 1],
                          "z": xyz[:, 2]})
    fig = plot_cluster_map(nib.Nifti1Image(labels, affine), table, "F", "test", None)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    checked = 0
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts if re.fullmatch(r"F\d+", t.get_text())]
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                assert not boxes[a].overlaps(boxes[b])
                checked += 1
    assert checked >= 3  # F1 and F2 share at least the coronal and axial views
    import matplotlib.pyplot as plt

    plt.close(fig)
