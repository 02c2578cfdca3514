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
  :class:`_NullClusters`): the MA rows in a dense scratch array, NiMARE's histogram with the
  same float64 operations in the same order, then z per histogram bin instead of per voxel
  (a voxel's z is its bin's), so only the voxels that can reach a passing bin get their
  exact ALE; the passing voxels are labelled with faces connectivity, as ``ndimage.label``
  labels them. The subsamples of a probabilistic map go through the same pieces on the
  group's own MA rows in the subsample's order (:class:`_SubsampleMaps`), keeping the
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
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ale_app.process.executor import Executor
from ale_app.stats.balanced_draws import DrawSetup, Draws, histogram_bins, kernel_support, passing_bins

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


# --------------------------------------------------------------------------- NiMARE's pieces


def _study_metadata(estimator):
    from ale_app.stats import nimare_adapter as NA

    return NA.study_metadata_from_coordinates(estimator.inputs_["coordinates"])


def _prior(masker, mask_coverage):
    """NiMARE's prior (``_masked_prior_columns``): its image (3-D bool), its in-mask
    indicator, and its voxels (ijk). The in-mask indicator is the image at the mask's voxels
    in C order, which is what NiMARE's ``masker.transform`` of it gives, without nilearn's
    round trip (and its ``gc.collect``)."""
    from ale_app.stats import nimare_adapter as NA

    if mask_coverage == "gm":
        NA.seed_nimare_cache(masker)  # the shipped prior (equal to NiMARE's): nothing is resampled
    prior_img = np.asarray(NA.mask_coverage_to_mask(masker, mask_coverage=mask_coverage, gm_threshold=0.1))
    mask_arr = np.asanyarray(masker.mask_img.dataobj).astype(bool)
    prior_masked = (prior_img.astype(np.int8)[mask_arr] != 0)
    sample_space = np.vstack(np.where(prior_img)).T.astype(np.int32, copy=False)
    return prior_img, prior_masked, sample_space


def _random_ma(mask_img, sample_sizes, num_foci, sample_space, focus_idx):
    """NiMARE's ``_random_ale_ma_from_metadata`` (its ``compute_ale_ma(..., use_dict=True)``
    step by step, kernels kept) with its random focus indices drawn already (``focus_idx``:
    one array per experiment, as its ``rng.randint`` calls return them)."""
    import scipy.sparse as sp

    from ale_app.stats import nimare_adapter as NA

    shape = np.array(mask_img.shape, dtype=np.int32)
    flat_to_masked = NA.get_mask_flat_to_masked(mask_img)
    n_voxels = int(flat_to_masked.max()) + 1 if flat_to_masked.size else 0
    indptr, cols_parts, vals_parts = [0], [], []
    for nsub, foci in zip(sample_sizes, focus_idx):
        offsets, kernel_values = kernel_support(mask_img, nsub)
        ijks = sample_space[foci, :].astype(np.int32, copy=False)
        cols, vals = NA.convolve_ale_kernel_to_masked_cols(offsets, kernel_values, ijks, shape, flat_to_masked,
                                                           shape[1] * shape[2], shape[2])
        if cols.size:
            order = np.argsort(cols, kind="mergesort")
            cols, vals = cols[order], vals[order]
            starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
            cols = cols[starts]
            vals = np.maximum.reduceat(vals, starts).astype(np.float32, copy=False)
            cols_parts.append(cols)
            vals_parts.append(vals)
        indptr.append(indptr[-1] + cols.shape[0])
    indices = np.concatenate(cols_parts).astype(np.int32) if cols_parts else np.zeros(0, np.int32)
    data = np.concatenate(vals_parts).astype(np.float32) if vals_parts else np.zeros(0, np.float32)
    ma = sp.csr_matrix((data, indices, np.array(indptr, dtype=np.int64)), shape=(len(indptr) - 1, n_voxels),
                       dtype=np.float32)
    ma.sort_indices()
    return ma


def _draw_foci(rng, n_space, num_foci):
    return [rng.randint(0, n_space, size=int(nf)) for nf in num_foci]


# --------------------------------------------------------------------------- probabilistic maps


class _NullClusters:
    """The largest approximate-null z cluster of random-foci draws, computed as NiMARE's
    ``_ale_approximate_z_from_ma`` and ``_threshold_z_clusters`` compute it, without their
    maps: the MA rows from the compiled draw, the per-voxel log-sums, NiMARE's histogram (the
    same bins and float64 operations, compiled), then which histogram bins pass; a voxel's
    z is looked up from its bin, so only the voxels whose log-sum could put them in a passing
    bin get their exact ALE (numpy's ``1 - exp``, NiMARE's ``_round2`` bin), and the passing
    ones are labelled (faces connectivity) for the largest cluster."""

    def __init__(self, estimator, setup: DrawSetup, capacity: int, n_rows: int):
        self.estimator = estimator
        self.draws = Draws(setup, capacity, n_rows)
        self.sums = np.zeros(setup.n_mask, dtype=np.float64)
        self.touched = np.empty(setup.n_mask, dtype=np.int64)
        self.label = np.zeros(int(np.prod(setup.shape)), dtype=np.int64)
        self.buffers = None

    def _bufs(self, n_bins):
        if self.buffers is None or self.buffers[0].shape[0] < n_bins:
            size = max(n_bins, 1024) * 2
            self.buffers = (np.zeros(size), np.zeros(size), np.zeros(size), np.zeros(size),
                            np.zeros(size, dtype=np.int64))
        return self.buffers

    def histogram(self, n: int):
        """NiMARE's histogram bins and approximate-null histogram weights of the MA rows of
        the last draw (``n`` entries)."""
        from ale_app.stats.balanced_kernels import _compiled

        d = self.draws
        st = d.setup
        hist_bins = histogram_bins(self.estimator, d.row_max)
        bin_centers = hist_bins.astype(np.float64, copy=False)
        n_bins = int(bin_centers.shape[0])
        inv_step = 1 / (bin_centers[1] - bin_centers[0])
        ale, tmp, exp_hist, one_minus, jbuf = self._bufs(n_bins)
        _compiled()["_approximate_histogram"](st.kval, d.ent[:n], d.ptr, st.n_mask, inv_step, n_bins, bin_centers,
                                              ale, tmp, exp_hist, one_minus, jbuf)
        return hist_bins, ale[:n_bins].copy()

    def largest(self, sample_space, sample_sizes, num_foci, foci, voxel_p) -> int | None:
        """The draw's largest cluster (voxels), or None when this shortcut does not apply."""
        from ale_app.stats import nimare_adapter as NA
        from ale_app.stats.balanced_kernels import _compiled

        k = _compiled()
        d = self.draws
        st = d.setup
        n = d.ma_rows(sample_space, sample_sizes, num_foci, foci)
        hist_bins, hist = self.histogram(n)
        n_bins = int(hist_bins.shape[0])
        inv_step = 1 / (hist_bins[1] - hist_bins[0])
        passing, zero_passes = passing_bins(hist, voxel_p)
        if zero_passes:
            return None
        n_t = k["_log_sums"](d.vox, d.ent, n, st.klog, self.sums, self.touched)
        touched = self.touched[:n_t]
        sums = self.sums[touched]
        self.sums[touched] = 0.0
        first = np.flatnonzero(passing)
        if first.size == 0:
            return 0
        K = int(first[0])
        if passing[K:].all():
            # A bin at or above K needs ALE * inv_step >= K - 1/2, so ALE >= t below; the
            # float32 ALE 1 - exp(S) reaches t only where S <= log1p(-t), loosened by 1e-5.
            t = max(0.0, (K - 0.5) / inv_step) * (1 - 1e-5)
            keep = sums <= np.log1p(-t)
            touched, sums = touched[keep], sums[keep]
        stat = (1.0 - np.exp(sums)).astype(np.float32)
        pos = stat > 0
        touched, stat = touched[pos], stat[pos]
        bins = NA.round2(stat * inv_step)
        bins[bins >= n_bins] = n_bins - 1
        sig = touched[passing[bins]]
        if sig.size == 0:
            return 0
        vox = np.sort(st.masked_to_flat[sig])
        nx, ny, nz = st.shape
        size, _ = k["_largest_cluster"](vox, np.zeros(vox.shape[0], dtype=np.float32), self.label, ny, nz, 0.0)
        return int(size)




def _null_cluster_block(estimator, mask_arr, voxel_p, sample_space, draws, setup=None):
    """Largest approximate-z cluster of each null draw ``(sample_sizes, num_foci, foci)``:
    through :class:`_NullClusters` when ``setup`` is given, else (and where it does not
    apply) NiMARE's own functions."""
    from ale_app.stats import nimare_adapter as NA

    out = np.zeros(len(draws), dtype=np.int32)
    fast = None
    if setup is not None and draws:
        cap = max(setup.capacity(sizes, nfoci) for sizes, nfoci, _ in draws)
        fast = _NullClusters(estimator, setup, cap, len(draws[0][1]))
    for i, (sizes, nfoci, foci) in enumerate(draws):
        if fast is not None:
            size = fast.largest(sample_space, sizes, nfoci, foci, voxel_p)
            if size is not None:
                out[i] = size
                continue
        ma = _random_ma(estimator.masker.mask_img, sizes, nfoci, sample_space, foci)
        _, z = NA.ale_approximate_z_from_ma(estimator, ma)
        _, out[i] = NA.threshold_z_clusters(z, estimator.masker, voxel_thresh=voxel_p,
                                            cluster_size_threshold=None, mask_arr=mask_arr)
    return out


def _subsample_block(estimator, mask_arr, voxel_p, ma, samples, cluster_threshold, fast=False):
    """How many of ``samples`` put each voxel in a cluster above ``cluster_threshold``:
    through :class:`ale_app.stats.balanced_subsamples._SubsampleMaps` with ``fast``, else
    (and where it does not apply) NiMARE's own functions."""
    from ale_app.stats import nimare_adapter as NA
    from ale_app.stats.balanced_subsamples import _SubsampleMaps

    count = np.zeros(ma.shape[1], dtype=np.float32)
    maps = _SubsampleMaps(estimator, ma, mask_arr) if fast else None
    for sample in samples:
        if maps is not None and maps.add(sample, voxel_p, cluster_threshold, count):
            continue
        _, z = NA.ale_approximate_z_from_ma(estimator, ma[sample, :])
        z, _ = NA.threshold_z_clusters(z, estimator.masker, voxel_thresh=voxel_p,
                                       cluster_size_threshold=cluster_threshold, mask_arr=mask_arr)
        count += (z > 0).astype(np.float32, copy=False)
    return count


def _blocks(items: list, n_blocks: int):
    size = max(1, -(-len(items) // max(1, n_blocks)))
    return [items[s : s + size] for s in range(0, len(items), size)]


def probabilistic_map(fit, target_n: int, seed: int, *, n_subsamples: int, n_iterations: int, voxel_p: float,
                      alpha: float, sample_space: np.ndarray, executor: Executor, progress=None,
                      fast: bool = True):
    """NiMARE's ``BalancedALESubtraction._probabilistic_map`` of one group.

    Returns the map (float32, in-mask), the cluster-size threshold and the subsamples used.
    """
    from nimare.meta.cbma.utils import generate_subset_schedule

    estimator = _approximate_estimator(fit)
    ma = fit.ma.tocsr()
    n = ma.shape[0]
    sample_sizes, num_foci = _study_metadata(estimator)
    mask_arr = np.asanyarray(estimator.masker.mask_img.dataobj).astype(bool)
    rng = np.random.RandomState(seed)
    draws = []
    for _ in range(n_iterations):
        if target_n < n:
            subset = rng.permutation(n)[:target_n]
            sizes, nfoci = sample_sizes[subset], num_foci[subset]
        else:
            sizes, nfoci = sample_sizes, num_foci
        draws.append((sizes, nfoci, _draw_foci(rng, sample_space.shape[0], nfoci)))
    n_blocks = 4 * executor.n_jobs if executor.kind != "serial" else 1
    sizes_null = np.zeros(n_iterations, dtype=np.int32)
    at = 0
    # The compiled draws release the GIL: threads, not worker processes, run them.
    setup = DrawSetup.build(estimator.masker.mask_img, sample_sizes) if fast else None
    null_ex = executor.for_gil_free_code() if fast else executor
    for block in null_ex.map(_null_cluster_block, ((estimator, mask_arr, voxel_p, sample_space, b, setup)
                                                    for b in _blocks(draws, n_blocks))):
        sizes_null[at : at + block.shape[0]] = block
        at += block.shape[0]
        if progress is not None:
            progress(int(block.shape[0]))
    cluster_threshold = np.percentile(sizes_null, 100.0 * (1.0 - alpha))
    samples = generate_subset_schedule(n, target_n, n_samples=n_subsamples, random_state=seed,
                                       exhaustive_limit=10000)
    prob = np.zeros(ma.shape[1], dtype=np.float32)
    # One block (a whole group: one subsample) runs here, without starting worker processes.
    sample_blocks = _blocks(samples, n_blocks)
    for count in null_ex.map(_subsample_block, ((estimator, mask_arr, voxel_p, ma, b, cluster_threshold, fast)
                                                for b in sample_blocks), n_tasks=len(sample_blocks)):
        prob += count
    # The sums of 0/1 float32 values are exact in any order (far below 2**24).
    return (prob / len(samples)).astype(np.float32, copy=False), float(cluster_threshold), len(samples)


def _approximate_estimator(fit):
    """An ``ALE(null_method="approximate")`` with the fit's kernel, masker and inputs."""
    from nimare.meta.cbma.ale import ALE

    src = fit.estimator
    est = ALE(kernel_transformer=copy.deepcopy(src.kernel_transformer), null_method="approximate",
              mask=src.masker)
    est.masker = src.masker
    est.inputs_ = src.inputs_
    return est


# --------------------------------------------------------------------------- balanced differences


@dataclass
class _Group:
    """One group's MA maps on the reached prior voxels: CSR rows with compact columns and
    ``1 - MA`` as float32 (numpy's, as NiMARE's ``1.0 - ma`` on its dense float32 array)."""

    ptr: np.ndarray
    col: np.ndarray
    one_minus: np.ndarray


def _restrict(ma, prior_masked: np.ndarray):
    """``ma[:, prior_masked]`` in float32 (NiMARE's ``_to_prior_dense`` values), sparse."""
    sub = ma.tocsr()[:, np.flatnonzero(prior_masked)].tocsr()
    sub.sort_indices()
    sub.data = np.asarray(sub.data, dtype=np.float32)
    return sub


def _compact(groups: list, n_cols: int):
    """The columns any group reaches, and each group as a :class:`_Group` on them."""
    seen = np.zeros(n_cols, dtype=bool)
    for g in groups:
        seen[g.indices] = True
    reached = np.flatnonzero(seen)
    where = np.full(n_cols, -1, dtype=np.int64)
    where[reached] = np.arange(reached.size)
    out = [_Group(ptr=g.indptr.astype(np.int64), col=where[g.indices].astype(np.int32),
                  one_minus=np.ascontiguousarray(np.float32(1.0) - g.data.astype(np.float32)))
           for g in groups]
    return reached, out


def _mean_difference(g1: _Group, g2: _Group, n_reached: int, pairs) -> np.ndarray:
    from ale_app.stats.subtraction_kernels import _compiled

    idx1, idx2, n_pairs, whole1, whole2 = pairs
    diff = np.empty(n_reached, dtype=np.float32)
    p1 = np.empty(n_reached, dtype=np.float32)
    p2 = np.empty(n_reached, dtype=np.float32)
    _compiled()["_balanced_mean"](g1.ptr, g1.col, g1.one_minus, g2.ptr, g2.col, g2.one_minus,
                                  idx1, idx2, n_pairs, whole1, whole2, p1, p2, diff)
    return diff


def _draw_pairs(rng, n1: int, n2: int, target_n: int, n_pairs: int, whole1: bool, whole2: bool):
    """NiMARE's ``rng.choice(n, size=target_n, replace=False)`` pairs, in its order (the
    legacy generator's ``choice`` without replacement is ``permutation(n)[:size]``). A
    group whose subsamples are the whole group only consumes its draws."""
    idx1 = np.empty((n_pairs, 0 if whole1 else target_n), dtype=np.int32)
    idx2 = np.empty((n_pairs, 0 if whole2 else target_n), dtype=np.int32)
    if _replay_permutations(rng, n1, n2, n_pairs, idx1, idx2):
        return idx1, idx2, n_pairs, whole1, whole2
    perm = rng.permutation
    for d in range(n_pairs):
        a = perm(n1)
        b = perm(n2)
        if not whole1:
            idx1[d] = a[:target_n]
        if not whole2:
            idx2[d] = b[:target_n]
    return idx1, idx2, n_pairs, whole1, whole2


def _replay_permutations(rng, n1: int, n2: int, n_pairs: int, idx1, idx2) -> bool:
    """``n_pairs`` pairs of ``rng.permutation(n1)``, ``rng.permutation(n2)`` (their first
    ``idx1.shape[1]`` / ``idx2.shape[1]`` entries into ``idx1``/``idx2``) replayed by a
    compiled loop from the generator's raw 32-bit outputs, leaving ``rng`` where those calls
    leave it (2,000 calls a null draw cost milliseconds in Python). False, with ``rng``
    untouched, when ``rng`` is not the legacy Mersenne Twister generator this replays."""
    from ale_app.stats.balanced_kernels import _compiled

    state = rng.get_state(legacy=False)
    if not isinstance(rng, np.random.RandomState) or state.get("bit_generator") != "MT19937":
        return False
    # Each position needs fewer than 2 outputs on average (masked rejection); draw enough.
    n_raw = 2 * n_pairs * (n1 + n2) + 64
    while True:
        raw = rng.randint(0, 2**32, size=n_raw, dtype=np.uint32)
        used = _compiled("replay")["_permutations"](raw, n1, n2, n_pairs, idx1.shape[1], idx2.shape[1], idx1, idx2)
        rng.set_state(state)
        if used >= 0:
            break
        n_raw *= 2
    if used:
        rng.randint(0, 2**32, size=used, dtype=np.uint32)  # where the permutations leave it
    return True


def _null_block(start, mask_img, prior_masked, sample_space, meta1, meta2, draws, setup=None):
    """The min and max mean balanced difference of each null draw ``(foci1, foci2, pairs)``.

    With ``setup``, through the compiled draws. Both groups' subsamples the whole group:
    each group's product of ``1 - MA`` per prior voxel (float64, experiment order, as the
    sparse path computes it) and only the extreme differences averaged (the average of equal
    float32 differences is monotone in the difference). Otherwise
    :class:`ale_app.stats.balanced_subsamples._SubsampledNull`. Without ``setup``, the
    sparse rows of NiMARE's MA maps."""
    from ale_app.stats.balanced_kernels import _compiled
    from ale_app.stats.balanced_subsamples import _SubsampledNull

    n_prior = int(prior_masked.sum())
    lo = np.empty(len(draws), dtype=np.float32)
    hi = np.empty(len(draws), dtype=np.float32)
    fast = sub = None
    for i, (foci1, foci2, pairs) in enumerate(draws):
        if setup is not None and not (pairs[3] and pairs[4]):
            if sub is None:
                sub = _SubsampledNull(setup, meta1, meta2, prior_masked)
            lo[i], hi[i] = sub.extremes(sample_space, meta1, meta2, foci1, foci2, pairs)
            continue
        if setup is not None:
            k = _compiled("whole")
            if fast is None:
                cap = max(setup.capacity(*meta1), setup.capacity(*meta2))
                fast = (Draws(setup, cap, len(meta1[1])), np.ones(setup.n_mask), np.ones(setup.n_mask),
                        np.zeros(setup.n_mask, dtype=np.bool_), np.empty(setup.n_mask, dtype=np.int64),
                        np.ascontiguousarray(prior_masked, dtype=np.bool_))
            d, q1, q2, seen, touched, prior = fast
            n = d.ma_rows(sample_space, *meta1, foci1)
            n_t = k["_whole_products"](d.vox, d.ent, n, setup.kval, prior, q1, seen, touched, 0)
            n = d.ma_rows(sample_space, *meta2, foci2)
            n_t = k["_whole_products"](d.vox, d.ent, n, setup.kval, prior, q2, seen, touched, n_t)
            c_lo, c_hi = k["_difference_range"](q1, q2, seen, touched, n_t)
            if n_t < n_prior:  # the unreached prior voxels: a difference of exactly 0
                c_lo, c_hi = min(c_lo, np.float32(0.0)), max(c_hi, np.float32(0.0))
            lo[i] = k["_repeated_mean"](np.float32(c_lo), pairs[2])
            hi[i] = k["_repeated_mean"](np.float32(c_hi), pairs[2])
            continue
        ma1 = _restrict(_random_ma(mask_img, *meta1, sample_space, foci1), prior_masked)
        ma2 = _restrict(_random_ma(mask_img, *meta2, sample_space, foci2), prior_masked)
        reached, (g1, g2) = _compact([ma1, ma2], n_prior)
        diff = _mean_difference(g1, g2, reached.size, pairs)
        if reached.size < n_prior:  # the unreached prior voxels: exactly 0
            diff = np.append(diff, np.float32(0.0))
        lo[i], hi[i] = diff.min(), diff.max()
    return start, lo, hi


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

    _, prior_masked, sample_space = _prior(masker, mask_coverage)
    common = dict(n_subsamples=n_subsamples, n_iterations=n_iterations, voxel_p=voxel_p, alpha=alpha,
                  sample_space=sample_space, executor=executor, fast=fast)
    prob1, thr1, used1 = probabilistic_map(fit1, target_n, seed, progress=stage("group1"), **common)
    prob2, thr2, used2 = probabilistic_map(fit2, target_n, seed + 1, progress=stage("group2"), **common)
    n_prior = int(prior_masked.sum())
    meta1 = _study_metadata(fit1.estimator)
    meta2 = _study_metadata(fit2.estimator)

    # The observed mean balanced difference.
    rng = np.random.RandomState(seed)
    reached, (g1, g2) = _compact([_restrict(fit1.ma, prior_masked), _restrict(fit2.ma, prior_masked)], n_prior)
    whole1, whole2 = (not exact_order and target_n == n1), (not exact_order and target_n == n2)
    pairs = _draw_pairs(rng, n1, n2, target_n, difference_iterations, whole1, whole2)
    observed_prior = np.zeros(n_prior, dtype=np.float32)
    observed_prior[reached] = _mean_difference(g1, g2, reached.size, pairs)
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
                foci1 = _draw_foci(rng, sample_space.shape[0], meta1[1])
                foci2 = _draw_foci(rng, sample_space.shape[0], meta2[1])
                draws.append((foci1, foci2,
                              _draw_pairs(rng, n1, n2, target_n, difference_iterations, whole1, whole2)))
            yield s, mask_img, prior_masked, sample_space, meta1, meta2, draws, setup

    setup = DrawSetup.build(mask_img, np.concatenate([meta1[0], meta2[0]])) if fast else None
    min_null = np.zeros(n_iterations, dtype=np.float32)
    max_null = np.zeros(n_iterations, dtype=np.float32)
    null_progress = stage("null")
    for start, lo, hi in ex.map(_null_block, blocks()):
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
