"""Two groups compared: the ALE difference, its clusters per direction, the conjunction, and
how much each experiment drives each contrast cluster.

No file IO here. The inferential subtraction itself (permutations, FWE) is
:mod:`ale_app.stats.subtraction`; this module turns a difference map (descriptive or tested)
into clusters, and the two groups' maps into their conjunction.

Directions ("tails") follow NiMARE's diagnostics on pairwise results: a *positive* cluster
(first group's ALE above the second's) is driven by experiments of the first group, a
*negative* one by the second group's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

from ale_app.stats.ale import Clusters, cluster_peaks, find_clusters, values_to_image
from ale_app.stats.jackknife import _reductions, _table, cluster_means, leave_one_out_entries

TABLE_COLUMNS = ["tail", "cluster_id", "peak", "x", "y", "z", "ale_difference", "size_mm3"]
FWE_TABLE_COLUMNS = TABLE_COLUMNS + ["size_voxels", "p_fwe", "p_fwe_se", "favoured_group_converges"]


@dataclass
class TailClusters:
    """The clusters of one direction of a difference map.

    Attributes
    ----------
    tail : {"positive", "negative"}
        ``positive``: the first group's ALE is higher; ``negative``: the second group's.
    favours : str
        The group whose ALE is higher in these clusters.
    clusters : Clusters
        Labels 1..K by descending absolute peak difference, and their table (``ale`` is the
        absolute difference at each peak; :func:`contrast_table` gives it its sign).
    """

    tail: str
    favours: str
    clusters: Clusters


@dataclass
class ContrastClusters:
    """Both directions' clusters, and one table and one label map for both.

    ``label_img`` numbers positive clusters 1..P and negative ones P+1..P+N; ``table`` has
    a ``tail`` column and those numbers.
    """

    positive: TailClusters
    negative: TailClusters
    table: pd.DataFrame
    label_img: nib.Nifti1Image

    @property
    def labels(self) -> list[int]:
        """Every cluster number of :attr:`label_img`."""
        n = len(self.positive.clusters.labels) + len(self.negative.clusters.labels)
        return list(range(1, n + 1))

    def tail_of(self, label: int) -> str:
        """The direction of cluster ``label``."""
        return "positive" if label <= len(self.positive.clusters.labels) else "negative"


def difference_values(values1: np.ndarray, values2: np.ndarray) -> np.ndarray:
    """First group's ALE minus the second's, in-mask (float32)."""
    return (np.asarray(values1, dtype=np.float64) - np.asarray(values2, dtype=np.float64)).astype(np.float32)


def difference_threshold(diff_values: np.ndarray, percentile: float) -> float:
    """The display-only threshold of a difference map: ``percentile`` of the nonzero |difference|."""
    nonzero = np.abs(diff_values[diff_values != 0])
    if nonzero.size == 0:
        raise ValueError("the two groups' ALE maps are identical: the difference is zero everywhere")
    return float(np.percentile(nonzero, percentile))


def _combine(positive: TailClusters, negative: TailClusters, diff_img: nib.Nifti1Image,
             columns: list[str]) -> ContrastClusters:
    pos, neg = positive.clusters, negative.clusters
    n_pos = len(pos.labels)
    pos_data = np.asarray(pos.label_img.dataobj).astype(np.int16)
    neg_data = np.asarray(neg.label_img.dataobj).astype(np.int16)
    data = pos_data + np.where(neg_data > 0, neg_data + n_pos, 0).astype(np.int16)
    label_img = nib.Nifti1Image(data.astype(np.int16), diff_img.affine)
    label_img.header.set_data_dtype(np.int16)
    label_img.header.set_xyzt_units("mm")
    tables = []
    for tail, tc, offset, sign in (("positive", pos, 0, 1.0), ("negative", neg, n_pos, -1.0)):
        t = tc.table.copy()
        if len(t):
            t["cluster_id"] = t["cluster_id"].astype(int) + offset
            t["ale_difference"] = sign * t.pop("ale").astype(float)
        else:
            t = t.drop(columns="ale").assign(ale_difference=pd.Series(dtype=float))
        t.insert(0, "tail", tail)
        tables.append(t)
    frames = [t for t in tables if len(t)]
    table = pd.concat(frames, ignore_index=True) if frames else tables[0]
    for column in columns:
        if column not in table.columns:
            table[column] = pd.Series([None] * len(table), dtype=object)
    return ContrastClusters(positive, negative, table[columns].reset_index(drop=True), label_img)


def descriptive_clusters(diff_values: np.ndarray, masker, threshold: float, cluster_threshold_mm3: float,
                         names: tuple[str, str]) -> ContrastClusters:
    """Clusters of ``|difference| > threshold`` (a display-only threshold), per direction."""
    diff = np.asarray(diff_values, dtype=np.float32)
    diff_img = values_to_image(diff, masker)
    pos = find_clusters(values_to_image(np.where(diff > 0, diff, 0), masker), threshold, cluster_threshold_mm3)
    neg = find_clusters(values_to_image(np.where(diff < 0, -diff, 0), masker), threshold, cluster_threshold_mm3)
    return _combine(TailClusters("positive", names[0], pos), TailClusters("negative", names[1], neg),
                    diff_img, TABLE_COLUMNS)


def _tail_labels(passing: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Label the connected passing voxels (faces), numbered by descending peak of ``data``."""
    conn = ndimage.generate_binary_structure(3, 1)
    labels, n = ndimage.label(passing, conn)
    if n == 0:
        return labels.astype(np.int16)
    peaks = ndimage.maximum(data, labels, index=np.arange(1, n + 1))
    order = np.argsort(-np.asarray(peaks), kind="stable")
    renumber = np.zeros(n + 1, dtype=np.int16)
    renumber[order + 1] = np.arange(1, n + 1, dtype=np.int16)
    return renumber[labels]


def inferential_clusters(diff_values: np.ndarray, p_cluster_values: np.ndarray, masker, alpha: float,
                         n_iterations: int, names: tuple[str, str],
                         favoured_masks: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
                         ) -> ContrastClusters:
    """The contrast clusters that passed cluster-level (size) FWE, per direction.

    ``p_cluster_values`` is the subtraction's cluster-size FWE p of each in-mask voxel
    (1 outside clusters above the cluster-forming threshold). A cluster passes when its p
    is below ``alpha``. ``favoured_masks`` (in-mask booleans: where each group's own main
    effect passed) give each cluster's ``favoured_group_converges``: the share of its voxels
    where the group it favours converges on its own (the GingerALE-style reading).
    """
    diff = np.asarray(diff_values, dtype=np.float32)
    p = np.asarray(p_cluster_values, dtype=np.float64)
    diff_img = values_to_image(diff, masker)
    diff3d = np.asarray(diff_img.dataobj, dtype=np.float32)
    p3d = masker.inverse_transform(p.astype(np.float32)).get_fdata(dtype=np.float32)
    mask3d = np.asarray(masker.mask_img_.dataobj).astype(bool) if hasattr(masker, "mask_img_") else None
    tails = []
    for tail, sign, name, favoured in (("positive", 1.0, names[0], favoured_masks[0]),
                                       ("negative", -1.0, names[1], favoured_masks[1])):
        signed = sign * diff3d
        passing = (signed > 0) & (p3d < alpha)
        if mask3d is not None:
            passing &= mask3d
        labels3d = _tail_labels(passing, np.where(passing, signed, 0))
        img = nib.Nifti1Image(labels3d, diff_img.affine)
        img.header.set_data_dtype(np.int16)
        table = cluster_peaks(values_to_image(np.where(sign * diff > 0, sign * diff, 0), masker), labels3d)
        extra: dict[str, list[Any]] = {c: [None] * len(table) for c in
                                       ("size_voxels", "p_fwe", "p_fwe_se", "favoured_group_converges")}
        fav3d = None
        if favoured is not None:
            fav3d = masker.inverse_transform(np.asarray(favoured, dtype=np.float32)).get_fdata() > 0.5
        for row, (cid, peak) in enumerate(zip(table["cluster_id"], table["peak"])):
            if peak != "main":
                continue
            inside = labels3d == int(cid)
            # The p map went through float32: store the shortest decimal that float32 value stands for
            # (0.03, not 0.0299999993), a permutation p's exact value k / n when n has few digits.
            pv = float(str(np.float32(p3d[inside].max())))
            extra["size_voxels"][row] = int(inside.sum())
            extra["p_fwe"][row] = pv
            extra["p_fwe_se"][row] = math.sqrt(pv * (1 - pv) / n_iterations)
            if fav3d is not None:
                extra["favoured_group_converges"][row] = float(np.count_nonzero(fav3d & inside) / inside.sum())
        for column, values in extra.items():
            table[column] = pd.array(values, dtype="Int64" if column == "size_voxels" else "Float64")
        labels = sorted(int(v) for v in np.unique(labels3d) if v > 0)
        tails.append(TailClusters(tail, name, Clusters(table, img, labels, 0)))
    return _combine(tails[0], tails[1], diff_img, FWE_TABLE_COLUMNS)


def conjunction_values(values1: np.ndarray, values2: np.ndarray, in1: np.ndarray, in2: np.ndarray) -> np.ndarray:
    """The minimum statistic (Nichols et al. 2005): ``min(ALE1, ALE2)`` where both groups pass
    (``in1`` and ``in2``, in-mask booleans), 0 elsewhere (float32)."""
    both = np.asarray(in1, dtype=bool) & np.asarray(in2, dtype=bool)
    low = np.minimum(np.asarray(values1, dtype=np.float32), np.asarray(values2, dtype=np.float32))
    return np.where(both, low, 0).astype(np.float32)


def conjunction_clusters(conj_values: np.ndarray, masker, cluster_threshold_mm3: float) -> Clusters:
    """The connected regions of the conjunction map (faces), at least ``cluster_threshold_mm3``."""
    return find_clusters(values_to_image(conj_values, masker), 0.0, cluster_threshold_mm3)


def contrast_jackknife(ma, ma_ids: list[str], group_values: np.ndarray, other_values: np.ndarray,
                       sign: float, label_values: np.ndarray, labels: list[int], ids: list[str]) -> pd.DataFrame:
    """Leave-one-out contributions of one group's experiments to the contrast clusters of its
    direction, from the MA maps (exact, no refit).

    For experiment j of the group, the difference without j is ``sign * (ALE_g without j -
    ALE_other)`` and its contribution to cluster c is the mean over c's voxels of
    ``1 - difference without j / difference`` (NiMARE's ``Jackknife`` on a pairwise result
    drops j from the group the cluster's direction belongs to; 0/0 taken as 0).

    Parameters
    ----------
    ma : scipy.sparse.csr_matrix
        The group's MA maps (experiments x in-mask voxels).
    ma_ids : list of str
        The experiment of each row of ``ma``.
    group_values, other_values : numpy.ndarray
        In-mask ALE of this group and of the other one.
    sign : float
        1 for the first group (positive clusters), -1 for the second (negative clusters).
    label_values : numpy.ndarray
        In-mask cluster labels (0 outside); only ``labels`` are read.
    labels : list of int
        The clusters of this direction (one column each).
    ids : list of str
        Row order of the table.
    """
    label_values = np.asarray(label_values)
    cols = np.flatnonzero(np.isin(label_values, labels))
    if not labels or ma.shape[0] == 0:
        return _table(ids, np.zeros((len(ids), len(labels))), labels)
    sub, loo = leave_one_out_entries(ma, cols)
    other_at = np.asarray(other_values, dtype=np.float64)[cols]
    diff_all = sign * (np.asarray(group_values, dtype=np.float64)[cols] - other_at)
    diff_loo = sign * (loo - other_at[sub.indices])
    reduction = _reductions(diff_loo, diff_all[sub.indices]).astype(np.float64)
    contributions = cluster_means(sub, reduction, label_values[cols], labels)
    row_of = {rid: i for i, rid in enumerate(ma_ids)}
    return _table(ids, contributions[[row_of[i] for i in ids]], labels)
