"""The only module that touches NiMARE's internals.

ale-app builds the ALE statistic from NiMARE's own modelled-activation (MA) maps, chunk by
chunk, instead of running ``ALE.fit`` (whose null distribution, p and z maps are most of
its cost). NiMARE's public API has the kernel (``kernel_transformer.transform(...,
return_type="sparse")``) but not the input preparation ``ALE.fit`` runs before it, so that
one step calls two private methods here. The inferential mode's Monte Carlo loop must draw
NiMARE's random foci from NiMARE's random stream, place NiMARE's kernels and turn p into
ALE as NiMARE does; those private pieces are the functions after :func:`sparse_ma_maps`. NiMARE is pinned exactly (``nimare==0.22.1``);
``tests/test_nimare_adapter.py`` turns every DeprecationWarning and FutureWarning raised
here into an error, so a NiMARE release that is about to change them is noticed at once.
"""

from __future__ import annotations

import pandas as pd


def make_ale_estimator(kernel_fwhm: float | None = None, sample_size: int | None = None, **kwargs):
    """NiMARE's ``ALE`` estimator with the kernel options of the spec (None = NiMARE's default)."""
    from nimare.meta.cbma.ale import ALE

    if kernel_fwhm is not None:
        kwargs["kernel__fwhm"] = kernel_fwhm
    if sample_size is not None:
        kwargs["kernel__sample_size"] = sample_size
    return ALE(**kwargs)


def prepare_ale_inputs(estimator, studyset) -> tuple[pd.DataFrame, list[str]]:
    """Run the input preparation ``ALE.fit`` runs before fitting, on ``studyset``.

    Returns the prepared coordinates (with NiMARE's voxel indices and sample sizes) and the
    analysis ids in the order NiMARE fits them. ``estimator.masker`` is set afterwards.
    """
    from nimare.studyset import normalize_collection

    dataset = normalize_collection(studyset)
    estimator._collect_inputs(dataset, drop_invalid=True)  # private: see the module docstring
    estimator._preprocess_input(dataset)  # private: see the module docstring
    return estimator.inputs_["coordinates"], [str(i) for i in estimator.inputs_["id"]]


def sparse_ma_maps(estimator, coordinates: pd.DataFrame):
    """MA maps (experiments x in-mask voxels, sparse) of ``coordinates``, NiMARE's public kernel API."""
    return estimator.kernel_transformer.transform(coordinates, masker=estimator.masker, return_type="sparse")


# --------------------------------------------------------------------------- inferential mode
# The private pieces of ``CBMAEstimator.correct_fwe_montecarlo`` that ale-app's Monte Carlo
# loop (ale_app.stats.montecarlo) reproduces draw for draw.


def permutation_plan(estimator):
    """NiMARE's ALE kernel plan (kernels per sample size, foci grouped by experiment)."""
    coordinates = estimator.inputs_["coordinates"].drop(columns=["x", "y", "z"], errors="ignore").copy()
    plan = estimator._permutation_plan(coordinates)  # private
    if plan is None or not hasattr(plan, "kernel_values"):
        raise NotImplementedError("ale-app's Monte Carlo FWE needs NiMARE's ALE kernel permutation plan")
    return plan


def montecarlo_rng(estimator):
    """The random generator NiMARE's Monte Carlo FWE draws its foci from."""
    return estimator._get_rng("correct_fwe_montecarlo")  # private


def null_voxels(estimator):
    """The voxels (i, j, k) NiMARE draws random foci from (its mask coverage)."""
    from nimare.utils import _mask_coverage_to_null_ijk  # private

    return _mask_coverage_to_null_ijk(estimator.masker, mask_coverage=estimator.mask_coverage)


def mask_bool(estimator):
    """The estimator's brain mask as a 3-D bool array, as NiMARE reads it."""
    from nimare.utils import _mask_img_to_bool  # private

    return _mask_img_to_bool(estimator.masker.mask_img)


def p_to_summarystat(estimator, p: float) -> float:
    """The ALE value that uncorrected ``p`` becomes under the estimator's analytic null."""
    return estimator._p_to_summarystat(p)  # private


def p_to_logp_values(p, dtype):
    """``-log10 p`` as NiMARE writes its FWE maps (p = 0 clipped as NiMARE clips it)."""
    from nimare.utils import _p_to_logp_values  # private

    return _p_to_logp_values(p, dtype=dtype)
