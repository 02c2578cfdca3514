"""An estimate of how long a run takes, from its size alone (no computation, no IO).

Each step's seconds are a sum of counts (experiments, foci, Monte Carlo iterations,
permutations, subsamples, fail-safe tests) times a constant measured on ale-app's own runs
with ``benchmarks/runtime_estimate.py`` on the 2-core development machine (shared with other
work, so the constants lean high). The parallel parts are divided by the number of workers.
The point is the order of magnitude, seconds against minutes, hours or days, before a run
starts: a machine with other cores, other load or another CPU differs, and the skips a run
decides only once it has results (no cluster, no fail-safe search) are assumed not to happen.

Companion of :mod:`ale_app.stats.footprint` (the peak memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Above this many seconds the run logs its estimate before computing.
ANNOUNCE_SECONDS = 180.0

# Measured with benchmarks/runtime_estimate.py (2 cores shared with other work, load 1.5 to
# 2.5, numba's cache warm, 2 workers); each constant is rounded up from what its comment quotes.

#: Start-up, reading the input, clusters, labels, figures, report and writing, in a
#: descriptive run (measured in-process 8.1 to 10.3 s for 8, 21 and 906 experiments; a fresh
#: process adds its imports, about 4 s).
SETUP_SECONDS = 14.0
#: The same, added by the inferential mode (FWE clusters, their tables, figures and sidecars;
#: measured 23.3 to 25.6 s in-process for 21 and 906 experiments).
SETUP_INFERENTIAL_SECONDS = 15.0
#: A contrast's own clusters, tables, figures and report (measured 53.0 s in-process for the
#: setup and writing of an inferential contrast of 10 and 11 experiments).
SETUP_CONTRAST_SECONDS = 10.0
#: ALE fit: a fixed part, per experiment (its MA map over the mask) and per focus (measured
#: 0.22 to 0.24 s for 21 experiments and 267 foci, 2.35 to 2.52 s for 906 and 9,492).
FIT_SECONDS = 0.3
FIT_PER_EXPERIMENT = 2.5e-3
FIT_PER_FOCUS = 1.0e-4
#: Closed-form jackknife: a fixed part and per experiment (measured 0.32 to 0.33 s for 8 and 21
#: experiments, 0.43 s for 906).
JACKKNIFE_SECONDS = 0.4
JACKKNIFE_PER_EXPERIMENT = 1e-4
#: Refit jackknife: starting the worker processes, then one fit per experiment (measured 9.1 s
#: for 21 refits on 2 worker processes).
REFIT_START_SECONDS = 5.0
#: One Monte Carlo null draw, per worker: a fixed part and per focus drawn (measured on 2
#: threads: 1.5 s for 1,000 draws and 6.2 s for 5,000 of 267 foci, 12.0 s for 200 of 9,492).
MC_PER_ITERATION = 5e-4
MC_PER_FOCUS = 1.3e-5
#: One permutation of the ALE subtraction, per worker: a fixed part and per experiment of both
#: groups (measured 7.9 s for 500 permutations of 10 + 11 experiments, on 2 threads).
SUBTRACTION_PER_PERMUTATION = 0.02
SUBTRACTION_PER_EXPERIMENT = 6e-4
#: Subsampling stability: a fixed part (its null space), per subset and per experiment in it
#: (one sparse product per block of subsets), and its null's Monte Carlo draws (measured 3.1 s
#: for 100 subsets of 20 and 2,000 draws, 1.1 s for 21 subsets of 1 and 500 draws).
STABILITY_SECONDS = 1.0
STABILITY_PER_SUBSET = 1e-3
STABILITY_PER_SUBSET_EXPERIMENT = 2e-4
#: Balanced contrast: loading its kernels (measured 11.2 s in all for 50 subsamples, 50
#: differences and 50 null draws of 10 vs 11 experiments on 2 workers, most of it this); per
#: worker, one subsample of a probabilistic map per experiment in it, one null draw of a
#: probabilistic map (docs/benchmarks.md, "Balanced contrast": about 25 s for 2 x 1,000 on one core), one
#: null draw's random MA maps per experiment of both groups, and one balanced difference per
#: experiment of the pair (27 to 35 ms per null draw of 1,000 differences of 10 + 10).
BALANCED_SECONDS = 8.0
BALANCED_SUBSAMPLE_PER_EXPERIMENT = 1e-3
BALANCED_MAP_NULL_DRAW = 0.015
BALANCED_DRAW_PER_EXPERIMENT = 5e-4
BALANCED_DIFFERENCE_PER_EXPERIMENT = 2e-6
#: Fail-safe N: a fixed part of each test (its noise draw, analytic null and FWE clusters),
#: besides its ALE fit and Monte Carlo. With the noise counted at k (the staircases gather near
#: the clusters' 50% points, 0.1k to 1.7k on 25 n-back/flanker experiments), 480 tests of 200
#: iterations there took 433 s on one worker (benchmarks/failsafe_seeds.py) against an
#: estimated 1.3 s per test.
FAILSAFE_PER_TEST = 0.1
#: Fail-safe N: the FWE clusters whose tests are counted (the run knows the number only after
#: inference; 25 n-back/flanker experiments gave 6, the pain example 5).
FAILSAFE_ASSUMED_CLUSTERS = 5


@dataclass
class RuntimeEstimate:
    """A run's estimated seconds per step (``steps``, in run order) and its ``workers``."""

    steps: dict[str, float] = field(default_factory=dict)
    workers: int = 1

    @property
    def seconds(self) -> float:
        """The whole run."""
        return float(sum(self.steps.values()))

    def dominant(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` longest steps that take a noticeable share (at least a tenth) of the run."""
        total = self.seconds
        ranked = sorted(self.steps.items(), key=lambda kv: -kv[1])
        return [(name, s) for name, s in ranked[:n] if s >= 0.1 * total]

    def describe(self) -> str:
        """The dominant steps in words: "balanced contrast about 12 days, Monte Carlo inference about 3 min"."""
        return ", ".join(f"{name} {format_duration(s)}" for name, s in self.dominant())


def format_duration(seconds: float) -> str:
    """Seconds in the unit a reader thinks in: "about 40 s", "about 12 min", "about 3.5 h", "about 6 days"."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"about {_figure(seconds / 3600)} h"
    if seconds < 3 * 365 * 86400:
        return f"about {_figure(seconds / 86400)} days"
    return f"about {_figure(seconds / (365 * 86400))} years"


def _figure(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def fit_seconds(n_experiments: int, n_foci: int) -> float:
    """One ALE fit."""
    return FIT_SECONDS + FIT_PER_EXPERIMENT * n_experiments + FIT_PER_FOCUS * n_foci


def montecarlo_seconds(n_iterations: int, n_foci: float, workers: int) -> float:
    """``n_iterations`` Monte Carlo null draws of ``n_foci`` random foci each."""
    return n_iterations * (MC_PER_ITERATION + MC_PER_FOCUS * n_foci) / workers


def _comb_at_most(n: int, k: int, cap: int) -> int:
    """``min(comb(n, k), cap)``, without forming a huge binomial coefficient."""
    k = min(k, n - k)
    value = 1
    for i in range(k):
        value = value * (n - i) // (i + 1)
        if value >= cap:
            return cap
    return min(value, cap)


def _subsets(n: int, size: int, n_subsets: int | None) -> int:
    if size == n - 1:
        return n
    return _comb_at_most(n, size, 1000 if n_subsets is None else n_subsets)


def stability_seconds(n: int, foci: int, stability, n_iterations: int, workers: int) -> float:
    """Subsampling stability: the subsets' ALE and the cluster-size null of subsets."""
    size = n - 1 if stability.subset_size is None else min(n, stability.subset_size)
    size = max(1, size)
    subsets = _subsets(n, size, stability.n_subsets)
    return (STABILITY_SECONDS
            + subsets * (STABILITY_PER_SUBSET + STABILITY_PER_SUBSET_EXPERIMENT * size) / workers
            + montecarlo_seconds(n_iterations, foci * size / max(1, n), workers))


def failsafe_tests(n: int, failsafe) -> int:
    """Tests of the fail-safe N: its tests per cluster for :data:`FAILSAFE_ASSUMED_CLUSTERS`."""
    return int(failsafe.tests_per_cluster * FAILSAFE_ASSUMED_CLUSTERS)


def failsafe_seconds(n: int, foci: int, failsafe, n_iterations: int, workers: int) -> float:
    """Fail-safe N: each test refits ALE and its Monte Carlo on the evidence base plus the
    noise experiments (counted at k, see :data:`FAILSAFE_PER_TEST`)."""
    iterations = failsafe.n_iterations or n_iterations
    noise = n
    total, total_foci = n + noise, foci * (n + noise) / max(1, n)
    per_test = (FAILSAFE_PER_TEST + fit_seconds(total, int(total_foci))
                + montecarlo_seconds(iterations, total_foci, workers))
    return failsafe_tests(n, failsafe) * per_test


def balanced_seconds(sizes: list[tuple[int, int]], balanced, workers: int) -> float:
    """The balanced contrast: each group's probabilistic map (subsamples and its null), the
    balanced differences, and the null draws of the extreme differences."""
    (n1, _f1), (n2, _f2) = sizes
    target = min(n1, n2) if balanced.target_n is None else min(balanced.target_n, n1, n2)
    target = max(1, target)
    iterations, pairs = balanced.null_iterations, balanced.difference_iterations
    seconds = BALANCED_SECONDS
    for n, _foci in sizes:
        subsamples = _comb_at_most(n, target, balanced.subsamples) if target < n else 1
        seconds += (subsamples * BALANCED_SUBSAMPLE_PER_EXPERIMENT * target
                    + iterations * BALANCED_MAP_NULL_DRAW) / workers
    differences = pairs * 2 * target * BALANCED_DIFFERENCE_PER_EXPERIMENT
    seconds += differences + iterations * (BALANCED_DRAW_PER_EXPERIMENT * (n1 + n2) + differences) / workers
    return seconds


def estimate_runtime(spec, sizes: list[tuple[int, int]], n_jobs: int = 1) -> RuntimeEstimate:
    """The estimated seconds per step of a run.

    Parameters
    ----------
    spec : AnalysisSpec or AnalysisSpecV2
        The validated spec (its mode, inference, jackknife, robustness and contrast).
    sizes : list of (n_experiments, n_foci)
        The evidence base: one entry, or one per group of a contrast (first group first).
    n_jobs : int
        Workers of the run.

    Returns
    -------
    RuntimeEstimate
        Seconds per step, named as the log names them ("ALE fit", "Monte Carlo inference", ...);
        a contrast's group steps are summed over its groups.
    """
    workers = max(1, int(n_jobs))
    inferential = spec.mode == "inferential"
    inference = spec.inference
    robustness = spec.robustness if inferential else None
    steps: dict[str, float] = {}

    def add(name: str, seconds: float) -> None:
        if seconds > 0:
            steps[name] = steps.get(name, 0.0) + seconds

    contrast = getattr(spec, "contrast", None)
    add("setup, figures and writing", SETUP_SECONDS + len(sizes) * (SETUP_INFERENTIAL_SECONDS if inferential else 0.0)
        + (SETUP_CONTRAST_SECONDS if contrast is not None else 0.0))
    for n, foci in sizes:
        add("ALE fit", fit_seconds(n, foci))
        if spec.jackknife.enabled:
            if spec.jackknife.method == "refit":
                add("jackknife", REFIT_START_SECONDS + n * fit_seconds(n - 1, foci) / workers)
            else:
                add("jackknife", JACKKNIFE_SECONDS + JACKKNIFE_PER_EXPERIMENT * n)
        if inferential:
            add("Monte Carlo inference", montecarlo_seconds(inference.n_iterations, foci, workers))
        if robustness is not None and robustness.stability.enabled:
            add("subsampling stability", stability_seconds(n, foci, robustness.stability, inference.n_iterations,
                                                           workers))
        if robustness is not None and robustness.failsafe.enabled:
            add("fail-safe N", failsafe_seconds(n, foci, robustness.failsafe, inference.n_iterations, workers))
    if contrast is not None and len(sizes) == 2:
        if spec.jackknife.enabled:
            add("jackknife", JACKKNIFE_SECONDS + JACKKNIFE_PER_EXPERIMENT * sum(n for n, _f in sizes))
        if inferential and contrast.method == "balanced":
            add("balanced contrast", balanced_seconds(sizes, contrast.balanced, workers))
        elif inferential:
            total = sum(n for n, _f in sizes)
            add("ALE subtraction", inference.n_iterations
                * (SUBTRACTION_PER_PERMUTATION + SUBTRACTION_PER_EXPERIMENT * total) / workers)
    return RuntimeEstimate(steps=steps, workers=workers)
