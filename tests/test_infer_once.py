"""The inferential mode fits ALE once and keeps one cluster table (issue #20, item 4).

The Monte Carlo FWE takes the descriptive fit (its MA maps and NiMARE estimator) and adds
NiMARE's analytic null to it, through the adapter, instead of running ``ALE.fit`` again;
the FWE cluster table describes the clusters the FWE labelling made, under its numbers.
The oracle comparisons with NiMARE are in test_inference.py and test_inferential.py.
"""

from __future__ import annotations

import os
import warnings

import nibabel as nib
import numpy as np
import pytest

from ale_app.spec.models import ALESpec
from ale_app.stats import ale as A
from ale_app.stats import montecarlo as I
from ale_app.stats import nimare_adapter as NA
from ale_app.stats.fwe_clusters import fwe_clusters


@pytest.fixture(scope="module")
def pain():
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    return Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"), target="mni152_2mm")


@pytest.fixture(scope="module")
def fit(pain):
    return A.fit_ale(pain, ALESpec())


@pytest.fixture(scope="module")
def inference(fit):
    return I.montecarlo_fwe(fit=fit, n_iterations=100, seed=3)


def test_analytic_null_of_the_fit_equals_nimares_fit(pain, fit):
    """stat, p and z from the fit's MA maps are NiMARE's ALE.fit maps, bit for bit; the
    seeded estimator turns p into ALE and draws as ALE(random_state=seed).fit leaves it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        estimator = NA.seeded_estimator(fit.estimator, 4)
        stat, p, z = NA.analytic_null(estimator, fit.ma)
        threshold = NA.p_to_summarystat(estimator, 0.001)
        draws = NA.montecarlo_rng(estimator).integers(1 << 30, size=8)
    reference_estimator, reference = NA.fit_ale_estimator(pain, seed=4)
    for name, ours in (("stat", stat), ("p", p), ("z", z)):
        theirs = reference.get_map(name, return_type="array")
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), name
    assert np.array_equal(stat, fit.stat_values)
    assert threshold == NA.p_to_summarystat(reference_estimator, 0.001)
    assert np.array_equal(draws, NA.montecarlo_rng(reference_estimator).integers(1 << 30, size=8))
    # The fit's own estimator is left as it was.
    assert fit.estimator.random_state is None and "ma_maps" not in fit.estimator.inputs_


def test_inference_does_not_fit_ale_again(fit, monkeypatch):
    from nimare.meta.cbma.ale import ALE

    kernel_type = type(fit.estimator.kernel_transformer)
    calls = []
    transform = kernel_type.transform

    def counted(self, *args, **kwargs):
        calls.append(1)
        return transform(self, *args, **kwargs)

    monkeypatch.setattr(ALE, "fit", lambda *a, **k: pytest.fail("ALE.fit ran again"))
    monkeypatch.setattr(kernel_type, "transform", counted)
    ours = I.montecarlo_fwe(fit=fit, n_iterations=20, seed=3)
    assert calls == []
    assert ours.ids == fit.ids and ours.masker is fit.masker
    with pytest.raises(TypeError):
        I.montecarlo_fwe(fit=fit, kernel_fwhm=10.0, n_iterations=20)


def test_fwe_table_describes_the_inference_clusters_under_their_numbers(fit, inference):
    clusters = fwe_clusters(inference, fit.stat_img)
    labels = np.asarray(inference.label_img.dataobj)
    assert len(inference.clusters) > 1
    assert np.array_equal(np.asarray(clusters.label_img.dataobj), labels)
    mains = clusters.table[clusters.table["peak"] == "main"]
    assert mains["cluster_id"].tolist() == inference.clusters["cluster_id"].tolist() == clusters.labels
    assert mains["size_voxels"].tolist() == inference.clusters["size_voxels"].tolist()
    assert mains["p_fwe"].tolist() == inference.clusters["p_fwe_size"].tolist()
    # Numbered by descending peak ALE; each main peak is its cluster's largest value.
    assert (np.diff(inference.clusters["peak_ale"].to_numpy()) <= 0).all()
    assert np.allclose(mains["ale"].to_numpy(float), inference.clusters["peak_ale"].to_numpy(float), atol=0)
    for row in clusters.table.itertuples():
        ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(fit.stat_img.affine), [row.x, row.y, row.z]))
        assert labels[tuple(ijk.astype(int))] == row.cluster_id


def test_fwe_table_equals_nilearns_labelling_of_the_passing_voxels(fit, inference):
    """The former route (nilearn labelling the passing voxels again) gives the same table
    and label image on this input: same clusters, numbers, peaks and sub-peaks."""
    passing = np.asarray(inference.label_img.dataobj) > 0
    stat = np.asarray(fit.stat_img.get_fdata(dtype=np.float32), dtype=np.float32)
    masked = nib.Nifti1Image(np.where(passing, stat, 0).astype(np.float32), fit.stat_img.affine)
    masked.header.set_data_dtype(np.float32)
    found = A.find_clusters(masked, inference.cluster_forming_threshold, 0)
    clusters = fwe_clusters(inference, fit.stat_img)
    assert np.array_equal(np.asarray(found.label_img.dataobj), np.asarray(clusters.label_img.dataobj))
    columns = list(found.table.columns)
    assert clusters.table[columns].reset_index(drop=True).equals(found.table.reset_index(drop=True))
