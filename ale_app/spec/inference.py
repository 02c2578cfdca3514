"""ALE's standard inference (``inference``, read only in inferential mode) and the check that
its settings can let a cluster pass."""

from __future__ import annotations

from pydantic import Field
from pydantic_core import PydanticCustomError

from ale_app.constants import MIN_EXPERIMENTS_FOR_INFERENCE
from ale_app.spec.fields import Float, Int, StrictModel


class InferenceSpec(StrictModel):
    """ALE's standard inference, read only when ``mode`` is ``inferential``.

    Attributes
    ----------
    min_experiments : int, default=17
        Below this many experiments the inferential mode refuses to run (Eickhoff et al. 2016).
    voxel_p : float, default=0.001
        Cluster-forming threshold: uncorrected voxel-level p (NiMARE's analytic null).
    fwe_alpha : float, default=0.05
        Cluster-level family-wise error level a cluster must pass.
    n_iterations : int, default=10000
        Monte Carlo iterations of the FWE null distributions; in inferential mode more than
        1/``fwe_alpha`` (no FWE p is below 1/``n_iterations``, and a cluster passes when p < alpha).
    seed : int, default=0
        The one seed of every random draw; recorded in every inferential output.
    """

    min_experiments: Int = Field(
        default=MIN_EXPERIMENTS_FOR_INFERENCE, ge=2, le=100_000,
        description="Below this many experiments the inferential mode refuses to run (Eickhoff et al. 2016: "
        "about 17-20 experiments are needed).",
    )
    voxel_p: Float = Field(
        default=0.001, gt=0, le=0.05,
        description="Cluster-forming threshold: uncorrected voxel-level p from NiMARE's analytic null "
        "(0 < p <= 0.05).",
    )
    fwe_alpha: Float = Field(
        default=0.05, gt=0, le=0.5,
        description="Cluster-level family-wise error level a cluster must pass (0 < alpha <= 0.5).",
    )
    n_iterations: Int = Field(
        default=10_000, ge=10, le=1_000_000,
        description="Monte Carlo iterations of the FWE null distributions (10 to 1,000,000); in inferential "
        "mode more than 1/fwe_alpha, since no FWE p can be below 1/n_iterations (at least 21 for alpha 0.05).",
    )
    seed: Int = Field(
        default=0, ge=0, le=2**32 - 1,
        description="The one seed of every random draw (0 to 2**32-1); with the same seed the null "
        "distributions equal NiMARE's ALE(random_state=seed) + FWECorrector(method='montecarlo').",
    )



def iterations_needed(alpha: float) -> int:
    """The fewest Monte Carlo iterations (or permutations) whose smallest FWE p is below ``alpha``.

    NiMARE's FWE p of a cluster is the share of the null's maxima at least as large, but
    never below 1/n (``null_to_p`` clips it there), and a cluster passes when its p is
    below alpha; so n iterations can let a cluster pass only when 1/n < alpha.
    """
    n = max(1, int(1 / alpha))
    while not 1.0 / n < alpha:
        n += 1
    return n


def check_inference_can_pass(inference: InferenceSpec, contrast: bool = False) -> None:
    """Refuse inference settings under which no cluster can ever pass: with
    ``n_iterations`` at or below 1/``fwe_alpha`` the smallest FWE p the Monte Carlo null
    (and the subtraction's permutations) can give is not below ``fwe_alpha``."""
    n, alpha = inference.n_iterations, inference.fwe_alpha
    if 1.0 / n < alpha:
        return
    what = "Monte Carlo iterations and permutations" if contrast else "Monte Carlo iterations"
    raise PydanticCustomError(
        "unreachable_alpha",
        f"{n:,} {what} cannot give any cluster an FWE p below inference.fwe_alpha ({alpha:g}): the smallest "
        f"p they can give is 1/{n} = {1.0 / n:.4g}, and a cluster passes only when p < alpha, so the run "
        f"could only report that no cluster passed. Use at least {iterations_needed(alpha):,} iterations "
        "(the default is 10,000), or a larger fwe_alpha",
        {"at": ("inference", "n_iterations")})
