"""The observed side of cluster-level FWE: which clusters of the ALE map pass against the
Monte Carlo null, their FWE maps, and the table of the clusters that pass (peaks and
sub-peaks, size, mass, FWE p with its Monte Carlo standard error, and how many foci of each
experiment fall in each).

Inferential mode only; no file IO. :func:`fwe_maps` labels the suprathreshold clusters once
and numbers those that pass by descending peak ALE value, as the descriptive clusters are
numbered; :func:`fwe_clusters` describes exactly those clusters, under the same numbers.
"""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pandas as pd

from ale_app.stats.ale import Clusters, cluster_peaks

#: Columns of the FWE cluster table (the region columns are added by the labels step).
FWE_COLUMNS = ["cluster_id", "peak", "x", "y", "z", "ale", "size_mm3", "size_voxels", "mass", "p_fwe",
               "p_fwe_se"]


def fwe_maps(stat_values, null: pd.DataFrame, threshold: float, mask: np.ndarray, affine, alpha: float):
    """NiMARE's cluster- and voxel-level FWE maps, and ale-app's cluster table.

    Follows ``CBMAEstimator.correct_fwe_montecarlo`` step for step (float32 maps, the
    ``ss_thresh`` comparison, faces connectivity, ``null_to_p`` upper tail).

    The clusters whose cluster-size FWE p is below ``alpha`` are numbered 1..K by descending
    peak ALE value, ties ordered as nilearn's ``get_clusters_table`` orders them (the same
    ``argsort`` over the clusters in the order ``ndimage.label`` numbers them), so that they
    carry the numbers the descriptive clusters' rule gives them.

    Returns
    -------
    logp_size, logp_mass, logp_voxel : numpy.ndarray
        In-mask ``-log10`` FWE p (cluster size, cluster mass, voxel).
    label_img : nibabel.Nifti1Image
        The passing clusters, 1..K (int16); 0 elsewhere.
    clusters, all_clusters : pandas.DataFrame
        See :class:`ale_app.stats.montecarlo.InferenceResult`.
    """
    from scipy import ndimage

    from ale_app.stats.nimare_adapter import null_to_p_upper, p_to_logp_values

    f32 = np.float32
    max_ale = null["max_ale"].to_numpy(dtype=f32)
    max_size = null["max_cluster_size_voxels"].to_numpy(dtype=f32)
    max_mass = null["max_cluster_mass"].to_numpy(dtype=f32)
    ss_thresh = np.float64(threshold)
    conn = ndimage.generate_binary_structure(rank=3, connectivity=1)

    thresh = np.zeros(mask.shape, dtype=f32)
    thresh[mask] = stat_values
    thresh[thresh <= ss_thresh] = 0
    labeled, n_clusters = ndimage.label(thresh, conn)
    cluster_labels, idx, cluster_sizes = np.unique(labeled, return_inverse=True, return_counts=True)
    idx = np.reshape(idx, labeled.shape)
    cluster_masses = np.zeros(cluster_labels.shape)
    for i_val in cluster_labels:
        cluster_masses[i_val] = np.sum(thresh[labeled == i_val] - ss_thresh)

    p_mass = null_to_p_upper(cluster_masses, max_mass)
    logp_mass = p_to_logp_values(p_mass[idx][mask], dtype=f32)
    cluster_sizes[0] = 0
    p_size = null_to_p_upper(cluster_sizes, max_size)
    logp_size = p_to_logp_values(p_size[idx][mask], dtype=f32)
    p_voxel = null_to_p_upper(stat_values, max_ale)
    logp_voxel = p_to_logp_values(p_voxel, dtype=f32)

    # The cluster table, in ndimage's label order, and the label image of the clusters that
    # pass (size-based FWE).
    n = max(len(max_size), 1)
    voxel_mm3 = float(abs(np.linalg.det(affine[:3, :3])))
    rows = []
    for lab in range(1, n_clusters + 1):
        where = np.flatnonzero((labeled == lab).ravel())
        values = thresh.ravel()[where]
        peak = where[int(np.argmax(values))]
        pijk = np.unravel_index(peak, labeled.shape)
        pxyz = nib.affines.apply_affine(affine, pijk)
        ps, pm = float(p_size[lab]), float(p_mass[lab])
        rows.append({
            "label": lab, "first_voxel": int(where[0]),
            "size_voxels": int(cluster_sizes[lab]), "size_mm3": float(cluster_sizes[lab]) * voxel_mm3,
            "mass": float(cluster_masses[lab]),
            "p_fwe_size": ps, "p_fwe_size_se": math.sqrt(ps * (1 - ps) / n),
            "p_fwe_mass": pm, "p_fwe_mass_se": math.sqrt(pm * (1 - pm) / n),
            "peak_ale": float(thresh.ravel()[peak]),
            "peak_i": int(pijk[0]), "peak_j": int(pijk[1]), "peak_k": int(pijk[2]),
            "peak_x": float(pxyz[0]), "peak_y": float(pxyz[1]), "peak_z": float(pxyz[2]),
        })
    columns = ["cluster_id", "size_voxels", "size_mm3", "mass", "p_fwe_size", "p_fwe_size_se",
               "p_fwe_mass", "p_fwe_mass_se", "peak_ale", "peak_i", "peak_j", "peak_k",
               "peak_x", "peak_y", "peak_z"]
    table = pd.DataFrame(rows, columns=["label", "first_voxel", *columns[1:]])
    # A cluster passes when its p is below alpha. NiMARE's p (1 - count/n in floating point) can
    # fall a rounding error below alpha when count/n equals it: compare the exact fraction, so a
    # cluster at p = alpha exactly never passes (the report names it as borderline).
    exact_p = np.rint(table["p_fwe_size"].to_numpy(dtype=float) * n) / n
    passing = exact_p < alpha
    n_passing = int(passing.sum())
    # nilearn's order: (-peak).argsort() over the clusters in label order (float32 peaks).
    peaks = table.loc[passing, "peak_ale"].to_numpy(dtype=f32)
    ids = np.zeros(n_passing, dtype=np.int64)
    ids[(-peaks).argsort()] = np.arange(1, n_passing + 1)
    table["cluster_id"] = 0
    table.loc[passing, "cluster_id"] = ids
    # The passing clusters by number, then the others by descending size.
    table["rank"] = np.where(table["cluster_id"] > 0, table["cluster_id"], n_passing + 1)
    table = table.sort_values(["rank", "size_voxels", "first_voxel"], ascending=[True, False, True],
                              kind="stable")
    relabel = np.zeros(n_clusters + 1, dtype=np.int16)
    relabel[table["label"].to_numpy(dtype=int)] = table["cluster_id"].to_numpy(dtype=np.int16)
    label_data = relabel[labeled].astype(np.int16)
    label_img = nib.Nifti1Image(label_data, affine)
    label_img.header.set_data_dtype(np.int16)
    label_img.header.set_xyzt_units("mm")
    all_clusters = table[columns].reset_index(drop=True)
    clusters = all_clusters[all_clusters["cluster_id"] > 0].reset_index(drop=True)
    return logp_size, logp_mass, logp_voxel, label_img, clusters, all_clusters


def fwe_clusters(inference, stat_img: nib.Nifti1Image) -> Clusters:
    """Peak and describe the clusters that passed cluster-level FWE.

    Parameters
    ----------
    inference : ale_app.stats.montecarlo.InferenceResult
        The Monte Carlo inference: its ``label_img`` holds the passing clusters, numbered by
        descending peak ALE value (:func:`fwe_maps`), and ``clusters`` their size, mass and p.
    stat_img : nibabel.Nifti1Image
        The ALE map.

    Returns
    -------
    Clusters
        The clusters of ``inference.label_img`` under its numbers. ``table`` has one row per
        peak and sub-peak (up to three, 8 mm apart, as nilearn's ``get_clusters_table``
        finds them: :func:`ale_app.stats.ale.cluster_peaks`); the main-peak row carries the
        cluster's size, mass (sum of ALE above the cluster-forming threshold), cluster-size
        FWE p and its Monte Carlo standard error sqrt(p (1 - p) / iterations).
    """
    label_data = np.asarray(inference.label_img.dataobj).astype(np.int16)
    labels = sorted(int(v) for v in np.unique(label_data) if v > 0)
    by_id = inference.clusters.set_index("cluster_id")
    if labels != sorted(int(v) for v in by_id.index):
        raise RuntimeError("the FWE cluster table and label image name different clusters")
    table = cluster_peaks(stat_img, label_data)
    extra: dict[str, list[int | float | None]] = {
        c: [None] * len(table) for c in ("size_voxels", "mass", "p_fwe", "p_fwe_se")}
    for row, (cluster_id, peak) in enumerate(zip(table["cluster_id"], table["peak"])):
        if peak != "main":
            continue
        info = by_id.loc[int(cluster_id)]
        extra["size_voxels"][row] = int(info["size_voxels"])
        extra["mass"][row] = float(info["mass"])
        extra["p_fwe"][row] = float(info["p_fwe_size"])
        extra["p_fwe_se"][row] = float(info["p_fwe_size_se"])
    for column, values in extra.items():
        table[column] = pd.array(values, dtype="Int64" if column == "size_voxels" else "Float64")
    label_img = nib.Nifti1Image(label_data, stat_img.affine)
    label_img.header.set_data_dtype(np.int16)
    label_img.header.set_xyzt_units("mm")
    return Clusters(table=table[FWE_COLUMNS], label_img=label_img, labels=labels, min_voxels=0)


def focus_counts(coordinates: pd.DataFrame, label_img: nib.Nifti1Image, labels: list[int],
                 ids: list[str]) -> pd.DataFrame:
    """How many foci of each experiment lie in each cluster (NiMARE's FocusCounter idea).

    A focus is in a cluster when the voxel nearest to it (MNI mm to voxel, rounded) carries
    the cluster's label. Returns ``id``, ``cluster_<k>`` per cluster and ``total``, rows in
    ``ids`` order.
    """
    data = np.asarray(label_img.dataobj)
    ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(label_img.affine),
                                           coordinates[["x", "y", "z"]].to_numpy(float))).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.array(data.shape)), axis=1)
    hit = np.zeros(len(coordinates), dtype=int)
    hit[inside] = data[ijk[inside, 0], ijk[inside, 1], ijk[inside, 2]]
    frame = pd.DataFrame({"id": coordinates["analysis_id"].to_numpy(), "label": hit})
    table = pd.DataFrame({"id": ids})
    for label in labels:
        counts = frame[frame["label"] == label].groupby("id").size()
        table[f"cluster_{label}"] = [int(counts.get(i, 0)) for i in ids]
    table["total"] = table[[f"cluster_{k}" for k in labels]].sum(axis=1) if labels else 0
    return table
