"""The clusters that pass cluster-level FWE, as tables: peaks and sub-peaks, size, mass, FWE p
with its Monte Carlo standard error, and how many foci of each experiment fall in each.

Inferential mode only; no file IO. The clusters are those of
:attr:`ale_app.stats.montecarlo.InferenceResult.label_img`; they are numbered here by descending
peak ALE value, as the descriptive clusters are.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd

from ale_app.stats.ale import Clusters, find_clusters

#: Columns of the FWE cluster table (the region columns are added by the labels step).
FWE_COLUMNS = ["cluster_id", "peak", "x", "y", "z", "ale", "size_mm3", "size_voxels", "mass", "p_fwe",
               "p_fwe_se"]


def fwe_clusters(inference, stat_img: nib.Nifti1Image) -> Clusters:
    """Label, peak and describe the clusters that passed cluster-level FWE.

    Parameters
    ----------
    inference : ale_app.stats.montecarlo.InferenceResult
        The Monte Carlo inference (its ``label_img`` holds the passing clusters).
    stat_img : nibabel.Nifti1Image
        The ALE map.

    Returns
    -------
    Clusters
        ``table`` has one row per peak and sub-peak (up to three, 8 mm apart, as nilearn's
        ``get_clusters_table`` finds them); the main-peak row carries the cluster's size,
        mass (sum of ALE above the cluster-forming threshold), cluster-size FWE p and its
        Monte Carlo standard error sqrt(p (1 - p) / iterations).
    """
    passing = np.asarray(inference.label_img.dataobj) > 0
    stat = np.asarray(stat_img.get_fdata(dtype=np.float32), dtype=np.float32)
    masked = nib.Nifti1Image(np.where(passing, stat, 0).astype(np.float32), stat_img.affine)
    masked.header.set_data_dtype(np.float32)
    found = find_clusters(masked, inference.cluster_forming_threshold, 0)
    table = found.table.copy()
    extra = {c: [None] * len(table) for c in ("size_voxels", "mass", "p_fwe", "p_fwe_se")}
    ours = np.asarray(found.label_img.dataobj)
    theirs = np.asarray(inference.label_img.dataobj)
    by_id = inference.clusters.set_index("cluster_id")
    for row, (cluster_id, peak) in enumerate(zip(table["cluster_id"], table["peak"])):
        if peak != "main":
            continue
        source = int(np.bincount(theirs[ours == cluster_id].astype(np.int64)).argmax())
        info = by_id.loc[source]
        extra["size_voxels"][row] = int(info["size_voxels"])
        extra["mass"][row] = float(info["mass"])
        extra["p_fwe"][row] = float(info["p_fwe_size"])
        extra["p_fwe_se"][row] = float(info["p_fwe_size_se"])
    for column, values in extra.items():
        table[column] = pd.array(values, dtype="Int64" if column == "size_voxels" else "Float64")
    return Clusters(table=table[FWE_COLUMNS], label_img=found.label_img, labels=found.labels,
                    min_voxels=found.min_voxels)


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
