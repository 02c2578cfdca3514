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
  without replacement within a noise study). One sequence of noise
  experiments is drawn from the seed (stream ``failsafe`` of the run's seed); adding ``m`` noise
  experiments adds the first ``m`` of that sequence, so the analyses with more noise contain
  those with less (Acar's procedure removes null studies from the set it added).
- The search: the lower bound (by default 2 x the number of experiments k, Acar's minimum a
  robust cluster should withstand) is tested first, then the upper bound (10 x k); between
  the outcomes a bisection narrows the bracket until it is at most ``step`` wide (Acar's
  ``algorithm_step4.R`` halves the bracket until it closes). Each test
  re-runs ALE and its Monte Carlo FWE on the augmented evidence base
  (:func:`ale_app.stats.montecarlo.montecarlo_fwe`, the run's cluster-forming p, FWE alpha and
  seed) and asks whether the original cluster's peak voxel (its largest ALE value) still lies in a
  cluster that passes: the reference code reads one voxel, the planted effect's centre in the
  paper's simulations (``local_FSN_clunc.R``) and each cluster's peak in the Python port.
- The answer per cluster: the fail-safe N (the largest number of added noise experiments at
  which the cluster was seen to survive; 0 when it failed at every tested number) and the
  bracket ``[fsn, first_failure)`` the search found (``first_failure`` empty when it survived
  the upper bound). The bisection assumes that survival does not come back with more noise;
  every test is in the evaluations table.
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
#: The spawn key that makes the noise experiments' stream of the run's seed.
FAILSAFE_STREAM = 0x4653  # "FS"


@dataclass
class FailsafeResult:
    """Fail-safe N per FWE cluster.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per FWE cluster: ``cluster_id, failsafe_n, bracket_low, bracket_high,
        survives_lower, survives_upper, robust`` (``robust``: survived the lower bound).
        ``bracket_high`` is NaN when the cluster survived the upper bound.
    evaluations : pandas.DataFrame
        One row per tested number of noise experiments: ``n_noise, n_fwe_clusters`` and one
        ``survives_<cluster_id>`` column per cluster.
    noise : pandas.DataFrame
        The noise experiments drawn (``noise_id, foci_from, n_foci, sample_size_from, sample_size``:
        the experiments whose focus count and sample size each copies).
    n_experiments, lower, upper, step, n_iterations, seed : int
    noise_space, noise_counts : str
    seconds : dict
        Seconds each test took, by number of noise experiments (logged, never written).
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


def bounds(n_experiments: int, lower_multiple: float = DEFAULT_LOWER_MULTIPLE,
           upper_multiple: float = DEFAULT_UPPER_MULTIPLE) -> tuple[int, int]:
    """The search's bounds in noise experiments: ``ceil(multiple x k)``."""
    lower = int(math.ceil(lower_multiple * n_experiments))
    upper = int(math.ceil(upper_multiple * n_experiments))
    if not 0 <= lower < upper:
        raise ValueError("the fail-safe N's lower bound must be below its upper bound")
    return lower, upper


NOISE_COUNTS = ("independent", "paired")


def draw_noise(coordinates: pd.DataFrame, n_noise: int, seed: int, space_ijk: np.ndarray,
               affine: np.ndarray, counts: str = "independent") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_noise`` noise experiments (foci in mm, MNI) resampled from the experiments of
    ``coordinates`` (columns ``id, sample_size``); returns (foci, one row per noise experiment).

    ``counts``: ``independent`` draws the experiment whose focus count is copied and the one whose
    sample size is copied separately (Acar's ``GenerateNull.R``, Enge's ``generate_null``);
    ``paired`` copies both from one drawn experiment. Each noise experiment's foci are distinct
    voxels of ``space_ijk``."""
    if counts not in NOISE_COUNTS:
        raise ValueError(f"noise counts must be one of {NOISE_COUNTS}, not {counts!r}")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(FAILSAFE_STREAM,)))
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
               noise_counts: str = "independent",
               executor: Executor | None = None,
               progress: Callable[[str], None] | None = None) -> FailsafeResult:
    """Fail-safe N of each cluster in ``cluster_labels`` (in-mask labels of the full analysis's
    FWE clusters, 0 = none), for the ALE ``fit`` (its estimator holds the prepared foci).

    ``progress`` is called with a line of text after each test.
    """
    import time
    import warnings

    from ale_app.stats import nimare_adapter as NA
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.montecarlo import montecarlo_fwe

    if step < 1:
        raise ValueError("the fail-safe N's step must be at least 1")
    labels = np.asarray(cluster_labels).ravel()
    peaks = cluster_peaks(fit.stat_values, labels)
    ids = list(peaks)
    coords = fit.estimator.inputs_["coordinates"][["id", "x", "y", "z", "sample_size"]].copy()
    k = len(fit.ids)
    lower, upper = bounds(k, lower_multiple, upper_multiple)
    _, _, space, _, _ = NA.stability_null_inputs(fit.estimator, noise_space)
    affine = fit.masker.mask_img.affine
    noise_foci, noise = draw_noise(coords, upper, seed, space, affine, noise_counts)
    cache: dict[int, dict[int, bool]] = {0: {c: True for c in ids}}
    records = []
    timings: dict[int, float] = {}

    def test(m: int) -> dict[int, bool]:
        if m in cache:
            return cache[m]
        started = time.perf_counter()
        added = noise_foci[noise_foci["id"].isin(noise["noise_id"].iloc[:m])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_m = fit_ale(_dataset(pd.concat([coords, added], ignore_index=True)), ale_spec)
        inf = montecarlo_fwe(fit=fit_m, voxel_p=voxel_p, n_iterations=n_iterations, seed=seed, alpha=alpha,
                             executor=executor)
        passing = np.rint(fit_m.masker.transform(inf.label_img)).astype(np.int64).ravel() > 0
        cache[m] = survivors(passing, peaks)
        seconds = time.perf_counter() - started
        timings[m] = seconds
        records.append({"n_noise": m, "n_fwe_clusters": int(len(inf.clusters)),
                        **{f"survives_{c}": cache[m][c] for c in ids}})
        if progress is not None:
            progress(f"fail-safe N: {m} noise experiments added, {sum(cache[m].values())} of {len(ids)} "
                     f"clusters survive ({seconds:.1f} s)")
        return cache[m]

    rows = []
    for c in ids:
        survives_lower = test(lower)[c] if lower > 0 else True
        survives_upper = test(upper)[c] if survives_lower else False
        if survives_upper:
            lo, hi = upper, None
        elif survives_lower:
            lo, hi = lower, upper
        else:
            lo, hi = 0, lower
        while hi is not None and hi - lo > step:
            mid = (lo + hi) // 2
            if test(mid)[c]:
                lo = mid
            else:
                hi = mid
        rows.append({"cluster_id": c, "failsafe_n": lo, "bracket_low": lo,
                     "bracket_high": np.nan if hi is None else hi, "survives_lower": survives_lower,
                     "survives_upper": survives_upper, "robust": survives_lower})
    for row in rows:
        # The upper bound's answer as tested (for another cluster, when this one failed the lower
        # bound and its search did not need it); None when the upper bound was never tested.
        row["survives_upper"] = cache[upper][row["cluster_id"]] if upper in cache else None
    table = pd.DataFrame(rows, columns=["cluster_id", "failsafe_n", "bracket_low", "bracket_high",
                                        "survives_lower", "survives_upper", "robust"])
    evaluations = pd.DataFrame(sorted(records, key=lambda r: r["n_noise"]),
                               columns=["n_noise", "n_fwe_clusters"] + [f"survives_{c}" for c in ids])
    return FailsafeResult(table=table, evaluations=evaluations, noise=noise, n_experiments=k, lower=lower,
                          upper=upper, step=int(step), n_iterations=int(n_iterations), seed=int(seed),
                          noise_space=noise_space, seconds=timings, noise_counts=noise_counts)
