"""The compiled core of the ALE subtraction's permutation null (numba, ``nogil``).

Per permutation, :func:`_log_sums` adds the experiments' ``log1p(-MA)`` rows into four
float64 accumulators (the group each row is assigned to x the group it came from), each in
the permutation's row order, as NiMARE's two ``np.bincount`` calls per group add them, and
adds each group's two partial sums as NiMARE's ``log_sums += ...`` does. ``exp`` is left to
numpy (NiMARE's ``1 - np.exp(log_sums)``: numpy's vectorised ``exp`` is not libm's, and
the differences must be bit-identical). :func:`_compare` then forms the differences, counts
the tails, takes the largest ``|difference|`` and lists the float32 values above a lower
bound of the cluster-forming threshold. :func:`_cluster_null` labels, per iteration, the
kept voxels above the final threshold (faces connectivity, two-tailed) with
:func:`ale_app.stats.cluster_kernels.largest_cluster`.

The functions are plain Python until :data:`KERNELS` compiles them; the numbers are
explained in :mod:`ale_app.stats.subtraction`.
"""

from __future__ import annotations

import numpy as np

from ale_app.stats.cluster_kernels import CLUSTER_FUNCTIONS, largest_cluster
from ale_app.stats.kernel_compile import KernelSet


def _log_sums(perm, n1, tile_ptr, off, w, acc, lab):
    """``lab[0]`` / ``lab[1]``: the log-sums of the rows ``perm[:n1]`` / ``perm[n1:]``.

    Rows ``< n1`` are group 1's MA maps, the others group 2's. The voxels any experiment
    reaches are cut into tiles of ``acc.shape[0] // 4`` voxels; a row's entries in tile
    ``j`` are ``tile_ptr[r, j] .. tile_ptr[r, j + 1] - 1``, each with its voxel's offset in
    the tile (``off``) and its ``log1p(-MA)`` (``w``, float32 exactly as numpy computed
    it). Every voxel gets four sums -- [assigned to 1 from 1, assigned to 1 from 2,
    assigned to 2 from 1, assigned to 2 from 2] -- each in permutation order from 0.0, in
    float64, as NiMARE's bincounts add them; then each group's two are added. A tile's
    four sums (``acc``) stay in cache.
    """
    n_total = perm.shape[0]
    n = lab.shape[1]
    tile = acc.shape[0] // 4
    for j in range(tile_ptr.shape[1] - 1):
        t0 = j * tile
        t1 = min(n, t0 + tile)
        acc[:] = 0.0
        for p in range(n_total):
            r = perm[p]
            base = ((0 if p < n1 else 2) + (0 if r < n1 else 1)) * tile
            for e in range(tile_ptr[r, j], tile_ptr[r, j + 1]):
                acc[np.uint64(base + off[e])] += np.float64(w[e])  # unsigned: no wraparound test
        for u in range(t1 - t0):
            lab[0, t0 + u] = acc[u] + acc[tile + u]
            lab[1, t0 + u] = acc[2 * tile + u] + acc[3 * tile + u]


def _compare(e, obs, upper, lower, bound, out_pos, out_val):
    """One permutation's differences ``(1 - e[0]) - (1 - e[1])`` (``e`` = numpy's exp of the
    log-sums): the tail counts against ``obs`` (``>=``, ``<=``), the largest ``|difference|``
    (float64), and the positions and float32 values of the differences whose float32
    magnitude exceeds ``bound`` (written to ``out_pos``/``out_val``, as long as ``obs``).

    Returns the largest ``|difference|`` and the number of values written.
    """
    n = e.shape[1]
    mx = 0.0
    n_cand = 0
    for u in range(n):
        d = (1.0 - e[0, u]) - (1.0 - e[1, u])
        o = obs[u]
        upper[u] += d >= o
        lower[u] += d <= o
        mx = max(mx, abs(d))
        d32 = np.float32(d)
        if abs(d32) > bound:
            out_pos[n_cand] = u
            out_val[n_cand] = d32
            n_cand += 1
    return mx, n_cand


def _cluster_null(starts, vox, vals, threshold, label, ny, nz):
    """Largest two-tailed cluster size and mass of each iteration.

    ``vox``/``vals`` hold, iteration after iteration (``starts``: n_iterations + 1 offsets),
    the voxels (flat C-order indices, ascending) whose float32 difference exceeds the
    float32 ``threshold`` in magnitude. As NiMARE's ``_calculate_cluster_measures``: the
    positive and the negative voxels are labelled apart (faces connectivity), a cluster's
    mass is the float64 sum, in C order, of the float32 ``|d| - threshold``, and each
    iteration keeps the larger of the two tails' largest size and largest mass.
    """
    n_iter = starts.shape[0] - 1
    out_size = np.zeros(n_iter, dtype=np.float32)
    out_mass = np.zeros(n_iter, dtype=np.float32)
    for t in range(n_iter):
        a, b = starts[t], starts[t + 1]
        if a == b:
            continue
        n_pos = 0
        for p in range(a, b):
            if vals[p] > 0:
                n_pos += 1
        pos_vox = np.empty(n_pos, dtype=np.int64)
        pos_mass = np.empty(n_pos, dtype=np.float32)
        neg_vox = np.empty(b - a - n_pos, dtype=np.int64)
        neg_mass = np.empty(b - a - n_pos, dtype=np.float32)
        i_pos = 0
        i_neg = 0
        for p in range(a, b):
            m = np.float32(abs(vals[p])) - threshold
            if vals[p] > 0:
                pos_vox[i_pos] = vox[p]
                pos_mass[i_pos] = m
                i_pos += 1
            else:
                neg_vox[i_neg] = vox[p]
                neg_mass[i_neg] = m
                i_neg += 1
        best_size = 0
        best_mass = 0.0
        if i_pos > 0:
            size, mass = largest_cluster(pos_vox, pos_mass, label, ny, nz, 0.0)
            best_size = max(best_size, size)
            best_mass = max(best_mass, mass)
        if i_neg > 0:
            size, mass = largest_cluster(neg_vox, neg_mass, label, ny, nz, 0.0)
            best_size = max(best_size, size)
            best_mass = max(best_mass, mass)
        out_size[t] = np.float32(best_size)
        out_mass[t] = np.float32(best_mass)
    return out_size, out_mass


def _group_product(ptr, col, om, rows, p):
    """``p = prod over rows of (1 - MA)`` (float32, in the order of ``rows``; factors of
    exactly 1 skipped: they change no bit)."""
    one = np.float32(1.0)
    for v in range(p.shape[0]):
        p[v] = one
    for k in range(rows.shape[0]):
        r = rows[k]
        for e in range(ptr[r], ptr[r + 1]):
            p[col[e]] = p[col[e]] * om[e]


def _whole_product(ptr, col, om, q):
    """``q = prod over all rows of (1 - MA)`` in float64 (the product every ordering of the
    whole group rounds, in float32, to within a few units in the last place)."""
    for v in range(q.shape[0]):
        q[v] = 1.0
    for e in range(ptr[ptr.shape[0] - 1]):
        q[col[e]] = q[col[e]] * np.float64(om[e])


def _balanced_mean(ptr1, col1, om1, ptr2, col2, om2, idx1, idx2, n_pairs, whole1, whole2, p1, p2, diff):
    """The mean balanced difference (float32), as NiMARE's ``_mean_balanced_difference``.

    Pair ``d`` takes rows ``idx1[d]`` of group 1 and ``idx2[d]`` of group 2 (CSR ``ptr``,
    compact columns ``col``, ``om`` = float32 ``1 - MA``); each group's product of
    ``1 - MA`` runs over its rows in the drawn order (float32, as numpy's ``np.prod`` along
    the rows), and ``diff += (1 - p1) - (1 - p2)`` in float32, then ``diff / n_pairs``.

    ``whole1`` / ``whole2``: the group's subsamples are the whole group (``target_n`` equals
    its size), so every pair's product is the group's product up to the float32 rounding of
    the drawn order; it is computed once, in float64 (the value those roundings scatter
    around), and ``idx`` is unused. With both, each pair adds the same float32 difference.
    """
    n = diff.shape[0]
    one = np.float32(1.0)
    for v in range(n):
        diff[v] = np.float32(0.0)
    q1 = np.empty(n if whole1 else 0, dtype=np.float64)
    q2 = np.empty(n if whole2 else 0, dtype=np.float64)
    if whole1:
        _whole_product(ptr1, col1, om1, q1)
        for v in range(n):
            p1[v] = np.float32(q1[v])
    if whole2:
        _whole_product(ptr2, col2, om2, q2)
        for v in range(n):
            p2[v] = np.float32(q2[v])
    if whole1 and whole2:
        c = np.empty(n, dtype=np.float32)
        for v in range(n):
            c[v] = np.float32((1.0 - q1[v]) - (1.0 - q2[v]))
        # The same float32 additions, tile by tile in a fixed-size local buffer (which the
        # compiler vectorises: ten times faster than adding along ``diff`` itself).
        tile = 1024
        acc = np.zeros(tile, dtype=np.float32)
        cc = np.zeros(tile, dtype=np.float32)
        for t0 in range(0, n, tile):
            m = min(n - t0, tile)
            for u in range(tile):
                acc[u] = np.float32(0.0)
                cc[u] = c[t0 + u] if u < m else np.float32(0.0)
            for d in range(n_pairs):
                for u in range(tile):
                    acc[u] = acc[u] + cc[u]
            for u in range(m):
                diff[t0 + u] = acc[u]
    else:
        for d in range(n_pairs):
            if not whole1:
                _group_product(ptr1, col1, om1, idx1[d], p1)
            if not whole2:
                _group_product(ptr2, col2, om2, idx2[d], p2)
            for v in range(n):
                diff[v] = diff[v] + ((one - p1[v]) - (one - p2[v]))
    den = np.float32(n_pairs)
    for v in range(n):
        diff[v] = diff[v] / den


#: Roughly how long compiling these kernels takes (two cores, numba 0.68), for the log line.
COMPILE_SECONDS = 2

#: The kernels, compiled on first use.
KERNELS = KernelSet(
    "ALE subtraction's permutation kernels", COMPILE_SECONDS, globals(),
    kernels={fn.__name__: fn for fn in (_log_sums, _compare, _cluster_null, _balanced_mean)},
    helpers=(_group_product, _whole_product, *CLUSTER_FUNCTIONS),
)


def _compiled():
    """The compiled kernels (:data:`KERNELS`), built on first use."""
    return KERNELS.compiled()
