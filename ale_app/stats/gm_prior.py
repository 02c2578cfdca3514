"""NiMARE's grey-matter prior on ale-app's template, shipped instead of recomputed.

Random foci of NiMARE's ``mask_coverage="gm"`` (``ResampledStability``'s cluster-size null,
``BalancedALESubtraction``'s random-foci null and probabilistic maps) fall in the voxels of
the analysis mask where nilearn's MNI152 grey-matter template, resampled to the mask
(continuous interpolation), exceeds 0.1. NiMARE computes that resampling once per process
(``nimare.utils._RESAMPLED_GM_PRIOR_CACHE``, about a second of scipy spline work that holds the
GIL). ale-app always analyses on one template (MNI152 2 mm), so it ships the result,
``data/gm-prior-thr10_mni152-2mm.npy.gz`` (the boolean volume, bit-packed), and
:func:`ale_app.stats.nimare_adapter.seed_nimare_cache` puts it into NiMARE's own cache
before a step that needs it: NiMARE's code and ale-app's then read the very
same array, and nothing is resampled.

The file is made by :func:`write` (``python -m ale_app.stats.gm_prior``) from NiMARE's own
function; ``tests/test_gm_prior.py`` recomputes it with NiMARE in the test and requires it to be
equal, so a change of nilearn, scipy or the template that moves one voxel is caught.
"""

from __future__ import annotations

import gzip
import io
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

#: NiMARE's grey-matter threshold (``gm_threshold`` of ``_mask_coverage_to_mask``).
THRESHOLD = 0.1
DATA = Path(__file__).resolve().parent.parent / "data" / "gm-prior-thr10_mni152-2mm.npy.gz"
META = DATA.with_name("gm-prior.json")


def nimare_key(masker, threshold: float = THRESHOLD) -> tuple:
    """The key NiMARE's cache files a resampled prior under (mask shape, affine, threshold)."""
    return (masker.mask_img.shape, tuple(np.asarray(masker.mask_img.affine).ravel()), float(threshold))


def compute(masker, threshold: float = THRESHOLD) -> np.ndarray:
    """The resampled prior as NiMARE computes it (its own code, with its cache bypassed)."""
    from nilearn import datasets
    from nilearn.image import resample_to_img

    gm_img = datasets.load_mni152_gm_template(resolution=2)
    gm_img = resample_to_img(gm_img, masker.mask_img, interpolation="continuous")
    return np.asanyarray(gm_img.dataobj) > threshold


@lru_cache(maxsize=1)
def shipped() -> tuple[tuple, np.ndarray] | None:
    """(NiMARE cache key, boolean volume) of the shipped prior, or None when it is missing."""
    if not DATA.is_file() or not META.is_file():
        return None
    meta = json.loads(META.read_text())
    with gzip.open(DATA, "rb") as handle:
        packed = np.load(io.BytesIO(handle.read()), allow_pickle=False)
    shape = tuple(meta["shape"])
    volume = np.unpackbits(packed, count=int(np.prod(shape))).astype(bool).reshape(shape)
    key = (shape, tuple(float(v) for v in meta["affine"]), float(meta["threshold"]))
    return key, volume


def write(masker=None) -> Path:
    """Compute the prior with NiMARE's code on ale-app's template and write the shipped file."""
    import nibabel
    import nilearn
    import nimare
    import scipy

    if masker is None:
        from nimare.utils import get_template
        from nilearn.maskers import NiftiMasker

        masker = NiftiMasker(get_template("mni152_2mm", mask="brain")).fit()
    volume = compute(masker)
    buffer = io.BytesIO()
    np.save(buffer, np.packbits(volume.ravel()), allow_pickle=False)
    with gzip.GzipFile(DATA, "wb", mtime=0) as handle:
        handle.write(buffer.getvalue())
    key = nimare_key(masker)
    META.write_text(json.dumps({
        "what": "nilearn's MNI152 grey-matter template (resolution 2) resampled to NiMARE's mni152_2mm brain mask "
                "(continuous interpolation) and thresholded above 0.1, as nimare.utils._mask_coverage_to_mask "
                "computes it; a bit-packed boolean volume (numpy.packbits, C order)",
        "shape": list(key[0]), "affine": list(key[1]), "threshold": key[2], "voxels": int(volume.sum()),
        "made_with": {"nimare": nimare.__version__, "nilearn": nilearn.__version__, "scipy": scipy.__version__,
                      "nibabel": nibabel.__version__}}, indent=1) + "\n")
    return DATA


if __name__ == "__main__":  # pragma: no cover - the maintainers' command
    print(write())
