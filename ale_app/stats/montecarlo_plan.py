"""The Monte Carlo null's plan: everything one iteration of the compiled loop
(:mod:`ale_app.stats.mc_kernels`) needs, fixed for the run, as plain arrays.

From NiMARE's fitted ``ALE`` (its kernels, their grouping by experiment, the voxels random
foci are drawn from, the brain mask) or from sparse kernel supports: each kernel's full box
of ``log1p(-kernel)`` values, for the exact values, and its *truncated* box (only kernel
values above a small cut-off), for the bound that rules most voxels out; see
:func:`ale_app.stats.mc_kernels._run_iterations` for how the two are used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ale_app.stats.mc_kernels import _compiled


#: The truncation cut-off of the volume pass is ``TRUNCATION_BAND / n_experiments`` times
#: the smaller of the cluster-forming threshold and the smallest kernel peak, so the bound
#: ``delta`` stays a small fraction of both and few voxels need their exact value.
TRUNCATION_BAND = 0.1


@dataclass
class MonteCarloPlan:
    """Everything one Monte Carlo iteration needs, fixed for the run (plain arrays)."""

    null_ijk: np.ndarray  # (n_null, 3) int32: voxels random foci are drawn from
    offsets: np.ndarray  # (n_experiments + 1,) int64: foci of each experiment
    group_kernel: np.ndarray  # (n_experiments,) int64: kernel of each experiment
    klog: np.ndarray  # float64: log1p(-kernel) of every full kernel box, concatenated
    kstarts: np.ndarray  # (n_kernels,) int64
    kshapes: np.ndarray  # (n_kernels, 3) int64
    kmins: np.ndarray  # (n_kernels, 3) int64: offset of each box's first voxel
    tlog: np.ndarray  # float64: the truncated kernels' boxes, concatenated
    tstarts: np.ndarray  # (n_kernels,) int64
    tshapes: np.ndarray  # (n_kernels, 3) int64
    tmins: np.ndarray  # (n_kernels, 3) int64
    rlo: np.ndarray  # int64: per row (i, j) of each truncated box, its first kept k ...
    rhi: np.ndarray  # int64: ... and one past its last (rlo == rhi: an empty row)
    rstarts: np.ndarray  # (n_kernels,) int64: each truncated box's first row
    mask: np.ndarray  # flat bool brain mask, C order
    shape: np.ndarray  # (3,) int64
    threshold: float  # cluster-forming ALE value
    cut: float  # log-sum above which ALE <= threshold
    delta: float  # lower bound of (exact - truncated) log-sum, <= 0

    @property
    def n_foci(self) -> int:
        return int(self.offsets[-1])

    def arrays(self) -> tuple:
        return (self.null_ijk, self.offsets, self.group_kernel, self.klog, self.kstarts,
                self.kshapes, self.kmins, self.tlog, self.tstarts, self.tshapes, self.tmins,
                self.rlo, self.rhi, self.rstarts, self.mask, self.shape, float(self.threshold),
                float(self.cut), float(self.delta))


def _truncate(box: np.ndarray, keep_below: float):
    """The part of a full ``log1p(-kernel)`` box the volume pass adds.

    Keeps, row by row, the run from the first to the last value below ``keep_below`` (MA
    above the cut-off), inside the bounding box of those values. Returns the truncated box,
    its offset in the full box, the row runs, and the smallest dropped value (0 if none).
    """
    keep = box < keep_below
    if not keep.any():
        keep = box <= box.min()
    where = np.argwhere(keep)
    b0, b1 = where.min(axis=0), where.max(axis=0) + 1
    sub = box[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]]
    ksub = keep[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]]
    rows = ksub.reshape(-1, ksub.shape[2])
    has = rows.any(axis=1)
    rlo = np.where(has, rows.argmax(axis=1), 0)
    rhi = np.where(has, rows.shape[1] - rows[:, ::-1].argmax(axis=1), 0)
    kept = np.zeros(box.shape, dtype=bool)
    kept_sub = kept[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]].reshape(-1, ksub.shape[2])
    cols = np.arange(ksub.shape[2])
    kept_sub[:] = (cols >= rlo[:, None]) & (cols < rhi[:, None])
    kept[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]] = kept_sub.reshape(ksub.shape)
    dropped = box[~kept]
    dmin = float(dropped.min()) if dropped.size else 0.0
    return np.ascontiguousarray(sub), b0, rlo.astype(np.int64), rhi.astype(np.int64), min(dmin, 0.0)


def build_plan(estimator, threshold: float, band: float = TRUNCATION_BAND) -> MonteCarloPlan:
    """The Monte Carlo plan of a fitted NiMARE ``ALE`` (NiMARE's own kernels and grouping).

    ``band`` (between 0 and 1) sets the truncation cut-off (see :data:`TRUNCATION_BAND`);
    it changes the speed, never the numbers.
    """
    from ale_app.stats.nimare_adapter import mask_bool, null_voxels, permutation_plan

    nimare_plan = permutation_plan(estimator)
    log_values = _compiled()["log1p_neg"](np.ascontiguousarray(nimare_plan.kernel_values, dtype=np.float32))
    return plan_from_kernels(nimare_plan.kernel_offsets, log_values, nimare_plan.kernel_starts,
                             nimare_plan.group_kernel, nimare_plan.offsets, null_voxels(estimator),
                             mask_bool(estimator), threshold, band)


def plan_from_kernels(kernel_offsets, log_values, kernel_starts, group_kernel, offsets, null_ijk, mask,
                      threshold: float, band: float = TRUNCATION_BAND) -> MonteCarloPlan:
    """A Monte Carlo plan from sparse kernel supports (offsets from the centre, their
    ``log1p(-value)`` in float64, ``kernel_starts`` delimiting each kernel), the kernel of each
    experiment, the foci ``offsets`` of the experiments, the voxels foci are drawn from and
    the 3-D bool brain mask."""
    if not 0 < band < 1:
        # Below 1 the bound can never make an untouched voxel a candidate (see _run_iterations).
        raise ValueError("band must be between 0 and 1")
    boxes, kmins = [], []
    for k in range(len(kernel_starts) - 1):
        lo, hi = kernel_starts[k], kernel_starts[k + 1]
        offs = np.asarray(kernel_offsets[lo:hi]).astype(np.int64)
        kmin = offs.min(axis=0)
        box = np.zeros(tuple(offs.max(axis=0) - kmin + 1), dtype=np.float64)
        pos = offs - kmin
        # Where two support entries share a voxel (never for NiMARE's kernels) keep the max.
        np.minimum.at(box, (pos[:, 0], pos[:, 1], pos[:, 2]), log_values[lo:hi])
        boxes.append(box)
        kmins.append(kmin)
    group_kernel = np.ascontiguousarray(group_kernel, dtype=np.int64)
    n_experiments = max(1, len(group_kernel))
    smallest_peak = min(-math.expm1(float(b.min())) for b in boxes)
    eps = band * min(float(threshold), smallest_peak) / n_experiments
    keep_below = math.log1p(-eps)
    truncated = [_truncate(b, keep_below) for b in boxes]
    # Per experiment, the exact term is at least the truncated one plus its kernel's
    # smallest dropped value; the margin covers the rounding of two float64 sums.
    delta = float(sum(truncated[k][4] for k in group_kernel)) - 1e-9

    def concat(parts):
        starts, total = [], 0
        for part in parts:
            starts.append(total)
            total += part.size
        return np.ascontiguousarray(np.concatenate([p.ravel() for p in parts])), np.asarray(starts, dtype=np.int64)

    klog, kstarts = concat(boxes)
    tlog, tstarts = concat([t[0] for t in truncated])
    rlo, rstarts = concat([t[2] for t in truncated])
    rhi, _ = concat([t[3] for t in truncated])
    return MonteCarloPlan(
        null_ijk=np.ascontiguousarray(null_ijk, dtype=np.int32),
        offsets=np.ascontiguousarray(offsets, dtype=np.int64),
        group_kernel=group_kernel,
        klog=klog,
        kstarts=kstarts,
        kshapes=np.asarray([b.shape for b in boxes], dtype=np.int64),
        kmins=np.asarray(kmins, dtype=np.int64),
        tlog=tlog,
        tstarts=tstarts,
        tshapes=np.asarray([t[0].shape for t in truncated], dtype=np.int64),
        tmins=np.asarray([kmins[k] + t[1] for k, t in enumerate(truncated)], dtype=np.int64),
        rlo=rlo.astype(np.int64),
        rhi=rhi.astype(np.int64),
        rstarts=rstarts,
        mask=np.ascontiguousarray(mask.ravel()),
        shape=np.asarray(mask.shape, dtype=np.int64),
        threshold=float(threshold),
        cut=float(math.log1p(-float(threshold)) + 1e-6),
        delta=delta,
    )
