"""The only module that touches NiMARE's internals.

ale-app builds the ALE statistic from NiMARE's own modelled-activation (MA) maps, chunk by
chunk, instead of running ``ALE.fit`` (whose null distribution, p and z maps are most of
its cost). NiMARE's public API has the kernel (``kernel_transformer.transform(...,
return_type="sparse")``) but not the input preparation ``ALE.fit`` runs before it, so that
one step calls two private methods here. NiMARE is pinned exactly (``nimare==0.22.1``);
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
