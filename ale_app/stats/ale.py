"""Fit ALE, pick the display threshold, find the peak and the descriptive clusters.

No file IO here. Every number is computed from the float ALE values: the map NiMARE
returns carries an integer on-disk dtype in its header, so ale-app builds its own float32
image from the values (see :func:`fit_ale`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, cast

import nibabel as nib
import numpy as np
import pandas as pd

from ale_app.spec.models import ALESpec


@dataclass
class ALEFit:
    """The outcome of an ALE fit.

    Attributes
    ----------
    stat_img : nibabel.Nifti1Image
        The raw ALE statistic as float32, header dtype float32.
    stat_values : numpy.ndarray
        The ALE values inside the brain mask (1-D float32, masker order).
    masker : nilearn.maskers.NiftiMasker
        The masker the values are expressed in.
    ids : list of str
        Analysis ids in the order NiMARE fitted them (the rows of ``ma``).
    kernel : dict
        The kernel parameters used.
    ma : scipy.sparse.csr_matrix
        The experiments' MA maps (experiments x in-mask voxels), for the closed-form jackknife
        and the inferential mode's analytic null.
    estimator : nimare.meta.cbma.ale.ALE
        NiMARE's ``ALE`` whose inputs were prepared for this fit (coordinates, ids, masker,
        kernel), handed to :mod:`ale_app.stats.nimare_adapter` by the inferential mode.
    """

    stat_img: nib.Nifti1Image
    stat_values: np.ndarray
    masker: Any
    ids: list[str]
    kernel: dict[str, Any]
    ma: Any = None
    estimator: Any = None


@dataclass
class Peak:
    """The largest ALE value and where it is."""

    value: float
    ijk: tuple[int, int, int]
    xyz: tuple[float, float, float]


@dataclass
class Clusters:
    """Descriptive clusters of the display-thresholded map.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per cluster peak and sub-peak: ``cluster_id, peak, x, y, z, ale, size_mm3``.
    label_img : nibabel.Nifti1Image
        Integer labels 1..K (0 outside clusters), numbered by descending peak value.
    labels : list of int
        The cluster labels, 1..K.
    min_voxels : int
        The cluster-size filter in voxels that ``cluster_threshold_mm3`` became.
    """

    table: pd.DataFrame
    label_img: nib.Nifti1Image
    labels: list[int]
    min_voxels: int


def make_estimator(ale_spec: ALESpec, **kwargs):
    """Return NiMARE's ``ALE`` estimator configured as the spec says."""
    from ale_app.stats.nimare_adapter import make_ale_estimator

    return make_ale_estimator(ale_spec.kernel_fwhm, ale_spec.sample_size, **kwargs)


def fit_stat_values(studyset, ale_spec: ALESpec):
    """Fit ALE with NiMARE's ``ALE.fit`` (the literal procedure, p and z included).

    Returns the in-mask ALE values (float32) and NiMARE's result. The refit jackknife and
    the tests use this; :func:`fit_ale` computes the same statistic without NiMARE's null.
    """
    estimator = make_estimator(ale_spec)
    result = estimator.fit(studyset)
    values = np.asarray(result.get_map("stat", return_type="array"), dtype=np.float32)
    return values, result


def compute_ma_maps(studyset, ale_spec: ALESpec, chunk_size: int = 64, progress=None):
    """Modelled activation (MA) maps of every experiment, as NiMARE's ``ALE`` builds them.

    NiMARE's own input preparation (coordinates to voxel indices, sample sizes) and ALE
    kernel are used; the kernel runs on ``chunk_size`` experiments at a time so that peak
    memory stays near that of the final sparse matrix.

    Returns
    -------
    ma : scipy.sparse.csr_matrix
        Experiments x in-mask voxels, float32 (NiMARE's masked sparse format).
    ids : list of str
        The experiment of each row.
    estimator : nimare.meta.cbma.ale.ALE
        The estimator whose prepared inputs these are (``estimator.masker`` is the brain
        mask's masker).
    """
    import scipy.sparse as sp

    from ale_app.stats.nimare_adapter import prepare_ale_inputs, sparse_ma_maps

    estimator = make_estimator(ale_spec)
    # NiMARE's own preparation, as ALE.fit runs it before its _fit.
    coords, ids = prepare_ale_inputs(estimator, studyset)
    blocks = []
    for start in range(0, len(ids), chunk_size):
        chunk_ids = ids[start : start + chunk_size]
        chunk = coords[coords["id"].isin(chunk_ids)]
        block = sparse_ma_maps(estimator, chunk)
        block = sp.csr_matrix(block, dtype=np.float32)
        if block.shape[0] != len(chunk_ids):
            raise RuntimeError("NiMARE's kernel returned an unexpected number of MA maps")
        blocks.append(block)
        if progress is not None:
            progress(len(chunk_ids))
    return sp.vstack(blocks, format="csr"), ids, estimator


def ale_from_ma(ma) -> np.ndarray:
    """ALE = 1 - prod_i (1 - MA_i), summed in log space exactly as NiMARE's ALE does."""
    log_sums = np.bincount(ma.indices, weights=np.log1p(-ma.data), minlength=ma.shape[1])
    return (1.0 - np.exp(log_sums)).astype(np.float32)


def fit_ale(studyset, ale_spec: ALESpec, progress=None) -> ALEFit:
    """Compute the raw ALE statistic as a float32 image, from NiMARE's MA maps.

    Only the ALE statistic is computed: NiMARE's null distribution, p and z maps, most of
    ``ALE.fit``'s cost at large N, are left out (the inferential mode adds them from this
    fit's MA maps, :func:`ale_app.stats.montecarlo.montecarlo_fwe`). The values equal
    ``ALE().fit(studyset).get_map("stat")`` (a test checks this against NiMARE).

    Parameters
    ----------
    studyset : nimare.studyset.Studyset
        The analyses to fit.
    ale_spec : ALESpec
        Kernel options.
    progress : callable, optional
        Called with the number of experiments done after each chunk.

    Returns
    -------
    ALEFit
    """
    ma, ids, estimator = compute_ma_maps(studyset, ale_spec, progress=progress)
    masker = estimator.masker
    values = ale_from_ma(ma)
    stat_img = values_to_image(values, masker)
    kernel = {
        "name": "ALEKernel",
        "fwhm_mm": ale_spec.kernel_fwhm,
        "sample_size": ale_spec.sample_size,
        "fwhm_from": (
            "ale.kernel_fwhm"
            if ale_spec.kernel_fwhm is not None
            else "ale.sample_size"
            if ale_spec.sample_size is not None
            else "each experiment's sample size (Eickhoff et al. 2009)"
        ),
    }
    return ALEFit(stat_img=stat_img, stat_values=values, masker=masker, ids=ids, kernel=kernel, ma=ma,
                  estimator=estimator)


def values_to_image(values: np.ndarray, masker) -> nib.Nifti1Image:
    """Unmask in-mask ``values`` into a float32 image whose header says float32."""
    img = masker.inverse_transform(np.asarray(values, dtype=np.float32))
    data = np.asarray(img.get_fdata(dtype=np.float32), dtype=np.float32)
    out = nib.Nifti1Image(data, img.affine)
    out.header.set_data_dtype(np.float32)
    out.header.set_xyzt_units("mm")
    return out


def display_threshold(stat_values: np.ndarray, percentile: float) -> float:
    """Return the display threshold: ``percentile`` of the nonzero in-mask ALE values.

    This is for drawing only; it is not a statistical threshold.
    """
    nonzero = stat_values[stat_values > 0]
    if nonzero.size == 0:
        raise ValueError("the ALE map has no nonzero value")
    return float(np.percentile(nonzero, percentile))


def find_peak(stat_img: nib.Nifti1Image) -> Peak:
    """Return the largest ALE value and its voxel and mm coordinates (first in C order on ties)."""
    data = np.asanyarray(stat_img.dataobj)
    flat = int(np.nanargmax(data))
    # three of each: the map is 3D
    ijk = cast("tuple[int, int, int]", tuple(int(v) for v in np.unravel_index(flat, data.shape)))
    xyz = cast("tuple[float, float, float]",
               tuple(float(v) for v in nib.affines.apply_affine(stat_img.affine, ijk)))
    return Peak(value=float(data[ijk]), ijk=ijk, xyz=xyz)


def cluster_min_voxels(cluster_threshold_mm3: float, img: nib.Nifti1Image) -> int:
    """Convert a cluster-size filter in mm3 to the smallest cluster size kept, in voxels."""
    voxel_mm3 = float(np.prod(img.header.get_zooms()[:3]))
    return int(math.ceil(cluster_threshold_mm3 / voxel_mm3 - 1e-9))


def find_clusters(stat_img: nib.Nifti1Image, threshold: float, cluster_threshold_mm3: float) -> Clusters:
    """Label the connected voxels above ``threshold`` (faces connectivity), drop small ones.

    Uses nilearn's ``get_clusters_table`` exactly as NiMARE's diagnostics do, so the
    clusters, their numbering (descending peak) and their peaks match NiMARE's.
    """
    from nilearn.reporting import get_clusters_table

    min_voxels = cluster_min_voxels(cluster_threshold_mm3, stat_img)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table, label_maps = get_clusters_table(
            stat_img, threshold, min_voxels, two_sided=False, return_label_maps=True
        )
    shape = stat_img.shape
    if table.empty or not label_maps:
        label_data = np.zeros(shape, dtype=np.int16)
        labels: list[int] = []
        out = pd.DataFrame(columns=["cluster_id", "peak", "x", "y", "z", "ale", "size_mm3"])
    else:
        label_data = np.asarray(label_maps[0].dataobj).astype(np.int16)
        labels = sorted(int(v) for v in np.unique(label_data) if v > 0)
        out = _cluster_rows(table, label_data, stat_img)
    label_img = nib.Nifti1Image(label_data, stat_img.affine)
    label_img.header.set_data_dtype(np.int16)
    label_img.header.set_xyzt_units("mm")
    return Clusters(table=out, label_img=label_img, labels=labels, min_voxels=min_voxels)


def cluster_peaks(stat_img: nib.Nifti1Image, label_data: np.ndarray) -> pd.DataFrame:
    """Peaks and sub-peaks of clusters labelled elsewhere (``label_data``: 1..K, 0 outside).

    The rows are those :func:`find_clusters` gives (``cluster_id, peak, x, y, z, ale,
    size_mm3``), with ``cluster_id`` the label given here. Each cluster's peaks are found by
    the same search as :func:`find_clusters` (nilearn's ``get_clusters_table``, up to three
    sub-peaks 8 mm apart), run on a map that holds that cluster's ALE values only, so the
    search sees exactly the given cluster and nothing is labelled anew.
    """
    from nilearn.reporting import get_clusters_table

    labels = sorted(int(v) for v in np.unique(label_data) if v > 0)
    if not labels:
        return pd.DataFrame(columns=["cluster_id", "peak", "x", "y", "z", "ale", "size_mm3"])
    stat = np.asarray(stat_img.get_fdata(dtype=np.float32), dtype=np.float32)
    tables = []
    for label in labels:
        inside = label_data == label
        if not (stat[inside] > 0).all():
            raise ValueError(f"cluster {label} has voxels whose ALE value is not positive")
        one = nib.Nifti1Image(np.where(inside, stat, 0).astype(np.float32), stat_img.affine)
        one.header.set_data_dtype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Threshold 0: every voxel of the cluster (all positive) and nothing else.
            tables.append(get_clusters_table(one, 0.0, 0, two_sided=False))
    out = _cluster_rows(pd.concat(tables, ignore_index=True), label_data, stat_img)
    expected = np.repeat(labels, [len(t) for t in tables])
    if not np.array_equal(out["cluster_id"].to_numpy(), expected):
        raise RuntimeError("a peak of a cluster does not lie inside it")
    return out


def _cluster_rows(table: pd.DataFrame, label_data: np.ndarray, stat_img: nib.Nifti1Image) -> pd.DataFrame:
    """One row per peak of nilearn's table, its cluster id and size read from the label map.

    The cluster id of a peak is the integer label of the voxel it sits in, so ids stay
    integers from the labelling to the table (nilearn's "Cluster ID" column is an integer
    column, or strings such as "1a" when there are sub-peaks, and is not parsed here).
    The first peak of a cluster is its main peak; later ones are sub-peaks a, b, c, ...
    """
    inverse = np.linalg.inv(stat_img.affine)
    voxel_mm3 = float(np.prod(stat_img.header.get_zooms()[:3]))
    xyz = table[["X", "Y", "Z"]].to_numpy(dtype=float)
    ijk = np.rint(nib.affines.apply_affine(inverse, xyz)).astype(int)
    rows = []
    seen: dict[int, int] = {}
    for (x, y, z), (i, j, k), ale in zip(xyz, ijk, table["Peak Stat"].to_numpy(dtype=float)):
        cluster = int(label_data[i, j, k])
        if cluster <= 0:
            raise RuntimeError(f"the peak at ({x:g}, {y:g}, {z:g}) is not inside a labelled cluster")
        n_before = seen.get(cluster, 0)
        seen[cluster] = n_before + 1
        is_main = n_before == 0
        rows.append({
            "cluster_id": cluster,
            "peak": "main" if is_main else f"sub-{_sub_peak_letter(n_before)}",
            "x": float(x), "y": float(y), "z": float(z), "ale": float(ale),
            "size_mm3": int(round(np.count_nonzero(label_data == cluster) * voxel_mm3)) if is_main else None,
        })
    out = pd.DataFrame(rows, columns=["cluster_id", "peak", "x", "y", "z", "ale", "size_mm3"])
    out["cluster_id"] = out["cluster_id"].astype(int)
    out["size_mm3"] = out["size_mm3"].astype("Int64")
    return out


def _sub_peak_letter(n: int) -> str:
    """a, b, ..., z, aa, ab, ... for the n-th sub-peak (n from 1), as nilearn names them."""
    letters = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters
