"""The random-foci draws of NiMARE's balanced contrast, compiled: NiMARE's sparse ALE kernels
kept per sample size, the set-up the compiled kernels (:mod:`ale_app.stats.balanced_kernels`)
read, per-thread scratch arrays for a draw's MA rows, and NiMARE's histogram bins with the
bins whose ALE passes the voxel threshold. Shared by the probabilistic maps and the null
(:mod:`ale_app.stats.balanced`) and the subsampled groups
(:mod:`ale_app.stats.balanced_subsamples`). No file IO here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: NiMARE's sparse kernel support per (mask shape, affine, sample size).
KERNELS: dict = {}


def kernel_support(mask_img, sample_size: int):
    """NiMARE's sparse ALE kernel of a sample size (``get_ale_kernel``), kept for reuse:
    NiMARE's ``compute_ale_ma`` rebuilds it at every call."""
    from nimare.meta.utils import get_ale_kernel

    from ale_app.stats import nimare_adapter as NA

    key = (mask_img.shape, tuple(np.asarray(mask_img.affine).ravel()), int(sample_size))
    if key not in KERNELS:
        _, kernel = get_ale_kernel(mask_img, sample_size=int(sample_size))
        KERNELS[key] = NA.kernel_to_sparse_support(kernel)
    return KERNELS[key]


@dataclass
class DrawSetup:
    """What the compiled random-foci draws (:mod:`ale_app.stats.balanced_kernels`) read:
    NiMARE's sparse kernels of every sample size (offsets, float32 values and numpy's float32
    ``log1p(-value)`` as float64, as NiMARE's ``np.log1p`` on the MA values and its
    ``bincount`` weights give them), the grid, and the masked <-> flat voxel maps."""

    koff: np.ndarray
    kflat: np.ndarray
    kbox: np.ndarray
    kval: np.ndarray
    klog: np.ndarray
    kstart: np.ndarray
    kernel_of: dict
    support: dict
    flat_to_masked: np.ndarray
    masked_to_flat: np.ndarray
    shape: tuple
    n_mask: int

    @classmethod
    def build(cls, mask_img, sample_sizes):
        from ale_app.stats import nimare_adapter as NA

        sizes = sorted({int(s) for s in sample_sizes})
        offs, vals, starts = [], [], [0]
        for s in sizes:
            o, v = kernel_support(mask_img, s)
            offs.append(np.asarray(o, dtype=np.int64))
            vals.append(np.asarray(v, dtype=np.float32))
            starts.append(starts[-1] + len(v))
        kval = np.ascontiguousarray(np.concatenate(vals))
        flat_to_masked = np.ascontiguousarray(NA.get_mask_flat_to_masked(mask_img), dtype=np.int32)
        koff = np.ascontiguousarray(np.concatenate(offs))
        _, ny, nz = mask_img.shape
        kbox = np.array([np.r_[o.min(axis=0), o.max(axis=0)] for o in offs], dtype=np.int64)
        return cls(koff=koff, kflat=(koff[:, 0] * (ny * nz) + koff[:, 1] * nz + koff[:, 2]).astype(np.int64),
                   kbox=kbox, kval=kval,
                   klog=np.log1p(-kval).astype(np.float64), kstart=np.array(starts, dtype=np.int64),
                   kernel_of={s: i for i, s in enumerate(sizes)},
                   support={s: starts[i + 1] - starts[i] for i, s in enumerate(sizes)},
                   flat_to_masked=flat_to_masked, masked_to_flat=np.flatnonzero(flat_to_masked >= 0),
                   shape=tuple(int(x) for x in mask_img.shape), n_mask=int((flat_to_masked >= 0).sum()))

    def capacity(self, sample_sizes, num_foci) -> int:
        """An upper bound of the MA entries of experiments with these sizes and foci."""
        return int(sum(int(nf) * self.support[int(s)] for s, nf in zip(sample_sizes, num_foci)))


class Draws:
    """Per-thread scratch arrays for :func:`_ma_rows` draws of one setup."""

    def __init__(self, setup: DrawSetup, capacity: int, n_rows: int):
        self.setup = setup
        self.best = np.zeros(setup.n_mask, dtype=np.float32)
        self.best_e = np.zeros(setup.n_mask, dtype=np.int32)
        self.vox = np.empty(max(1, capacity), dtype=np.int64)
        self.ent = np.empty(max(1, capacity), dtype=np.int64)
        self.ptr = np.zeros(n_rows + 1, dtype=np.int64)
        self.row_max = np.zeros(n_rows, dtype=np.float32)

    def ma_rows(self, sample_space, sample_sizes, num_foci, foci) -> int:
        """The draw's MA rows (as NiMARE's ``_random_ale_ma_from_metadata``); returns the
        number of entries in ``vox``/``ent`` (rows ``ptr``)."""
        from ale_app.stats.balanced_kernels import _compiled

        st = self.setup
        ijk = sample_space[np.concatenate(foci)].astype(np.int64) if len(foci) else np.zeros((0, 3), np.int64)
        exp_ptr = np.concatenate(([0], np.cumsum(np.asarray(num_foci, dtype=np.int64))))
        exp_kernel = np.array([st.kernel_of[int(s)] for s in sample_sizes], dtype=np.int64)
        n_rows = len(num_foci)
        if self.ptr.shape[0] != n_rows + 1:
            self.ptr = np.zeros(n_rows + 1, dtype=np.int64)
            self.row_max = np.zeros(n_rows, dtype=np.float32)
        need = st.capacity(sample_sizes, num_foci)
        if need > self.vox.shape[0]:
            self.vox = np.empty(need, dtype=np.int64)
            self.ent = np.empty(need, dtype=np.int64)
        nx, ny, nz = st.shape
        n = _compiled()["_ma_rows"](np.ascontiguousarray(ijk), exp_ptr, exp_kernel, st.koff, st.kflat, st.kbox,
                                    st.kval, st.kstart,
                                    st.flat_to_masked, nx, ny, nz, self.best, self.best_e, self.vox, self.ent,
                                    self.ptr, self.row_max)
        if n < 0:
            raise RuntimeError("the MA buffer was too short (a bug in its bound)")
        return int(n)


def histogram_bins(estimator, row_max):
    """NiMARE's ``ALE._determine_histogram_bins`` from the rows' maxima (float32)."""
    from ale_app.stats import nimare_adapter as NA

    inv = 100000
    step = 1 / inv
    max_ma = np.ceil(row_max * inv) / inv
    max_poss_ale = NA.compute_summarystat(estimator, max_ma)
    return np.round(np.arange(0, max_poss_ale + (1.5 * step), step), 5)


def passing_bins(hist, voxel_p):
    """Per histogram bin, whether a voxel whose ALE falls in it passes NiMARE's
    ``_threshold_z_clusters`` (z from ``nullhist_to_p`` and ``p_to_z``, as float32, above
    ``norm.ppf(1 - voxel_p)``), and whether a voxel with ALE 0 (p = 1) would."""
    from nimare.transforms import p_to_z
    from scipy.stats import norm

    weights = hist[:, None]
    null = weights / np.sum(weights, axis=0)
    null = np.cumsum(null[::-1, :], axis=0)[::-1, :]
    null /= np.max(null, axis=0)
    null = np.squeeze(null)
    smallest = np.min(null[null != 0])
    p = np.maximum(smallest, np.minimum(null, 1.0))
    z_crit = norm.ppf(1 - voxel_p)
    passing = p_to_z(p, tail="one").astype(np.float32) > z_crit
    p_zero = np.maximum(smallest, np.minimum(np.ones(1), 1.0))
    zero_passes = bool((p_to_z(p_zero, tail="one").astype(np.float32) > z_crit)[0])
    return passing, zero_passes
