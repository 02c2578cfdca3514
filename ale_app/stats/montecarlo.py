"""Inferential ALE: cluster-level (and voxel-level) FWE from a Monte Carlo null.

No file IO here. The numbers equal NiMARE 0.22.1's::

    result = ALE(random_state=seed, **kernel).fit(studyset)
    FWECorrector(method="montecarlo", voxel_thresh=voxel_p, n_iters=n_iterations,
                 n_cores=1).transform(result)

draw for draw. ALE is fitted once, by ale-app (:func:`ale_app.stats.ale.fit_ale`: NiMARE's
input preparation and kernels); the uncorrected p and z and the cluster-forming threshold
come from NiMARE's own analytic null of that fit's MA maps, and the observed clusters from
:func:`ale_app.stats.fwe_clusters.fwe_maps`. Only the Monte Carlo loop is replaced, by a
compiled pass that consumes exactly NiMARE's random draws:

- NiMARE draws every iteration's foci at once, ``rng.choice(n_null, size=(n_foci,
  n_iterations))`` from the ``"correct_fwe_montecarlo"`` stream of ``random_state``; column
  ``t`` holds iteration ``t``'s foci, in the order of the fitted coordinates. The same draws
  are taken here one focus (row) at a time, which gives the same numbers with a quarter of
  the memory (int32 indices), and each iteration's column is handed to the workers, so the
  results never depend on the executor. Beyond :data:`DRAW_CHUNK_BYTES` the columns are
  drawn in chunks of consecutive iterations (:class:`NullDraws`), with the same numbers.
- Each experiment's MA map is the maximum of its foci's kernels; ALE = 1 - prod(1 - MA) is
  summed as ``log1p(-MA)`` in float64 per experiment, in experiment order, and cast to
  float32, as NiMARE's fused permutation pass does, so every ALE value is bit-identical.
- Each iteration first bounds every voxel from below with *truncated* kernels (only kernel
  values above a small cut-off, summed over foci in a small cache-resident buffer), then
  computes the exact value, from the full kernels and in experiment order, only at the
  voxels the bound cannot rule out: those that may exceed the cluster-forming threshold or
  may be the maximum. The maximum and the suprathreshold voxels are therefore exactly
  NiMARE's, and only they are labelled (faces connectivity, as NiMARE's
  ``ndimage.generate_binary_structure(3, 1)``), with sizes and masses summed in C order as
  ``ndimage.sum`` does.
- NiMARE's private pieces (its analytic null, kernel plan, random stream, null voxels,
  p-to-ALE, null-to-p) are reached through :mod:`ale_app.stats.nimare_adapter` only.

This module holds the result, the null's blocks on the executor (:func:`run_null`) and the
entry point; the plan is :mod:`ale_app.stats.montecarlo_plan`, the random foci
:mod:`ale_app.stats.montecarlo_draws` and the compiled loop :mod:`ale_app.stats.mc_kernels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import nibabel as nib
import numpy as np
import pandas as pd

from ale_app.process.executor import Executor
# The compiled Monte Carlo loop (numba), in a module of its own.
from ale_app.stats.mc_kernels import _run_block
from ale_app.stats.montecarlo_draws import DRAW_CHUNK_BYTES, NullDraws
from ale_app.stats.montecarlo_plan import MonteCarloPlan, build_plan
# NiMARE's own ALE fit, the oracle the tests and benchmarks compare with (re-exported here).
from ale_app.stats.nimare_adapter import fit_ale_estimator  # noqa: F401

#: The keys of NiMARE's ``null_distributions_`` that :attr:`InferenceResult.null` reproduces.
NIMARE_NULL_KEYS = {
    "max_ale": "values_level-voxel_corr-fwe_method-montecarlo",
    "max_cluster_size_voxels": "values_desc-size_level-cluster_corr-fwe_method-montecarlo",
    "max_cluster_mass": "values_desc-mass_level-cluster_corr-fwe_method-montecarlo",
}
#: NiMARE's names (in ``MetaResult.maps``) of the maps :class:`InferenceResult` holds.
NIMARE_MAP_NAMES = {
    "z": "z",
    "p": "p",
    "logp_cluster_size_fwe": "logp_desc-size_level-cluster_corr-FWE_method-montecarlo",
    "logp_cluster_mass_fwe": "logp_desc-mass_level-cluster_corr-FWE_method-montecarlo",
    "logp_voxel_fwe": "logp_level-voxel_corr-FWE_method-montecarlo",
}


@dataclass
class InferenceResult:
    """Monte Carlo FWE inference for one ALE analysis.

    Images are float32 (labels int16) on the template grid; ``*_values`` are the same maps
    as 1-D in-mask arrays in masker order.

    Attributes
    ----------
    null : pandas.DataFrame
        One row per Monte Carlo iteration: ``iteration, max_ale, max_cluster_size_voxels,
        max_cluster_mass`` (float32, as NiMARE stores them).
    stat_values, z_values, p_values : numpy.ndarray
        ALE, and uncorrected z and p from NiMARE's analytic (approximate) null.
    logp_cluster_size_fwe_values, logp_cluster_mass_fwe_values, logp_voxel_fwe_values :
        numpy.ndarray
        ``-log10`` cluster-level FWE p (cluster size, cluster mass) and voxel-level FWE p,
        as NiMARE's ``logp_desc-size_level-cluster_corr-FWE_method-montecarlo``,
        ``logp_desc-mass_level-cluster_corr-FWE_method-montecarlo`` and
        ``logp_level-voxel_corr-FWE_method-montecarlo``.
    stat_img, z_img, p_img, logp_cluster_size_fwe_img, logp_cluster_mass_fwe_img,
    logp_voxel_fwe_img : nibabel.Nifti1Image
        The maps above as images.
    cluster_forming_threshold : float
        The ALE value that ``voxel_p`` became under NiMARE's analytic null; clusters are
        voxels with ALE strictly above it.
    label_img : nibabel.Nifti1Image
        Clusters whose cluster-size FWE p is below ``alpha``, labelled 1..K by descending
        peak ALE value (ties as nilearn's ``get_clusters_table`` orders them), as the
        descriptive clusters are numbered; 0 elsewhere.
    clusters : pandas.DataFrame
        One row per labelled cluster: ``cluster_id, size_voxels, size_mm3, mass,
        p_fwe_size, p_fwe_size_se, p_fwe_mass, p_fwe_mass_se, peak_ale, peak_i, peak_j,
        peak_k, peak_x, peak_y, peak_z``. ``p_fwe_*_se`` is the Monte Carlo standard error
        ``sqrt(p (1 - p) / n_iterations)``. Rows by ``cluster_id``.
    all_clusters : pandas.DataFrame
        The same columns for every suprathreshold cluster, passing or not (``cluster_id`` 0
        for those that did not pass, after the passing ones, by descending size).
    masker : nilearn.maskers.NiftiMasker
        The brain mask's masker.
    ids : list of str
        Analysis ids in the order NiMARE fitted them.
    voxel_p, alpha : float
        The cluster-forming (uncorrected) p and the FWE level.
    n_iterations, seed : int
        Monte Carlo iterations and the ``random_state`` they were drawn from.
    n_foci : int
        Foci drawn per iteration.
    """

    null: pd.DataFrame
    stat_values: np.ndarray
    z_values: np.ndarray
    p_values: np.ndarray
    logp_cluster_size_fwe_values: np.ndarray
    logp_cluster_mass_fwe_values: np.ndarray
    logp_voxel_fwe_values: np.ndarray
    cluster_forming_threshold: float
    label_img: nib.Nifti1Image
    clusters: pd.DataFrame
    all_clusters: pd.DataFrame
    masker: Any
    ids: list
    voxel_p: float
    alpha: float
    n_iterations: int
    seed: int
    n_foci: int
    images: dict = field(default_factory=dict, repr=False)

    def __getattr__(self, name):
        # stat_img, z_img, p_img, logp_*_img: built on first use from the values.
        if name.endswith("_img") and name[: -len("_img")] + "_values" in type(self).__dataclass_fields__:
            images = self.__dict__["images"]
            if name not in images:
                images[name] = _values_to_image(getattr(self, name[: -len("_img")] + "_values"), self.masker)
            return images[name]
        raise AttributeError(name)


def run_null(plan: MonteCarloPlan, idx, executor: Executor | None = None,
             block_size: int | None = None, progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """The Monte Carlo null table of the iterations in ``idx``'s columns (an array, or the
    chunks of a :class:`NullDraws`).

    Blocks of consecutive iterations go to ``executor`` (serial when None) as
    :meth:`~ale_app.process.executor.Executor.for_gil_free_code` gives it: the compiled loop
    releases the GIL, so on this machine threads run the blocks truly in parallel and no
    process has to start and import anything; with ``dask``, the scheduler's workers run
    them. Every iteration's numbers depend only on its own column, so the table is the same
    for any executor.
    """
    executor = (executor or Executor()).for_gil_free_code()
    chunks = [(0, idx)] if isinstance(idx, np.ndarray) else idx
    n_iterations = idx.shape[1] if isinstance(idx, np.ndarray) else idx.n_iterations
    if block_size is None:
        # Enough blocks to balance the workers and report progress, few enough to be cheap.
        block_size = max(1, min(500, -(-n_iterations // max(1, 4 * executor.n_jobs))))
    arrays = plan.arrays()

    def blocks():  # drawn as the workers take them: one chunk of draws is held at a time
        for _first, chunk in chunks:
            for s in range(0, chunk.shape[1], block_size):
                yield np.ascontiguousarray(chunk[:, s : s + block_size]), arrays

    n_blocks = sum(-(-min(c, n_iterations - s) // block_size) for s, c in _chunk_widths(idx, n_iterations))
    results: list = []
    for res in executor.map(_run_block, blocks(), n_tasks=n_blocks):
        results.append(res)
        if progress is not None:
            progress(res[0].shape[0])
    if results:
        max_ale, max_size, max_mass = (np.concatenate(parts) for parts in zip(*results))
    else:
        max_ale = max_size = max_mass = np.zeros(0, dtype=np.float32)
    return pd.DataFrame({
        "iteration": np.arange(n_iterations, dtype=np.int64),
        "max_ale": max_ale,
        "max_cluster_size_voxels": max_size,
        "max_cluster_mass": max_mass,
    })


def _chunk_widths(idx, n_iterations: int):
    """``(first_iteration, width)`` of each chunk of ``idx`` (an array or a NullDraws)."""
    step = n_iterations if isinstance(idx, np.ndarray) else idx.chunk
    return [(s, min(step, n_iterations - s)) for s in range(0, n_iterations, max(1, step))]


# --------------------------------------------------------------------------- observed side


def _values_to_image(values, masker) -> nib.Nifti1Image:
    values = np.asarray(values)
    dtype = np.int16 if np.issubdtype(values.dtype, np.integer) else np.float32
    mask = np.asanyarray(masker.mask_img.dataobj).astype(bool)
    data = np.zeros(mask.shape, dtype=dtype)
    data[mask] = values.astype(dtype)
    img = nib.Nifti1Image(data, masker.mask_img.affine)
    img.header.set_data_dtype(dtype)
    img.header.set_xyzt_units("mm")
    return img


# The observed side (which clusters pass, the FWE maps and the cluster table) is
# ale_app.stats.fwe_clusters.fwe_maps.


# --------------------------------------------------------------------------- entry point


def cluster_forming_threshold(estimator, voxel_p: float) -> float:
    """The ALE value that ``voxel_p`` becomes under NiMARE's analytic null of ``estimator``."""
    from ale_app.stats.nimare_adapter import p_to_summarystat

    return float(p_to_summarystat(estimator, voxel_p))


def montecarlo_fwe(
    studyset=None,
    kernel_fwhm: float | None = None,
    sample_size: int | None = None,
    *,
    fit=None,
    voxel_p: float = 0.001,
    n_iterations: int = 10000,
    seed: int = 0,
    alpha: float = 0.05,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    draw_bytes: int = DRAW_CHUNK_BYTES,
) -> InferenceResult:
    """Cluster-level and voxel-level FWE for ALE from a Monte Carlo null, as NiMARE does it.

    Equals ``FWECorrector(method="montecarlo", voxel_thresh=voxel_p, n_iters=n_iterations,
    n_cores=1).transform(ALE(random_state=seed, ...).fit(studyset))`` draw for draw, for any
    executor.

    ALE is fitted once: ``fit`` (ale-app's :func:`ale_app.stats.ale.fit_ale`) gives the ALE
    values, the MA maps and NiMARE's input-prepared estimator; NiMARE's analytic null, the
    uncorrected p and z are computed from those MA maps by NiMARE's own code
    (:func:`ale_app.stats.nimare_adapter.analytic_null`), and the Monte Carlo loop uses the
    same estimator, seeded with ``seed``.

    Parameters
    ----------
    studyset : nimare.nimads.Studyset or nimare.dataset.Dataset, optional
        The analyses (with the target space's masker), as :func:`ale_app.stats.ale.fit_ale`
        takes; fitted here when ``fit`` is not given.
    kernel_fwhm, sample_size : float or int, optional
        ALE kernel options for fitting ``studyset``, as ``ale.kernel_fwhm`` and
        ``ale.sample_size`` in the spec (both None: FWHM from each experiment's sample size).
    fit : ale_app.stats.ale.ALEFit, optional
        An ALE fit with its MA maps (``fit.ma``) and estimator; replaces ``studyset`` and the
        kernel options.
    voxel_p : float
        Cluster-forming threshold, uncorrected p under NiMARE's analytic null. Default 0.001.
    n_iterations : int
        Monte Carlo iterations. Default 10000.
    seed : int
        NiMARE's ``random_state``. Default 0.
    alpha : float
        Cluster-level FWE level for :attr:`InferenceResult.label_img`. Default 0.05.
    executor : ale_app.process.executor.Executor, optional
        Where the iterations run (see :func:`run_null`); serial when None. Results never
        depend on it.
    progress : callable, optional
        Called with the number of iterations done after each block.
    draw_bytes : int
        The most bytes of random foci held at once (:class:`NullDraws`); it bounds the
        memory of many iterations on many foci and never changes a number.

    Returns
    -------
    InferenceResult
    """
    from ale_app.stats import nimare_adapter as NA
    from ale_app.stats.fwe_clusters import fwe_maps

    if n_iterations < 1:
        raise ValueError("n_iterations must be at least 1")
    if not 0 < voxel_p < 1:
        raise ValueError("voxel_p must be between 0 and 1")
    if fit is None:
        if studyset is None:
            raise TypeError("montecarlo_fwe needs a studyset or a fit")
        from ale_app.spec.models import ALESpec
        from ale_app.stats.ale import fit_ale

        fit = fit_ale(studyset, ALESpec(kernel_fwhm=kernel_fwhm, sample_size=sample_size))
    elif studyset is not None or kernel_fwhm is not None or sample_size is not None:
        raise TypeError("give montecarlo_fwe either a fit or a studyset and kernel options, not both")
    if fit.ma is None or fit.estimator is None:
        raise ValueError("the fit's MA maps or estimator are gone (the inference needs them)")
    estimator = NA.seeded_estimator(fit.estimator, seed)
    stat, p_values, z_values = NA.analytic_null(estimator, fit.ma)
    if not np.array_equal(stat, fit.stat_values):
        raise RuntimeError("NiMARE's ALE of the fit's MA maps differs from the fit's ALE values")
    stat_values = fit.stat_values
    threshold = cluster_forming_threshold(estimator, voxel_p)
    plan = build_plan(estimator, threshold)
    draws = NullDraws(estimator, plan.n_foci, plan.null_ijk.shape[0], n_iterations, max_bytes=draw_bytes)
    null = run_null(plan, draws, executor, progress=progress)
    mask = plan.mask.reshape(tuple(plan.shape))
    logp_size, logp_mass, logp_voxel, label_img, clusters, all_clusters = fwe_maps(
        stat_values, null, threshold, mask, fit.masker.mask_img.affine, alpha)
    return InferenceResult(
        null=null,
        stat_values=stat_values.astype(np.float32),
        z_values=z_values,
        p_values=p_values,
        logp_cluster_size_fwe_values=logp_size,
        logp_cluster_mass_fwe_values=logp_mass,
        logp_voxel_fwe_values=logp_voxel,
        cluster_forming_threshold=threshold,
        label_img=label_img,
        clusters=clusters,
        all_clusters=all_clusters,
        masker=fit.masker,
        ids=list(fit.ids),
        voxel_p=float(voxel_p),
        alpha=float(alpha),
        n_iterations=int(n_iterations),
        seed=int(seed),
        n_foci=plan.n_foci,
    )
