"""Each group's probabilistic map of the balanced contrast (NiMARE's
``BalancedALESubtraction._probabilistic_map``): the cluster-size threshold from random-foci
null draws (:class:`_NullClusters`, through the compiled kernels of
:mod:`ale_app.stats.balanced_kernels`), then the share of the group's subsamples that put
each voxel in a cluster above it (:mod:`ale_app.stats.balanced_subsamples`).
"""

from __future__ import annotations

import copy

import numpy as np

from ale_app.process.executor import Executor
from ale_app.stats.balanced_draws import DrawSetup, Draws, histogram_bins, passing_bins
from ale_app.stats.balanced_random_foci import draw_foci, random_ma, study_metadata


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
        ma = random_ma(estimator.masker.mask_img, sizes, nfoci, sample_space, foci)
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
    sample_sizes, num_foci = study_metadata(estimator)
    mask_arr = np.asanyarray(estimator.masker.mask_img.dataobj).astype(bool)
    rng = np.random.RandomState(seed)
    draws = []
    for _ in range(n_iterations):
        if target_n < n:
            subset = rng.permutation(n)[:target_n]
            sizes, nfoci = sample_sizes[subset], num_foci[subset]
        else:
            sizes, nfoci = sample_sizes, num_foci
        draws.append((sizes, nfoci, draw_foci(rng, sample_space.shape[0], nfoci)))
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
