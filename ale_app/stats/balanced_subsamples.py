"""The balanced contrast's work when a group is subsampled (``target_n`` below its size),
through the compiled kernels of :mod:`ale_app.stats.balanced_kernels`: a probabilistic
map's subsamples (:class:`_SubsampleMaps`) and the balanced null draws
(:class:`_SubsampledNull`), each giving the numbers NiMARE's functions give, as
:mod:`ale_app.stats.balanced` explains. No file IO here; :mod:`ale_app.stats.balanced`
calls these.
"""

from __future__ import annotations

import numpy as np

from ale_app.stats.balanced_draws import Draws, DrawSetup, histogram_bins, passing_bins


class _SubsampleMaps:
    """A subsample's voxels in clusters above the cluster-size threshold, as NiMARE's
    ``_ale_approximate_z_from_ma`` and ``_threshold_z_clusters`` find them, through the
    compiled pieces of :class:`ale_app.stats.balanced_probabilistic._NullClusters` on the group's own MA rows (taken in the
    subsample's order): NiMARE's histogram, the per-voxel log-sums, z per histogram bin, and
    the passing voxels labelled (faces connectivity) to keep the clusters above it."""

    def __init__(self, estimator, ma, mask_arr):
        self.estimator = estimator
        self.ma = ma
        self.kval = np.ascontiguousarray(ma.data, dtype=np.float32)
        self.klog = np.log1p(-self.kval).astype(np.float64)
        self.sums = np.zeros(ma.shape[1])
        self.touched = np.empty(ma.shape[1], dtype=np.int64)
        self.shape = mask_arr.shape
        self.masked_to_flat = np.flatnonzero(mask_arr.ravel())
        self.label = np.zeros(mask_arr.size, dtype=np.int64)
        self.buffers = None

    def add(self, sample, voxel_p, cluster_threshold, count) -> bool:
        """``count += 1`` at the sample's voxels in kept clusters; False (nothing done)
        where this shortcut does not apply."""
        from ale_app.stats import nimare_adapter as NA
        from ale_app.stats.balanced_kernels import _compiled

        k = _compiled("subsamples")
        starts = self.ma.indptr[sample].astype(np.int64)
        lens = self.ma.indptr[np.asarray(sample) + 1].astype(np.int64) - starts
        ptr = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
        ent = np.repeat(starts - ptr[:-1], lens) + np.arange(ptr[-1], dtype=np.int64)
        vox = self.ma.indices[ent].astype(np.int64)
        row_max = np.array([self.kval[s : s + n].max() if n else 0.0 for s, n in zip(starts, lens)], dtype=np.float32)
        hist_bins = histogram_bins(self.estimator, row_max)
        bin_centers = hist_bins.astype(np.float64, copy=False)
        n_bins = int(bin_centers.shape[0])
        inv_step = 1 / (bin_centers[1] - bin_centers[0])
        if self.buffers is None or self.buffers[0].shape[0] < n_bins:
            size = max(n_bins, 1024) * 2
            self.buffers = (*(np.zeros(size) for _ in range(4)), np.zeros(size, dtype=np.int64))
        k["_approximate_histogram"](self.kval, ent, ptr, self.ma.shape[1], inv_step, n_bins, bin_centers,
                                    *self.buffers)
        passing, zero_passes = passing_bins(self.buffers[0][:n_bins].copy(), voxel_p)
        if zero_passes:
            return False
        n_t = k["_log_sums"](vox, ent, ent.shape[0], self.klog, self.sums, self.touched)
        touched = self.touched[:n_t]
        sums = self.sums[touched]
        self.sums[touched] = 0.0
        first = np.flatnonzero(passing)
        if first.size and passing[first[0]:].all():  # as in _NullClusters.largest
            t = max(0.0, (int(first[0]) - 0.5) / inv_step) * (1 - 1e-5)
            keep = sums <= np.log1p(-t)
            touched, sums = touched[keep], sums[keep]
        stat = (1.0 - np.exp(sums)).astype(np.float32)
        touched, stat = touched[stat > 0], stat[stat > 0]
        bins = NA.round2(stat * inv_step)
        bins[bins >= n_bins] = n_bins - 1
        sig = touched[passing[bins]]
        flat = self.masked_to_flat[sig]
        order = np.argsort(flat)
        keep = np.empty(sig.size, dtype=np.bool_)
        k["_clusters_above"](flat[order], self.label, self.shape[1], self.shape[2], float(cluster_threshold), keep)
        count[sig[order][keep]] += np.float32(1.0)
        return True


class _SubsampledNull:
    """Null draws whose subsamples are not both whole groups, through the compiled kernels
    (:mod:`ale_app.stats.balanced_kernels`): both groups' MA rows, each group's mean product
    of ``1 - MA`` over its subsamples per voxel (float64; the distinct subsamples once each,
    weighted by how often they were drawn), then NiMARE's exact float32 mean difference only
    at the voxels whose bounded rounding lets them be the smallest or the largest. The
    extremes are the bits the sparse path gives. Scratch arrays for one thread.

    A group gets its mean products by multiplying each distinct subsample's rows (or the
    rows it leaves out, when fewer: 10 of 11 leaves one out, and there are only 11), or,
    when that would take more than about two passes over its rows and it has at most
    :attr:`EXPANSION_ROWS` experiments, from the shares of subsamples holding each one, two
    and three experiments (with a bound of the rest), at the cost of about a pass."""

    EXPANSION_ROWS = 64

    def __init__(self, setup: DrawSetup, meta1, meta2, prior_masked):
        n = setup.n_mask
        cap = max(setup.capacity(*meta1), setup.capacity(*meta2))
        self.setup = setup
        self.draws = (Draws(setup, cap, len(meta1[1])), Draws(setup, cap, len(meta2[1])))
        self.q = (np.ones(n), np.ones(n))
        self.cnt = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
        self.a = (np.zeros(n), np.zeros(n))
        self.seen = np.zeros(n, dtype=np.bool_)
        self.touched, self.local, self.cand = (np.empty(n, dtype=np.int64) for _ in range(3))
        self.mean, self.bound = np.empty(n), np.empty(n)
        self.extra = (np.zeros(n), np.zeros(n))
        self.start, self.rows, self.xs = np.empty(n, dtype=np.int64), np.empty(cap, dtype=np.int64), np.empty(cap)
        self.t, self.mark, self.acc = np.ones(n), np.zeros(n, dtype=np.bool_), np.zeros(n)
        self.where = np.full(n, -1, dtype=np.int64)
        self.prior = np.ascontiguousarray(prior_masked, dtype=np.bool_)
        self.n_prior = int(prior_masked.sum())

    @staticmethod
    def _patterns(idx, n_rows: int, whole: bool):
        """The distinct subsamples (rows included, or left out when fewer) and their counts."""
        if whole:
            return np.zeros((0, n_rows), dtype=np.bool_), np.zeros(0, dtype=np.int64), False
        rows = np.zeros((idx.shape[0], n_rows), dtype=np.bool_)
        rows[np.arange(idx.shape[0])[:, None], idx] = True
        exclude = n_rows - idx.shape[1] < idx.shape[1]
        rows = ~rows if exclude else rows
        if n_rows > 62:
            patterns, counts = np.unique(rows, axis=0, return_counts=True)
            return np.ascontiguousarray(patterns), counts.astype(np.int64), exclude
        bits = np.arange(n_rows, dtype=np.int64)
        keys, counts = np.unique((rows.astype(np.int64) << bits).sum(axis=1), return_counts=True)  # one int each
        return np.ascontiguousarray((keys[:, None] >> bits) & 1 == 1), counts.astype(np.int64), exclude

    def extremes(self, sample_space, meta1, meta2, foci1, foci2, pairs):
        from ale_app.stats.balanced_kernels import _compiled

        k = _compiled("subsampled")
        kval = self.setup.kval
        idx1, idx2, n_pairs, whole1, whole2 = pairs
        n_t = 0
        n_ent = []
        for g, (meta, foci) in enumerate(((meta1, foci1), (meta2, foci2))):
            d = self.draws[g]
            n_ent.append(d.ma_rows(sample_space, *meta, foci))
            n_t = k["_group_products"](d.vox, d.ent, n_ent[g], kval, self.prior, self.q[g], self.cnt[g], self.seen,
                                       self.touched, n_t)
        for g, (idx, whole) in enumerate(((idx1, whole1), (idx2, whole2))):
            d = self.draws[g]
            n_rows = d.ptr.shape[0] - 1
            patterns, counts, exclude = self._patterns(idx, n_rows, whole)
            # A pass per distinct subsample over its rows (or those it leaves out) when that is
            # about two passes over the group's rows or fewer, or the group is large.
            if whole or n_rows > self.EXPANSION_ROWS or patterns.sum() <= 2 * n_rows:
                k["_pattern_means"](d.vox, d.ent, d.ptr, kval, self.prior, patterns, counts, n_pairs, exclude, whole,
                                    self.q[g], self.touched, n_t, self.t, self.mark, self.local, self.acc, self.a[g])
                continue
            h = (np.zeros(n_rows), np.zeros((n_rows, n_rows)), np.zeros((n_rows, n_rows, n_rows)))
            top = k["_joint_fractions"](patterns, counts, n_pairs, *h)
            k["_expansion_means"](d.vox, d.ent, d.ptr, kval, self.prior, self.touched, n_t, self.cnt[g], self.q[g],
                                  *h, top, exclude, self.start, self.rows, self.xs, self.a[g], self.extra[g])
        n_c = k["_extreme_candidates"](self.touched, n_t, *self.a, *self.q, *self.cnt, *self.extra, n_pairs,
                                       self.mean, self.bound, self.cand)
        cand = self.cand[:n_c]
        self.where[cand] = np.arange(n_c)
        om = []
        for d in self.draws:
            om.append(np.ones((d.ptr.shape[0] - 1, n_c), dtype=np.float32))
            k["_rows_at"](d.vox, d.ent, d.ptr, kval, self.where, om[-1])
        self.where[cand] = -1
        means = np.empty(n_c, dtype=np.float32)
        k["_candidate_means"](*om, *self.q, cand, n_c, idx1, idx2, n_pairs, whole1, whole2, means)
        self.n_reached = n_t  # touched, mean and bound hold the last draw's voxels (for tests)
        touched = self.touched[:n_t]
        for g in range(2):
            self.q[g][touched] = 1.0
            self.cnt[g][touched] = 0
            self.extra[g][touched] = 0.0
        self.seen[touched] = False
        if n_t < self.n_prior:  # the unreached prior voxels: a difference of exactly 0
            means = np.append(means, np.float32(0.0))
        return means.min(), means.max()
