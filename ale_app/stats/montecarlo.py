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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import nibabel as nib
import numpy as np
import pandas as pd

from ale_app.process.executor import Executor
# The compiled Monte Carlo loop (numba), in a module of its own.
from ale_app.stats.mc_kernels import _compiled, _run_block
# NiMARE's own ALE fit, the oracle the tests and benchmarks compare with (re-exported here).
from ale_app.stats.nimare_adapter import fit_ale_estimator  # noqa: F401

#: NiMARE's name for the random stream of ``correct_fwe_montecarlo``.
RNG_STREAM = "correct_fwe_montecarlo"
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


# --------------------------------------------------------------------------- plan

#: The truncation cut-off of the volume pass is ``TRUNCATION_BAND / n_experiments`` times
#: the smaller of the cluster-forming threshold and the smallest kernel peak, so the bound
#: ``delta`` stays a small fraction of both and few voxels need their exact value.
TRUNCATION_BAND = 0.1


@dataclass
class MonteCarloPlan:
    """Everything one Monte Carlo iteration needs, fixed for the run (plain arrays)."""

    null_ijk: np.ndarray  # (n_null, 3) int32: voxels random foci are drawn from
    offsets: np.ndarray  # (n_experiments + 1,) int64: foci of each experiment
    group_kernel: np.ndarray  # (n_experiments,) int64: kernel of each experiment
    klog: np.ndarray  # float64: log1p(-kernel) of every full kernel box, concatenated
    kstarts: np.ndarray  # (n_kernels,) int64
    kshapes: np.ndarray  # (n_kernels, 3) int64
    kmins: np.ndarray  # (n_kernels, 3) int64: offset of each box's first voxel
    tlog: np.ndarray  # float64: the truncated kernels' boxes, concatenated
    tstarts: np.ndarray  # (n_kernels,) int64
    tshapes: np.ndarray  # (n_kernels, 3) int64
    tmins: np.ndarray  # (n_kernels, 3) int64
    rlo: np.ndarray  # int64: per row (i, j) of each truncated box, its first kept k ...
    rhi: np.ndarray  # int64: ... and one past its last (rlo == rhi: an empty row)
    rstarts: np.ndarray  # (n_kernels,) int64: each truncated box's first row
    mask: np.ndarray  # flat bool brain mask, C order
    shape: np.ndarray  # (3,) int64
    threshold: float  # cluster-forming ALE value
    cut: float  # log-sum above which ALE <= threshold
    delta: float  # lower bound of (exact - truncated) log-sum, <= 0

    @property
    def n_foci(self) -> int:
        return int(self.offsets[-1])

    def arrays(self) -> tuple:
        return (self.null_ijk, self.offsets, self.group_kernel, self.klog, self.kstarts,
                self.kshapes, self.kmins, self.tlog, self.tstarts, self.tshapes, self.tmins,
                self.rlo, self.rhi, self.rstarts, self.mask, self.shape, float(self.threshold),
                float(self.cut), float(self.delta))


def _truncate(box: np.ndarray, keep_below: float):
    """The part of a full ``log1p(-kernel)`` box the volume pass adds.

    Keeps, row by row, the run from the first to the last value below ``keep_below`` (MA
    above the cut-off), inside the bounding box of those values. Returns the truncated box,
    its offset in the full box, the row runs, and the smallest dropped value (0 if none).
    """
    keep = box < keep_below
    if not keep.any():
        keep = box <= box.min()
    where = np.argwhere(keep)
    b0, b1 = where.min(axis=0), where.max(axis=0) + 1
    sub = box[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]]
    ksub = keep[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]]
    rows = ksub.reshape(-1, ksub.shape[2])
    has = rows.any(axis=1)
    rlo = np.where(has, rows.argmax(axis=1), 0)
    rhi = np.where(has, rows.shape[1] - rows[:, ::-1].argmax(axis=1), 0)
    kept = np.zeros(box.shape, dtype=bool)
    kept_sub = kept[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]].reshape(-1, ksub.shape[2])
    cols = np.arange(ksub.shape[2])
    kept_sub[:] = (cols >= rlo[:, None]) & (cols < rhi[:, None])
    kept[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]] = kept_sub.reshape(ksub.shape)
    dropped = box[~kept]
    dmin = float(dropped.min()) if dropped.size else 0.0
    return np.ascontiguousarray(sub), b0, rlo.astype(np.int64), rhi.astype(np.int64), min(dmin, 0.0)


def build_plan(estimator, threshold: float, band: float = TRUNCATION_BAND) -> MonteCarloPlan:
    """The Monte Carlo plan of a fitted NiMARE ``ALE`` (NiMARE's own kernels and grouping).

    ``band`` (between 0 and 1) sets the truncation cut-off (see :data:`TRUNCATION_BAND`);
    it changes the speed, never the numbers.
    """
    from ale_app.stats.nimare_adapter import mask_bool, null_voxels, permutation_plan

    nimare_plan = permutation_plan(estimator)
    log_values = _compiled()["log1p_neg"](np.ascontiguousarray(nimare_plan.kernel_values, dtype=np.float32))
    return plan_from_kernels(nimare_plan.kernel_offsets, log_values, nimare_plan.kernel_starts,
                             nimare_plan.group_kernel, nimare_plan.offsets, null_voxels(estimator),
                             mask_bool(estimator), threshold, band)


def plan_from_kernels(kernel_offsets, log_values, kernel_starts, group_kernel, offsets, null_ijk, mask,
                      threshold: float, band: float = TRUNCATION_BAND) -> MonteCarloPlan:
    """A Monte Carlo plan from sparse kernel supports (offsets from the centre, their
    ``log1p(-value)`` in float64, ``kernel_starts`` delimiting each kernel), the kernel of each
    experiment, the foci ``offsets`` of the experiments, the voxels foci are drawn from and
    the 3-D bool brain mask."""
    if not 0 < band < 1:
        # Below 1 the bound can never make an untouched voxel a candidate (see _run_iterations).
        raise ValueError("band must be between 0 and 1")
    boxes, kmins = [], []
    for k in range(len(kernel_starts) - 1):
        lo, hi = kernel_starts[k], kernel_starts[k + 1]
        offs = np.asarray(kernel_offsets[lo:hi]).astype(np.int64)
        kmin = offs.min(axis=0)
        box = np.zeros(tuple(offs.max(axis=0) - kmin + 1), dtype=np.float64)
        pos = offs - kmin
        # Where two support entries share a voxel (never for NiMARE's kernels) keep the max.
        np.minimum.at(box, (pos[:, 0], pos[:, 1], pos[:, 2]), log_values[lo:hi])
        boxes.append(box)
        kmins.append(kmin)
    group_kernel = np.ascontiguousarray(group_kernel, dtype=np.int64)
    n_experiments = max(1, len(group_kernel))
    smallest_peak = min(-math.expm1(float(b.min())) for b in boxes)
    eps = band * min(float(threshold), smallest_peak) / n_experiments
    keep_below = math.log1p(-eps)
    truncated = [_truncate(b, keep_below) for b in boxes]
    # Per experiment, the exact term is at least the truncated one plus its kernel's
    # smallest dropped value; the margin covers the rounding of two float64 sums.
    delta = float(sum(truncated[k][4] for k in group_kernel)) - 1e-9

    def concat(parts):
        starts, total = [], 0
        for part in parts:
            starts.append(total)
            total += part.size
        return np.ascontiguousarray(np.concatenate([p.ravel() for p in parts])), np.asarray(starts, dtype=np.int64)

    klog, kstarts = concat(boxes)
    tlog, tstarts = concat([t[0] for t in truncated])
    rlo, rstarts = concat([t[2] for t in truncated])
    rhi, _ = concat([t[3] for t in truncated])
    return MonteCarloPlan(
        null_ijk=np.ascontiguousarray(null_ijk, dtype=np.int32),
        offsets=np.ascontiguousarray(offsets, dtype=np.int64),
        group_kernel=group_kernel,
        klog=klog,
        kstarts=kstarts,
        kshapes=np.asarray([b.shape for b in boxes], dtype=np.int64),
        kmins=np.asarray(kmins, dtype=np.int64),
        tlog=tlog,
        tstarts=tstarts,
        tshapes=np.asarray([t[0].shape for t in truncated], dtype=np.int64),
        tmins=np.asarray([kmins[k] + t[1] for k, t in enumerate(truncated)], dtype=np.int64),
        rlo=rlo.astype(np.int64),
        rhi=rhi.astype(np.int64),
        rstarts=rstarts,
        mask=np.ascontiguousarray(mask.ravel()),
        shape=np.asarray(mask.shape, dtype=np.int64),
        threshold=float(threshold),
        cut=float(math.log1p(-float(threshold)) + 1e-6),
        delta=delta,
    )


def draw_null_indices(estimator, n_foci: int, n_null: int, n_iterations: int) -> np.ndarray:
    """NiMARE's draws, ``rng.choice(n_null, size=(n_foci, n_iterations))``, as int32.

    Drawn one focus (row) at a time from the same generator, which consumes the stream in
    the same order as NiMARE's single call (checked by the tests).
    """
    from ale_app.stats.nimare_adapter import montecarlo_rng

    rng = montecarlo_rng(estimator)
    out = np.empty((n_foci, n_iterations), dtype=np.int32)
    for f in range(n_foci):
        out[f] = rng.choice(n_null, size=n_iterations)
    return out


#: The most bytes of drawn foci (int32, foci x iterations) a run holds at once; beyond it
#: the iterations are drawn in chunks of consecutive columns (:class:`NullDraws`).
DRAW_CHUNK_BYTES = 256 * 1024**2


class NullDraws:
    """NiMARE's draws, ``rng.choice(n_null, size=(n_foci, n_iterations))``, as int32 chunks
    of consecutive iterations (columns) of at most ``max_bytes`` each.

    NiMARE's stream holds focus 0's draws for every iteration, then focus 1's, and so on, so
    a chunk of iterations takes a piece of every focus's run of draws. When the whole array
    fits in ``max_bytes`` it is drawn at once (:func:`draw_null_indices`). Otherwise a first
    pass walks the stream once, keeping each focus's first chunk and the generator's state
    where its second begins; each later chunk restores every focus's state, draws its piece
    and keeps the state that follows. ``choice`` of ``a`` then ``b`` values from one state
    gives the ``a + b`` values of a single call (the tests check it), so every chunk equals
    the same columns of the whole array, bit for bit, for any ``max_bytes``.
    """

    def __init__(self, estimator, n_foci: int, n_null: int, n_iterations: int, max_bytes: int = DRAW_CHUNK_BYTES):
        self.estimator = estimator
        self.n_foci, self.n_null, self.n_iterations = int(n_foci), int(n_null), int(n_iterations)
        self.chunk = max(1, min(self.n_iterations, int(max_bytes) // (4 * max(1, self.n_foci))))

    def __iter__(self):
        """``(first_iteration, idx_chunk)`` in order."""
        from ale_app.stats.nimare_adapter import montecarlo_rng

        n_foci, n_null, n_iterations, chunk = self.n_foci, self.n_null, self.n_iterations, self.chunk
        if chunk >= n_iterations:
            yield 0, draw_null_indices(self.estimator, n_foci, n_null, n_iterations)
            return
        rng = montecarlo_rng(self.estimator)
        bits = rng.bit_generator
        first = np.empty((n_foci, chunk), dtype=np.int32)
        states = []
        for f in range(n_foci):
            first[f] = rng.choice(n_null, size=chunk)
            states.append(bits.state)
            for s in range(chunk, n_iterations, chunk):  # the rest of this focus's run
                rng.choice(n_null, size=min(chunk, n_iterations - s))
        yield 0, first
        del first
        for s in range(chunk, n_iterations, chunk):
            width = min(chunk, n_iterations - s)
            out = np.empty((n_foci, width), dtype=np.int32)
            for f in range(n_foci):
                bits.state = states[f]
                out[f] = rng.choice(n_null, size=width)
                states[f] = bits.state
            yield s, out


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
