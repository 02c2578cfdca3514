"""The compiled core of the Monte Carlo null: one pass per iteration that sums the random
foci's kernels as ``log1p(-MA)`` per experiment, bounds every voxel with truncated kernels,
computes the exact ALE only where the bound cannot rule a voxel out, and labels the
suprathreshold voxels (faces connectivity) for the largest cluster's size and mass.

The functions are plain Python until :data:`KERNELS` compiles them with numba (``nogil``:
threads run them in parallel), each one calling the compiled versions of the others; they
share this module so that numba's on-disk cache keys them together. The clusters are labelled
by :mod:`ale_app.stats.cluster_kernels`. The numbers are
explained in :mod:`ale_app.stats.montecarlo`, which plans the work and hands blocks of
iterations to :func:`_run_block`.
"""

from __future__ import annotations

import numpy as np

from ale_app.stats.cluster_kernels import CLUSTER_FUNCTIONS, largest_cluster
from ale_app.stats.kernel_compile import KernelSet


# --------------------------------------------------------------------------- compiled core


def _log1p_neg(values):
    """``log1p(-float64(v))`` for float32 ``v``, compiled as NiMARE's fused pass computes it."""
    out = np.empty(values.shape[0], dtype=np.float64)
    for m in range(values.shape[0]):
        out[m] = np.log1p(-np.float64(values[m]))
    return out


def _tile_add(tlog, tstart, tshape, tmin, rlo, rhi, rstart, buf, rows_n, rows_lo, rows_hi,
              pi, pj, pk, l0, l1, l2, h0, h1, h2, TJ, TK):
    """buf += log1p(-kernel) over one focus's truncated kernel inside the tile [l, h).

    ``buf`` holds the tile's voxels, C order; voxel (i, j, k) is at
    ``((i - l0) * TJ + (j - l1)) * TK + (k - l2)``. Each of the tile's rows (i, j) counts
    the kernels that reached it (``rows_n``) and the k range they reached.
    """
    sy, sz = tshape[1], tshape[2]
    i0, j0, k0 = pi + tmin[0], pj + tmin[1], pk + tmin[2]
    ia, ib = max(l0, i0), min(h0, i0 + tshape[0])
    ja, jb = max(l1, j0), min(h1, j0 + sy)
    for i in range(ia, ib):
        for j in range(ja, jb):
            r = rstart + (i - i0) * sy + (j - j0)
            ka = max(l2, k0 + rlo[r])
            kb_ = min(h2, k0 + rhi[r])
            if ka >= kb_:
                continue
            row = (i - l0) * TJ + (j - l1)
            rows_n[row] += 1
            rows_lo[row] = min(rows_lo[row], ka)
            rows_hi[row] = max(rows_hi[row], kb_)
            n = kb_ - ka
            dst = buf[row * TK - l2 + ka:]
            src = tlog[tstart + ((i - i0) * sy + (j - j0)) * sz - k0 + ka:]
            for c in range(n):
                dst[c] += src[c]


def _row_min(seg, n):
    """min(0, seg[:n]); compiled with fast-math (no NaN) so that it vectorises (a minimum
    does not depend on the order it is taken in)."""
    m = 0.0
    for c in range(n):
        m = min(m, seg[c])
    return m


def _tile_lists(ijk, fgroup, group_kernel, bmins, bshapes, shape, TI, TJ, TK, ntj, ntk, count, fill, lst):
    """Counting sort of the foci into the TI x TJ x TK tiles their boxes meet, in focus order.

    ``count`` (n_tiles + 1) becomes the prefix sums; returns ``lst`` (grown if needed).
    """
    n_foci = ijk.shape[0]
    n_tiles = count.shape[0] - 1
    count[:] = 0
    n_pairs = 0
    for phase in range(2):  # 0: count the pairs per tile; 1: list them
        if phase == 1:
            for q in range(n_tiles):
                count[q + 1] += count[q]
                fill[q] = count[q]
            if n_pairs > lst.shape[0]:
                lst = np.empty(2 * n_pairs, dtype=np.int64)
        for f in range(n_foci):
            k = group_kernel[fgroup[f]]
            a0 = max(0, ijk[f, 0] + bmins[k, 0]) // TI
            a1 = (min(shape[0], ijk[f, 0] + bmins[k, 0] + bshapes[k, 0]) - 1) // TI
            b0 = max(0, ijk[f, 1] + bmins[k, 1]) // TJ
            b1 = (min(shape[1], ijk[f, 1] + bmins[k, 1] + bshapes[k, 1]) - 1) // TJ
            c0 = max(0, ijk[f, 2] + bmins[k, 2]) // TK
            c1 = (min(shape[2], ijk[f, 2] + bmins[k, 2] + bshapes[k, 2]) - 1) // TK
            for ti in range(a0, a1 + 1):
                for tj in range(b0, b1 + 1):
                    for tk in range(c0, c1 + 1):
                        q = (ti * ntj + tj) * ntk + tk
                        if phase == 0:
                            count[q + 1] += 1
                            n_pairs += 1
                        else:
                            lst[fill[q]] = f
                            fill[q] += 1
    return lst


def _exact_logsum(v, start, end, lst, ijk, fgroup, group_kernel, klog, kstarts, kshapes, kmins, ny, nz):
    """The exact sum over experiments of log1p(-MA) at voxel ``v`` from the full kernels.

    ``lst[start:end]`` are the foci (in focus, hence experiment, order) whose full kernel
    box meets ``v``'s tile; each experiment's MA is the maximum over its foci, and the
    experiments are added in order, as the volume pass and NiMARE's fused pass add them.
    """
    i = v // (ny * nz)
    j = (v // nz) % ny
    k = v % nz
    s = 0.0
    p = start
    while p < end:
        g = fgroup[lst[p]]
        kk = group_kernel[g]
        sy, sz = kshapes[kk, 1], kshapes[kk, 2]
        m = 0.0
        hit = False
        while p < end and fgroup[lst[p]] == g:
            f = lst[p]
            p += 1
            di = i - ijk[f, 0] - kmins[kk, 0]
            dj = j - ijk[f, 1] - kmins[kk, 1]
            dk = k - ijk[f, 2] - kmins[kk, 2]
            if di < 0 or dj < 0 or dk < 0 or di >= kshapes[kk, 0] or dj >= sy or dk >= sz:
                continue
            val = klog[kstarts[kk] + (di * sy + dj) * sz + dk]
            if not hit or val < m:
                m = val
                hit = True
        if hit:
            s += m
    return s


def _append(cand_v, cand_s, n_cand, v, x):
    """Append (v, x) to the candidate arrays, doubling them when full; returns them."""
    if n_cand == cand_v.shape[0]:
        grown_v = np.empty(2 * n_cand, dtype=np.int64)
        grown_v[:n_cand] = cand_v
        grown_s = np.empty(2 * n_cand, dtype=np.float64)
        grown_s[:n_cand] = cand_s
        cand_v, cand_s = grown_v, grown_s
    cand_v[n_cand] = v
    cand_s[n_cand] = x
    return cand_v, cand_s


def _exact_at(v, count_full, lst_full, ntj_f, ntk_f, F, ijk, fgroup, group_kernel, klog, kstarts, kshapes,
              kmins, ny, nz):
    """:func:`_exact_logsum` at voxel ``v``, from the foci listed for its F^3 tile."""
    i = v // (ny * nz)
    j = (v // nz) % ny
    k = v % nz
    q = ((i // F) * ntj_f + j // F) * ntk_f + k // F
    return _exact_logsum(v, count_full[q], count_full[q + 1], lst_full, ijk, fgroup, group_kernel, klog,
                         kstarts, kshapes, kmins, ny, nz)


def _run_iterations(
    idx, null_ijk, offsets, group_kernel, klog, kstarts, kshapes, kmins, tlog, tstarts, tshapes,
    tmins, rlo, rhi, rstarts, mask, shape, threshold, cut, delta,
):
    """The null maxima (largest ALE, largest cluster size and mass) of the iterations in the
    columns of ``idx``.

    Per iteration, with ``S(v)`` the exact sum over experiments of ``log1p(-MA)`` (ALE =
    1 - exp(S)):

    1. A bound. Every focus adds its *truncated* kernel (only values above a small cut-off
       ``eps``) into ``L(v)``, tile by tile (16^3 voxels in a buffer that stays in cache).
       Then ``L(v) + delta <= S(v)`` where ``delta`` sums ``log1p(-eps)`` over experiments:
       an experiment's term is its foci's maximum, which is at least the sum of their kept
       values plus the largest dropped one. ``U``, the smallest exact ``S`` at the foci
       themselves, bounds the maximum's ``S`` from above.
    2. Exact values, from the full kernels in experiment order (so bit-identical to NiMARE's
       fused pass), only where the bound cannot decide: voxels that may be suprathreshold
       (``L + delta < cut``) or may be the maximum (``L + delta <= U``). The maximum, the
       suprathreshold voxels and their clusters are then exactly those of the full kernels.
    """
    # Tiles of TI x TJ rows of the whole k extent: a kernel row is never split, and the
    # tile's buffer (8 x 8 x 91 float64 on the 2 mm grid) stays in cache.
    n_foci = idx.shape[0]
    n_iter = idx.shape[1]
    n_groups = offsets.shape[0] - 1
    nx, ny, nz = shape[0], shape[1], shape[2]
    n_vox = nx * ny * nz
    TI, TJ, TK = 8, 8, nz
    nti, ntj, ntk = (nx + TI - 1) // TI, (ny + TJ - 1) // TJ, 1
    n_tiles = nti * ntj * ntk
    buf = np.zeros(TI * TJ * TK, dtype=np.float64)
    rows_n = np.zeros(TI * TJ, dtype=np.int64)
    rows_lo = np.full(TI * TJ, nz, dtype=np.int64)
    rows_hi = np.zeros(TI * TJ, dtype=np.int64)
    # The lowest value one truncated kernel alone gives (its peak): a row that one kernel
    # reached holds no candidate unless this could be one.
    lone = 0.0
    for m in range(tlog.shape[0]):
        lone = min(lone, tlog[m])
    label = np.zeros(n_vox, dtype=np.int64)
    ijk = np.empty((n_foci, 3), dtype=np.int64)
    fgroup = np.empty(n_foci, dtype=np.int64)
    for g in range(n_groups):
        for f in range(offsets[g], offsets[g + 1]):
            fgroup[f] = g
    count = np.zeros(n_tiles + 1, dtype=np.int64)
    # The foci whose full kernel reaches each F^3 tile, for the exact values.
    F = 8
    ntj_f, ntk_f = (ny + F - 1) // F, (nz + F - 1) // F
    n_tiles_f = ((nx + F - 1) // F) * ntj_f * ntk_f
    count_full = np.zeros(n_tiles_f + 1, dtype=np.int64)
    fill = np.zeros(max(n_tiles, n_tiles_f), dtype=np.int64)
    # U starts as the smallest exact S at up to this many foci, spread over the experiments.
    n_seeds = min(n_foci, 256)
    lst = np.empty(n_foci * 8, dtype=np.int64)
    lst_full = np.empty(n_foci * 8, dtype=np.int64)
    cap = 1024
    supra = np.empty(cap, dtype=np.int64)
    supra_val = np.empty(cap, dtype=np.float32)
    cand_v = np.empty(1024, dtype=np.int64)
    cand_s = np.empty(1024, dtype=np.float64)
    out_max = np.zeros(n_iter, dtype=np.float32)
    out_size = np.zeros(n_iter, dtype=np.float32)
    out_mass = np.zeros(n_iter, dtype=np.float32)

    for t in range(n_iter):
        for f in range(n_foci):
            r = idx[f, t]
            ijk[f, 0] = null_ijk[r, 0]
            ijk[f, 1] = null_ijk[r, 1]
            ijk[f, 2] = null_ijk[r, 2]
        lst = _tile_lists(ijk, fgroup, group_kernel, tmins, tshapes, shape, TI, TJ, TK, ntj, ntk, count, fill, lst)
        lst_full = _tile_lists(ijk, fgroup, group_kernel, kmins, kshapes, shape, F, F, F, ntj_f, ntk_f,
                               count_full, fill, lst_full)
        # U: an upper bound of the maximum's S, the smallest exact S found so far (in the
        # mask): first at some foci, then wherever the scan meets a new lowest L.
        xmin = 0.0
        for s_ in range(n_seeds):
            f = s_ * n_foci // n_seeds
            v = (ijk[f, 0] * ny + ijk[f, 1]) * nz + ijk[f, 2]
            if mask[v]:
                xmin = min(xmin, _exact_at(v, count_full, lst_full, ntj_f, ntk_f, F, ijk, fgroup, group_kernel,
                                           klog, kstarts, kshapes, kmins, ny, nz))
        upper = xmin
        lowest = 0.0
        n_cand = 0
        for q in range(n_tiles):
            start, end = count[q], count[q + 1]
            if start == end:
                continue
            tk_ = q % ntk
            tj_ = (q // ntk) % ntj
            ti_ = q // (ntk * ntj)
            l0, l1, l2 = ti_ * TI, tj_ * TJ, tk_ * TK
            h0, h1, h2 = min(nx, l0 + TI), min(ny, l1 + TJ), min(nz, l2 + TK)
            for u in range(start, end):
                f = lst[u]
                k = group_kernel[fgroup[f]]
                _tile_add(tlog, tstarts[k], tshapes[k], tmins[k], rlo, rhi, rstarts[k], buf, rows_n,
                          rows_lo, rows_hi, ijk[f, 0], ijk[f, 1], ijk[f, 2], l0, l1, l2, h0, h1, h2, TJ, TK)
            # L is final in this tile: keep the voxels the bound cannot decide, then clear the
            # rows that were reached. A row one kernel reached is skipped unless its peak
            # alone could be a candidate.
            lone_may = lone + delta < cut or lone + delta <= upper
            for row in range(TI * TJ):
                if rows_n[row] == 0:
                    continue
                d0 = rows_lo[row]
                n = rows_hi[row] - d0
                seg = buf[row * TK - l2 + d0:]
                if rows_n[row] > 1 or lone_may:
                    m = _row_min(seg, n)
                    if m + delta < cut or m + delta <= upper:
                        base = ((l0 + row // TJ) * ny + l1 + row % TJ) * nz + d0
                        for c in range(n):
                            x = seg[c]
                            if (x + delta < cut or x + delta <= upper) and mask[base + c]:
                                cand_v, cand_s = _append(cand_v, cand_s, n_cand, base + c, x)
                                n_cand += 1
                                if x < lowest:
                                    lowest = x
                                    e = _exact_at(base + c, count_full, lst_full, ntj_f, ntk_f, F, ijk, fgroup,
                                                  group_kernel, klog, kstarts, kshapes, kmins, ny, nz)
                                    upper = min(upper, e)
                for c in range(n):
                    seg[c] = 0.0
                rows_n[row] = 0
                rows_lo[row] = nz
                rows_hi[row] = 0
        # Exact values where the bound cannot decide.
        n_sup = 0
        xmin = min(xmin, upper)
        for c in range(n_cand):
            s_ = cand_s[c]
            if not (s_ + delta < cut or s_ + delta <= upper):
                continue
            v = cand_v[c]
            x = _exact_at(v, count_full, lst_full, ntj_f, ntk_f, F, ijk, fgroup, group_kernel, klog, kstarts,
                          kshapes, kmins, ny, nz)
            if x < xmin:
                xmin = x
            if x < cut:
                val = np.float32(1.0 - np.exp(x))
                if np.float64(val) > threshold:
                    if n_sup == cap:
                        cap *= 2
                        grown = np.empty(cap, dtype=np.int64)
                        grown[:n_sup] = supra[:n_sup]
                        supra = grown
                        grown_val = np.empty(cap, dtype=np.float32)
                        grown_val[:n_sup] = supra_val[:n_sup]
                        supra_val = grown_val
                    supra[n_sup] = v
                    supra_val[n_sup] = val
                    n_sup += 1
        out_max[t] = np.float32(1.0 - np.exp(xmin))
        if n_sup > 0:
            order = np.argsort(supra[:n_sup])
            vox = supra[:n_sup][order]
            vals = supra_val[:n_sup][order]
            size, mass = largest_cluster(vox, vals, label, ny, nz, threshold)
            out_size[t] = np.float32(size)
            out_mass[t] = np.float32(mass)
    return out_max, out_size, out_mass


#: Roughly how long compiling these kernels takes (two cores, numba 0.68), for the log line.
COMPILE_SECONDS = 10

#: The kernels, compiled on first use; each calls the compiled versions of the others.
KERNELS = KernelSet(
    "Monte Carlo kernels", COMPILE_SECONDS, globals(),
    kernels={"run": _run_iterations, "log1p_neg": _log1p_neg},
    helpers=(_tile_add, _tile_lists, _exact_logsum, _append, _exact_at, _row_min, *CLUSTER_FUNCTIONS),
    options={"_row_min": {"fastmath": {"nnan", "nsz", "reassoc"}}},
)


def _compiled():
    """The compiled kernels (:data:`KERNELS`), built on first use."""
    return KERNELS.compiled()


def _run_block(idx_block, plan_arrays):
    """One worker's share: the null maxima of the iterations in ``idx_block``'s columns."""
    return _compiled()["run"](np.ascontiguousarray(idx_block), *plan_arrays)
