"""ale-app's numbers against NiMARE run here, on the documented example."""

from __future__ import annotations

import json
import os
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from ale_app.outputs import folder as D
from ale_app.outputs import registry as O


@pytest.fixture(scope="session")
def nimare_reference():
    """NiMARE's walkthrough, computed in the test: ALE, threshold, peak, Jackknife."""
    from nibabel.affines import apply_affine
    from nimare.diagnostics import Jackknife
    from nimare.meta.cbma.ale import ALE
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        studyset = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"), target="mni152_2mm")
        subset = studyset.slice(studyset.ids[:8])
        result = ALE().fit(subset)
        stat_values = result.get_map("stat", return_type="array")
        threshold = np.percentile(stat_values[stat_values > 0], 95)
        stat_img = result.get_map("stat")
        data = stat_img.get_fdata()
        peak_ijk = np.unravel_index(np.nanargmax(data), data.shape)
        jackknife = Jackknife(target_image="stat", voxel_thresh=threshold, cluster_threshold=500, n_cores=1)
        diag = jackknife.transform(result)
    return {
        "data": np.asarray(stat_img.dataobj, dtype=np.float64),
        "masker": result.estimator.masker,
        "threshold": float(threshold),
        "peak_value": float(data[peak_ijk]),
        "peak_xyz": [float(v) for v in apply_affine(stat_img.affine, peak_ijk)],
        "clusters": diag.tables["stat_tab-clust"],
        "jackknife": diag.tables["stat_diag-Jackknife_tab-counts_tail-positive"],
        "labels": np.asarray(diag.maps["label_tail-positive"]),
    }


def test_written_map_equals_nimare(run_jobs1, nimare_reference):
    img = nib.load(run_jobs1 / O.STATMAP)
    assert img.header.get_data_dtype() == np.float32
    written = np.asarray(img.dataobj, dtype=np.float64)
    diff = np.max(np.abs(written - nimare_reference["data"]))
    print(f"max |ALE(ale-app) - ALE(NiMARE)| = {diff:.3g}")
    assert diff <= 1e-7


def test_threshold_and_peak_equal_nimare(run_jobs1, nimare_reference):
    sidecar = json.loads((run_jobs1 / D.sidecar_name(O.STATMAP)).read_text())
    assert sidecar["DisplayThreshold"] == pytest.approx(nimare_reference["threshold"], rel=0, abs=1e-12)
    assert sidecar["ThresholdIsStatistical"] is False
    assert sidecar["Inferential"] is False
    assert sidecar["PeakValue"] == pytest.approx(nimare_reference["peak_value"], rel=0, abs=1e-9)
    assert sidecar["PeakMNI"] == nimare_reference["peak_xyz"]


def test_clusters_equal_nimare(run_jobs1, nimare_reference):
    ours = pd.read_csv(run_jobs1 / O.CLUSTER_TABLE, sep="\t")
    ref = nimare_reference["clusters"]
    assert len(ours) == len(ref)
    np.testing.assert_allclose(ours[["x", "y", "z"]].to_numpy(float), ref[["X", "Y", "Z"]].to_numpy(float))
    np.testing.assert_allclose(ours["ale"].to_numpy(float), ref["Peak Stat"].to_numpy(float), rtol=0, atol=1e-8)
    main_ours = ours[ours["peak"] == "main"]
    main_ref = ref[ref["Cluster Size (mm3)"].astype(str) != ""]
    assert main_ours["size_mm3"].astype(int).tolist() == main_ref["Cluster Size (mm3)"].astype(int).tolist()
    assert [f"PositiveTail {c}" for c in main_ours["cluster_id"]] == main_ref["Cluster ID"].tolist()

    labels = nimare_reference["masker"].transform(nib.load(run_jobs1 / O.CLUSTER_MAP)).ravel()
    np.testing.assert_array_equal(np.rint(labels), np.rint(nimare_reference["labels"]))


def _assert_jackknife_equals_nimare(folder, nimare_reference):
    ours = pd.read_csv(folder / O.JACKKNIFE_TABLE, sep="\t")
    ref = nimare_reference["jackknife"]
    ref_cols = [c for c in ref.columns if c != "id"]
    assert list(ours.columns) == ["id"] + [f"cluster_{c.split()[-1]}" for c in ref_cols] + ["mean"]
    assert ours["id"].tolist() == ref["id"].tolist()
    ours_values = ours[[f"cluster_{c.split()[-1]}" for c in ref_cols]].to_numpy(float)
    ref_values = ref[ref_cols].to_numpy(float)
    diff = np.max(np.abs(ours_values - ref_values))
    print(f"max |jackknife(ale-app) - jackknife(NiMARE)| = {diff:.3g}")
    assert diff <= 1e-6
    np.testing.assert_allclose(ours["mean"].to_numpy(float), ref_values.mean(axis=1), rtol=0, atol=1e-6)


def test_jackknife_equals_nimare(run_jobs1, nimare_reference):
    _assert_jackknife_equals_nimare(run_jobs1, nimare_reference)


@pytest.mark.slow
def test_refit_jackknife_with_1_and_2_jobs_equals_nimare(refit_jobs1, refit_jobs2, run_jobs1, nimare_reference):
    """The refit path end to end (the one that runs on --n-jobs workers): the same bytes
    with one and two jobs, NiMARE's table, and the closed form's map and clusters."""
    for folder in (refit_jobs1, refit_jobs2):
        _assert_jackknife_equals_nimare(folder, nimare_reference)
    for name in (O.STATMAP, O.CLUSTER_MAP, O.CLUSTER_TABLE, O.JACKKNIFE_TABLE, O.COORDINATES):
        assert (refit_jobs1 / name).read_bytes() == (refit_jobs2 / name).read_bytes(), name
    for name in (O.STATMAP, O.CLUSTER_MAP, O.CLUSTER_TABLE, O.COORDINATES):
        assert (refit_jobs1 / name).read_bytes() == (run_jobs1 / name).read_bytes(), name
