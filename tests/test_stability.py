"""Oracle tests: ale-app's subsampling stability equals NiMARE's ResampledStability.

NiMARE runs inside the tests (ALE + FWECorrector(montecarlo) + ResampledStability) on a small
generated evidence base with a planted cluster, with the same seed, subsets and null draws;
the maps must be equal (max |diff| 0) and must not depend on the executor.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from helpers.studysets import planted_dataset

from ale_app.process.executor import Executor

TOL = 0.0  # equal: the same float32 shares of the same subsets


def nimare_stability(dataset, *, subset_size, n_subsets, n_iterations, seed, voxel_p=0.001, alpha=0.05,
                     null_space="gm"):
    """NiMARE's own ALE + FWECorrector(montecarlo) + ResampledStability, as a masked array."""
    from nimare.correct import FWECorrector
    from nimare.diagnostics import ResampledStability
    from nimare.meta.cbma.ale import ALE

    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ALE(random_state=seed).fit(dataset)
            corrected = FWECorrector(method="montecarlo", voxel_thresh=voxel_p, n_iters=n_iterations,
                                     n_cores=1).transform(result)
            stab = ResampledStability(target_n=subset_size, n_resamples=n_subsets, random_state=seed,
                                      voxel_thresh=voxel_p, alpha=alpha, mask_coverage=null_space,
                                      n_cores=1).transform(corrected)
    finally:
        logging.disable(logging.NOTSET)
    name = [k for k in stab.maps if k.endswith("_diag-ResampledStability")][0]
    return np.asarray(stab.get_map(name, return_type="array")).ravel()


def ale_app_stability(dataset, executor=None, **kwargs):
    from ale_app.spec.models import ALESpec
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.stability import resampled_stability

    fit = fit_ale(dataset, ALESpec())
    return resampled_stability(fit, executor=executor, **kwargs)


@pytest.mark.parametrize("subset_size,n_subsets", [(15, 6), (19, None)])
def test_stability_equals_nimare(subset_size, n_subsets):
    dataset = planted_dataset()
    kwargs = dict(subset_size=subset_size, n_subsets=n_subsets, n_iterations=25, seed=3)
    expected = nimare_stability(dataset, **kwargs)
    got = ale_app_stability(dataset, **kwargs)
    assert got.frequency_values.shape == expected.shape
    assert expected.max() > 0, "the planted cluster should be stable in some subsets"
    assert np.abs(got.frequency_values - expected).max() <= TOL


def test_stability_does_not_depend_on_the_executor():
    dataset = planted_dataset()
    kwargs = dict(subset_size=16, n_subsets=5, n_iterations=30, seed=4)
    serial = ale_app_stability(dataset, **kwargs)
    threads = ale_app_stability(dataset, executor=Executor("threads", 2), **kwargs)
    assert np.array_equal(serial.frequency_values, threads.frequency_values)
    assert np.array_equal(serial.null_cluster_sizes, threads.null_cluster_sizes)
    assert serial.frequency_values.max() > 0


def test_the_ale_cut_is_where_nimare_z_crosses():
    """Every float32 ALE value above the cut passes NiMARE's z threshold, none at or below."""
    from scipy.stats import norm

    from ale_app.spec.models import ALESpec
    from ale_app.stats import nimare_adapter as NA
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.stability import ale_cut

    fit = fit_ale(planted_dataset(), ALESpec())
    z_of = NA.full_data_z(fit.estimator, fit.ma)
    cut = ale_cut(z_of, 0.001)
    just = np.array([cut], dtype=np.float32)
    above = np.nextafter(just, np.float32(1))
    z_crit = norm.ppf(1 - 0.001)
    assert not z_of(just)[0] > z_crit and z_of(above)[0] > z_crit
    values = np.linspace(0, 0.1, 20001).astype(np.float32)
    assert np.array_equal(z_of(values) > z_crit, values.astype(np.float64) > cut)


def _reference_supports(fit, result):
    """Each subset's support the plain way: its rows' ``log1p(-MA)`` summed with ``bincount``,
    ``1 - exp`` everywhere, the whole volume labelled, clusters above the null's size kept."""
    from scipy import ndimage

    from ale_app.stats import nimare_adapter as NA

    ma = fit.ma.tocsr()
    mask = NA.mask_bool(fit.estimator)
    supports = []
    for rows in result.subsets:
        sub = ma[np.asarray(rows)]
        sums = np.bincount(sub.indices, weights=np.log1p(-sub.data), minlength=ma.shape[1])
        supra = (1.0 - np.exp(sums)).astype(np.float32).astype(np.float64) > result.ale_threshold
        volume = np.zeros(mask.shape, dtype=bool)
        volume[mask] = supra
        labels, _ = ndimage.label(volume)
        sizes = np.bincount(labels.ravel())
        keep = sizes > result.cluster_size_threshold
        keep[0] = False
        supports.append(keep[labels][mask])
    return np.array(supports)


def test_subset_pass_equals_the_plain_computation():
    """The per-subset pass (one sparse product per block of subsets, exponentials only near the
    cut, labels in the bounding box) gives the map and the per-cluster table that the plain
    per-subset computation gives, serially and on two threads."""
    from ale_app.spec.models import ALESpec
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.stability import resampled_stability

    fit = fit_ale(planted_dataset(), ALESpec())
    labels = np.zeros(fit.ma.shape[1], dtype=np.int64)
    order = np.argsort(fit.stat_values)[::-1]
    labels[order[:40]] = 1  # a cluster at the top of the map, one elsewhere
    labels[order[5000:5040]] = 2
    kwargs = dict(subset_size=14, n_subsets=8, n_iterations=20, seed=5, cluster_labels=labels)
    result = resampled_stability(fit, **kwargs)
    threads = resampled_stability(fit, executor=Executor("threads", 2), **kwargs)
    supports = _reference_supports(fit, result)
    assert supports.any(), "some subset should keep a cluster"
    expected = (supports.sum(axis=0) / len(result.subsets)).astype(np.float32)
    assert np.array_equal(result.frequency_values, expected)
    assert np.array_equal(threads.frequency_values, expected)
    for c in (1, 2):
        row = result.clusters.set_index("cluster_id").loc[c]
        assert row["stability"] == supports[:, labels == c].any(axis=1).mean()
    assert result.clusters["stability"].tolist() == threads.clusters["stability"].tolist()


