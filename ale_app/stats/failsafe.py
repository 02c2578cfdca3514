"""Fail-safe N of each FWE cluster (Acar et al. 2018, PLoS ONE 13:e0208177).

No file IO here. How many null experiments (noise studies) can be added to the evidence base
before a cluster stops passing cluster-level FWE? A guard against the file drawer: a cluster
that vanishes after a few unpublished null results is fragile.

Checked against Acar et al.'s own code (NeuroStat/GenerateNull: ``GenerateNull.R``,
``algorithm_step4.R``, ``Procedure.docx``; NeuroStat/FailSafeN: the paper's simulation scripts)
and the Python port in SkeideLab/meta_semantics (``code/nb06_fsn.py``, Enge et al. 2021):

- Noise experiments: each takes its number of foci from one experiment and its number of
  subjects from another, both drawn at random (with replacement, independently) from the
  evidence base, as both reference implementations do (``noise_counts: independent``;
  ``paired`` takes both from one experiment), and places its foci on distinct voxels drawn at
  random from the brain mask (or its grey matter), as ``GenerateNull.R`` does (voxels sampled
  without replacement within a noise study).
- Repeats: one noise draw moves the answer a lot (Acar et al.: "obtaining the exact same FSN
  with a different set of null studies is unlikely"; on 25 experiments two seeds gave 47 and
  51, 179 and 152, 51 and 22 for the same clusters), so the search is repeated ``repeats``
  times, each on its own sequence of noise experiments. Repeat ``r`` (1, 2, ...) draws from
  ``numpy.random.SeedSequence(seed, spawn_key=(0x4653, r))`` (:func:`noise_seed_sequence`),
  so a repeat's noise depends on the run's seed and its number only, not on how many repeats
  ran. Within a repeat, adding ``m`` noise experiments adds the first ``m`` of its sequence, so
  the analyses with more noise contain those with less (Acar's procedure removes null studies
  from the set it added). Each test re-runs ALE and its Monte Carlo FWE on the augmented
  evidence base (:func:`ale_app.stats.montecarlo.montecarlo_fwe`, the run's cluster-forming p
  and FWE alpha, and the repeat's own Monte Carlo seed, :func:`montecarlo_seed`) and asks
  whether the original cluster's peak voxel (its largest ALE value) still lies in a cluster
  that passes: the reference code reads one voxel, the planted
  effect's centre in the paper's simulations (``local_FSN_clunc.R``) and each cluster's peak in
  the Python port.
- The definition (:data:`DEFINITION`), which does not assume that survival is monotone in the
  number of noise experiments (it is not: a cluster can fail at 46 and pass at 51): in each
  repeat, a cluster's fail-safe N is the largest tested number m such that the cluster
  survived at every tested number up to m; every number tested in that repeat counts, whichever
  cluster's search asked for it (:func:`failsafe_of`).
- The search, per repeat (:func:`next_test`): the lower bound (by default 2 x the number of
  experiments k, Acar's minimum a robust cluster should withstand) is tested first; while no
  tested number failed, the upper bound (10 x k); then, while a cluster's fail-safe N and its
  smallest failing tested number are more than ``step`` apart, their midpoint (rounded down;
  Acar's ``algorithm_step4.R`` halves the bracket until it closes). The clusters share the
  tests of their repeat, and a test asked for by one cluster can lower another's value, so the
  search goes on until no cluster needs a test.
- The answer per cluster: the median of its fail-safe N over the repeats, the smallest and
  the largest, and whether it reached the lower and the upper bound in every repeat (in how
  many). Every test, with its repeat, is in the evaluations table, from which the answer can
  be recomputed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ale_app.process.executor import Executor

#: Acar et al.'s bounds, as multiples of the number of experiments.
DEFAULT_LOWER_MULTIPLE = 2.0
DEFAULT_UPPER_MULTIPLE = 10.0
#: The spawn key that makes the noise experiments' streams of the run's seed (one per repeat).
FAILSAFE_STREAM = 0x4653  # "FS"
#: Repeats of the noise draw by default (``robustness.failsafe.repeats``). Measured with
#: ``benchmarks/failsafe_repeats.py`` on 25 real experiments: the median of 5 repeats still
#: differed by up to 57% between seeds 3 and 4 (clusters with medians of 20 to 50); resampling
#: the per-repeat values puts even 31 repeats near 17% (see the README). 5 keeps the step near
#: 10 minutes on 2 cores; the table's range shows the spread.
DEFAULT_REPEATS = 5

#: What a cluster's fail-safe N is, as the README, the table's sidecar and the methods say it.
DEFINITION = (
    "In each repeat (its own sequence of noise experiments), a cluster's fail-safe N is the largest tested "
    "number m of added noise experiments such that the cluster survived at every tested number up to and "
    "including m (0 when it failed at the smallest tested number); every number tested in that repeat counts, "
    "whichever cluster's search asked for it. The table reports the median over the repeats, the smallest and "
    "the largest, and whether the fail-safe N reached the lower bound (2k) and the upper bound (10k) in every "
    "repeat.")

#: How the search picks the numbers it tests, as the README and the sidecar say it.
SEARCH = (
    "Each repeat tests the lower bound first; while no tested number has failed, the upper bound; then, while a "
    "cluster's fail-safe N and its smallest failing tested number are more than the step apart, their midpoint "
    "(rounded down), until no cluster needs a test.")


@dataclass
class FailsafeResult:
    """Fail-safe N per FWE cluster, over repeats of the noise draw.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per FWE cluster: ``cluster_id, failsafe_n`` (the median over repeats),
        ``failsafe_n_min, failsafe_n_max, repeats, passes_lower, passes_upper`` (in every repeat),
        ``repeats_passing_lower, repeats_passing_upper, robust`` (``robust``: passes the
        lower bound in every repeat).
    repeats_table : pandas.DataFrame
        One row per repeat and cluster: ``repeat, cluster_id, failsafe_n, first_failure``
        (the smallest tested number at which it failed; NaN when none), ``passes_lower,
        passes_upper``.
    evaluations : pandas.DataFrame
        One row per repeat and tested number of noise experiments: ``repeat, n_noise,
        n_fwe_clusters`` and one ``survives_<cluster_id>`` column per cluster.
    noise : pandas.DataFrame
        The noise experiments drawn (``repeat, noise_id, foci_from, n_foci, sample_size_from,
        sample_size``: the experiments whose focus count and sample size each copies).
    n_experiments, lower, upper, step, n_iterations, seed, repeats : int
    noise_space, noise_counts : str
    seconds : dict
        Seconds each test took, by (repeat, number of noise experiments) (logged, never written).
    """

    table: pd.DataFrame
    evaluations: pd.DataFrame
    noise: pd.DataFrame
    n_experiments: int
    lower: int
    upper: int
    step: int
    n_iterations: int
    seed: int
    noise_space: str
    seconds: dict = None
    noise_counts: str = "independent"
    repeats: int = DEFAULT_REPEATS
    repeats_table: pd.DataFrame = None


def bounds(n_experiments: int, lower_multiple: float = DEFAULT_LOWER_MULTIPLE,
           upper_multiple: float = DEFAULT_UPPER_MULTIPLE) -> tuple[int, int]:
    """The search's bounds in noise experiments: ``ceil(multiple x k)``."""
    lower = int(math.ceil(lower_multiple * n_experiments))
    upper = int(math.ceil(upper_multiple * n_experiments))
    if not 0 <= lower < upper:
        raise ValueError("the fail-safe N's lower bound must be below its upper bound")
    return lower, upper


NOISE_COUNTS = ("independent", "paired")


def noise_seed_sequence(seed: int, repeat: int = 1) -> np.random.SeedSequence:
    """The seed sequence of repeat ``repeat`` (1, 2, ...) of the noise draw: the run's ``seed``
    with spawn key ``(0x4653, repeat)``, so each repeat has its own stream and a repeat's noise
    does not depend on how many repeats ran."""
    if repeat < 1:
        raise ValueError("fail-safe repeats are numbered from 1")
    return np.random.SeedSequence(int(seed), spawn_key=(FAILSAFE_STREAM, int(repeat)))


#: The spawn key's last element that makes a repeat's Monte Carlo seed (after the repeat's number).
MONTECARLO_STREAM = 0x4D43  # "MC"


def montecarlo_seed(seed: int, repeat: int = 1) -> int:
    """The Monte Carlo seed of every test of repeat ``repeat``: the first 32-bit word of
    ``numpy.random.SeedSequence(seed, spawn_key=(0x4653, repeat, 0x4D43))``. Each repeat has its
    own null as well as its own noise, so the repeats are independent runs of the whole
    procedure and their median does not carry one Monte Carlo null's error (with one seed for
    every repeat, two runs' medians differed by up to 60% on 25 experiments)."""
    if repeat < 1:
        raise ValueError("fail-safe repeats are numbered from 1")
    sequence = np.random.SeedSequence(int(seed), spawn_key=(FAILSAFE_STREAM, int(repeat), MONTECARLO_STREAM))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def draw_noise(coordinates: pd.DataFrame, n_noise: int, seed: int, space_ijk: np.ndarray,
               affine: np.ndarray, counts: str = "independent",
               repeat: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_noise`` noise experiments (foci in mm, MNI) resampled from the experiments of
    ``coordinates`` (columns ``id, sample_size``); returns (foci, one row per noise experiment).

    ``counts``: ``independent`` draws the experiment whose focus count is copied and the one whose
    sample size is copied separately (Acar's ``GenerateNull.R``, Enge's ``generate_null``);
    ``paired`` copies both from one drawn experiment. Each noise experiment's foci are distinct
    voxels of ``space_ijk``. The draw is repeat ``repeat``'s (:func:`noise_seed_sequence`)."""
    if counts not in NOISE_COUNTS:
        raise ValueError(f"noise counts must be one of {NOISE_COUNTS}, not {counts!r}")
    rng = np.random.default_rng(noise_seed_sequence(seed, repeat))
    grouped = coordinates.groupby("id", sort=False)
    n_foci = grouped.size().to_numpy()
    sample_sizes = grouped["sample_size"].first().to_numpy()
    source_ids = list(grouped.size().index)
    rows, foci = [], []
    for m in range(n_noise):
        src = int(rng.integers(len(n_foci)))
        n_src = src if counts == "paired" else int(rng.integers(len(n_foci)))
        ijk = space_ijk[rng.choice(len(space_ijk), int(n_foci[src]), replace=False)]
        xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
        noise_id = f"failsafe-noise-{m + 1:05d}"
        rows.append({"noise_id": noise_id, "foci_from": str(source_ids[src]), "n_foci": int(n_foci[src]),
                     "sample_size_from": str(source_ids[n_src]), "sample_size": float(sample_sizes[n_src])})
        foci.append(pd.DataFrame({"id": noise_id, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                                  "sample_size": float(sample_sizes[n_src])}))
    return (pd.concat(foci, ignore_index=True) if foci else pd.DataFrame(columns=["id", "x", "y", "z", "sample_size"]),
            pd.DataFrame(rows, columns=["noise_id", "foci_from", "n_foci", "sample_size_from", "sample_size"]))


def failsafe_of(outcomes: dict[int, bool]) -> tuple[int, int | None]:
    """One cluster's fail-safe N in one repeat, by :data:`DEFINITION`, from what was tested
    (``outcomes``: survived or not, by number of noise experiments added; 0, the analysis
    itself, counts as survived). Returns (fail-safe N, the smallest tested number at which it
    failed or None)."""
    failed = [m for m, survived in outcomes.items() if not survived]
    first_failure = min(failed) if failed else None
    survived = [m for m, s in outcomes.items() if s and (first_failure is None or m < first_failure)]
    return max([0, *survived]), first_failure


def next_test(outcomes: dict[int, bool], lower: int, upper: int, step: int) -> int | None:
    """The number of noise experiments one cluster's search needs tested next in a repeat
    (:data:`SEARCH`), or None when its fail-safe N is settled: the lower bound; while nothing
    failed, the upper bound; then the midpoint between its fail-safe N and its smallest failing
    tested number while they are more than ``step`` apart (no tested number lies between them)."""
    if lower > 0 and lower not in outcomes:
        return lower
    fsn, first_failure = failsafe_of(outcomes)
    if first_failure is None:
        return None if upper in outcomes else upper
    if first_failure - fsn > step:
        return (fsn + first_failure) // 2
    return None


def summarize_repeats(per_repeat: pd.DataFrame, lower: int, upper: int) -> pd.DataFrame:
    """The fail-safe table from the per-repeat values (``repeat, cluster_id, failsafe_n``): per
    cluster the median, smallest and largest fail-safe N, and whether (and in how many repeats)
    it reached ``lower`` and ``upper``."""
    rows = []
    for c, rows_c in per_repeat.groupby("cluster_id", sort=True):
        values = rows_c["failsafe_n"].to_numpy(dtype=float)
        at_lower, at_upper = values >= lower, values >= upper
        rows.append({"cluster_id": int(c), "failsafe_n": float(np.median(values)),
                     "failsafe_n_min": int(values.min()), "failsafe_n_max": int(values.max()),
                     "repeats": int(len(values)), "passes_lower": bool(at_lower.all()),
                     "passes_upper": bool(at_upper.all()), "repeats_passing_lower": int(at_lower.sum()),
                     "repeats_passing_upper": int(at_upper.sum()), "robust": bool(at_lower.all())})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


#: The fail-safe table's columns, in order.
TABLE_COLUMNS = ["cluster_id", "failsafe_n", "failsafe_n_min", "failsafe_n_max", "repeats", "passes_lower",
                 "passes_upper", "repeats_passing_lower", "repeats_passing_upper", "robust"]


def cluster_peaks(stat_values: np.ndarray, cluster_labels: np.ndarray) -> dict[int, int]:
    """Each cluster's peak: the in-mask index of its largest ALE value (the first in mask order on
    a tie, as the FWE cluster table picks it), by cluster label (0 = none)."""
    values, labels = np.asarray(stat_values).ravel(), np.asarray(cluster_labels).ravel()
    peaks = {}
    for c in sorted(int(c) for c in np.unique(labels) if c > 0):
        where = np.flatnonzero(labels == c)
        peaks[c] = int(where[int(np.argmax(values[where]))])
    return peaks


def survivors(passing: np.ndarray, peaks: dict[int, int]) -> dict[int, bool]:
    """Whether each cluster survives: its peak voxel lies in a cluster that passes (``passing``:
    in-mask booleans of the re-run analysis's FWE clusters)."""
    passing = np.asarray(passing, dtype=bool).ravel()
    return {c: bool(passing[i]) for c, i in peaks.items()}


def prepared_foci(fit) -> pd.DataFrame:
    """The fit's prepared foci (``id, x, y, z, sample_size``). Without sample sizes in the data
    (one ``ale.sample_size`` or ``ale.kernel_fwhm`` for every experiment, which the re-run
    analyses apply again) ``sample_size`` is NaN, and so is every noise experiment's."""
    coords = fit.estimator.inputs_["coordinates"]
    if "sample_size" not in coords.columns:
        coords = coords.assign(sample_size=np.nan)
    return coords[["id", "x", "y", "z", "sample_size"]].copy()


def _dataset(coordinates: pd.DataFrame):
    """A NiMARE Dataset of MNI foci (``id, x, y, z, sample_size``), one experiment per id."""
    import warnings

    from nimare.dataset import Dataset

    data = {}
    for exp_id, rows in coordinates.groupby("id", sort=False):
        n = float(rows["sample_size"].iloc[0])
        data[str(exp_id)] = {"contrasts": {"1": {
            "coords": {"space": "MNI", "x": rows["x"].tolist(), "y": rows["y"].tolist(), "z": rows["z"].tolist()},
            "metadata": {"sample_sizes": [int(round(n))]} if math.isfinite(n) else {},
        }}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Dataset(data, target="mni152_2mm")


def failsafe_n(fit, cluster_labels: np.ndarray, ale_spec, *, voxel_p: float = 0.001, alpha: float = 0.05,
               n_iterations: int = 1000, seed: int = 0, lower_multiple: float = DEFAULT_LOWER_MULTIPLE,
               upper_multiple: float = DEFAULT_UPPER_MULTIPLE, step: int = 1, noise_space: str = "brain",
               noise_counts: str = "independent", repeats: int = DEFAULT_REPEATS,
               executor: Executor | None = None,
               progress: Callable[[str], None] | None = None) -> FailsafeResult:
    """Fail-safe N of each cluster in ``cluster_labels`` (in-mask labels of the full analysis's
    FWE clusters, 0 = none), for the ALE ``fit`` (its estimator holds the prepared foci), over
    ``repeats`` repeats of the noise draw (see the module's docstring and :data:`DEFINITION`).

    The repeats run one after another and each test's Monte Carlo FWE runs on ``executor``
    with its repeat's seed (:func:`montecarlo_seed`), so the result does not depend on the
    executor.
    ``progress`` is called with a line of text after each test.
    """
    import time
    import warnings

    from ale_app.stats import nimare_adapter as NA
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.montecarlo import montecarlo_fwe

    if step < 1:
        raise ValueError("the fail-safe N's step must be at least 1")
    if repeats < 1:
        raise ValueError("the fail-safe N needs at least one repeat")
    labels = np.asarray(cluster_labels).ravel()
    peaks = cluster_peaks(fit.stat_values, labels)
    ids = list(peaks)
    coords = prepared_foci(fit)
    k = len(fit.ids)
    lower, upper = bounds(k, lower_multiple, upper_multiple)
    space = NA.null_space_ijk(fit.estimator, noise_space)
    affine = fit.masker.mask_img.affine
    records, per_repeat, noises = [], [], []
    timings: dict[tuple[int, int], float] = {}

    for r in range(1, int(repeats) + 1):
        noise_foci, noise = draw_noise(coords, upper, seed, space, affine, noise_counts, repeat=r)
        null_seed = montecarlo_seed(seed, r)
        noises.append(noise.assign(repeat=r))
        tested: dict[int, dict[int, bool]] = {}

        def test(m: int) -> None:
            started = time.perf_counter()
            added = noise_foci[noise_foci["id"].isin(noise["noise_id"].iloc[:m])]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_m = fit_ale(_dataset(pd.concat([coords, added], ignore_index=True)), ale_spec)
            inf = montecarlo_fwe(fit=fit_m, voxel_p=voxel_p, n_iterations=n_iterations, seed=null_seed,
                                 alpha=alpha, executor=executor)
            passing = np.rint(fit_m.masker.transform(inf.label_img)).astype(np.int64).ravel() > 0
            tested[m] = survivors(passing, peaks)
            seconds = time.perf_counter() - started
            timings[(r, m)] = seconds
            records.append({"repeat": r, "n_noise": m, "n_fwe_clusters": int(len(inf.clusters)),
                            **{f"survives_{c}": tested[m][c] for c in ids}})
            if progress is not None:
                progress(f"fail-safe N, repeat {r} of {repeats}: {m} noise experiments added, "
                         f"{sum(tested[m].values())} of {len(ids)} clusters survive ({seconds:.1f} s)")

        while True:
            wanted = (next_test({m: t[c] for m, t in tested.items()}, lower, upper, step) for c in ids)
            m = next((m for m in wanted if m is not None), None)
            if m is None:
                break
            test(m)
        for c in ids:
            fsn, first_failure = failsafe_of({m: t[c] for m, t in tested.items()})
            per_repeat.append({"repeat": r, "cluster_id": c, "failsafe_n": fsn,
                               "first_failure": np.nan if first_failure is None else first_failure,
                               "passes_lower": fsn >= lower, "passes_upper": fsn >= upper})
    repeats_table = pd.DataFrame(per_repeat, columns=["repeat", "cluster_id", "failsafe_n", "first_failure",
                                                      "passes_lower", "passes_upper"])
    evaluations = pd.DataFrame(sorted(records, key=lambda rec: (rec["repeat"], rec["n_noise"])),
                               columns=["repeat", "n_noise", "n_fwe_clusters"] + [f"survives_{c}" for c in ids])
    noise = pd.concat(noises, ignore_index=True)[["repeat", "noise_id", "foci_from", "n_foci", "sample_size_from",
                                                   "sample_size"]]
    return FailsafeResult(table=summarize_repeats(repeats_table, lower, upper), evaluations=evaluations,
                          noise=noise, n_experiments=k, lower=lower, upper=upper, step=int(step),
                          n_iterations=int(n_iterations), seed=int(seed), noise_space=noise_space, seconds=timings,
                          noise_counts=noise_counts, repeats=int(repeats), repeats_table=repeats_table)
