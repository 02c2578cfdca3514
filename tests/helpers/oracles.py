"""NiMARE's own computations, run in the tests on the same inputs, seed and sizes as
ale-app, to compare ale-app's numbers against."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from ale_app.stats import montecarlo as I

TOL = 1e-6


def _kernel_kwargs(kernel_fwhm=None, sample_size=None):
    kwargs = {}
    if kernel_fwhm is not None:
        kwargs["kernel__fwhm"] = kernel_fwhm
    if sample_size is not None:
        kwargs["kernel__sample_size"] = sample_size
    return kwargs


def nimare_subtraction(s1, s2, n_iterations, seed, voxel_p=0.001, **kernel):
    """NiMARE's ALESubtraction + FWECorrector(montecarlo); returns (estimator, corrected)."""
    from nimare.correct import FWECorrector
    from nimare.meta.cbma.ale import ALESubtraction

    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator = ALESubtraction(n_iters=n_iterations, random_state=seed, **_kernel_kwargs(**kernel))
            result = estimator.fit(s1, s2)
            corrected = FWECorrector(method="montecarlo", voxel_thresh=voxel_p,
                                     n_iters=n_iterations).transform(result)
    finally:
        logging.disable(logging.NOTSET)
    return estimator, corrected


def nimare_subtraction_directional(s1, s2, n_iterations, seed, mask1, mask2, **kernel):
    """NiMARE's ALESubtraction fitted with inference maps (GingerALE's directional reading)."""
    from nimare.meta.cbma.ale import ALESubtraction

    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator = ALESubtraction(n_iters=n_iterations, random_state=seed, **_kernel_kwargs(**kernel))
            return estimator.fit(
                s1, s2,
                inference_map1=None if mask1 is None else mask1.astype(np.float32),
                inference_map2=None if mask2 is None else mask2.astype(np.float32))
    finally:
        logging.disable(logging.NOTSET)


def nimare_balanced(s1, s2, seed, n_subsamples, difference_iterations, n_iterations, target_n=None,
                    voxel_p=0.001, alpha=0.05, mask_coverage="gm"):
    """NiMARE's BalancedALESubtraction; returns (estimator, result)."""
    from nimare.meta.cbma.ale import BalancedALESubtraction

    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = BalancedALESubtraction(target_n=target_n, n_subsamples=n_subsamples,
                                         difference_iterations=difference_iterations, n_iters=n_iterations,
                                         voxel_thresh=voxel_p, alpha=alpha, mask_coverage=mask_coverage,
                                         random_state=seed)
            result = est.fit(s1, s2)
    finally:
        logging.disable(logging.NOTSET)
    return est, result


def nimare_montecarlo(studyset, n_iterations, seed, voxel_p=0.001, **kernel):
    """NiMARE's ALE (fitted through ale-app's adapter, as ale-app fits it) corrected by
    FWECorrector(montecarlo) on one core; returns the corrected result."""
    from nimare.correct import FWECorrector

    _, result = I.fit_ale_estimator(studyset, seed=seed, **kernel)
    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            corrected = FWECorrector(method="montecarlo", voxel_thresh=voxel_p, n_iters=n_iterations,
                                     n_cores=1).transform(result)
    finally:
        logging.disable(logging.NOTSET)
    return corrected


def assert_montecarlo_equals_nimare(ours: I.InferenceResult, corrected):
    """ale-app's Monte Carlo FWE null and maps equal :func:`nimare_montecarlo`'s within 1e-6,
    and so does its cluster-forming threshold."""
    nulls = corrected.estimator.null_distributions_
    for column, key in I.NIMARE_NULL_KEYS.items():
        diff = np.abs(ours.null[column].to_numpy(dtype=float) - np.asarray(nulls[key], dtype=float))
        assert diff.max() <= TOL, (column, diff.max(), np.flatnonzero(diff > TOL)[:10])
    for name, key in I.NIMARE_MAP_NAMES.items():
        theirs = np.asarray(corrected.get_map(key, return_type="array"), dtype=float)
        mine = np.asarray(getattr(ours, name + "_values"), dtype=float)
        assert mine.shape == theirs.shape
        assert np.abs(mine - theirs).max() <= TOL, (name, np.abs(mine - theirs).max())
    assert ours.cluster_forming_threshold == pytest.approx(
        corrected.estimator._p_to_summarystat(ours.voxel_p), abs=0)
