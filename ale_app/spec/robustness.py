"""Robustness beyond leave-one-out (``robustness``, inferential mode only): subsampling
stability and fail-safe N per FWE cluster, and the check that they can run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ale_app.spec.fields import MAX_ANALYSES, Bool, Float, Int, OptionalInt, StrictModel
from ale_app.spec.inference import InferenceSpec, iterations_needed


class StabilitySpec(StrictModel):
    """Subsampling stability (NiMARE's ``ResampledStability``, JALE's probabilistic ALE).

    Attributes
    ----------
    enabled : bool, default=False
        Compute it.
    subset_size : int or None, default=None
        Experiments per subset; None: all but one (every leave-one-out subset).
    n_subsets : int or None, default=1000
        Subsets drawn at random (all distinct subsets when there are fewer); None: every
        distinct subset, refused when there are more than 1,000 (as NiMARE refuses).
    null_space : {"gm", "brain"}, default="gm"
        Where the cluster-size null draws its random foci: grey matter (NiMARE's default) or
        the whole brain mask.
    """

    enabled: Bool = Field(default=False, description="Compute subsampling stability (off unless asked for).")
    subset_size: OptionalInt = Field(
        default=None, ge=1, le=MAX_ANALYSES,
        description="Experiments per random subset (at least 1, at most the number of experiments); null: all "
        "but one, i.e. every leave-one-out subset (NiMARE's leave_1_out schedule).")
    n_subsets: OptionalInt = Field(
        default=1000, ge=1, le=100_000,
        description="Subsets drawn at random without repeats (1 to 100,000; all distinct subsets when there are "
        "fewer); null: every distinct subset, refused above 1,000 as NiMARE refuses. Default 1000, NiMARE's cap.")
    null_space: Literal["gm", "brain"] = Field(
        default="gm",
        description="Where the cluster-size null places its random foci: 'gm' (grey matter above 10%, NiMARE's "
        "default) or 'brain' (the whole brain mask).")


class FailsafeSpec(StrictModel):
    """Fail-safe N per FWE cluster (Acar et al. 2018).

    Attributes
    ----------
    enabled : bool, default=False
        Compute it.
    lower_multiple, upper_multiple : float, default=2, 10
        The tests' bounds, as multiples of the number of experiments k (Acar et al.: a robust
        cluster withstands 2k noise experiments; no test adds more than 10k).
    step : int, default=2
        The smallest step of each cluster's staircase, in noise experiments.
    n_iterations : int or None, default=200
        Monte Carlo iterations of each test; None: ``inference.n_iterations``.
    noise_space : {"brain", "gm"}, default="brain"
        Where the noise experiments' foci are placed.
    noise_counts : {"independent", "paired"}, default="independent"
        How a noise experiment gets its focus count and sample size: each from its own randomly
        drawn experiment (Acar et al.'s code) or both from one.
    tests_per_cluster : int, default=80
        Tests per FWE cluster, each its own draw of noise experiments and of the Monte Carlo null
        (test t: spawn keys (0x4653, t) and (0x4653, t, 0x4D43) of the run's seed); every
        cluster's value is read off all tests. Measured with ``benchmarks/failsafe_seeds.py``
        (see docs/benchmarks.md, "Fail-safe N: how many tests").
    """

    enabled: Bool = Field(default=False, description="Compute each FWE cluster's fail-safe N (off unless asked "
                          "for).")
    lower_multiple: Float = Field(
        default=2.0, ge=0, le=100,
        description="Lower bound, in multiples of the number of experiments k, where every cluster's tests "
        "start (0 to 100; Acar et al. 2018: a robust cluster withstands 2k noise experiments).")
    upper_multiple: Float = Field(
        default=10.0, gt=0, le=100,
        description="Upper bound, in multiples of k: no test adds more noise experiments (above the lower bound, "
        "at most 100; Acar et al. 2018: 10k).")
    step: Int = Field(
        default=2, ge=1, le=100_000,
        description="Smallest step of each cluster's up-down staircase, in noise experiments (1 to 100,000); "
        "the staircase starts with a step of k and halves it at each reversal.")
    n_iterations: OptionalInt = Field(
        default=200, ge=10, le=1_000_000,
        description="Monte Carlo iterations of each test (10 to 1,000,000; more than 1/inference.fwe_alpha); "
        "null: inference.n_iterations. Default 200: the regression over all tests averages each test's error, "
        "and fewer iterations over more tests measured steadier at the same cost.")
    noise_space: Literal["brain", "gm"] = Field(
        default="brain",
        description="Where the noise experiments' foci are placed: 'brain' (the brain mask, as Acar et al.) or "
        "'gm' (grey matter above 10%).")
    noise_counts: Literal["independent", "paired"] = Field(
        default="independent",
        description="How a noise experiment gets its number of foci and of subjects: 'independent' (each copied "
        "from its own randomly drawn experiment, as Acar et al.'s code does) or 'paired' (both from one "
        "randomly drawn experiment).")
    tests_per_cluster: Int = Field(
        default=80, ge=1, le=10_000,
        description="Tests per FWE cluster (1 to 10,000), each its own draw of noise experiments and of the "
        "Monte Carlo null from the run's seed (test t: spawn keys (0x4653, t) and (0x4653, t, 0x4D43)); each "
        "cluster's fail-safe N is the 50% point of a logistic regression of its survival over all tests. "
        "Default 80 (480 tests in about 7 minutes on one core for 25 experiments with 6 FWE clusters); "
        "docs/benchmarks.md, 'Fail-safe N: how many tests', gives how much the values move between seeds "
        "(benchmarks/failsafe_seeds.py).")

    @model_validator(mode="before")
    @classmethod
    def _repeats_were_replaced(cls, data):
        if isinstance(data, dict) and "repeats" in data:
            raise ValueError(
                "robustness.failsafe.repeats was replaced by tests_per_cluster: every test now draws its own "
                "noise experiments and the fail-safe N is read off all tests (see docs/methods.md, 'Fail-safe N'); "
                "remove 'repeats' (and set tests_per_cluster to change the number of tests)")
        return data

    @model_validator(mode="after")
    def _ordered_bounds(self) -> FailsafeSpec:
        if not self.lower_multiple < self.upper_multiple:
            raise ValueError("lower_multiple must be below upper_multiple")
        return self


class RobustnessSpec(StrictModel):
    """Robustness beyond leave-one-out (inferential mode only); each part is off unless asked for.

    Attributes
    ----------
    stability : StabilitySpec
    failsafe : FailsafeSpec
    """

    stability: StabilitySpec = Field(default_factory=StabilitySpec,
                                     description="Subsampling stability (NiMARE's ResampledStability).")
    failsafe: FailsafeSpec = Field(default_factory=FailsafeSpec,
                                   description="Fail-safe N per FWE cluster (Acar et al. 2018).")



def check_robustness_can_run(mode: str, robustness: RobustnessSpec | None, inference: InferenceSpec) -> None:
    """Refuse a ``robustness`` section outside inferential mode, and fail-safe iterations
    under which no cluster can pass (as :func:`check_inference_can_pass`); both spec
    versions (version 2 applies it to each group's own FWE clusters)."""
    if mode != "inferential":
        if robustness is not None:
            raise PydanticCustomError(
                "robustness_needs_inference",
                "robustness (stability, fail-safe N) describes clusters that passed cluster-level FWE, so it runs "
                "only in inferential mode. Set mode: inferential (the evidence base must have at least "
                "inference.min_experiments experiments), or remove the robustness section",
                {"at": ("robustness",)})
        return
    failsafe = robustness.failsafe if robustness is not None else None
    if failsafe is not None and failsafe.enabled and failsafe.n_iterations:
        n, alpha = failsafe.n_iterations, inference.fwe_alpha
        if not 1.0 / n < alpha:
            raise PydanticCustomError(
                "unreachable_alpha",
                f"{n:,} Monte Carlo iterations per fail-safe test cannot give any cluster an FWE p below "
                f"inference.fwe_alpha ({alpha:g}). Use at least {iterations_needed(alpha):,}",
                {"at": ("robustness", "failsafe", "n_iterations")})
