"""Words a paper can use: every sentence of the paragraph checked against the tables and maps
it summarises, on generated evidence bases (seeded, :mod:`tests.generate`'s helpers) where
one experiment carries a cluster, where the Monte Carlo floor is hit and where a cluster's
FWE p equals alpha.

The reference numbers are recomputed here from the written files (the ALE map, the Monte
Carlo null, the jackknife table), never typed in.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402

from ale_app.cli import main  # noqa: E402
from ale_app.outputs import registry as O  # noqa: E402
from ale_app.present import report as R  # noqa: E402


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
        if top >= R.RESTS_ON:
            one.append(name)
            assert f"{name}: {who} {top:.2f}" in text
        elif top + second >= R.RESTS_ON:
            two.append(name)
    assert one, "the generated base should have a cluster that rests on one experiment"
    assert any(jk.loc[jk[c].astype(float).idxmax(), "id"] == "study05-c1" for c in columns
               if jk[c].max() >= R.RESTS_ON)
    k = len(columns)
    assert f"{len(one)} of the {k} descriptive clusters rest{'s' if len(one) == 1 else ''} on one experiment" in text
    if two:
        assert f"{len(two)} rest{'s' if len(two) == 1 else ''} on two" in text
    assert "No single experiment dominates" not in text
    assert "at least 50%" in text and "Eickhoff et al. (2016)" in text
    # The report's cluster table says the same per cluster, and the heatmap was drawn.
    page = (carried / O.REPORT).read_text()
    assert page.count("one: study05-c1") == sum(
        1 for c in columns if jk.loc[jk[c].astype(float).idxmax(), "id"] == "study05-c1" and jk[c].max() >= R.RESTS_ON)
    assert (carried / f"{O.FIG_DEPENDENCE}.png").stat().st_size > 0
    for phrase in R.FORBIDDEN_PHRASES:
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
    assert "fewer than the 17 that Eickhoff et al. (2016) found ALE needs" in text
    assert "lowered to 5" in text
    assert "Only 200 Monte Carlo iterations were run, fewer than 5,000" in text
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
