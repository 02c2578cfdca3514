"""Nearest anatomical label of a point, from the Harvard-Oxford cortical atlas NiMARE ships.

The atlas image is NiMARE's bundled ``HarvardOxford-cort-maxprob-thr25-2mm.nii.gz``
(offline); its 48 label names, in index order, are in ``data/harvard_oxford_cortical_labels.txt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

ATLAS_NAME = "Harvard-Oxford cortical atlas (max. probability, 25% threshold, 2 mm), as bundled with NiMARE"
MAX_DISTANCE_MM = 12.0


@dataclass
class AnatomicalLabel:
    """Where a point lies: the label, its hemisphere, and how far away the labelled voxel is."""

    name: str | None
    hemisphere: str
    distance_mm: float | None
    atlas: str = ATLAS_NAME

    def describe(self) -> str:
        """A phrase for the report, e.g. 'in the right Precentral Gyrus (Harvard-Oxford cortical atlas)'."""
        if self.name is None:
            return (f"with no Harvard-Oxford cortical label within {MAX_DISTANCE_MM:g} mm (for example "
                    "cerebellum, white matter or deep grey matter)")
        where = f"the {self.hemisphere} {self.name} (Harvard-Oxford cortical atlas)"
        if self.distance_mm and self.distance_mm > 0:
            return f"{self.distance_mm:.0f} mm from {where}"
        return f"in {where}"


def _atlas():
    import nibabel as nib
    from nimare.utils import get_resource_path

    img = nib.load(Path(get_resource_path()) / "atlases" / "HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")
    names = (resources.files("ale_app") / "data" / "harvard_oxford_cortical_labels.txt").read_text().splitlines()
    return img, [n for n in names if n]


def nearest_label(xyz) -> AnatomicalLabel:
    """Label at MNI point ``xyz`` (mm), or the nearest labelled voxel within 12 mm."""
    import nibabel as nib

    img, names = _atlas()
    data = np.asarray(img.dataobj).astype(int)
    labelled = np.argwhere(data > 0)
    world = nib.affines.apply_affine(img.affine, labelled)
    dist = np.sqrt(((world - np.asarray(xyz, dtype=float)) ** 2).sum(axis=1))
    best = int(np.argmin(dist))  # first of equally near voxels, in C order: deterministic
    if dist[best] > MAX_DISTANCE_MM:
        return AnatomicalLabel(name=None, hemisphere="", distance_mm=None)
    label = int(data[tuple(labelled[best])])
    x = world[best][0]
    hemisphere = "left" if x < 0 else "right" if x > 0 else "midline"
    return AnatomicalLabel(name=names[label - 1], hemisphere=hemisphere, distance_mm=float(dist[best]))
