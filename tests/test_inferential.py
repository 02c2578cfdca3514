"""Inferential mode end to end through the command line, against NiMARE run in the test:
the maps and the Monte Carlo null ale-app writes equal NiMARE's ALE(random_state=seed) +
FWECorrector(method="montecarlo"), the outputs do not depend on --n-jobs, and the words
say what was tested."""

from __future__ import annotations

import json
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from helpers.reports import html_rows

from ale_app.outputs import registry as O
from ale_app.cli import main

SEED = 1
ITERATIONS = 200

SPEC = f"""\
spec_version: 1
title: Pain, inferential ALE on all 21 analyses
mode: inferential
input:
  path: nimare:nidm_pain_studyset.json
inference:
  n_iterations: {ITERATIONS}
  seed: {SEED}
figures:
  formats: [png]
  dpi: 50
"""

INFERENTIAL_FILES = (O.STAT_Z, O.STAT_P, O.LOGP_CLUSTER_FWE, O.LOGP_VOXEL_FWE, O.FWE_CLUSTER_MAP,
                     O.FWE_CLUSTER_TABLE, O.FWE_JACKKNIFE_TABLE, O.FWE_FOCUS_COUNTS, O.MCNULL_TABLE)


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inferential") / "spec.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def run_1(spec_file):
    out = spec_file.parent / "jobs1"
    assert main([str(spec_file), str(out), "--n-jobs", "1", "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def nimare_fwe():
    from nimare.correct import FWECorrector
    from nimare.meta.cbma.ale import ALE
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    studyset = Studyset(f"{get_resource_path()}/nidm_pain_studyset.json", target="mni152_2mm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = ALE(random_state=SEED).fit(studyset)
        corrected = FWECorrector(method="montecarlo", voxel_thresh=0.001, n_iters=ITERATIONS,
                                 n_cores=1).transform(result)
    return corrected


def _values(folder, name, masker):
    return masker.transform(nib.load(folder / name)).ravel()


@pytest.mark.slow
def test_maps_and_null_equal_nimare(run_1, nimare_fwe):
    masker = nimare_fwe.estimator.masker
    pairs = {O.STAT_Z: "z", O.STAT_P: "p",
             O.LOGP_CLUSTER_FWE: "logp_desc-size_level-cluster_corr-FWE_method-montecarlo",
             O.LOGP_VOXEL_FWE: "logp_level-voxel_corr-FWE_method-montecarlo"}
    for ours, theirs in pairs.items():
        reference = np.asarray(nimare_fwe.get_map(theirs, return_type="array"), dtype=float)
        assert np.max(np.abs(_values(run_1, ours, masker) - reference)) < 1e-6, ours
    null = pd.read_csv(run_1 / O.MCNULL_TABLE, sep="\t")
    assert list(null.columns) == ["iteration", "max_ale", "max_cluster_size_voxels", "max_cluster_mass"]
    assert len(null) == ITERATIONS
    dists = nimare_fwe.estimator.null_distributions_
    for column, key in (("max_ale", "values_level-voxel_corr-fwe_method-montecarlo"),
                        ("max_cluster_size_voxels", "values_desc-size_level-cluster_corr-fwe_method-montecarlo"),
                        ("max_cluster_mass", "values_desc-mass_level-cluster_corr-fwe_method-montecarlo")):
        assert np.max(np.abs(null[column].to_numpy(float) - np.asarray(dists[key], dtype=float))) < 1e-6, column


@pytest.mark.slow
def test_fwe_clusters_agree_with_the_cluster_fwe_map(run_1, nimare_fwe):
    """The FWE cluster map holds exactly the voxels whose cluster passed at alpha 0.05 in
    NiMARE's cluster-level FWE map, and the table's p values are those of that map."""
    masker = nimare_fwe.estimator.masker
    logp = np.asarray(nimare_fwe.get_map("logp_desc-size_level-cluster_corr-FWE_method-montecarlo",
                                         return_type="array"), dtype=float)
    labels = np.rint(_values(run_1, O.FWE_CLUSTER_MAP, masker)).astype(int)
    np.testing.assert_array_equal(labels > 0, logp > -np.log10(0.05))
    table = pd.read_csv(run_1 / O.FWE_CLUSTER_TABLE, sep="\t")
    mains = table[table["peak"] == "main"]
    assert sorted(mains["cluster_id"]) == sorted(set(labels[labels > 0]))
    for row in mains.itertuples():
        inside = logp[labels == row.cluster_id]
        assert np.allclose(inside, -np.log10(row.p_fwe), atol=1e-6)
        assert row.size_voxels == np.count_nonzero(labels == row.cluster_id)
        assert row.p_fwe_se == pytest.approx(np.sqrt(row.p_fwe * (1 - row.p_fwe) / ITERATIONS))
        assert isinstance(row.region, str) and row.region
    counts = pd.read_csv(run_1 / O.FWE_FOCUS_COUNTS, sep="\t")
    assert len(counts) == 21 and counts["total"].sum() > 0
    jk = pd.read_csv(run_1 / O.FWE_JACKKNIFE_TABLE, sep="\t")
    assert list(jk.columns) == ["id", *[f"cluster_{c}" for c in sorted(mains["cluster_id"])], "mean"]


def test_sidecars_provenance_and_words(run_1):
    for name in INFERENTIAL_FILES:
        sidecar = json.loads((run_1 / name.replace(".nii.gz", ".json").replace(".tsv", ".json")).read_text())
        assert sidecar["Inferential"] is True and sidecar["RandomSeed"] == SEED, name
        assert sidecar["Iterations"] == ITERATIONS and sidecar["ClusterFormingP"] == 0.001, name
    statmap = json.loads((run_1 / O.STATMAP.replace(".nii.gz", ".json")).read_text())
    assert statmap["Inferential"] is False  # the raw ALE map stays descriptive
    provenance = json.loads((run_1 / O.PROVENANCE).read_text())
    assert provenance["RandomSeed"] == SEED and provenance["Mode"] == "inferential"
    spec = json.loads((run_1 / O.SPEC_JSON).read_text())
    assert spec["mode"] == "inferential" and spec["inference"]["seed"] == SEED
    # The pain studyset converges: clusters pass cluster-level FWE. Counted in the FWE
    # cluster map (which test_fwe_clusters_agree_with_the_cluster_fwe_map ties to NiMARE's
    # cluster-level FWE map), and one 'main' row of the table each.
    labels = np.asarray(nib.load(run_1 / O.FWE_CLUSTER_MAP).dataobj)
    n = len(np.unique(labels[labels > 0]))
    table = pd.read_csv(run_1 / O.FWE_CLUSTER_TABLE, sep="\t")
    assert int((table["peak"] == "main").sum()) == n >= 1
    citation = (run_1 / O.CITATION).read_text()
    report = (run_1 / O.REPORT).read_text()
    for text in (citation, report):
        assert "Inference was declared before the run" in text and f"{ITERATIONS:,} Monte Carlo iterations" in text
        assert f"seed {SEED}" in text
        assert f"{n} cluster{'s' if n != 1 else ''} showed significant convergence" in text
        assert "No cluster passed cluster-level FWE" not in text
    assert "an uncorrected p < 0.001" in citation
    assert "an uncorrected p &lt; 0.001" in report  # HTML-escaped
    assert "voxelwise inference would not be reliable" not in citation


def test_reviewer_row_and_checklist_match_the_tables(run_1):
    """Each FWE cluster's one-row summary in the report says what the written tables hold: the
    cluster table's volume, peak and region, the number of experiments with foci in it and
    their counts (most first), and the largest share of the FWE jackknife with its experiment;
    the Müller et al. (2018) checklist states the spec's and the evidence's values."""
    page = (run_1 / O.REPORT).read_text()
    rows = html_rows(page, "<h3>Each FWE cluster in one row</h3>")
    table = pd.read_csv(run_1 / O.FWE_CLUSTER_TABLE, sep="\t")
    main_rows = table[table["peak"] == "main"]
    counts = pd.read_csv(run_1 / O.FWE_FOCUS_COUNTS, sep="\t")
    jackknife = pd.read_csv(run_1 / O.FWE_JACKKNIFE_TABLE, sep="\t")
    coordinates = pd.read_csv(run_1 / "coordinates.tsv", sep="\t")
    n_experiments = coordinates["analysis_id"].nunique()
    assert len(rows) == len(main_rows) >= 1
    for row, cluster in zip(rows, main_rows.itertuples()):
        column = f"cluster_{cluster.cluster_id}"
        assert row[0] == f"F{cluster.cluster_id}" and row[1] == str(int(cluster.size_mm3))
        assert row[2] == f"{cluster.x:.0f}, {cluster.y:.0f}, {cluster.z:.0f}" and row[3] == cluster.region
        with_foci = counts[counts[column] > 0].sort_values(column, ascending=False, kind="stable")
        assert row[5] == f"{len(with_foci)} of {n_experiments}"
        named = [f"{i} ({k})" for i, k in zip(with_foci["id"], with_foci[column])][:5]
        assert row[6].startswith(", ".join(named))
        if len(with_foci) > 5:
            assert row[6].endswith(f"and {len(with_foci) - 5} more")
        top = jackknife.loc[jackknife[column].idxmax()]
        assert row[7] == f"{top[column]:.2f} ({top['id']})"
    checklist = {item: value for _, item, value in html_rows(page, "<h2>Reporting checklist")}
    assert len(counts) == n_experiments
    assert checklist["Experiments"].startswith(f"{n_experiments} experiments")
    assert checklist["Foci"] == f"{len(coordinates):,}"
    assert checklist["Monte Carlo iterations and seed"] == f"{ITERATIONS:,} iterations, seed {SEED}"
    assert checklist["Threshold"] == "cluster-level FWE, alpha 0.05, cluster-forming p < 0.001"
    assert checklist["Clusters that passed"] == str(len(main_rows))
    provenance = json.loads((run_1 / O.PROVENANCE).read_text())
    assert f"nimare {provenance['Software']['nimare']}" in checklist["Software and versions"]


@pytest.mark.slow
def test_two_jobs_write_identical_files(spec_file, run_1):
    out = spec_file.parent / "jobs2"
    assert main([str(spec_file), str(out), "--n-jobs", "2", "-q"]) == 0
    names = json.loads((run_1 / O.PROVENANCE).read_text())["Outputs"]
    assert set(names) == set(json.loads((out / O.PROVENANCE).read_text())["Outputs"])
    for name in names:
        assert (run_1 / name).read_bytes() == (out / name).read_bytes(), name


def test_matches_golden(run_1):
    """The run's files are byte-identical to tests/golden/v1-inferential.json (conftest)."""
    from conftest import assert_matches_golden

    assert_matches_golden(run_1, "v1-inferential")
