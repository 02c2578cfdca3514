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
- A test adds ``m`` noise experiments, re-runs ALE and its Monte Carlo FWE on the augmented
  evidence base (:func:`ale_app.stats.montecarlo.montecarlo_fwe`, the run's cluster-forming p
  and FWE alpha) and asks whether the original cluster's peak voxel (its largest ALE value)
  still lies in a cluster that passes: the reference code reads one voxel, the planted effect's
  centre in the paper's simulations (``local_FSN_clunc.R``) and each cluster's peak in the
  Python port.
- One draw decides little. Whether a cluster survives m noise experiments is close to a coin
  flip over a wide range of m (on 25 real experiments, one cluster survived 10 draws of 25, 50,
  75 and 100 noise experiments in 8, 3, 3 and 4 of them), because the cluster's size moves with
  where the noise falls; a search that stops at a repeat's first failure, and even the median
  of five such repeats, gave values 57% apart between two seeds. So every test is its own draw:
  test ``t`` (1, 2, ...) draws its noise from ``numpy.random.SeedSequence(seed, spawn_key=(0x4653,
  t))`` (:func:`noise_seed_sequence`) and its Monte Carlo null from ``(0x4653, t, 0x4D43)``
  (:func:`montecarlo_seed`), and a cluster's value is read off all tests at once
  (:data:`DEFINITION`): the number of noise experiments it survives in half of the draws, the
  50% point of a logistic regression of survival on ``log(1 + m)`` (:func:`half_survival`).
  Acar et al. ("obtaining the exact same FSN with a different set of null studies is
  unlikely") report one draw; this is the same quantity made repeatable.
- Where the tests go (:data:`SEARCH`): one up-down staircase per cluster, the clusters taken in
  turn, so the tests gather near each cluster's 50% point (:func:`staircase_step`); every test
  records every cluster's survival, and all of them enter every cluster's regression.
  How much the values move between seeds is measured with ``benchmarks/failsafe_seeds.py``
  (docs/benchmarks.md, "Fail-safe N: how many tests").
- Every test is in the evaluations table, from which the table can be recomputed.
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
#: The spawn key that makes the noise experiments' streams of the run's seed (one per test).
FAILSAFE_STREAM = 0x4653  # "FS"
#: Tests per FWE cluster by default (``robustness.failsafe.tests_per_cluster``), with
#: :data:`DEFAULT_ITERATIONS` Monte Carlo iterations each. Measured with
#: ``benchmarks/failsafe_pooled.py`` and ``benchmarks/failsafe_seeds.py`` on the first 25
#: n-back/flanker analyses (6 FWE clusters, docs/benchmarks.md "Fail-safe N: how many tests").
DEFAULT_TESTS_PER_CLUSTER = 80
#: Monte Carlo iterations of each test by default: fewer iterations over more tests measured
#: steadier than 1,000 over fewer at the same cost (the regression averages each test's error).
DEFAULT_ITERATIONS = 200
#: The ridge on the regression's standardised slope that keeps it finite when the outcomes
#: separate (every test below some m survived and every test above it failed).
RIDGE = 1e-3
#: The normal quantile of the two-sided 95% interval.
Z95 = 1.959963984540054

#: What a cluster's fail-safe N is, as docs/methods.md, the table's sidecar and the methods say it.
DEFINITION = (
    "A cluster's fail-safe N is the number of added noise experiments at which it survives cluster-level FWE in "
    "half of the noise draws: the 50% point of a logistic regression of its survival (its peak voxel lies in a "
    "cluster that passes) on log(1 + m) over every test, where m is the number of noise experiments a test "
    "added and every test draws its own noise experiments and its own Monte Carlo null. The table gives it with "
    "its 95% confidence interval and the fitted share of draws the cluster survives at the lower bound (2k) and "
    "at the upper bound (10k); a cluster that survived every test has the upper bound as its value, one that "
    "survived none 0, and one whose survival did not fall as noise was added has no value.")

#: How the tests are placed, as docs/methods.md and the sidecar say it.
SEARCH = (
    "The tests are placed by one up-down staircase per cluster, the clusters taken in turn: each starts at the "
    "lower bound with a step of k noise experiments, moves up after its cluster survived and down after it "
    "failed, halves its step (not below the step setting) each time its direction reverses, and stays between 0 "
    "and the upper bound; every test records every cluster's survival.")


@dataclass
class FailsafeResult:
    """Fail-safe N per FWE cluster, from tests that each draw their own noise.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per FWE cluster (:data:`TABLE_COLUMNS`): ``cluster_id, failsafe_n, ci_low,
        ci_high, survival_at_lower, survival_at_upper, tests, tests_survived, passes_lower,
        passes_upper, robust``.
    evaluations : pandas.DataFrame
        One row per test: ``test, n_noise, asked_by, n_fwe_clusters`` and one
        ``survives_<cluster_id>`` column per cluster.
    n_experiments, lower, upper, step, n_iterations, seed, tests_per_cluster : int
    noise_space, noise_counts : str
    seconds : dict
        Seconds each test took, by test number (logged, never written).
    """

    table: pd.DataFrame
    evaluations: pd.DataFrame
    n_experiments: int
    lower: int
    upper: int
    step: int
    n_iterations: int
    seed: int
    noise_space: str
    seconds: dict | None = None
    noise_counts: str = "independent"
    tests_per_cluster: int = DEFAULT_TESTS_PER_CLUSTER


def bounds(n_experiments: int, lower_multiple: float = DEFAULT_LOWER_MULTIPLE,
           upper_multiple: float = DEFAULT_UPPER_MULTIPLE) -> tuple[int, int]:
    """The search's bounds in noise experiments: ``ceil(multiple x k)``."""
    lower = int(math.ceil(lower_multiple * n_experiments))
    upper = int(math.ceil(upper_multiple * n_experiments))
    if not 0 <= lower < upper:
        raise ValueError("the fail-safe N's lower bound must be below its upper bound")
    return lower, upper


NOISE_COUNTS = ("independent", "paired")


def noise_seed_sequence(seed: int, test: int = 1) -> np.random.SeedSequence:
    """The seed sequence of test ``test`` (1, 2, ...)'s noise: the run's ``seed`` with spawn key
    ``(0x4653, test)``, so each test has its own stream and a test's noise does not depend on
    how many tests ran."""
    if test < 1:
        raise ValueError("fail-safe tests are numbered from 1")
    return np.random.SeedSequence(int(seed), spawn_key=(FAILSAFE_STREAM, int(test)))


#: The spawn key's last element that makes a test's Monte Carlo seed (after the test's number).
MONTECARLO_STREAM = 0x4D43  # "MC"


def montecarlo_seed(seed: int, test: int = 1) -> int:
    """The Monte Carlo seed of test ``test``: the first 32-bit word of
    ``numpy.random.SeedSequence(seed, spawn_key=(0x4653, test, 0x4D43))``. Each test has its own
    null as well as its own noise, so no one null's error is in every test."""
    if test < 1:
        raise ValueError("fail-safe tests are numbered from 1")
    sequence = np.random.SeedSequence(int(seed), spawn_key=(FAILSAFE_STREAM, int(test), MONTECARLO_STREAM))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def draw_noise(coordinates: pd.DataFrame, n_noise: int, seed: int, space_ijk: np.ndarray,
               affine: np.ndarray, counts: str = "independent",
               test: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_noise`` noise experiments (foci in mm, MNI) resampled from the experiments of
    ``coordinates`` (columns ``id, sample_size``); returns (foci, one row per noise experiment).

    ``counts``: ``independent`` draws the experiment whose focus count is copied and the one whose
    sample size is copied separately (Acar's ``GenerateNull.R``, Enge's ``generate_null``);
    ``paired`` copies both from one drawn experiment. Each noise experiment's foci are distinct
    voxels of ``space_ijk``. The draw is test ``test``'s (:func:`noise_seed_sequence`); fewer
    noise experiments of one test are the first ones of its sequence."""
    if counts not in NOISE_COUNTS:
        raise ValueError(f"noise counts must be one of {NOISE_COUNTS}, not {counts!r}")
    rng = np.random.default_rng(noise_seed_sequence(seed, test))
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


@dataclass
class Staircase:
    """One cluster's up-down staircase: the next number of noise experiments to test, its step,
    and the direction of its last move (None before the first)."""

    m: int
    step: int
    last: bool | None = None


def staircase_step(state: Staircase, survived: bool, upper: int, min_step: int) -> Staircase:
    """The staircase after a test of its cluster at ``state.m`` (:data:`SEARCH`): up by the step
    after a survival, down after a failure, the step halved (not below ``min_step``) when the
    direction reverses, and the number kept between 0 and ``upper``."""
    step = state.step
    if state.last is not None and survived != state.last:
        step = max(int(min_step), step // 2)
    m = state.m + step if survived else state.m - step
    return Staircase(m=int(min(max(m, 0), upper)), step=int(step), last=bool(survived))


def _logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method for the logistic regression of ``y`` on standardised ``x`` with
    :data:`RIDGE` on the slope; returns (intercept and slope, the penalised information matrix)."""
    X = np.column_stack([np.ones_like(x), x])
    penalty = np.diag([0.0, 2.0 * RIDGE])

    def loss(beta):
        z = X @ beta
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + RIDGE * beta[1] ** 2)

    beta = np.zeros(2)
    for _ in range(200):
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))
        grad = X.T @ (p - y) + penalty @ beta
        info = X.T @ (X * (p * (1.0 - p))[:, None]) + penalty
        delta = np.linalg.solve(info, grad)
        before, t = loss(beta), 1.0
        while loss(beta - t * delta) > before and t > 1e-10:
            t /= 2.0
        beta = beta - t * delta
        if np.max(np.abs(t * delta)) < 1e-12:
            break
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    return beta, X.T @ (X * (p * (1.0 - p))[:, None]) + penalty


def half_survival(m, survived, lower: int, upper: int) -> dict:
    """One cluster's fail-safe N from its tests (:data:`DEFINITION`): ``m`` noise experiments
    added, ``survived`` whether it survived. Returns ``failsafe_n, ci_low, ci_high,
    survival_at_lower, survival_at_upper`` (values in noise experiments, within 0 and ``upper``;
    NaN where there is none)."""
    m, y = np.asarray(m, dtype=float), np.asarray(survived, dtype=float)
    nan = float("nan")
    if y.all():
        return {"failsafe_n": float(upper), "ci_low": nan, "ci_high": nan, "survival_at_lower": 1.0,
                "survival_at_upper": 1.0}
    if not y.any():
        return {"failsafe_n": 0.0, "ci_low": nan, "ci_high": nan, "survival_at_lower": 0.0,
                "survival_at_upper": 0.0}
    x = np.log1p(m)
    mu, sc = float(x.mean()), float(x.std())
    sc = sc if sc > 0 else 1.0
    (a, b), info = _logistic((x - mu) / sc, y)

    def share(n):
        return float(1.0 / (1.0 + np.exp(-(a + b * (math.log1p(n) - mu) / sc))))

    shares = {"survival_at_lower": share(lower), "survival_at_upper": share(upper)}
    if not b < 0:
        return {"failsafe_n": nan, "ci_low": nan, "ci_high": nan, **shares}
    z50 = -a / b
    gradient = np.array([-1.0 / b, a / b ** 2])
    se = float(math.sqrt(max(0.0, float(gradient @ np.linalg.solve(info, gradient)))))

    def count(z):
        return float(min(max(math.expm1(mu + sc * z), 0.0), upper))

    return {"failsafe_n": count(z50), "ci_low": count(z50 - Z95 * se), "ci_high": count(z50 + Z95 * se), **shares}


def summarize_tests(evaluations: pd.DataFrame, cluster_ids: list[int], lower: int, upper: int) -> pd.DataFrame:
    """The fail-safe table from the tests table (``n_noise`` and ``survives_<cluster>``): per
    cluster :func:`half_survival` over every test, the number of tests and of survivals, whether
    the value reached ``lower`` and ``upper``, and ``robust`` (the interval's lower end, or the
    value when every test survived, reached ``lower``)."""
    rows = []
    for c in cluster_ids:
        survived = evaluations[f"survives_{c}"].to_numpy(dtype=bool)
        fit = half_survival(evaluations["n_noise"].to_numpy(), survived, lower, upper)
        value = fit["failsafe_n"]
        low = value if survived.all() else fit["ci_low"]
        rows.append({"cluster_id": int(c), **fit, "tests": int(len(survived)),
                     "tests_survived": int(survived.sum()),
                     "passes_lower": bool(value >= lower), "passes_upper": bool(value >= upper),
                     "robust": bool(low >= lower)})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


#: The fail-safe table's columns, in order.
TABLE_COLUMNS = ["cluster_id", "failsafe_n", "ci_low", "ci_high", "survival_at_lower", "survival_at_upper", "tests",
                 "tests_survived", "passes_lower", "passes_upper", "robust"]


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
               n_iterations: int = DEFAULT_ITERATIONS, seed: int = 0,
               lower_multiple: float = DEFAULT_LOWER_MULTIPLE, upper_multiple: float = DEFAULT_UPPER_MULTIPLE,
               step: int = 2, noise_space: str = "brain", noise_counts: str = "independent",
               tests_per_cluster: int = DEFAULT_TESTS_PER_CLUSTER, executor: Executor | None = None,
               progress: Callable[[str], None] | None = None) -> FailsafeResult:
    """Fail-safe N of each cluster in ``cluster_labels`` (in-mask labels of the full analysis's
    FWE clusters, 0 = none), for the ALE ``fit`` (its estimator holds the prepared foci), from
    ``tests_per_cluster`` tests per cluster (see the module's docstring and :data:`DEFINITION`).

    The tests run one after another, each placed by its cluster's staircase from the outcomes
    before it, and each test's Monte Carlo FWE runs on ``executor`` with the test's own seed
    (:func:`montecarlo_seed`), so the result does not depend on the executor.
    ``progress`` is called with a line of text after each test.
    """
    import time
    import warnings

    from ale_app.stats import nimare_adapter as NA
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.montecarlo import montecarlo_fwe

    if step < 1:
        raise ValueError("the fail-safe N's step must be at least 1")
    if tests_per_cluster < 1:
        raise ValueError("the fail-safe N needs at least one test per cluster")
    labels = np.asarray(cluster_labels).ravel()
    peaks = cluster_peaks(fit.stat_values, labels)
    ids = list(peaks)
    coords = prepared_foci(fit)
    k = len(fit.ids)
    lower, upper = bounds(k, lower_multiple, upper_multiple)
    space = NA.null_space_ijk(fit.estimator, noise_space)
    affine = fit.masker.mask_img.affine
    stairs = {c: Staircase(m=lower, step=max(int(step), k)) for c in ids}
    records: list[dict] = []
    timings: dict[int, float] = {}
    n_tests = len(ids) * int(tests_per_cluster)

    for t in range(1, n_tests + 1):
        asked_by = ids[(t - 1) % len(ids)]
        m = stairs[asked_by].m
        started = time.perf_counter()
        noise_foci, _ = draw_noise(coords, m, seed, space, affine, noise_counts, test=t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_m = fit_ale(_dataset(pd.concat([coords, noise_foci], ignore_index=True)), ale_spec)
        inf = montecarlo_fwe(fit=fit_m, voxel_p=voxel_p, n_iterations=n_iterations, seed=montecarlo_seed(seed, t),
                             alpha=alpha, executor=executor)
        passing = np.rint(fit_m.masker.transform(inf.label_img)).astype(np.int64).ravel() > 0
        outcome = survivors(passing, peaks)
        stairs[asked_by] = staircase_step(stairs[asked_by], outcome[asked_by], upper, step)
        seconds = time.perf_counter() - started
        timings[t] = seconds
        records.append({"test": t, "n_noise": m, "asked_by": asked_by, "n_fwe_clusters": int(len(inf.clusters)),
                        **{f"survives_{c}": outcome[c] for c in ids}})
        if progress is not None:
            progress(f"fail-safe N, test {t} of {n_tests}: {m} noise experiments added (for cluster {asked_by}), "
                     f"{sum(outcome.values())} of {len(ids)} clusters survive ({seconds:.1f} s)")
    evaluations = pd.DataFrame(records, columns=["test", "n_noise", "asked_by", "n_fwe_clusters"]
                               + [f"survives_{c}" for c in ids])
    return FailsafeResult(table=summarize_tests(evaluations, ids, lower, upper), evaluations=evaluations,
                          n_experiments=k, lower=lower, upper=upper, step=int(step), n_iterations=int(n_iterations),
                          seed=int(seed), noise_space=noise_space, seconds=timings, noise_counts=noise_counts,
                          tests_per_cluster=int(tests_per_cluster))
