"""The balanced differences: NiMARE's pairs of subsamples (its ``rng.choice`` calls, replayed
by a compiled loop), the mean balanced difference of two groups' MA maps on the prior
voxels (:func:`ale_app.stats.subtraction_kernels._balanced_mean`), and the null draws'
smallest and largest mean difference (:func:`null_block`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ale_app.stats.balanced_draws import Draws
from ale_app.stats.balanced_random_foci import random_ma


@dataclass
class Group:
    """One group's MA maps on the reached prior voxels: CSR rows with compact columns and
    ``1 - MA`` as float32 (numpy's, as NiMARE's ``1.0 - ma`` on its dense float32 array)."""

    ptr: np.ndarray
    col: np.ndarray
    one_minus: np.ndarray


def restrict(ma, prior_masked: np.ndarray):
    """``ma[:, prior_masked]`` in float32 (NiMARE's ``_to_prior_dense`` values), sparse."""
    sub = ma.tocsr()[:, np.flatnonzero(prior_masked)].tocsr()
    sub.sort_indices()
    sub.data = np.asarray(sub.data, dtype=np.float32)
    return sub


def compact(groups: list, n_cols: int):
    """The columns any group reaches, and each group as a :class:`Group` on them."""
    seen = np.zeros(n_cols, dtype=bool)
    for g in groups:
        seen[g.indices] = True
    reached = np.flatnonzero(seen)
    where = np.full(n_cols, -1, dtype=np.int64)
    where[reached] = np.arange(reached.size)
    out = [Group(ptr=g.indptr.astype(np.int64), col=where[g.indices].astype(np.int32),
                  one_minus=np.ascontiguousarray(np.float32(1.0) - g.data.astype(np.float32)))
           for g in groups]
    return reached, out


def mean_difference(g1: Group, g2: Group, n_reached: int, pairs) -> np.ndarray:
    """The mean balanced difference (float32) at the ``n_reached`` voxels of two compacted
    groups, over the subsample pairs of :func:`draw_pairs`."""
    from ale_app.stats.subtraction_kernels import _compiled

    idx1, idx2, n_pairs, whole1, whole2 = pairs
    diff = np.empty(n_reached, dtype=np.float32)
    p1 = np.empty(n_reached, dtype=np.float32)
    p2 = np.empty(n_reached, dtype=np.float32)
    _compiled()["_balanced_mean"](g1.ptr, g1.col, g1.one_minus, g2.ptr, g2.col, g2.one_minus,
                                  idx1, idx2, n_pairs, whole1, whole2, p1, p2, diff)
    return diff


def draw_pairs(rng, n1: int, n2: int, target_n: int, n_pairs: int, whole1: bool, whole2: bool):
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


def null_block(start, mask_img, prior_masked, sample_space, meta1, meta2, draws, setup=None):
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
        ma1 = restrict(random_ma(mask_img, *meta1, sample_space, foci1), prior_masked)
        ma2 = restrict(random_ma(mask_img, *meta2, sample_space, foci2), prior_masked)
        reached, (g1, g2) = compact([ma1, ma2], n_prior)
        diff = mean_difference(g1, g2, reached.size, pairs)
        if reached.size < n_prior:  # the unreached prior voxels: exactly 0
            diff = np.append(diff, np.float32(0.0))
        lo[i], hi[i] = diff.min(), diff.max()
    return start, lo, hi
