"""The ALE subtraction's permutation null: NiMARE's permutations in blocks on any executor
through the compiled kernels (:mod:`ale_app.stats.subtraction_kernels`), giving the tail
counts, the largest ``|difference|`` per permutation and the largest values for the
threshold (:mod:`ale_app.stats.subtraction_quantile`); then each permutation's largest
cluster size and mass above the threshold.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ale_app.process.executor import Executor
from ale_app.stats.subtraction_kernels import _compiled
from ale_app.stats.subtraction_plan import TILE, SubtractionPlan
from ale_app.stats.subtraction_quantile import TopK


def _run_block(start: int, seeds: list, plan: SubtractionPlan, bound: float):
    """Permutations ``start .. start + len(seeds) - 1``: their largest ``|difference|``, the
    tail counts at the reached voxels, and the candidate values above ``bound``."""
    from ale_app.stats.nimare_adapter import subtraction_permutation

    kernels = _compiled()
    log_sums, compare = kernels["_log_sums"], kernels["_compare"]
    n_reached = plan.n_reached
    acc = np.empty(4 * TILE, dtype=np.float64)
    lab = np.empty((2, n_reached), dtype=np.float64)
    upper = np.zeros(n_reached, dtype=np.uint32)
    lower = np.zeros(n_reached, dtype=np.uint32)
    max_abs = np.empty(len(seeds), dtype=np.float32)
    cand_pos = np.empty(n_reached, dtype=np.int32)
    cand_val = np.empty(n_reached, dtype=np.float32)
    top = TopK(plan.k, bound)
    for i, seed in enumerate(seeds):
        perm = subtraction_permutation(plan.n_total, plan.n1, seed).astype(np.int64)
        log_sums(perm, plan.n1, plan.tile_ptr, plan.off, plan.w, acc, lab)
        np.exp(lab, out=lab)  # numpy's exp, as NiMARE's 1 - np.exp(log_sums)
        mx, n_cand = compare(lab, plan.obs, upper, lower, top.bound, cand_pos, cand_val)
        max_abs[i] = np.float32(mx)
        if n_cand:
            top.add(np.full(n_cand, start + i, dtype=np.int32), cand_pos[:n_cand].copy(), cand_val[:n_cand].copy())
    it, pos, val = top.arrays()
    return start, max_abs, upper, lower, it, pos, val, top.max_bound


def run_permutations(plan: SubtractionPlan, seeds: list, executor: Executor | None = None,
                     block_size: int | None = None, progress: Callable[[int], None] | None = None):
    """All permutations, in blocks handed to ``executor`` (serial when None; the compiled
    loop and numpy's exp release the GIL, so threads run blocks in parallel).

    Returns the float32 largest ``|difference|`` per iteration, the tail counts at the
    reached voxels, the kept candidates ``(iteration, position, value)`` and the largest
    bound any block dropped values at.
    """
    executor = (executor or Executor()).for_gil_free_code()
    n_iterations = len(seeds)
    if block_size is None:
        block_size = max(1, min(500, -(-n_iterations // max(1, 4 * executor.n_jobs))))
    top = TopK(plan.k)
    max_abs = np.empty(n_iterations, dtype=np.float32)
    upper = np.zeros(plan.n_reached, dtype=np.uint32)
    lower = np.zeros(plan.n_reached, dtype=np.uint32)
    max_bound = 0.0

    def blocks():
        for s in range(0, n_iterations, block_size):
            # The bound so far (read when the block is handed out) only saves memory.
            yield s, list(seeds[s : s + block_size]), plan, top.bound

    for start, block_max, block_upper, block_lower, it, pos, val, block_bound in executor.map(
            _run_block, blocks(), n_tasks=-(-n_iterations // block_size)):
        max_abs[start : start + block_max.shape[0]] = block_max
        upper += block_upper
        lower += block_lower
        max_bound = max(max_bound, block_bound)
        top.add(it, pos, val)
        if progress is not None:
            progress(int(block_max.shape[0]))
    top.prune()
    max_bound = max(max_bound, top.max_bound)
    it, pos, val = top.arrays()
    return max_abs, upper, lower, (it, pos, val), max_bound


def cluster_null(candidates, threshold: np.float32, n_iterations: int, flat_index: np.ndarray,
                 shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Per iteration, the largest cluster size and mass of ``|difference| > threshold``
    (float32), from the kept candidates (positions mapped to flat volume indices by
    ``flat_index``)."""
    it, pos, val = candidates
    above = np.abs(val) > threshold
    it, vox, val = it[above], flat_index[pos[above]], val[above]
    order = np.lexsort((vox, it))
    it, vox, val = it[order], np.ascontiguousarray(vox[order], dtype=np.int64), np.ascontiguousarray(val[order])
    starts = np.searchsorted(it, np.arange(n_iterations + 1)).astype(np.int64)
    label = np.zeros(int(np.prod(shape)), dtype=np.int64)
    return _compiled()["_cluster_null"](starts, vox, val, np.float32(threshold), label, int(shape[1]), int(shape[2]))
