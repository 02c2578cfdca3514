"""The one compiled cluster labelling of the numba kernels: union-find over suprathreshold
voxels with faces connectivity (``ndimage.label``'s default structure, NiMARE's
``ndimage.generate_binary_structure(3, 1)``), and the two summaries the kernels take of it.

:func:`label_clusters` labels; :func:`largest_cluster` (the Monte Carlo and permutation
nulls' largest size and mass) and :func:`clusters_above` (the voxels of clusters larger than
a size, NiMARE's ``_threshold_z_clusters``) reduce its labels. They are plain Python until a
kernel module compiles them with its own kernels (:mod:`ale_app.stats.kernel_compile`), and
call each other by these names.
"""

from __future__ import annotations

import numpy as np


def label_clusters(vox, label, ny, nz):
    """The cluster of each voxel ``vox[p]`` (flat C-order indices in a volume of ``ny x nz``
    rows, sorted): ``roots[p]`` is the smallest position in ``vox`` of a voxel of its
    face-connected cluster.

    Union-find over the voxels in C order, each joined to its lower neighbour along each axis;
    a root is always the smaller position. ``label`` is an all-zero scratch volume and is left
    all zero.
    """
    n_sup = vox.shape[0]
    parent = np.arange(n_sup)
    for p in range(n_sup):
        label[vox[p]] = p + 1
    stride_i = ny * nz
    for p in range(n_sup):
        v = vox[p]
        kk = v % nz
        jj = (v // nz) % ny
        ii = v // stride_i
        for q in range(3):
            if q == 0:
                if kk == 0:
                    continue
                nb = v - 1
            elif q == 1:
                if jj == 0:
                    continue
                nb = v - nz
            else:
                if ii == 0:
                    continue
                nb = v - stride_i
            lq = label[nb]
            if lq == 0:
                continue
            ra = p
            while parent[ra] != ra:
                ra = parent[ra]
            rb = lq - 1
            while parent[rb] != rb:
                rb = parent[rb]
            if ra != rb:
                if ra < rb:
                    parent[rb] = ra
                else:
                    parent[ra] = rb
    for p in range(n_sup):
        r = p
        while parent[r] != r:
            r = parent[r]
        parent[p] = r
        label[vox[p]] = 0
    return parent


def largest_cluster(vox, vals, label, ny, nz, threshold):
    """Largest size and mass of the face-connected clusters of ``vox`` (sorted, C order).

    A cluster's mass is the float64 sum, in C order (as ``ndimage.sum`` adds), of its voxels'
    ``vals - threshold``. ``label`` is an all-zero scratch volume and is left all zero.
    """
    n_sup = vox.shape[0]
    roots = label_clusters(vox, label, ny, nz)
    sizes = np.zeros(n_sup, dtype=np.int64)
    masses = np.zeros(n_sup, dtype=np.float64)
    for p in range(n_sup):
        r = roots[p]
        sizes[r] += 1
        masses[r] += np.float64(vals[p]) - threshold
    best_size = 0
    best_mass = 0.0
    for p in range(n_sup):
        if roots[p] == p:
            if sizes[p] > best_size:
                best_size = sizes[p]
            if masses[p] > best_mass:
                best_mass = masses[p]
    return best_size, best_mass


def clusters_above(vox, label, ny, nz, min_size, keep):
    """``keep[p]``: voxel ``vox[p]`` (sorted, C order) is in a face-connected cluster of
    more than ``min_size`` voxels (NiMARE's ``_threshold_z_clusters`` keeps such clusters).
    ``label`` is an all-zero scratch volume and is left all zero."""
    n_sup = vox.shape[0]
    roots = label_clusters(vox, label, ny, nz)
    sizes = np.zeros(n_sup, dtype=np.int64)
    for p in range(n_sup):
        sizes[roots[p]] += 1
    for p in range(n_sup):
        keep[p] = sizes[roots[p]] > min_size


#: The functions above, for a kernel module's compile (:class:`ale_app.stats.kernel_compile.KernelSet`).
CLUSTER_FUNCTIONS = (label_clusters, largest_cluster, clusters_above)
