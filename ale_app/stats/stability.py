"""Subsampling stability of an inferential ALE result (JALE's probabilistic ALE).

No file IO here. The numbers equal NiMARE 0.22.1's::

    ResampledStability(resampling_policy="subsample", target_n=subset_size, n_resamples=n_subsets,
                       random_state=seed, voxel_thresh=voxel_p, alpha=alpha,
                       mask_coverage=null_space).transform(
        FWECorrector(method="montecarlo", voxel_thresh=voxel_p, n_iters=n_iterations).transform(
            ALE(random_state=seed).fit(studyset)))

draw for draw: the same subsets (NiMARE's ``generate_subset_schedule``), the same random foci
of the cluster-size null (``np.random.RandomState(seed)``: per draw a permutation of the
experiments when a subset is smaller than the evidence base, then each experiment's foci at
random in the null space), the same cluster-size threshold (the ``1 - alpha`` percentile of
the null's largest clusters) and the same map (the share of subsets in which each voxel lies in
a cluster above that size).

What is ale-app's own: each null draw runs through the compiled Monte Carlo pass of
:mod:`ale_app.stats.mc_kernels` (NiMARE builds, thresholds and labels a full MA matrix per
draw), the draws streamed to the workers as they are made; each block of subsets' ALE is one
sparse product of the precomputed ``log1p(-MA)`` columns with the subsets' 0/1 indicator (per
voxel the same float64 additions, in the same row order, as a sum over the subset's rows), with
``1 - exp`` only where a sum can pass the cut. The grey-matter null space (NiMARE's prior
resampled to the template, kept per process) is the one ale-app ships
(:mod:`ale_app.stats.gm_prior`), put into NiMARE's cache so that nothing is resampled. NiMARE thresholds
z from its full-data analytic null at ``z > Phi^-1(1 - voxel_p)``; that z is a monotone step
function of the float32 ALE value, so the same voxels are those whose ALE is at least the
smallest float32 ALE value whose z passes, found once by bisection over the float32 values
(and checked on the fit's own values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ale_app.process.executor import Executor

#: NiMARE's default ``mask_coverage`` of ``ResampledStability`` (grey matter above 10%).
DEFAULT_NULL_SPACE = "gm"
#: NiMARE's cap on a subset schedule ("up to a maximum of 1000").
DEFAULT_N_SUBSETS = 1000


@dataclass
class StabilityResult:
    """Subsampling stability.

    Attributes
    ----------
    frequency_values : numpy.ndarray
        Per in-mask voxel (masker order, float32), the share of subsets in which it lies in a
        cluster above the null's size threshold: NiMARE's
        ``..._diag-ResampledStability`` map.
    clusters : pandas.DataFrame
        One row per FWE cluster of the full analysis: ``cluster_id, size_voxels, stability``
        (share of subsets in which at least one of its voxels lies in a surviving cluster),
        ``peak_frequency`` (the map at the cluster's peak), ``mean_frequency`` (over its voxels).
    subsets : list of numpy.ndarray
        The rows (experiments, in fit order) of each subset.
    subset_size, n_subsets : int
        Experiments per subset; subsets drawn.
    null_cluster_sizes : numpy.ndarray
        Largest cluster (voxels) of each null draw.
    cluster_size_threshold : float
        Clusters must be larger than this many voxels (the null's ``1 - alpha`` percentile).
    ale_threshold : float
        The cluster-forming threshold as an ALE value: a voxel is suprathreshold when its
        float32 ALE is above this value (equivalently, its z under NiMARE's full-data analytic
        null is above ``Phi^-1(1 - voxel_p)``).
    voxel_p, alpha : float
    n_iterations, seed : int
    null_space : str
    """

    frequency_values: np.ndarray
    clusters: pd.DataFrame
    subsets: list
    subset_size: int
    n_subsets: int
    null_cluster_sizes: np.ndarray
    cluster_size_threshold: float
    ale_threshold: float
    voxel_p: float
    alpha: float
    n_iterations: int
    seed: int
    null_space: str


def resolve_subset_size(subset_size: int | None, n_experiments: int) -> int:
    """``subset_size``, or the number of experiments minus one when None (every
    leave-one-out subset, NiMARE's ``leave_1_out`` schedule)."""
    size = n_experiments - 1 if subset_size is None else int(subset_size)
    if not 0 < size <= n_experiments:
        raise ValueError(f"robustness.stability.subset_size must be between 1 and {n_experiments} "
                         f"(the number of experiments); got {size}")
    return size


def ale_cut(z_of: Callable, voxel_p: float) -> float:
    """The largest float32 value whose z does not pass, as float64: a float32 ALE value ``v``
    has ``z_of(v) > Phi^-1(1 - voxel_p)`` exactly when ``v > ale_cut``."""
    from scipy.stats import norm

    z_crit = norm.ppf(1 - voxel_p)
    lo = np.int64(0)  # bits of 0.0: does not pass
    hi = np.int64(np.array(1.0, dtype=np.float32).view(np.int32))
    one = np.array([1.0], dtype=np.float32)
    if not z_of(one)[0] > z_crit:
        return 1.0
    while hi - lo > 1:  # invariant: lo fails, hi passes
        mid = (lo + hi) // 2
        v = np.array([mid], dtype=np.int32).view(np.float32)
        if z_of(v)[0] > z_crit:
            hi = mid
        else:
            lo = mid
    return float(np.array([lo], dtype=np.int32).view(np.float32)[0])


def _null_block(draws, arrays):
    """The largest null cluster (voxels) of each draw of ``draws`` (foci, offsets, kernels)."""
    from ale_app.stats.mc_kernels import _compiled

    run = _compiled()["run"]
    (null_ijk, _offsets, _gk, klog, kstarts, kshapes, kmins, tlog, tstarts, tshapes, tmins, rlo, rhi,
     rstarts, mask, shape, threshold, cut, delta) = arrays
    out = np.zeros(len(draws), dtype=np.int64)
    for t, (idx, offsets, group_kernel) in enumerate(draws):
        _, size, _ = run(idx, null_ijk, offsets, group_kernel, klog, kstarts, kshapes, kmins, tlog, tstarts,
                         tshapes, tmins, rlo, rhi, rstarts, mask, shape, threshold, cut, delta)
        out[t] = int(size[0])
    return out


def null_cluster_sizes(estimator, threshold: float, subset_size: int, n_iterations: int, seed: int,
                       null_space: str = DEFAULT_NULL_SPACE, executor: Executor | None = None,
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
    """The largest suprathreshold cluster of each of ``n_iterations`` null draws, as
    ``ResampledStability`` draws them (``RandomState(seed)``, its order of calls)."""
    from ale_app.stats import nimare_adapter as NA
    from ale_app.stats.montecarlo_plan import plan_from_kernels

    sample_sizes, num_foci, space, supports, group_kernel = NA.stability_null_inputs(estimator, null_space)
    n = len(num_foci)
    kernel_offsets = np.concatenate([s[0] for s in supports])
    kernel_values = np.concatenate([s[1] for s in supports]).astype(np.float32)
    # NiMARE sums np.log1p of the float32 MA values (in float32) as float64 weights.
    log_values = np.log1p(-kernel_values).astype(np.float64)
    kernel_starts = np.concatenate(([0], np.cumsum([len(s[0]) for s in supports]))).astype(np.int64)
    offsets_all = np.concatenate(([0], np.cumsum(num_foci))).astype(np.int64)
    plan = plan_from_kernels(kernel_offsets, log_values, kernel_starts, group_kernel, offsets_all, space,
                             NA.mask_bool(estimator), threshold)
    arrays = plan.arrays()
    rng = np.random.RandomState(int(seed))
    n_space = space.shape[0]

    def draws():
        for _ in range(n_iterations):
            order = rng.permutation(n)[:subset_size] if subset_size < n else np.arange(n)
            # One call for the subset's foci: RandomState's bounded integers draw one 32-bit
            # value at a time (with rejection), so this is NiMARE's one call per experiment.
            idx = rng.randint(0, n_space, size=int(num_foci[order].sum())).astype(np.int32).reshape(-1, 1)
            offsets = np.concatenate(([0], np.cumsum(num_foci[order]))).astype(np.int64)
            yield idx, offsets, np.ascontiguousarray(group_kernel[order])

    executor = (executor or Executor()).for_gil_free_code()
    block = max(1, min(200, -(-n_iterations // max(1, 4 * executor.n_jobs))))
    # Drawn in NiMARE's order, one block at a time as the workers take them (the draws of the
    # next block are made while the compiled pass, which releases the GIL, runs the last one).
    stream = draws()
    blocks = (([next(stream) for _ in range(min(block, n_iterations - s))], arrays)
              for s in range(0, n_iterations, block))

    sizes = []
    for res in executor.map(_null_block, blocks):
        sizes.append(res)
        if progress is not None:
            progress(len(res))
    return np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)


def _supports_block(rows_list, log_t, columns, ale_threshold, ijk, cluster_size_threshold):
    """In-mask voxel indices of each subset's support: the voxels in clusters above the size
    threshold, in NiMARE's order of operations.

    Each subset's ALE sums its rows' ``log1p(-MA)`` per voxel in row order, as a sum over the
    rows of the subset alone does: ``log_t`` (voxels with any MA x experiments, CSR, columns
    in row order) times the subsets' 0/1 indicator adds each voxel's entries in row order,
    the rows outside the subset as ``x * 0.0``, which leaves a float64 sum unchanged.
    ``1 - exp`` and the float32 cast run only where the sum can pass (well inside the
    float32 rounding of the cut), and the suprathreshold voxels are labelled (faces
    connectivity, as NiMARE's ``ndimage.label``) inside their bounding box, which gives the
    same clusters as the whole volume."""
    from scipy import ndimage

    indicator = np.zeros((log_t.shape[1], len(rows_list)), dtype=np.float64)
    for b, rows in enumerate(rows_list):
        indicator[np.asarray(rows), b] = 1.0
    sums = log_t @ indicator  # voxels x subsets, sparse x dense (releases the GIL)
    # 1 - exp(s) is decreasing in s; a sum above this bound cannot round to above the cut.
    bound = np.log1p(-ale_threshold) * (1.0 - 1e-9) if ale_threshold < 1.0 else -np.inf
    voxel, subset = np.nonzero(sums <= bound)
    stat = (1.0 - np.exp(sums[voxel, subset])).astype(np.float32)
    passes = stat.astype(np.float64) > ale_threshold
    voxel, subset = voxel[passes], subset[passes]
    order = np.argsort(subset, kind="stable")  # by subset, voxels ascending within each
    voxel, bounds = voxel[order], np.searchsorted(subset[order], np.arange(len(rows_list) + 1))
    out = []
    for b in range(len(rows_list)):
        supra = columns[voxel[bounds[b]:bounds[b + 1]]]
        if supra.size == 0:
            out.append(supra)
            continue
        where = ijk[supra]
        lo = where.min(axis=0)
        local = where - lo
        sig = np.zeros(tuple(local.max(axis=0) + 1), dtype=bool)
        sig[local[:, 0], local[:, 1], local[:, 2]] = True
        labels, _ = ndimage.label(sig)
        sizes = np.bincount(labels.ravel())
        keep = sizes > cluster_size_threshold
        keep[0] = False
        out.append(supra[keep[labels[local[:, 0], local[:, 1], local[:, 2]]]])
    return out


def resampled_stability(fit, *, subset_size: int | None = None, n_subsets: int | None = DEFAULT_N_SUBSETS,
                        voxel_p: float = 0.001, alpha: float = 0.05, n_iterations: int = 10000, seed: int = 0,
                        null_space: str = DEFAULT_NULL_SPACE, cluster_labels: np.ndarray | None = None,
                        executor: Executor | None = None,
                        progress: Callable[[int], None] | None = None) -> StabilityResult:
    """Subsampling stability of the ALE ``fit`` (an :class:`ale_app.stats.ale.ALEFit` with
    its MA maps), equal to NiMARE's ``ResampledStability`` (see the module docstring).

    Parameters
    ----------
    fit : ale_app.stats.ale.ALEFit
    subset_size : int, optional
        Experiments per subset; None: all but one (every leave-one-out subset).
    n_subsets : int, optional
        Subsets to draw (fewer when fewer distinct subsets exist); None: every distinct
        subset (refused by NiMARE above 1,000).
    voxel_p, alpha, n_iterations, seed : as the inference (cluster-forming p, FWE level,
        null draws, the one seed).
    null_space : {"gm", "brain"}
        Where null foci are drawn (NiMARE's ``mask_coverage``).
    cluster_labels : numpy.ndarray, optional
        In-mask labels (0 = none) of the full analysis's FWE clusters, for the table.
    executor : Executor, optional
        Where the null draws and the subsets run; results never depend on it.
    progress : callable, optional
        Called with the number of null draws, then of subsets, done.
    """
    import scipy.sparse as sp

    from ale_app.stats import nimare_adapter as NA

    if fit.ma is None or fit.estimator is None:
        raise ValueError("the fit's MA maps or estimator are gone (stability needs them)")
    n = fit.ma.shape[0]
    size = resolve_subset_size(subset_size, n)
    subsets = NA.subset_schedule(n, size, n_subsets, seed)
    z_of = NA.full_data_z(fit.estimator, fit.ma)
    ale_threshold = ale_cut(z_of, voxel_p)
    from scipy.stats import norm

    if not np.array_equal(z_of(fit.stat_values) > norm.ppf(1 - voxel_p), fit.stat_values > ale_threshold):
        raise RuntimeError("NiMARE's analytic z is not monotone in ALE here; stability cannot use one ALE cut")
    null_sizes = null_cluster_sizes(fit.estimator, ale_threshold, size, n_iterations, seed, null_space,
                                    executor, progress)
    cluster_size_threshold = float(np.percentile(null_sizes, 100.0 * (1.0 - alpha)))

    ma = fit.ma.tocsr()
    log_csr = sp.csr_matrix((np.log1p(-ma.data), ma.indices, ma.indptr), shape=ma.shape)
    log_t = log_csr.T.tocsr()
    log_t.sort_indices()  # each voxel's entries in row (experiment) order
    columns = np.flatnonzero(np.diff(log_t.indptr))  # voxels with any MA: the others have ALE 0
    log_t = log_t[columns]
    log_t.sort_indices()
    ijk = np.argwhere(NA.mask_bool(fit.estimator))  # in-mask voxels in masker (C) order
    n_vox = ma.shape[1]
    executor = (executor or Executor()).for_gil_free_code()
    block = max(1, min(25, -(-len(subsets) // max(1, 2 * executor.n_jobs))))
    chunks = [subsets[s:s + block] for s in range(0, len(subsets), block)]
    counts = np.zeros(n_vox, dtype=np.int64)
    labels = None if cluster_labels is None else np.asarray(cluster_labels).ravel()
    ids = [] if labels is None else sorted(int(c) for c in np.unique(labels) if c > 0)
    survived = np.zeros(len(ids), dtype=np.int64)
    position = {c: k for k, c in enumerate(ids)}
    for supports in executor.map(_supports_block, ((c, log_t, columns, ale_threshold, ijk,
                                                    cluster_size_threshold) for c in chunks)):
        for support in supports:
            counts[support] += 1
            if ids and labels is not None:  # ids come from labels
                for c in np.unique(labels[support]):
                    if c > 0:
                        survived[position[int(c)]] += 1
        if progress is not None:
            progress(len(supports))
    running = counts.astype(np.float64)
    frequency = (running / len(subsets)).astype(np.float32)
    rows = []
    for k, c in enumerate(ids):
        assert labels is not None  # ids come from labels
        inside = labels == c
        values = fit.stat_values[inside]
        peak = np.flatnonzero(inside)[int(np.argmax(values))]
        rows.append({"cluster_id": c, "size_voxels": int(inside.sum()),
                     "stability": survived[k] / len(subsets),
                     "peak_frequency": float(frequency[peak]),
                     "mean_frequency": float(frequency[inside].astype(np.float64).mean())})
    table = pd.DataFrame(rows, columns=["cluster_id", "size_voxels", "stability", "peak_frequency",
                                        "mean_frequency"])
    return StabilityResult(
        frequency_values=frequency, clusters=table, subsets=list(subsets), subset_size=size,
        n_subsets=len(subsets), null_cluster_sizes=null_sizes, cluster_size_threshold=cluster_size_threshold,
        ale_threshold=ale_threshold, voxel_p=float(voxel_p), alpha=float(alpha), n_iterations=int(n_iterations),
        seed=int(seed), null_space=null_space)
