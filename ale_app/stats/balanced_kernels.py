"""The compiled core of the balanced contrast's random-foci draws (numba, ``nogil``).

A random-foci draw puts every experiment's foci at random voxels and needs, per experiment,
its modelled-activation (MA) map: at each in-mask voxel the largest kernel value of its foci
(NiMARE's ``compute_ale_ma``). :func:`_ma_rows` builds those maps in a dense scratch
array (no sort, no sparse matrix) and keeps, per voxel, the kernel entry that gave its
value, so that its ``log1p(-MA)`` is numpy's float32 value precomputed per kernel entry.

For a probabilistic map's null draw, :func:`_log_sums` adds those per voxel in experiment
order from 0.0 in float64 (as NiMARE's ``np.bincount`` over the CSR rows adds them), and
:func:`_approximate_histogram` forms NiMARE's approximate-null histogram
(``ALE._compute_null_approximate``: the same bins, the same float64 products added into the
same bins in the same order, so the same bits; see the function).

For a balanced null draw, :func:`_whole_products` multiplies each group's ``1 - MA`` (float32,
as numpy's ``1.0 - ma`` on float32 values) per prior voxel in float64 in experiment order, as
:func:`ale_app.stats.subtraction_kernels._whole_product` does on the sparse rows.

The functions are plain Python until a set of :data:`SETS` compiles them; the clusters are
labelled by :mod:`ale_app.stats.cluster_kernels`.
"""

from __future__ import annotations

import numpy as np

from ale_app.stats.cluster_kernels import CLUSTER_FUNCTIONS, clusters_above, largest_cluster
from ale_app.stats.kernel_compile import KernelSet


def _ma_rows(ijk, exp_ptr, exp_kernel, koff, kflat, kbox, kval, kstart, flat_to_masked, nx, ny, nz, best,
             best_e, vox_out, ent_out, ptr_out, row_max):
    """Each experiment's MA map from its foci ``ijk[exp_ptr[g]:exp_ptr[g + 1]]``.

    Experiment ``g`` uses kernel ``exp_kernel[g]``: entries ``kstart[k] .. kstart[k + 1] - 1``
    of ``koff`` (offsets from the focus; ``kflat`` the same as flat-index offsets; ``kbox[k]``
    the smallest and largest offset per axis) and ``kval`` (float32 values). Writes, row after
    row, the in-mask voxels reached (``vox_out``, masked indices, in first-reached order) and
    the kernel entry of their largest value (``ent_out``; the first such entry: equal values
    are equal), ``ptr_out`` (row offsets) and ``row_max`` (float32). ``best``/``best_e`` are
    all-zero scratch arrays over the masked voxels and are left all zero. Returns the number
    of entries written, or -1 when ``vox_out`` is too short.
    """
    n = 0
    cap = vox_out.shape[0]
    ptr_out[0] = 0
    stride_x = ny * nz
    for g in range(exp_ptr.shape[0] - 1):
        k = exp_kernel[g]
        row_start = n
        for f in range(exp_ptr[g], exp_ptr[g + 1]):
            pi, pj, pk = ijk[f, 0], ijk[f, 1], ijk[f, 2]
            inside = (pi + kbox[k, 0] >= 0 and pj + kbox[k, 1] >= 0 and pk + kbox[k, 2] >= 0
                      and pi + kbox[k, 3] < nx and pj + kbox[k, 4] < ny and pk + kbox[k, 5] < nz)
            base = pi * stride_x + pj * nz + pk
            if n + (kstart[k + 1] - kstart[k]) > cap:
                return -1
            if inside:  # the whole kernel box is in the volume: flat offsets, no bounds tests
                for e in range(kstart[k], kstart[k + 1]):
                    m = flat_to_masked[base + kflat[e]]
                    if m < 0:
                        continue
                    v = kval[e]
                    b = best[m]
                    vox_out[n] = m  # kept only when the voxel is new (branch-free)
                    n += b == 0.0
                    if v > b:
                        best[m] = v
                        best_e[m] = e
                continue
            for e in range(kstart[k], kstart[k + 1]):
                x = koff[e, 0] + pi
                y = koff[e, 1] + pj
                z = koff[e, 2] + pk
                if x < 0 or y < 0 or z < 0 or x >= nx or y >= ny or z >= nz:
                    continue
                m = flat_to_masked[x * stride_x + y * nz + z]
                if m < 0:
                    continue
                v = kval[e]
                b = best[m]
                if b == 0.0:
                    vox_out[n] = m
                    n += 1
                if v > b:
                    best[m] = v
                    best_e[m] = e
        mx = np.float32(0.0)
        for p in range(row_start, n):
            m = vox_out[p]
            ent_out[p] = best_e[m]
            if best[m] > mx:
                mx = best[m]
            best[m] = 0.0
            best_e[m] = 0
        ptr_out[g + 1] = n
        row_max[g] = mx
    return n


def _log_sums(vox, ent, n, klog, sums, touched):
    """``sums[v] += klog[entry]`` over the first ``n`` entries (rows in order: each voxel's
    experiments in order, from 0.0). ``touched`` gets the voxels reached (first-reached
    order); returns how many. ``sums`` must be all zero where not yet reached."""
    n_t = 0
    for p in range(n):
        v = vox[p]
        if sums[v] == 0.0:
            touched[n_t] = v
            n_t += 1
        sums[v] += klog[ent[p]]
    return n_t


def _nearest_bin(value, inv_step_size, n_bins):
    """NiMARE's ``null_utils._nearest_bin`` (the same operations)."""
    scaled = value * inv_step_size
    floor = np.floor(scaled)
    idx = int(floor) + int(scaled - floor >= 0.5)
    if idx < 0:
        return 0
    elif idx >= n_bins:
        return n_bins - 1
    return idx


def _study_histogram(vals, n_zero, recip, inv_step_size, n_bins, out):
    """NiMARE's ``_study_ma_histogram`` into ``out``."""
    for b in range(n_bins):
        out[b] = 0.0
    for i in range(vals.shape[0]):
        out[_nearest_bin(vals[i], inv_step_size, n_bins)] += 1.0
    out[0] += n_zero
    for b in range(n_bins):
        out[b] *= recip


def _approximate_histogram(kval, ent, ptr, n_mask, inv_step_size, n_bins, bin_centers, ale, tmp, exp_hist,
                           one_minus, jbuf):
    """NiMARE's approximate-null ALE histogram of the rows (``ent``: kernel entries, so
    values ``kval[ent]``) over ``n_bins`` bins, written to ``ale``.

    As ``ALE._compute_null_approximate`` with ``_update_ale_histogram``: per row after the
    first, for each of its non-zero bins in order, for each ALE bin in order, the float64
    product added into the bin of ``1 - (1 - c_exp) * (1 - c_ale)``. Here every ALE bin up to
    the last non-zero one is visited (a zero one adds ``+0.0``, which changes no bit), the
    bins of one exp bin are computed first in a loop of their own (which the compiler
    vectorises: the same operations on each element) and then added.
    """
    recip = 1.0 / n_mask
    top = n_bins - 1
    for k in range(n_bins):
        one_minus[k] = 1.0 - bin_centers[k]
    for g in range(ptr.shape[0] - 1):
        a, b = ptr[g], ptr[g + 1]
        vals = np.empty(b - a, dtype=np.float32)
        for i in range(b - a):
            vals[i] = kval[ent[a + i]]
        if g == 0:
            _study_histogram(vals, n_mask - (b - a), recip, inv_step_size, n_bins, ale)
            continue
        _study_histogram(vals, n_mask - (b - a), recip, inv_step_size, n_bins, exp_hist)
        last = -1
        for k in range(n_bins):
            if ale[k] > 0.0:
                last = k
        for k in range(n_bins):
            tmp[k] = 0.0
        for e in range(n_bins):
            ep = exp_hist[e]
            if not ep > 0.0:
                continue
            exp_one_minus = 1.0 - bin_centers[e]
            for k in range(last + 1):
                scaled = (1.0 - exp_one_minus * one_minus[k]) * inv_step_size
                floor = np.floor(scaled)
                idx = np.int64(floor) + np.int64(scaled - floor >= 0.5)
                jbuf[k] = min(max(idx, 0), top)
            for k in range(last + 1):
                tmp[jbuf[k]] += ep * ale[k]
        for k in range(n_bins):
            ale[k] = tmp[k]


def _whole_products(vox, ent, n, kval, prior, q, seen, touched, n_t):
    """``q[v] *= float64(float32(1) - kval[entry])`` over the first ``n`` entries at prior
    voxels (``q`` all 1.0 where not yet reached), in entry (experiment) order; appends the
    prior voxels not ``seen`` before to ``touched`` after its first ``n_t``; returns the new
    count."""
    one = np.float32(1.0)
    for p in range(n):
        v = vox[p]
        if not prior[v]:
            continue
        if not seen[v]:
            seen[v] = True
            touched[n_t] = v
            n_t += 1
        q[v] = q[v] * np.float64(one - kval[ent[p]])
    return n_t


def _difference_range(q1, q2, seen, touched, n_t):
    """The smallest and largest ``float32((1 - q1) - (1 - q2))`` over the reached voxels
    (:func:`ale_app.stats.subtraction_kernels._balanced_mean`'s difference of two whole
    groups); resets ``q1``/``q2`` to 1.0 and ``seen`` to False there."""
    c_lo = np.float32(np.inf)
    c_hi = np.float32(-np.inf)
    for i in range(n_t):
        v = touched[i]
        c = np.float32((1.0 - q1[v]) - (1.0 - q2[v]))
        if c < c_lo:
            c_lo = c
        if c > c_hi:
            c_hi = c
        q1[v] = 1.0
        q2[v] = 1.0
        seen[v] = False
    return c_lo, c_hi


def _group_products(vox, ent, n, kval, prior, q, cnt, seen, touched, n_t):
    """As :func:`_whole_products`, and ``cnt[v] += 1`` per entry (the rows reaching each
    prior voxel; ``cnt`` all zero where not yet reached)."""
    one = np.float32(1.0)
    for p in range(n):
        v = vox[p]
        if not prior[v]:
            continue
        if not seen[v]:
            seen[v] = True
            touched[n_t] = v
            n_t += 1
        q[v] = q[v] * np.float64(one - kval[ent[p]])
        cnt[v] += 1
    return n_t


def _pattern_means(vox, ent, ptr, kval, prior, patterns, weights, n_pairs, exclude, whole, q, touched, n_t, t,
                   mark, local, acc, a):
    """Per reached prior voxel (``touched[:n_t]``), the mean over the ``n_pairs`` subsamples
    of a group's product of ``1 - MA`` (float64: the value the float32 products scatter
    around), written to ``a``.

    ``whole``: every subsample is the group (``a`` = the float32 product of all rows, as
    :func:`ale_app.stats.subtraction_kernels._balanced_mean` takes it). Otherwise the
    distinct subsamples ``patterns`` (distinct rows x group rows, bool) with their counts
    ``weights``: the rows included (or, with ``exclude``, the rows left out: then a
    subsample's product is ``q`` over theirs), so each costs only the entries of those
    rows. ``t`` (all 1.0), ``mark`` (all False) and ``acc`` (all 0.0) are scratch arrays over
    the masked voxels and are left so."""
    if whole:
        for i in range(n_t):
            v = touched[i]
            a[v] = np.float64(np.float32(q[v]))
        return
    one = np.float32(1.0)
    for u in range(patterns.shape[0]):
        n_l = 0
        for r in range(patterns.shape[1]):
            if not patterns[u, r]:
                continue
            for p in range(ptr[r], ptr[r + 1]):
                v = vox[p]
                if not prior[v]:
                    continue
                if not mark[v]:
                    mark[v] = True
                    local[n_l] = v
                    n_l += 1
                t[v] = t[v] * np.float64(one - kval[ent[p]])
        w = np.float64(weights[u])
        for i in range(n_l):
            v = local[i]
            acc[v] += w * ((1.0 / t[v]) - 1.0 if exclude else t[v] - 1.0)
            t[v] = 1.0
            mark[v] = False
    inv = 1.0 / n_pairs
    for i in range(n_t):
        v = touched[i]
        mean = 1.0 + acc[v] * inv
        a[v] = q[v] * mean if exclude else mean
        acc[v] = 0.0


def _joint_fractions(patterns, weights, n_pairs, h1, h2, h3):
    """The share of the ``n_pairs`` subsamples whose pattern (the rows included, or left
    out) holds each row (``h1``), each two rows (``h2[r, s]``, ``r < s``) and each three
    (``h3[r, s, t]``, ``r < s < t``); the arrays start all zero. Returns the largest
    share of three rows when a pattern holds four or more (0.0 otherwise: then the
    expansion of :func:`_expansion_means` has no further terms)."""
    n = patterns.shape[1]
    rows = np.empty(n, dtype=np.int64)
    largest = 0
    for u in range(patterns.shape[0]):
        m = 0
        for r in range(n):
            if patterns[u, r]:
                rows[m] = r
                m += 1
        largest = max(largest, m)
        w = np.float64(weights[u])
        for i in range(m):
            h1[rows[i]] += w
            for j in range(i + 1, m):
                h2[rows[i], rows[j]] += w
                for k in range(j + 1, m):
                    h3[rows[i], rows[j], rows[k]] += w
    inv = 1.0 / n_pairs
    top = 0.0
    for r in range(n):
        h1[r] *= inv
        for s in range(n):
            h2[r, s] *= inv
            for t in range(n):
                h3[r, s, t] *= inv
                top = max(top, h3[r, s, t])
    return top if largest > 3 else 0.0


def _expansion_means(vox, ent, ptr, kval, prior, touched, n_t, cnt, q, h1, h2, h3, h3_top, exclude, start,
                     rows, xs, a, extra):
    """Per reached prior voxel, the mean over the subsamples of the group's product of
    ``1 - MA`` (``a``, float64), from the shares of :func:`_joint_fractions`, with a bound
    of what the expansion leaves out (``extra``).

    With ``x_r`` a row's ``MA`` (the rows included) or ``1 / (1 - MA) - 1`` (the rows left
    out, whose product divides ``q``), the mean of the product over the subsamples is the
    sum over the sets ``S`` of reaching rows of ``(-1)**|S| h_S prod x`` (included; the
    sign is + for the rows left out, times ``q``), ``h_S`` the share of subsamples whose
    pattern holds ``S``. Sets of up to three rows are summed; the rest, with every
    ``h_S <= h3_top`` and ``x >= 0``, is at most ``h3_top`` times ``prod(1 + x)`` minus its
    terms of degree up to three (times ``q`` for the rows left out). ``start``, ``rows``
    and ``xs`` are scratch arrays (the voxels' rows, voxel by voxel)."""
    one = np.float32(1.0)
    pos = 0
    for i in range(n_t):
        v = touched[i]
        start[v] = pos
        pos += cnt[v]
    for r in range(ptr.shape[0] - 1):
        for p in range(ptr[r], ptr[r + 1]):
            v = vox[p]
            if not prior[v]:
                continue
            f = np.float64(one - kval[ent[p]])
            rows[start[v]] = r
            xs[start[v]] = (1.0 / f - 1.0) if exclude else 1.0 - f
            start[v] += 1
    sign = 1.0 if exclude else -1.0
    for i in range(n_t):
        v = touched[i]
        m = cnt[v]
        b = start[v] - m
        e1 = 0.0
        e2 = 0.0
        e3 = 0.0
        full = 1.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for x in range(m):
            rx = rows[b + x]
            vx = xs[b + x]
            full *= 1.0 + vx
            s1 += vx
            e1 += h1[rx] * vx
            for y in range(x + 1, m):
                ry = rows[b + y]
                vxy = vx * xs[b + y]
                s2 += vxy
                e2 += h2[rx, ry] * vxy
                for z in range(y + 1, m):
                    vxyz = vxy * xs[b + z]
                    s3 += vxyz
                    e3 += h3[rx, ry, rows[b + z]] * vxyz
        mean = 1.0 + sign * e1 + e2 + sign * e3
        rest = h3_top * max(0.0, full - 1.0 - s1 - s2 - s3) if m > 3 else 0.0
        if exclude:
            a[v] = q[v] * mean
            extra[v] = q[v] * rest
        else:
            a[v] = mean
            extra[v] = rest


def _extreme_candidates(touched, n_t, a1, a2, q1, q2, cnt1, cnt2, x1, x2, n_pairs, mean, bound, cand):
    """The reached voxels whose mean balanced difference can be the smallest or the largest.

    A voxel's mean of the float32 differences ``(1 - p1) - (1 - p2)`` is ``a2 - a1`` (the
    means of the products, :func:`_pattern_means`; written to ``mean[i]`` for
    ``touched[i]``) up to the float32 rounding, bounded in ``bound[i]``: each product of
    ``k`` float32 factors is within ``k`` units (``2**-24``) of the exact product,
    ``1 - p`` and the difference add half a unit each, and the ``n_pairs`` float32
    additions err by at most half a unit of each partial sum, whose size is at most the
    count times the largest ``|difference|`` (at most ``max(1 - q1, 1 - q2)``: a product
    over fewer rows is larger), so ``n_pairs / 4`` units of that after the division; the
    bound is doubled, and the bounds ``x1``/``x2`` of the means' expansions added. Writes
    the candidates to ``cand``; returns their count.
    """
    unit = 2.0**-24
    lo_bound = np.inf
    hi_bound = -np.inf
    for i in range(n_t):
        v = touched[i]
        m = a2[v] - a1[v]
        c = max(1.0 - q1[v], 1.0 - q2[v])
        k = (cnt1[v] + cnt2[v] + 2) * unit
        d = 2.0 * (k + 0.25 * unit * n_pairs * (c + k) + unit * (c + k) + x1[v] + x2[v]) + 1e-12
        mean[i] = m
        bound[i] = d
        if m - d > hi_bound:
            hi_bound = m - d
        if m + d < lo_bound:
            lo_bound = m + d
    n_c = 0
    for i in range(n_t):
        if mean[i] + bound[i] >= hi_bound or mean[i] - bound[i] <= lo_bound:
            cand[n_c] = touched[i]
            n_c += 1
    return n_c


def _rows_at(vox, ent, ptr, kval, where, om):
    """``om[r, where[v]] = float32(1) - kval[entry]`` for row ``r``'s entries at the
    candidate voxels (``where[v] >= 0``); ``om`` starts all 1.0."""
    one = np.float32(1.0)
    for r in range(ptr.shape[0] - 1):
        for p in range(ptr[r], ptr[r + 1]):
            j = where[vox[p]]
            if j >= 0:
                om[r, j] = one - kval[ent[p]]


def _candidate_means(om1, om2, q1, q2, cand, n_c, idx1, idx2, n_pairs, whole1, whole2, out):
    """The mean balanced difference at each candidate voxel, with exactly the float32
    operations of :func:`ale_app.stats.subtraction_kernels._balanced_mean` (products in
    the drawn row order, the differences added in pair order): the same bits.
    ``om1``/``om2``: ``1 - MA`` of every row at the candidates (rows x candidates)."""
    one = np.float32(1.0)
    for j in range(n_c):
        v = cand[j]
        p1 = np.float32(q1[v])
        p2 = np.float32(q2[v])
        s = np.float32(0.0)
        for d in range(n_pairs):
            if not whole1:
                p1 = one
                for u in range(idx1.shape[1]):
                    p1 = p1 * om1[idx1[d, u], j]
            if not whole2:
                p2 = one
                for u in range(idx2.shape[1]):
                    p2 = p2 * om2[idx2[d, u], j]
            s = s + ((one - p1) - (one - p2))
        out[j] = s / np.float32(n_pairs)


def _repeated_mean(c, n_pairs):
    """``c`` added ``n_pairs`` times in float32 from 0, divided by ``n_pairs`` (float32), as
    :func:`ale_app.stats.subtraction_kernels._balanced_mean` averages the equal differences
    of two whole groups. Rounding is monotone, so this is non-decreasing in ``c``: the
    extremes of the mean differences are the means of the extreme differences."""
    acc = np.float32(0.0)
    for d in range(n_pairs):
        acc = acc + c
    return acc / np.float32(n_pairs)


def _permutations(raw, n1, n2, n_pairs, keep1, keep2, out1, out2):
    """Replays ``n_pairs`` pairs of the legacy ``RandomState.permutation(n1)`` and
    ``permutation(n2)`` on ``raw``, the generator's next 32-bit outputs: each permutation
    shuffles ``arange(n)`` from the last position down, drawing position ``j <= i`` by
    masked rejection (numpy's ``random_interval``: ``raw & mask`` until ``<= i``). Writes
    the first ``keep1`` / ``keep2`` entries of each to ``out1[d]`` / ``out2[d]``; returns how
    many outputs were used, or -1 when ``raw`` ran out."""
    used = 0
    n_raw = raw.shape[0]
    arr1 = np.empty(n1, dtype=np.int64)
    arr2 = np.empty(n2, dtype=np.int64)
    for d in range(n_pairs):
        for which in range(2):
            arr = arr1 if which == 0 else arr2
            n = arr.shape[0]
            for i in range(n):
                arr[i] = i
            for i in range(n - 1, 0, -1):
                mask = np.uint32(i)
                mask |= mask >> np.uint32(1)
                mask |= mask >> np.uint32(2)
                mask |= mask >> np.uint32(4)
                mask |= mask >> np.uint32(8)
                mask |= mask >> np.uint32(16)
                while True:
                    if used == n_raw:
                        return -1
                    j = raw[used] & mask
                    used += 1
                    if j <= np.uint32(i):
                        break
                t = arr[i]
                arr[i] = arr[np.int64(j)]
                arr[np.int64(j)] = t
            if which == 0:
                for u in range(keep1):
                    out1[d, u] = arr[u]
            else:
                for u in range(keep2):
                    out2[d, u] = arr[u]
    return used


def _kernel_set(what: str, seconds: int, kernels: dict) -> KernelSet:
    return KernelSet(what, seconds, globals(), kernels=kernels,
                     helpers=(_nearest_bin, _study_histogram, *CLUSTER_FUNCTIONS))


def _named(*functions) -> dict:
    return {fn.__name__: fn for fn in functions}


#: The kernel sets, each compiled (and announced) at its first use: a run that never uses one
#: (a partial-group run never takes the whole-group null) neither compiles nor announces it.
#: The cluster kernels keep the names their callers (and ``ale-app --precompile``) use.
SETS = {
    "draws": _kernel_set("balanced contrast's random-foci draw kernels", 3,
                         {**_named(_ma_rows, _log_sums, _approximate_histogram), "_largest_cluster": largest_cluster}),
    "whole": _kernel_set("balanced contrast's whole-group null kernels", 1,
                         _named(_whole_products, _difference_range, _repeated_mean)),
    "replay": _kernel_set("balanced contrast's subsample replay kernel", 1, _named(_permutations)),
    "subsampled": _kernel_set("balanced contrast's subsampled-group null kernels", 2,
                              _named(_group_products, _pattern_means, _joint_fractions, _expansion_means,
                                     _extreme_candidates, _rows_at, _candidate_means)),
    "subsamples": _kernel_set("balanced contrast's subsample map kernels", 3,
                              {**_named(_log_sums, _approximate_histogram), "_clusters_above": clusters_above}),
}


def _compiled(which: str = "draws"):
    """The compiled kernels of one set of :data:`SETS`, built on first use."""
    return SETS[which].compiled()
