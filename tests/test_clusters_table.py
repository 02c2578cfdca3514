"""The descriptive cluster table when no cluster has a sub-peak (issue #11): cluster ids,
sizes and peaks agree with the label map and with nilearn's ``get_clusters_table`` on the
ALE map NiMARE fits to the same hand-written Sleuth file."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

from ale_app.stats.ale import display_threshold, find_clusters

DATA = Path(__file__).parent / "data" / "clusters_no_subpeaks.txt"


def test_clusters_without_sub_peaks_keep_integer_ids():
    from nilearn.reporting import get_clusters_table
    from nimare.io import convert_sleuth_to_studyset
    from nimare.meta.cbma.ale import ALE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        studyset = convert_sleuth_to_studyset(str(DATA), target="mni152_2mm")
        result = ALE().fit(studyset)
    assert len(studyset.ids) == 5
    stat = result.get_map("stat")
    stat = nib.Nifti1Image(np.asarray(stat.dataobj, dtype=np.float32), stat.affine)
    values = np.asarray(result.get_map("stat", return_type="array"), dtype=np.float32)
    threshold = display_threshold(values, 95)

    clusters = find_clusters(stat, threshold, 500)
    table = clusters.table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, ref_maps = get_clusters_table(stat, threshold, clusters.min_voxels, two_sided=False,
                                           return_label_maps=True)
    # The file is built so that no cluster has a sub-peak: nilearn's ids are then integers.
    assert len(ref) == 3 and ref["Cluster ID"].tolist() == [1, 2, 3]

    assert table["cluster_id"].tolist() == [1, 2, 3]
    assert table["peak"].tolist() == ["main"] * 3
    assert table["size_mm3"].tolist() == ref["Cluster Size (mm3)"].tolist()
    np.testing.assert_array_equal(table[["x", "y", "z"]].to_numpy(), ref[["X", "Y", "Z"]].to_numpy(dtype=float))
    np.testing.assert_array_equal(table["ale"].to_numpy(), ref["Peak Stat"].to_numpy(dtype=float))

    labels = np.asarray(clusters.label_img.dataobj)
    np.testing.assert_array_equal(labels, np.asarray(ref_maps[0].dataobj))
    assert clusters.labels == [1, 2, 3]
    voxel_mm3 = float(np.prod(stat.header.get_zooms()[:3]))
    inverse = np.linalg.inv(stat.affine)
    for row in table.itertuples():
        assert row.size_mm3 == np.count_nonzero(labels == row.cluster_id) * voxel_mm3
        i, j, k = np.rint(nib.affines.apply_affine(inverse, [row.x, row.y, row.z])).astype(int)
        assert labels[i, j, k] == row.cluster_id
        assert row.ale == float(np.asarray(stat.dataobj)[i, j, k])


def test_sub_peaks_belong_to_their_cluster_and_are_lettered():
    from nilearn.reporting import get_clusters_table

    data = np.zeros((30, 20, 20), dtype=np.float32)
    data[2:22, 8:11, 8:11] = 1.0          # one elongated cluster with two maxima 24 mm apart
    data[4, 9, 9], data[16, 9, 9] = 5.0, 4.0
    data[26:29, 2:5, 2:5] = 2.0           # a second, smaller cluster with one peak
    data[27, 3, 3] = 6.0
    img = nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0]))
    clusters = find_clusters(img, 0.5, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = get_clusters_table(img, 0.5, clusters.min_voxels, two_sided=False)
    names = ref["Cluster ID"].astype(str).tolist()
    assert names[:3] == ["1", "2", "2a"]
    table = clusters.table
    assert table["cluster_id"].tolist() == [int(re.match(r"\d+", n).group()) for n in names]
    assert table["peak"].tolist() == ["main" if n.isdigit() else "sub-" + n.lstrip("0123456789")
                                      for n in names]
    assert table["size_mm3"].tolist()[:2] == [27 * 8, 180 * 8]
    assert table["size_mm3"].iloc[2:].isna().all()
    np.testing.assert_array_equal(table[["x", "y", "z"]].to_numpy(), ref[["X", "Y", "Z"]].to_numpy(dtype=float))
