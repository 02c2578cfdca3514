"""The grey-matter prior ale-app ships (``ale_app/data/gm-prior-thr10_mni152-2mm.npy.gz``) is
NiMARE's: recomputed here by NiMARE's own function, with NiMARE's cache emptied, and required
to be equal voxel for voxel; seeding NiMARE's cache with it changes nothing NiMARE draws from,
and a mask it was not made for is left to NiMARE."""

from __future__ import annotations

import numpy as np
from nilearn.maskers import NiftiMasker


def _template_masker():
    from nimare.utils import get_template

    return NiftiMasker(get_template("mni152_2mm", mask="brain")).fit()


def test_shipped_prior_equals_nimare_s_and_seeds_its_cache():
    from nimare import utils as U

    from ale_app.stats import gm_prior as G
    from ale_app.stats import nimare_adapter as NA

    masker = _template_masker()
    U._RESAMPLED_GM_PRIOR_CACHE.clear()
    nimare_gm = U._mask_coverage_to_mask(masker, mask_coverage="gm")  # NiMARE resamples the template
    nimare_ijk = U._mask_coverage_to_null_ijk(masker, mask_coverage="gm")
    key, shipped = G.shipped()
    assert key == G.nimare_key(masker)
    mask = np.asanyarray(masker.mask_img.dataobj) > 0
    assert np.array_equal(mask & shipped, nimare_gm) and 0 < nimare_gm.sum() < mask.sum()
    U._RESAMPLED_GM_PRIOR_CACHE.clear()
    assert NA.seed_nimare_cache(masker)
    assert U._RESAMPLED_GM_PRIOR_CACHE[key] is shipped
    assert np.array_equal(U._mask_coverage_to_null_ijk(masker, mask_coverage="gm"), nimare_ijk)
    U._RESAMPLED_GM_PRIOR_CACHE.clear()


def test_a_mask_the_prior_was_not_made_for_is_left_to_nimare():
    import nibabel as nib
    from nimare import utils as U

    from ale_app.stats import gm_prior as G
    from ale_app.stats import nimare_adapter as NA

    template = _template_masker().mask_img
    affine = template.affine.copy()
    affine[0, 3] += 2.0  # one voxel to the side
    shifted = nib.Nifti1Image(np.asanyarray(template.dataobj).astype(np.uint8), affine)
    masker = NiftiMasker(shifted).fit()
    U._RESAMPLED_GM_PRIOR_CACHE.clear()
    assert not NA.seed_nimare_cache(masker)
    assert G.nimare_key(masker) not in U._RESAMPLED_GM_PRIOR_CACHE
