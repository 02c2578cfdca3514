"""Balanced ALE subtraction (matched-size subsampling), equal to NiMARE 0.22.1's
``BalancedALESubtraction`` with the same seed, and fast.

No file IO here. The numbers equal::

    BalancedALESubtraction(target_n=..., n_subsamples=..., difference_iterations=...,
                           n_iters=..., voxel_thresh=..., null_method="random-foci",
                           mask_coverage=..., alpha=..., random_state=seed, **kernel).fit(ds1, ds2)

map for map and null for null (the balanced difference, its p, z and -log10 p, the
conjunction of the two groups' probabilistic maps, the probabilistic maps themselves, and
the null extrema).

How, and why it is exact:

- Every random number is drawn in NiMARE's order from NiMARE's generators
  (``np.random.RandomState(seed)`` for group 1's probabilistic map, ``seed + 1`` for group
  2's, ``seed`` again for the balanced differences and their null), in this process, before
  the work it decides is handed out; so the work may run in any order, on any executor.
- The probabilistic maps' null draws (each draw's largest cluster of approximate-null z,
  NiMARE's ``_ale_approximate_z_from_ma`` and ``_threshold_z_clusters`` on a random-foci MA
  map) run through compiled kernels (:mod:`ale_app.stats.balanced_kernels`, see
  :class:`ale_app.stats.balanced_probabilistic._NullClusters`): the MA rows in a dense scratch array, NiMARE's histogram with the
  same float64 operations in the same order, then z per histogram bin instead of per voxel
  (a voxel's z is its bin's), so only the voxels that can reach a passing bin get their
  exact ALE; the passing voxels are labelled with faces connectivity, as ``ndimage.label``
  labels them. The subsamples of a probabilistic map go through the same pieces on the
  group's own MA rows in the subsample's order (:class:`ale_app.stats.balanced_subsamples._SubsampleMaps`), keeping the
  clusters above the threshold (:mod:`ale_app.stats.balanced_subsamples`).
- A balanced difference is ``1 - prod(1 - MA)`` over ``target_n`` sampled experiments of
  each group, in float32, in the sampled order, as NiMARE's dense ``np.prod`` computes it;
  NiMARE does it on dense experiments x prior-voxels arrays. Here a compiled kernel
  (:func:`ale_app.stats.subtraction_kernels._balanced_mean`) multiplies only the non-zero
  MA values (a factor ``1 - 0`` is exactly 1, so skipping it changes no bit), over only the
  voxels some experiment reaches (elsewhere every difference is exactly 0), and adds the
  float32 differences in NiMARE's order: the same float32 operations on the same values.
- The null draws (random foci for every experiment, then ``difference_iterations``
  balanced differences) are independent once drawn, so blocks of them run in parallel. When
  both groups' subsamples are the whole group, every difference of a draw is the same
  float32 value per voxel, and its float32 mean (the repeated float32 sum, divided) is
  non-decreasing in that value, because rounding is monotone: so a draw needs only the
  smallest and the largest difference, averaged, not every voxel's mean.
- When a group is subsampled, a null draw needs only the smallest and the largest mean
  difference too (:mod:`ale_app.stats.balanced_subsamples`): each voxel's mean is first formed in float64
  from each group's mean product over its subsamples (the distinct subsamples once each,
  or the shares of subsamples holding each one, two and three experiments), with a bound
  of how far NiMARE's float32 products and sums can round away from it; only the voxels
  whose bound lets them be an extreme (a few) get NiMARE's float32 mean, operation for
  operation: the same bits as computing every voxel.

This module holds the result and :func:`fit_balanced`, which draws everything in NiMARE's
order and puts the pieces together: NiMARE's random-foci pieces
(:mod:`ale_app.stats.balanced_random_foci`), the probabilistic maps
(:mod:`ale_app.stats.balanced_probabilistic`) and the balanced differences and their null
(:mod:`ale_app.stats.balanced_differences`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ale_app.process.executor import Executor
from ale_app.stats.balanced_differences import Group, compact, draw_pairs, mean_difference, null_block, restrict
from ale_app.stats.balanced_draws import DrawSetup
from ale_app.stats.balanced_probabilistic import probabilistic_map
from ale_app.stats.balanced_random_foci import draw_foci, prior_mask, study_metadata

#: NiMARE's names of the maps (``MetaResult.maps``) and nulls this module reproduces.
NIMARE_MAP_NAMES = {
    "diff": "stat_desc-balancedGroup1MinusGroup2",
    "p": "p_desc-balancedGroup1MinusGroup2",
    "z": "z_desc-balancedGroup1MinusGroup2",
    "logp": "logp_desc-balancedGroup1MinusGroup2",
    "conjunction": "stat_desc-conjunction",
    "prob1": "prob_desc-group1",
    "prob2": "prob_desc-group2",
}
NIMARE_NULL_KEYS = {
    "min_diff": "values_desc-balancedMinNull_corr-none",
    "max_diff": "values_desc-balancedMaxNull_corr-none",
}
#: NiMARE's defaults.
DEFAULTS = {"n_subsamples": 2500, "difference_iterations": 1000, "n_iterations": 1000, "voxel_p": 0.001,
            "alpha": 0.05, "mask_coverage": "gm"}


@dataclass
class BalancedResult:
    """A balanced ALE subtraction (group 1 minus group 2).

    All ``*_values`` are 1-D in-mask float32 arrays in masker order, equal to the maps of
    NiMARE's ``BalancedALESubtraction`` named in :data:`NIMARE_MAP_NAMES`.

    Attributes
    ----------
    diff_values : numpy.ndarray
        The mean balanced difference (0 outside the prior mask).
    p_values, z_values, logp_values : numpy.ndarray
        p against the null extrema (1 where the difference is inside the two-sided
        ``alpha`` band), signed one-sided z, -log10 p.
    conjunction_values, prob1_values, prob2_values : numpy.ndarray
        Each group's probabilistic map (the share of its ``target_n`` subsamples in which a
        voxel is in a cluster above the group's cluster-size threshold) and their minimum.
    null : pandas.DataFrame
        One row per null draw: ``iteration, min_diff, max_diff`` (float32).
    low_threshold, high_threshold : float
        The ``alpha / 2`` and ``1 - alpha / 2`` percentiles of the null extrema.
    cluster_size_thresholds : tuple of float
        Each group's probabilistic-map cluster-size threshold (voxels).
    target_n, n_subsamples, n_subsamples_used, difference_iterations, n_iterations, seed : int
        The run's sizes (``n_subsamples_used`` per group: fewer when fewer subsets exist).
    voxel_p, alpha : float
    mask_coverage : str
    n1, n2 : int
    masker, ids1, ids2
    """

    diff_values: np.ndarray
    p_values: np.ndarray
    z_values: np.ndarray
    logp_values: np.ndarray
    conjunction_values: np.ndarray
    prob1_values: np.ndarray
    prob2_values: np.ndarray
    null: Any
    low_threshold: float
    high_threshold: float
    cluster_size_thresholds: tuple
    target_n: int
    n_subsamples: int
    n_subsamples_used: tuple
    difference_iterations: int
    n_iterations: int
    seed: int
    voxel_p: float
    alpha: float
    mask_coverage: str
    n1: int
    n2: int
    masker: Any = None
    ids1: list = field(default_factory=list)
    ids2: list = field(default_factory=list)

    @property
    def work_units(self) -> int:
        """Balanced differences computed (observed and null)."""
        return self.difference_iterations * (self.n_iterations + 1)


def fit_balanced(fit1, fit2, *, target_n: int | None = None, n_subsamples: int = 2500,
                 difference_iterations: int = 1000, n_iterations: int = 1000, voxel_p: float = 0.001,
                 alpha: float = 0.05, mask_coverage: str = "gm", seed: int = 0,
                 executor: Executor | None = None, progress: Callable[[str, int], None] | None = None,
                 block_size: int | None = None, exact_order: bool = False, fast: bool = True) -> BalancedResult:
    """Balanced ALE subtraction of ``fit1``'s group minus ``fit2``'s, as NiMARE's
    ``BalancedALESubtraction(null_method="random-foci")`` with ``random_state=seed``.

    Parameters
    ----------
    fit1, fit2 : ale_app.stats.ale.ALEFit
        The two groups' ALE fits (same masker and kernel options), with their MA maps.
    target_n : int, optional
        Experiments per balanced subsample; default the smaller group's size.
    n_subsamples, difference_iterations, n_iterations, voxel_p, alpha, mask_coverage :
        NiMARE's parameters of the same meaning (``n_iterations`` is its ``n_iters``: the
        null draws, and the probabilistic maps' null draws).
    seed : int
        NiMARE's ``random_state``.
    executor : Executor, optional
        Where the draws run (serial when None); the results never depend on it.
    progress : callable, optional
        ``progress(stage, n)`` after each block: stage ``"group1"``/``"group2"`` (null
        draws of the probabilistic maps) or ``"null"`` (balanced null draws).
    block_size : int, optional
        Balanced null draws per block.
    exact_order : bool
        Multiply every subsample in its drawn order even when it is the whole group (bit
        for bit NiMARE's float32 rounding; otherwise such a group's product is computed
        once, which differs from NiMARE's by the float32 rounding of the order: about
        1e-8 on each difference, far within 1e-6 on the means).
    fast : bool
        Run the random-foci null draws and the probabilistic maps' subsamples through
        ale-app's compiled kernels (the same numbers as NiMARE's functions and the sparse
        path, which ``fast=False`` calls draw by draw; for tests).
    """
    import pandas as pd

    from ale_app.stats import nimare_adapter as NA

    for name, value in (("n_subsamples", n_subsamples), ("difference_iterations", difference_iterations),
                        ("n_iterations", n_iterations)):
        if int(value) < 1:
            raise ValueError(f"{name} must be at least 1")
    if not 0 < voxel_p < 1:
        raise ValueError("voxel_p must be between 0 and 1")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    if mask_coverage not in ("gm", "brain"):
        raise ValueError("mask_coverage must be 'gm' or 'brain'")
    if fit1.ma is None or fit2.ma is None:
        raise ValueError("the fits' MA maps are gone (the balanced subtraction needs them)")
    n1, n2 = int(fit1.ma.shape[0]), int(fit2.ma.shape[0])
    max_n = min(n1, n2)
    target_n = int(target_n or max_n)
    if not 0 < target_n <= max_n:
        raise ValueError(f"target_n must be between 1 and the smaller group's size ({max_n}); got {target_n}")
    executor = executor or Executor()
    masker = fit1.masker
    mask_img = masker.mask_img

    def stage(name):
        return None if progress is None else (lambda n: progress(name, n))

    _, prior_masked, sample_space = prior_mask(masker, mask_coverage)
    common = dict(n_subsamples=n_subsamples, n_iterations=n_iterations, voxel_p=voxel_p, alpha=alpha,
                  sample_space=sample_space, executor=executor, fast=fast)
    prob1, thr1, used1 = probabilistic_map(fit1, target_n, seed, progress=stage("group1"), **common)
    prob2, thr2, used2 = probabilistic_map(fit2, target_n, seed + 1, progress=stage("group2"), **common)
    n_prior = int(prior_masked.sum())
    meta1 = study_metadata(fit1.estimator)
    meta2 = study_metadata(fit2.estimator)

    # The observed mean balanced difference.
    rng = np.random.RandomState(seed)
    reached, (g1, g2) = compact([restrict(fit1.ma, prior_masked), restrict(fit2.ma, prior_masked)], n_prior)
    whole1, whole2 = (not exact_order and target_n == n1), (not exact_order and target_n == n2)
    pairs = draw_pairs(rng, n1, n2, target_n, difference_iterations, whole1, whole2)
    observed_prior = np.zeros(n_prior, dtype=np.float32)
    observed_prior[reached] = mean_difference(g1, g2, reached.size, pairs)
    observed = np.zeros(prior_masked.shape[0], dtype=np.float32)
    observed[prior_masked] = observed_prior

    # The null: drawn here in NiMARE's order, computed in blocks anywhere.
    ex = executor.for_gil_free_code()
    if block_size is None:
        block_size = max(1, min(50, -(-n_iterations // max(1, 4 * ex.n_jobs))))

    def blocks():
        for s in range(0, n_iterations, block_size):
            draws = []
            for _ in range(s, min(n_iterations, s + block_size)):
                foci1 = draw_foci(rng, sample_space.shape[0], meta1[1])
                foci2 = draw_foci(rng, sample_space.shape[0], meta2[1])
                draws.append((foci1, foci2,
                              draw_pairs(rng, n1, n2, target_n, difference_iterations, whole1, whole2)))
            yield s, mask_img, prior_masked, sample_space, meta1, meta2, draws, setup

    setup = DrawSetup.build(mask_img, np.concatenate([meta1[0], meta2[0]])) if fast else None
    min_null = np.zeros(n_iterations, dtype=np.float32)
    max_null = np.zeros(n_iterations, dtype=np.float32)
    null_progress = stage("null")
    for start, lo, hi in ex.map(null_block, blocks()):
        min_null[start : start + lo.size] = lo
        max_null[start : start + hi.size] = hi
        if null_progress is not None:
            null_progress(int(lo.size))

    # The p, z and -log10 p maps, as BalancedALESubtraction._fit forms them.
    half_alpha = alpha / 2.0
    low_threshold = np.percentile(min_null, 100.0 * half_alpha)
    high_threshold = np.percentile(max_null, 100.0 * (1.0 - half_alpha))
    smallest = 1.0 / float(n_iterations)
    p_map = np.ones(observed.shape[0], dtype=np.float32)
    z_map = np.zeros(observed.shape[0], dtype=np.float32)
    pos_mask = observed > high_threshold
    neg_mask = observed < low_threshold
    if np.any(pos_mask):
        sorted_max = np.sort(max_null)
        count = n_iterations - np.searchsorted(sorted_max, observed[pos_mask], side="left")
        p_pos = np.maximum(smallest, (count / n_iterations).astype(np.float32))
        pos_idx = np.flatnonzero(pos_mask)
        p_map[pos_idx] = p_pos
        z_map[pos_idx] = NA.p_to_z(p_pos, "one")
    if np.any(neg_mask):
        sorted_min = np.sort(min_null)
        count = np.searchsorted(sorted_min, observed[neg_mask], side="right")
        p_neg = np.maximum(smallest, (count / n_iterations).astype(np.float32))
        neg_idx = np.flatnonzero(neg_mask)
        p_map[neg_idx] = np.minimum(p_map[neg_idx], p_neg)
        z_map[neg_idx] = -NA.p_to_z(p_neg, "one")
    logp = NA.p_to_logp_values(p_map, np.float32)

    null = pd.DataFrame({"iteration": np.arange(n_iterations, dtype=np.int64), "min_diff": min_null,
                         "max_diff": max_null})
    return BalancedResult(
        diff_values=observed, p_values=p_map, z_values=z_map.astype(np.float32, copy=False),
        logp_values=np.asarray(logp, dtype=np.float32), conjunction_values=np.minimum(prob1, prob2),
        prob1_values=prob1, prob2_values=prob2, null=null, low_threshold=float(low_threshold),
        high_threshold=float(high_threshold), cluster_size_thresholds=(thr1, thr2), target_n=target_n,
        n_subsamples=int(n_subsamples), n_subsamples_used=(used1, used2),
        difference_iterations=int(difference_iterations), n_iterations=int(n_iterations), seed=int(seed),
        voxel_p=float(voxel_p), alpha=float(alpha), mask_coverage=mask_coverage, n1=n1, n2=n2, masker=masker,
        ids1=list(fit1.ids), ids2=list(fit2.ids))


# ``ale-app --precompile`` (:mod:`ale_app.run.precompile`) warms the mean-difference kernel
# up through these names.
_Group, _draw_pairs, _mean_difference = Group, draw_pairs, mean_difference
