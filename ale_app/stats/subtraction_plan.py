"""The ALE subtraction's plan: what every permutation needs, fixed for the run (plain
arrays, cheap to pickle): the pooled experiments' ``log1p(-MA)`` entries (numpy's float32
values, NiMARE's bincount weights) cut into tiles of the voxels some experiment reaches, the
observed difference there, and how many of the largest ``|differences|`` the cluster-forming
threshold needs (:func:`ale_app.stats.subtraction_quantile.quantile_rank`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ale_app.stats.subtraction_quantile import quantile_rank


#: Voxels per tile of the log-sum pass (its four float64 sums, 256 KiB, stay in cache; a
#: voxel's offset in its tile fits in 16 bits).
TILE = 8192


@dataclass
class SubtractionPlan:
    """What every permutation needs, fixed for the run (plain arrays, cheap to pickle)."""

    tile_ptr: np.ndarray  # (n1 + n2, n_tiles + 1) int64: each pooled row's entries per tile
    off: np.ndarray  # uint16: each entry's voxel, as its offset in its tile of reached voxels
    w: np.ndarray  # float32: each entry's log1p(-MA), as numpy computes it (NiMARE's weights)
    obs: np.ndarray  # (n_reached,) float64: the observed difference at the reached voxels
    n1: int
    n_voxels: int  # in-mask voxels
    k: int  # how many of the largest |differences| the threshold needs

    @property
    def n_total(self) -> int:
        return self.tile_ptr.shape[0]

    @property
    def n_reached(self) -> int:
        return self.obs.shape[0]


def _log1p_neg(data: np.ndarray) -> np.ndarray:
    """``np.log1p(-data)`` on a fresh contiguous float32 array: NiMARE's bincount weights
    (float32; bincount adds them as float64)."""
    return np.log1p(-np.ascontiguousarray(data, dtype=np.float32))


def build_plan(ma1, ma2, diff_values: np.ndarray, n_iterations: int, voxel_p: float) -> tuple[SubtractionPlan, np.ndarray]:
    """The plan of a subtraction of ``ma1`` minus ``ma2`` (CSR, experiments x in-mask voxels).

    Returns the plan and ``reached``: the in-mask voxels some experiment reaches (the plan's
    positions index it).
    """
    import scipy.sparse as sp

    ma1 = sp.csr_matrix(ma1)
    ma2 = sp.csr_matrix(ma2)
    if ma1.shape[1] != ma2.shape[1]:
        raise ValueError("the two groups' MA maps have different numbers of voxels")
    n_voxels = ma1.shape[1]
    reached = np.union1d(ma1.indices, ma2.indices).astype(np.int64)
    where = np.full(n_voxels, -1, dtype=np.int64)
    where[reached] = np.arange(reached.size)
    indptr = np.concatenate([ma1.indptr.astype(np.int64), ma1.indptr[-1] + ma2.indptr[1:].astype(np.int64)])
    # Each row's entries in voxel order (so in NiMARE's canonical CSR; sorted here
    # otherwise: a voxel's one entry per row is added in row order either way).
    pos = where[np.concatenate([ma1.indices, ma2.indices])].astype(np.int32)
    order = None
    if not (ma1.has_canonical_format and ma2.has_canonical_format):
        row_of = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        order = np.lexsort((pos, row_of))
        pos = pos[order]
        if np.any((np.diff(pos) == 0) & (np.diff(row_of) == 0)):
            raise ValueError("an MA map holds a voxel twice")
    n_tiles = max(1, -(-reached.size // TILE))
    bounds = np.arange(n_tiles + 1, dtype=np.int64) * TILE
    tile_ptr = np.empty((indptr.size - 1, n_tiles + 1), dtype=np.int64)
    for r in range(indptr.size - 1):
        tile_ptr[r] = indptr[r] + np.searchsorted(pos[indptr[r]:indptr[r + 1]], bounds)
    off = (pos % TILE).astype(np.uint16)
    # The weights per group, as NiMARE's bincount takes them (numpy's float32 log1p).
    w = np.concatenate([_log1p_neg(ma1.data), _log1p_neg(ma2.data)])
    if order is not None:
        w = w[order]
    obs = np.asarray(diff_values, dtype=np.float32)[reached].astype(np.float64)
    plan = SubtractionPlan(tile_ptr=tile_ptr, off=off, w=np.ascontiguousarray(w),
                           obs=np.ascontiguousarray(obs), n1=int(ma1.shape[0]), n_voxels=int(n_voxels),
                           k=quantile_rank(int(n_iterations) * int(n_voxels), 1 - voxel_p)[0])
    return plan, reached
