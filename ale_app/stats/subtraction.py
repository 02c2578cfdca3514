"""ALE subtraction (two-group contrast) with a permutation null, fast and exact.

No file IO here. The numbers equal NiMARE 0.22.1's::

    result = ALESubtraction(n_iters=n_iterations, random_state=seed, **kernel).fit(ds1, ds2)
    FWECorrector(method="montecarlo", voxel_thresh=voxel_p, n_iters=n_iterations).transform(result)

permutation for permutation: the ALE difference, the uncorrected two-sided p, z and -log10 p,
the voxel-level and the cluster-level (size and mass) FWE maps and the null distributions.
With inference masks it also gives the maps of ``fit(..., inference_map1=, inference_map2=)``
(GingerALE's directional reading), from the same permutations.

How, and why it is exact:

- The MA maps are those ale-app's ALE fit already built (:func:`ale_app.stats.ale.fit_ale`,
  NiMARE's kernel and row order); the observed difference is the difference of the two
  fits' float32 ALE values, as NiMARE's.
- The permutations are NiMARE's: one seed per iteration from the ``random_state`` and the
  stream ``"alesubtraction_permutations"``, and NiMARE's own shuffle of the pooled
  experiments (:mod:`ale_app.stats.nimare_adapter`). NiMARE's FWE correction re-runs the very
  same permutations, so one pass gives the fit's tail counts and the correction's nulls.
- Each permuted group's ALE is NiMARE's to the bit: ``log1p(-MA)`` (computed by numpy in
  float32, as NiMARE does) summed in float64 per voxel in the permutation's row order,
  group 1's rows and group 2's rows apart and then added, as NiMARE's two ``np.bincount``
  calls add them; ``1 - exp`` by numpy itself (whose vectorised ``exp`` differs from libm's).
  Only the voxels some experiment reaches are summed: elsewhere every difference is 0.
- Tail counts use NiMARE's ``>=`` and ``<=`` on float64 differences against the float32
  observed difference; the voxel-level null is the float64 ``max |difference|`` as float32.
- The cluster-forming threshold is ``np.quantile`` (linear) of the ``|differences|`` stored
  as float32 over all iterations and voxels, which NiMARE takes from an iterations x voxels
  memmap. It needs only the two order statistics around the ``1 - voxel_p`` position, so
  only the largest ``k`` values are needed (``k`` from the total count): each block of
  iterations keeps the values above a lower bound of the final ``k``-th largest (the
  ``k``-th largest kept so far, or one handed in), pruning with ``np.partition``; the kept
  values give the exact order statistics, and numpy's own interpolation (on those two
  values, with NiMARE's weight) gives the threshold. Every voxel above the threshold is
  among the kept ones, so each iteration's largest cluster (two-tailed, faces
  connectivity, mass summed as ``ndimage.sum`` sums it) comes from its kept voxels alone.
- The observed side (which clusters, their FWE p, the z and -log10 p maps) is NiMARE's own
  ``correct_fwe_montecarlo``, handed these nulls.

Every iteration's numbers depend on its own permutation only, so the results are the same
for any executor and block size.

This module holds the result and the entry point; the plan is
:mod:`ale_app.stats.subtraction_plan`, the permutations and the cluster null
:mod:`ale_app.stats.subtraction_null` (compiled core :mod:`ale_app.stats.subtraction_kernels`),
the threshold's order statistics :mod:`ale_app.stats.subtraction_quantile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from ale_app.process.executor import Executor
from ale_app.stats.subtraction_null import cluster_null, run_permutations
from ale_app.stats.subtraction_plan import build_plan
from ale_app.stats.subtraction_quantile import quantile_from_top

#: NiMARE's names of the null distributions :attr:`SubtractionResult.null` and
#: :attr:`SubtractionResult.cluster_forming_threshold` reproduce.
NIMARE_NULL_KEYS = {
    "max_abs_diff": "values_level-voxel_corr-fwe_method-montecarlo",
    "max_cluster_size_voxels": "values_desc-size_level-cluster_corr-fwe_method-montecarlo",
    "max_cluster_mass": "values_desc-mass_level-cluster_corr-fwe_method-montecarlo",
}
NIMARE_THRESHOLD_KEY = "summary_stat_thresh_level-voxel_corr-fwe_method-montecarlo"
_FWE = "_corr-FWE_method-montecarlo"
#: NiMARE's names (in the corrected ``MetaResult.maps``) of the maps the result holds.
NIMARE_MAP_NAMES = {
    "diff": "stat_desc-group1MinusGroup2",
    "p": "p_desc-group1MinusGroup2",
    "z": "z_desc-group1MinusGroup2",
    "logp": "logp_desc-group1MinusGroup2",
    "p_voxel_fwe": "p_desc-group1MinusGroup2_level-voxel" + _FWE,
    "z_voxel_fwe": "z_desc-group1MinusGroup2_level-voxel" + _FWE,
    "logp_voxel_fwe": "logp_desc-group1MinusGroup2_level-voxel" + _FWE,
    "p_cluster_size_fwe": "p_desc-group1MinusGroup2Size_level-cluster" + _FWE,
    "z_cluster_size_fwe": "z_desc-group1MinusGroup2Size_level-cluster" + _FWE,
    "logp_cluster_size_fwe": "logp_desc-group1MinusGroup2Size_level-cluster" + _FWE,
    "p_cluster_mass_fwe": "p_desc-group1MinusGroup2Mass_level-cluster" + _FWE,
    "z_cluster_mass_fwe": "z_desc-group1MinusGroup2Mass_level-cluster" + _FWE,
    "logp_cluster_mass_fwe": "logp_desc-group1MinusGroup2Mass_level-cluster" + _FWE,
}


@dataclass
class SubtractionResult:
    """An ALE subtraction (group 1 minus group 2) with its permutation inference.

    All ``*_values`` are 1-D in-mask float32 arrays in masker order, equal to the maps of
    NiMARE's ``ALESubtraction`` + ``FWECorrector(method="montecarlo")`` named in
    :data:`NIMARE_MAP_NAMES`.

    Attributes
    ----------
    diff_values : numpy.ndarray
        Group 1's ALE minus group 2's.
    p_values, z_values, logp_values : numpy.ndarray
        Uncorrected two-sided permutation p, signed z, -log10 p.
    p_voxel_fwe_values, z_voxel_fwe_values, logp_voxel_fwe_values : numpy.ndarray
        Voxel-level FWE (against the null of the largest ``|difference|``).
    p_cluster_size_fwe_values, z_cluster_size_fwe_values, logp_cluster_size_fwe_values,
    p_cluster_mass_fwe_values, z_cluster_mass_fwe_values, logp_cluster_mass_fwe_values :
        numpy.ndarray
        Cluster-level FWE, clusters of ``|difference| > cluster_forming_threshold`` (each
        sign apart, faces connectivity) against the nulls of the largest cluster size and mass.
    cluster_forming_threshold : float
        NiMARE's ``summary_stat_thresh``: the ``1 - voxel_p`` quantile of the permutations'
        ``|difference|`` values (float32), an ALE difference.
    null : pandas.DataFrame
        One row per permutation: ``iteration, max_abs_diff, max_cluster_size_voxels,
        max_cluster_mass`` (float32, as NiMARE stores them).
    directional : dict or None
        With inference masks: ``{"p", "z", "logp"}`` of the directional (one-sided) reading,
        as NiMARE's ``fit(..., inference_map1=, inference_map2=)`` gives them.
    upper_counts, lower_counts : numpy.ndarray
        Per voxel, the permutations whose difference is ``>=`` / ``<=`` the observed one.
    n_iterations, seed : int
        Permutations and NiMARE's ``random_state``.
    voxel_p : float
        Cluster-forming (uncorrected) p.
    n1, n2 : int
        Experiments in group 1 and group 2.
    masker : nilearn.maskers.NiftiMasker
        The brain mask's masker.
    ids1, ids2 : list of str
        The experiments of each group, in NiMARE's order.
    """

    diff_values: np.ndarray
    p_values: np.ndarray
    z_values: np.ndarray
    logp_values: np.ndarray
    p_voxel_fwe_values: np.ndarray
    z_voxel_fwe_values: np.ndarray
    logp_voxel_fwe_values: np.ndarray
    p_cluster_size_fwe_values: np.ndarray
    z_cluster_size_fwe_values: np.ndarray
    logp_cluster_size_fwe_values: np.ndarray
    p_cluster_mass_fwe_values: np.ndarray
    z_cluster_mass_fwe_values: np.ndarray
    logp_cluster_mass_fwe_values: np.ndarray
    cluster_forming_threshold: float
    null: pd.DataFrame
    directional: dict | None
    upper_counts: np.ndarray
    lower_counts: np.ndarray
    n_iterations: int
    seed: int
    voxel_p: float
    n1: int
    n2: int
    masker: Any = None
    ids1: list = field(default_factory=list)
    ids2: list = field(default_factory=list)


# --------------------------------------------------------------------------- entry point


def _check_mask(mask, n_voxels: int, name: str):
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.ndim != 1 or mask.shape[0] != n_voxels:
        raise ValueError(f"{name} must be a 1-D in-mask vector of {n_voxels} values; got shape {mask.shape}")
    return mask.astype(bool)


def fit_subtraction(fit1, fit2, *, n_iterations: int = 10000, seed: int = 0, voxel_p: float = 0.001,
                    inference_mask1=None, inference_mask2=None, executor: Executor | None = None,
                    progress: Callable[[int], None] | None = None, block_size: int | None = None
                    ) -> SubtractionResult:
    """ALE subtraction of ``fit1``'s group minus ``fit2``'s, with NiMARE's permutation
    inference, for any executor.

    Equals ``FWECorrector(method="montecarlo", voxel_thresh=voxel_p, n_iters=n_iterations)
    .transform(ALESubtraction(n_iters=n_iterations, random_state=seed, **kernel).fit(ds1,
    ds2))`` (and, with inference masks, the p, z and -log10 p of ``fit(ds1, ds2,
    inference_map1=mask1, inference_map2=mask2)``).

    Parameters
    ----------
    fit1, fit2 : ale_app.stats.ale.ALEFit
        The two groups' ALE fits (same masker, same kernel options), with their MA maps.
    n_iterations : int
        Permutations. Default 10000.
    seed : int
        NiMARE's ``random_state``. Default 0.
    voxel_p : float
        Cluster-forming threshold, as the ``1 - voxel_p`` quantile of the permutations'
        ``|differences|``. Default 0.001.
    inference_mask1, inference_mask2 : array of bool, optional
        In-mask vectors where each group converges (e.g. its own FWE-significant voxels):
        group 1 > group 2 is read only inside ``inference_mask1``, group 2 > group 1 only
        inside ``inference_mask2`` (one-sided). Either may be given alone. When both are
        empty (neither group converges anywhere on its own), the directional reading is empty:
        p is 1 and z is 0 at every voxel, as NiMARE's reading gives for an empty side. NiMARE's
        ``fit`` refuses that case ("requires at least one nonzero voxel"); the other maps are
        NiMARE's ``fit(ds1, ds2)`` without inference maps, as they are whenever masks are given.
    executor : ale_app.process.executor.Executor, optional
        Where the permutations run; serial when None. Results never depend on it.
    progress : callable, optional
        Called with the number of permutations done after each block.
    block_size : int, optional
        Permutations per block (default: enough blocks to balance the workers).

    Returns
    -------
    SubtractionResult
    """
    from ale_app.stats import nimare_adapter as NA

    if n_iterations < 1:
        raise ValueError("n_iterations must be at least 1")
    if not 0 < voxel_p < 1:
        raise ValueError("voxel_p must be between 0 and 1")
    if fit1.ma is None or fit2.ma is None:
        raise ValueError("the fits' MA maps are gone (the subtraction needs them)")
    masker = fit1.masker
    mask3d = np.asanyarray(masker.mask_img.dataobj).astype(bool)
    mask3d2 = np.asanyarray(fit2.masker.mask_img.dataobj).astype(bool)
    if mask3d.shape != mask3d2.shape or not np.array_equal(mask3d, mask3d2):
        raise ValueError("the two fits have different brain masks")
    n_voxels = int(mask3d.sum())
    if fit1.ma.shape[1] != n_voxels or fit2.ma.shape[1] != n_voxels:
        raise ValueError("the fits' MA maps do not match their brain mask")
    mask1 = _check_mask(inference_mask1, n_voxels, "inference_mask1")
    mask2 = _check_mask(inference_mask2, n_voxels, "inference_mask2")

    diff = np.asarray(fit1.stat_values, dtype=np.float32) - np.asarray(fit2.stat_values, dtype=np.float32)
    plan, reached = build_plan(fit1.ma, fit2.ma, diff, n_iterations, voxel_p)
    seeds = NA.subtraction_iteration_seeds(seed, n_iterations)
    max_abs, upper_r, lower_r, candidates, max_bound = run_permutations(
        plan, seeds, executor, block_size=block_size, progress=progress)

    # Voxels no experiment reaches: every difference is 0, as the observed one.
    upper = np.full(n_voxels, n_iterations, dtype=np.uint32)
    lower = np.full(n_voxels, n_iterations, dtype=np.uint32)
    upper[reached] = upper_r
    lower[reached] = lower_r

    q = 1 - voxel_p  # as NiMARE passes it
    threshold = quantile_from_top(np.abs(candidates[2]), n_iterations * n_voxels, q)
    if not float(threshold) >= max_bound:
        raise RuntimeError("internal error: the cluster-forming threshold is below a value dropped on the way")
    flat_index = np.flatnonzero(mask3d.ravel())[reached]
    sizes, masses = cluster_null(candidates, threshold, n_iterations, flat_index, mask3d.shape)

    # Uncorrected maps, as ALESubtraction._fit and MetaResult give them.
    p, signs = NA.subtraction_p(upper, lower, n_iterations)
    z = NA.p_to_z(p, "two") * signs
    logp = NA.p_to_logp_values(p, np.float32)
    fitted = NA.result_maps(masker, {NIMARE_MAP_NAMES["diff"]: diff, NIMARE_MAP_NAMES["p"]: p,
                                     NIMARE_MAP_NAMES["z"]: z, NIMARE_MAP_NAMES["logp"]: logp})
    directional = None
    if mask1 is not None or mask2 is not None:
        p_d, signs_d = NA.subtraction_directional_p(upper, lower, diff, mask1, mask2, n_iterations)
        z_d = NA.p_to_z(p_d, "one") * signs_d
        logp_d = NA.p_to_logp_values(p_d, np.float32)
        d_maps = NA.result_maps(masker, {"p_d": p_d, "z_d": z_d, "logp_d": logp_d})
        directional = {"p": d_maps["p_d"], "z": d_maps["z_d"], "logp": d_maps["logp_d"]}

    nulls = {
        NIMARE_NULL_KEYS["max_abs_diff"]: max_abs,
        NIMARE_NULL_KEYS["max_cluster_size_voxels"]: sizes,
        NIMARE_NULL_KEYS["max_cluster_mass"]: masses,
        NIMARE_THRESHOLD_KEY: threshold,
    }
    observed = {NIMARE_MAP_NAMES[k]: fitted[NIMARE_MAP_NAMES[k]] for k in ("diff", "z")}
    corrected = NA.subtraction_fwe_maps(masker, observed, nulls, n_iterations, voxel_p)
    maps = {**fitted, **corrected}

    def get(name):
        return maps[NIMARE_MAP_NAMES[name]]

    null = pd.DataFrame({
        "iteration": np.arange(n_iterations, dtype=np.int64),
        "max_abs_diff": max_abs,
        "max_cluster_size_voxels": sizes,
        "max_cluster_mass": masses,
    })
    return SubtractionResult(
        diff_values=get("diff"), p_values=get("p"), z_values=get("z"), logp_values=get("logp"),
        p_voxel_fwe_values=get("p_voxel_fwe"), z_voxel_fwe_values=get("z_voxel_fwe"),
        logp_voxel_fwe_values=get("logp_voxel_fwe"),
        p_cluster_size_fwe_values=get("p_cluster_size_fwe"), z_cluster_size_fwe_values=get("z_cluster_size_fwe"),
        logp_cluster_size_fwe_values=get("logp_cluster_size_fwe"),
        p_cluster_mass_fwe_values=get("p_cluster_mass_fwe"), z_cluster_mass_fwe_values=get("z_cluster_mass_fwe"),
        logp_cluster_mass_fwe_values=get("logp_cluster_mass_fwe"),
        cluster_forming_threshold=float(threshold), null=null, directional=directional,
        upper_counts=upper, lower_counts=lower, n_iterations=int(n_iterations), seed=int(seed),
        voxel_p=float(voxel_p), n1=int(fit1.ma.shape[0]), n2=int(fit2.ma.shape[0]), masker=masker,
        ids1=list(fit1.ids), ids2=list(fit2.ids),
    )
