"""The only module that touches NiMARE's internals.

ale-app builds the ALE statistic from NiMARE's own modelled-activation (MA) maps, chunk by
chunk, instead of running ``ALE.fit`` (whose null distribution, p and z maps are most of
its cost). NiMARE's public API has the kernel (``kernel_transformer.transform(...,
return_type="sparse")``) but not the input preparation ``ALE.fit`` runs before it, so that
one step calls two private methods here. The inferential mode needs NiMARE's analytic null
(p and z, and p turned into ALE) of the MA maps ale-app already built, and its Monte Carlo
loop must draw NiMARE's random foci from NiMARE's random stream, place NiMARE's kernels and
turn null maxima into FWE p as NiMARE does; those private pieces are the functions after
:func:`sparse_ma_maps`. The balanced contrast (ale_app.stats.balanced and
balanced_subsamples) reproduces ``BalancedALESubtraction`` from NiMARE's private helpers, and
the shipped grey-matter prior (ale_app.stats.gm_prior) goes into NiMARE's private cache; those
pieces are the last two sections. No other ale-app module imports a private NiMARE name or
reads a private NiMARE attribute (``tests/test_layers.py`` holds the code to it).
NiMARE is pinned exactly (``nimare==0.22.1``);
``tests/test_nimare_adapter.py`` turns every DeprecationWarning and FutureWarning raised
here into an error, so a NiMARE release that is about to change them is noticed at once.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import warnings

import numpy as np
import pandas as pd


def make_ale_estimator(kernel_fwhm: float | None = None, sample_size: int | None = None, **kwargs):
    """NiMARE's ``ALE`` estimator with the kernel options of the spec (None = NiMARE's default)."""
    from nimare.meta.cbma.ale import ALE

    if kernel_fwhm is not None:
        kwargs["kernel__fwhm"] = kernel_fwhm
    if sample_size is not None:
        kwargs["kernel__sample_size"] = sample_size
    return ALE(**kwargs)


#: NiMARE's warning when a studyset has no sample sizes; irrelevant where the spec gives one
#: sample size for every experiment (the kernel then never reads them).
_MISSING_SAMPLE_SIZES = re.compile(r"Metadata field\(s\) 'sample_sizes'(, 'sample_size')? not found")


class _DropMissingSampleSizes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _MISSING_SAMPLE_SIZES.match(record.getMessage())


@contextlib.contextmanager
def _quiet_when_sample_size_set(estimator):
    """While NiMARE prepares inputs or MA maps for ``estimator``: drop its "Metadata field(s)
    'sample_sizes' not found" warning when the kernel has one sample size of its own (the
    spec's ``ale.sample_size``); any other warning passes. The logger is left as found."""
    if getattr(estimator.kernel_transformer, "sample_size", None) is None:
        yield
        return
    nimare_logger = logging.getLogger("nimare.utils")
    quiet = _DropMissingSampleSizes()
    nimare_logger.addFilter(quiet)
    try:
        yield
    finally:
        nimare_logger.removeFilter(quiet)


def prepare_ale_inputs(estimator, studyset) -> tuple[pd.DataFrame, list[str]]:
    """Run the input preparation ``ALE.fit`` runs before fitting, on ``studyset``.

    Returns the prepared coordinates (with NiMARE's voxel indices and sample sizes) and the
    analysis ids in the order NiMARE fits them. ``estimator.masker`` is set afterwards.
    """
    from nimare.studyset import normalize_collection

    dataset = normalize_collection(studyset)
    with _quiet_when_sample_size_set(estimator):
        estimator._collect_inputs(dataset, drop_invalid=True)  # private: see the module docstring
        estimator._preprocess_input(dataset)  # private: see the module docstring
    return estimator.inputs_["coordinates"], [str(i) for i in estimator.inputs_["id"]]


def sparse_ma_maps(estimator, coordinates: pd.DataFrame):
    """MA maps (experiments x in-mask voxels, sparse) of ``coordinates``, NiMARE's public kernel API."""
    with _quiet_when_sample_size_set(estimator):
        return estimator.kernel_transformer.transform(coordinates, masker=estimator.masker, return_type="sparse")


def fit_ale_estimator(studyset, kernel_fwhm: float | None = None, sample_size: int | None = None,
                      seed: int = 0):
    """NiMARE's own ``ALE(random_state=seed).fit(studyset)``; returns (estimator, result).

    ale-app itself never runs it: the tests and benchmarks compare ale-app with it.
    """
    estimator = make_ale_estimator(kernel_fwhm, sample_size, random_state=int(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimator.fit(studyset)
    return estimator, result


# --------------------------------------------------------------------------- inferential mode
# What ``ALE(random_state=seed).fit`` adds to the MA maps (its analytic null: p, z, and the
# ALE value of a p), and the private pieces of ``CBMAEstimator.correct_fwe_montecarlo`` that
# ale-app's Monte Carlo loop (ale_app.stats.montecarlo) reproduces draw for draw.


def seeded_estimator(estimator, seed: int):
    """A shallow copy of the (input-prepared) ``estimator`` with ``random_state=seed``.

    NiMARE derives every random stream afresh from ``random_state`` (``_get_rng``), so the
    copy draws what ``ALE(random_state=seed)`` fitted to the same inputs draws. The copy
    shares ``inputs_`` and the masker with ``estimator``; :func:`analytic_null` leaves them
    as they were.
    """
    seeded = copy.copy(estimator)
    seeded.set_params(random_state=int(seed))
    return seeded


def analytic_null(estimator, ma):
    """NiMARE's ``ALE._fit`` on MA maps already built: the ALE values, NiMARE's analytic
    (approximate) null of them, and the uncorrected p and z maps.

    ``estimator`` is one :func:`prepare_ale_inputs` prepared (its ``inputs_`` are those
    ``ALE.fit`` collects) and ``ma`` its experiments' MA maps (:func:`sparse_ma_maps`, rows
    in ``inputs_["id"]`` order). ``ALE.fit`` accepts precomputed MA maps the same way
    (``fit(..., ma_maps=...)``), so the kernel is not run again; the rest of the fit is
    NiMARE's own code. Afterwards ``estimator`` holds the null (for :func:`p_to_summarystat`).

    Returns
    -------
    stat, p, z : numpy.ndarray
        In-mask float32 values, as ``MetaResult`` holds the ``"stat"``, ``"p"`` (clipped to
        the positive float32 range) and ``"z"`` maps of ``ALE.fit``.
    """
    from nimare.utils import _clip_p_values  # private: MetaResult's clipping of "p" maps

    estimator.inputs_["ma_maps"] = ma
    try:
        maps, _, _ = estimator._fit(estimator.studyset_)  # private: ALE.fit without its input step
    finally:
        estimator.inputs_.pop("ma_maps", None)
    stat = np.asarray(maps["stat"], dtype=np.float32)
    p = _clip_p_values(np.squeeze(maps["p"]), dtype=np.float32)
    z = np.asarray(np.squeeze(maps["z"]), dtype=np.float32)
    return stat, p, z


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


def null_to_p_upper(values, null):
    """NiMARE's upper-tail p of ``values`` against the ``null`` maxima (``null_to_p``)."""
    from nimare.stats import null_to_p

    return null_to_p(values, null, tail="upper")


# --------------------------------------------------------------------------- ALE subtraction
# The private pieces of ``ALESubtraction`` (its permutation seeds and group assignments, its
# tail-count p-values) and of ``FWECorrector(method="montecarlo")`` on it that
# ale_app.stats.subtraction reproduces or calls; the permutation loop itself is ale-app's.

#: NiMARE's name for the random stream of ALESubtraction's permutations (fit and FWE alike).
SUBTRACTION_STREAM = "alesubtraction_permutations"


def subtraction_iteration_seeds(seed: int, n_iterations: int) -> list:
    """The seeds of ``ALESubtraction(random_state=seed)``'s permutations, one per iteration
    (the same in its ``fit`` and in ``FWECorrector``'s recomputation)."""
    from nimare.utils import _seed_sequence  # private: CBMAEstimator._iteration_seeds

    return _seed_sequence(int(seed), stream=SUBTRACTION_STREAM).spawn(int(n_iterations))


def subtraction_permutation(n_total: int, n_group1: int, seed) -> np.ndarray:
    """The pooled experiments' order in one permutation: the first ``n_group1`` rows form
    the permuted group 1, the rest group 2 (``_permute_pairwise_group_indices``)."""
    from nimare.meta.cbma.base import PairwiseCBMAEstimator

    group1, group2 = PairwiseCBMAEstimator._permute_pairwise_group_indices(n_total, n_group1, seed)  # private
    return np.concatenate([group1, group2])


def _bare_subtraction():
    from nimare.meta.cbma.ale import ALESubtraction

    return ALESubtraction.__new__(ALESubtraction)  # its p-value helpers read nothing from it


def subtraction_p(upper_counts, lower_counts, n_iterations: int):
    """ALESubtraction's two-sided p and sign from its tail counts (``iter >= obs`` and
    ``iter <= obs`` per voxel): ``_finalize_alediff_tail_counts``."""
    return _bare_subtraction()._finalize_alediff_tail_counts(upper_counts, lower_counts, n_iterations)  # private


def subtraction_directional_p(upper_counts, lower_counts, diff_values, mask1, mask2, n_iterations: int):
    """ALESubtraction's one-sided p and sign where the favoured group's inference map is
    positive (GingerALE's reading): ``_finalize_masked_alediff_tail_counts``."""
    return _bare_subtraction()._finalize_masked_alediff_tail_counts(  # private
        upper_counts, lower_counts, diff_values, mask1, mask2, n_iterations)


def p_to_z(p, tail: str):
    """NiMARE's p-to-z (``tail`` "one" or "two"), unsigned."""
    from nimare.transforms import p_to_z as _p_to_z

    return _p_to_z(p, tail=tail)


def result_maps(masker, maps: dict) -> dict:
    """The maps as a ``MetaResult`` holds them (p and logp clipped, floats as float32)."""
    from nimare.results import MetaResult

    return MetaResult(None, mask=masker, maps=dict(maps)).maps


def subtraction_fwe_maps(masker, maps: dict, nulls: dict, n_iterations: int, voxel_p: float) -> dict:
    """``FWECorrector(method="montecarlo", voxel_thresh=voxel_p, n_iters=n_iterations)``'s
    maps of an ALE subtraction whose null distributions are ``nulls`` (NiMARE's keys).

    ``maps`` holds ``stat_desc-group1MinusGroup2`` and ``z_desc-group1MinusGroup2`` as the
    fitted ``MetaResult`` does. NiMARE's own ``correct_fwe_montecarlo`` turns the nulls into
    the voxel- and cluster-level maps (the nulls are handed to it as its cache, so it runs
    no permutation); the names get the corrector's suffix and the maps float32, as
    ``FWECorrector.transform`` gives them.
    """
    from nimare.meta.cbma.ale import ALESubtraction
    from nimare.results import MetaResult

    estimator = ALESubtraction(n_iters=int(n_iterations), voxel_thresh=voxel_p, vfwe_only=False)
    estimator.masker = masker
    estimator.null_distributions_ = dict(nulls)
    result = MetaResult(None, mask=masker, maps=dict(maps))
    corr_maps, _, _ = estimator.correct_fwe_montecarlo(
        result, voxel_thresh=voxel_p, n_iters=int(n_iterations), n_cores=1, vfwe_only=False)
    out = {}
    for name, values in corr_maps.items():
        values = np.asarray(values)
        if np.issubdtype(values.dtype, np.floating) and values.dtype != np.float32:
            values = values.astype(np.float32)
        out[name + "_corr-FWE_method-montecarlo"] = values
    return out


# --------------------------------------------------------------------------- robustness
# The private pieces of ``diagnostics.ResampledStability`` (its subset schedule, the random
# foci of its cluster-size null, the full-data analytic null it reuses for every subset) that
# ale_app.stats.stability reproduces draw for draw.


def subset_schedule(n_experiments: int, subset_size: int, n_subsets: int | None, seed: int) -> list:
    """NiMARE's ``generate_subset_schedule`` (rows of the fitted MA maps, sorted subsets)."""
    from nimare.meta.cbma.utils import generate_subset_schedule

    return generate_subset_schedule(n_experiments, subset_size, n_samples=n_subsets, random_state=int(seed))


def null_space_ijk(estimator, mask_coverage: str) -> np.ndarray:
    """The voxels (ijk, int32) random foci are drawn from, as ``ResampledStability``'s null
    draws them (``mask_coverage``: ``gm`` or ``brain``); needs no sample sizes."""
    from nimare.utils import _mask_coverage_to_null_ijk  # private

    if mask_coverage == "gm":
        seed_nimare_cache(estimator.masker)  # the shipped prior: NiMARE resamples nothing
    return _mask_coverage_to_null_ijk(estimator.masker, mask_coverage=mask_coverage).astype(np.int32)


def stability_null_inputs(estimator, mask_coverage: str):
    """What ``ResampledStability``'s cluster-size null draws from, for an input-prepared ALE.

    Returns the experiments' sample sizes and focus counts (NiMARE's study order for the
    null), the voxels random foci are drawn from (``mask_coverage``: ``gm`` or ``brain``),
    and the sample-size kernels NiMARE's ``compute_ale_ma`` uses (sparse supports: offsets
    from the centre and float32 values) with the kernel index of each experiment.
    """
    from nimare.meta.cbma.ale import _study_metadata_from_coordinates  # private
    from nimare.meta.utils import _kernel_to_sparse_support, get_ale_kernel  # private

    sample_sizes, num_foci = _study_metadata_from_coordinates(estimator.inputs_["coordinates"])
    space = null_space_ijk(estimator, mask_coverage)
    unique = np.unique(sample_sizes)
    supports = []
    for value in unique:
        _, dense = get_ale_kernel(estimator.masker.mask_img, sample_size=int(value))
        supports.append(_kernel_to_sparse_support(dense))
    group_kernel = np.searchsorted(unique, sample_sizes).astype(np.int64)
    return np.asarray(sample_sizes), np.asarray(num_foci, dtype=np.int64), space, supports, group_kernel


def full_data_z(estimator, ma):
    """NiMARE's full-data analytic null as ``ResampledStability`` builds it once and reuses for
    every subset and null draw; returns ``z_of(ale_values)``, the float32 z of float32 ALE
    values under that null."""
    est = copy.deepcopy(estimator)
    est.null_distributions_ = {}
    est._prepare_subsample_null(ma)  # private
    est._compute_approximate_z_values(ma)  # private
    null = est.null_distributions_

    def z_of(values):
        temp = copy.copy(est)
        temp.null_distributions_ = null
        _, z = temp._summarystat_to_p(np.asarray(values, dtype=np.float32), null_method="approximate")  # private
        return np.asarray(z).astype(np.float32, copy=False)

    return z_of


# --------------------------------------------------------------------------- balanced ALE subtraction
# The private pieces of ``BalancedALESubtraction`` (its study metadata, null-space prior, sparse
# kernels and random-foci MA maps, the approximate null z and cluster threshold of each draw)
# that ale_app.stats.balanced and ale_app.stats.balanced_subsamples reproduce or call. Each
# forwards its arguments to NiMARE's function unchanged and returns what it returns.


def study_metadata_from_coordinates(coordinates):
    """Per-experiment sample sizes and focus counts of an ALE coordinates table
    (``inputs_["coordinates"]``), in NiMARE's study order: ``_study_metadata_from_coordinates``."""
    from nimare.meta.cbma.ale import _study_metadata_from_coordinates  # private

    return _study_metadata_from_coordinates(coordinates)


def mask_coverage_to_mask(masker, mask_coverage: str = "brain", gm_threshold: float = 0.1):
    """The 3-D boolean image of the voxels random foci are drawn from (``mask_coverage``
    ``gm`` or ``brain``): ``_mask_coverage_to_mask``. For ``gm`` it reads NiMARE's
    resampled-prior cache (:func:`resampled_gm_prior_cache`) and fills it if empty."""
    from nimare.utils import _mask_coverage_to_mask  # private

    return _mask_coverage_to_mask(masker, mask_coverage=mask_coverage, gm_threshold=gm_threshold)


def kernel_to_sparse_support(kernel):
    """A dense ALE kernel (``get_ale_kernel``'s) as its sparse support, (offsets from the
    centre, values): ``_kernel_to_sparse_support``."""
    from nimare.meta.utils import _kernel_to_sparse_support  # private

    return _kernel_to_sparse_support(kernel)


def get_mask_flat_to_masked(mask_img):
    """Per voxel of the flattened (C order) volume, its in-mask index, -1 outside the mask:
    ``_get_mask_flat_to_masked``."""
    from nimare.meta.utils import _get_mask_flat_to_masked  # private

    return _get_mask_flat_to_masked(mask_img)


def convolve_ale_kernel_to_masked_cols(offsets, kernel_values, peaks, shape, mask_flat_to_masked,
                                       flat_stride_x, flat_stride_y):
    """A sparse ALE kernel placed at each of ``peaks`` (ijk), its in-mask entries as (in-mask
    columns, values), one entry per focus and voxel: ``_convolve_ale_kernel_to_masked_cols``
    (NiMARE's ``compute_ale_ma`` step)."""
    from nimare.meta.utils import _convolve_ale_kernel_to_masked_cols  # private

    return _convolve_ale_kernel_to_masked_cols(offsets, kernel_values, peaks, shape, mask_flat_to_masked,
                                               flat_stride_x, flat_stride_y)


def round2(values):
    """NiMARE's rounding of ALE values (in histogram steps) to integer bins, X.5 away from
    zero: ``_round2``."""
    from nimare.utils import _round2  # private

    return _round2(values)


def compute_summarystat(estimator, data):
    """The ALE values of MA values ``data`` (``1 - prod(1 - MA)``), as the ALE estimator
    computes them: ``ALE._compute_summarystat``."""
    return estimator._compute_summarystat(data)  # private


def ale_approximate_z_from_ma(estimator, ma_maps):
    """The ALE values and approximate-null z of an MA collection (a fresh analytic null of
    its own): ``null_utils._ale_approximate_z_from_ma``; returns (stat, z)."""
    from nimare.meta.cbma.null_utils import _ale_approximate_z_from_ma  # private

    return _ale_approximate_z_from_ma(estimator, ma_maps)


def threshold_z_clusters(z_values, masker, voxel_thresh, cluster_size_threshold=None, mask_arr=None):
    """The z map cluster-thresholded at ``voxel_thresh`` (p) and ``cluster_size_threshold``
    (voxels; None keeps every cluster), and the size of its largest cluster before the size
    filter: ``cbma.utils._threshold_z_clusters``; returns (z, largest size)."""
    from nimare.meta.cbma.utils import _threshold_z_clusters  # private

    return _threshold_z_clusters(z_values, masker, voxel_thresh=voxel_thresh,
                                 cluster_size_threshold=cluster_size_threshold, mask_arr=mask_arr)


# --------------------------------------------------------------------------- grey-matter prior


def resampled_gm_prior_cache() -> dict:
    """NiMARE's process-wide cache of the resampled grey-matter prior
    (``nimare.utils._RESAMPLED_GM_PRIOR_CACHE``), itself, not a copy: a key
    (mask shape, affine as a flat tuple, threshold) maps to the boolean volume, and what
    ale_app.stats.gm_prior puts in is what NiMARE's ``mask_coverage="gm"`` code reads."""
    from nimare import utils as nimare_utils

    return nimare_utils._RESAMPLED_GM_PRIOR_CACHE  # private


def seed_nimare_cache(masker, threshold: float | None = None) -> bool:
    """Put ale-app's shipped grey-matter prior (:mod:`ale_app.stats.gm_prior`) into NiMARE's
    cache (:func:`resampled_gm_prior_cache`) when ``masker`` is the template it was made for;
    True when NiMARE now has it (shipped or already computed), False otherwise (NiMARE will
    resample as usual)."""
    from ale_app.stats import gm_prior

    cache = resampled_gm_prior_cache()
    key = gm_prior.nimare_key(masker, gm_prior.THRESHOLD if threshold is None else threshold)
    if key in cache:
        return True
    found = gm_prior.shipped()
    if found is None or found[0] != key:
        return False
    cache[key] = found[1]
    return True
