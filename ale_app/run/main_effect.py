"""The steps of one group's own analysis (its main effect and robustness): the ALE fit,
clusters, labels, jackknife, Monte Carlo inference, FWE clusters, subsampling stability and
fail-safe N. Each works on the group's :class:`~ale_app.result.AnalysisResult`; the table
that orders them is :data:`ale_app.run.steps.STEPS`. None reads or writes a file.
"""

from __future__ import annotations

import logging

from ale_app.result import AnalysisResult
from ale_app.run.progress import progress_bar
from ale_app.run.step import StepContext, plural

LGR = logging.getLogger("ale_app")


# --------------------------------------------------------------------------- descriptive


def fit_ale(result: AnalysisResult, _ctx: StepContext) -> None:
    from ale_app.stats import ale as A

    spec, evidence = result.spec, result.evidence
    with progress_bar(len(evidence.ids), "ALE") as advance:
        fit = A.fit_ale(evidence.studyset, spec.ale, progress=advance)
    result.fit = fit
    result.threshold = A.display_threshold(fit.stat_values, spec.display.threshold_percentile)
    result.peak = A.find_peak(fit.stat_img)
    LGR.info("peak ALE %.5f at (%g, %g, %g) mm; display threshold %.6f", result.peak.value, *result.peak.xyz,
             result.threshold)


def find_clusters(result: AnalysisResult, _ctx: StepContext) -> None:
    from ale_app.stats import ale as A

    assert result.fit is not None and result.threshold is not None  # the fit step ran
    result.clusters = A.find_clusters(result.fit.stat_img, result.threshold,
                                      result.spec.jackknife.cluster_threshold_mm3)
    LGR.info("%s of at least %d voxels", plural(len(result.clusters.labels), "descriptive cluster"),
             result.clusters.min_voxels)


def label(result: AnalysisResult, _ctx: StepContext) -> None:
    from ale_app.stats import labels as L

    atlas = result.spec.labels.atlas
    assert result.peak is not None and result.clusters is not None  # the fit and clusters steps ran
    result.peak_label = L.label_points([result.peak.xyz], atlas)[0]
    clusters = result.clusters
    clusters.table = L.label_cluster_table(clusters.table, clusters.label_img, atlas)


def cluster_label_values(fit, label_img):
    import numpy as np

    return np.rint(fit.masker.transform(label_img)).astype(np.int32).ravel()


def jackknife(result: AnalysisResult, ctx: StepContext) -> None:
    from ale_app.stats.jackknife import closed_form_contributions, refit_contributions

    spec, evidence, fit, clusters = result.spec, result.evidence, result.fit, result.clusters
    assert fit is not None and clusters is not None  # the fit and clusters steps ran
    label_values = cluster_label_values(fit, clusters.label_img)
    with progress_bar(len(fit.ids), "jackknife") as advance:
        if spec.jackknife.method == "closed-form":
            result.jackknife = closed_form_contributions(
                fit.ma, fit.ids, fit.stat_values, label_values, clusters.labels, evidence.ids, progress=advance)
        else:
            result.jackknife = refit_contributions(
                evidence.studyset, evidence.ids, spec.ale, fit.stat_values, label_values, clusters.labels,
                executor=ctx.executor, progress=advance)


def skip_jackknife_of(clusters: str):
    """The skip of a jackknife over the result's field ``clusters``: off in the spec, or no
    cluster to leave experiments out of."""
    def skip(result) -> str | None:
        if not result.spec.jackknife.enabled:
            return "disabled"
        if not getattr(result, clusters).labels:
            return "no clusters"
        return None
    return skip


skip_jackknife = skip_jackknife_of("clusters")


def describe_jackknife(result: AnalysisResult, ctx: StepContext) -> str:
    assert result.fit is not None  # the fit step ran
    method, n = result.spec.jackknife.method, len(result.fit.ids)
    if method == "refit":
        return f"Jackknife (refit): {n} leave-one-out refits on {ctx.executor.describe()}"
    return f"Jackknife ({method}): {n} experiments"


# --------------------------------------------------------------------------- inferential


def not_inferential(result: AnalysisResult) -> str | None:
    return None if result.inferential else "descriptive mode"


def montecarlo(result: AnalysisResult, ctx: StepContext) -> None:
    from ale_app.stats.montecarlo import montecarlo_fwe

    from ale_app.constants import MIN_ITERATIONS

    inf = result.spec.inference
    if inf.n_iterations < MIN_ITERATIONS:
        LGR.warning("only %d Monte Carlo iterations (fewer than %d): the smallest FWE p is %.2g and each p has a "
                    "Monte Carlo standard error of up to %.3f", inf.n_iterations, MIN_ITERATIONS,
                    1 / inf.n_iterations, 0.5 / inf.n_iterations ** 0.5)
    with progress_bar(inf.n_iterations, "FWE", "iterations") as advance:
        result.inference = montecarlo_fwe(
            fit=result.fit, voxel_p=inf.voxel_p, n_iterations=inf.n_iterations, seed=inf.seed,
            alpha=inf.fwe_alpha, executor=ctx.executor, progress=advance,
        )


def fwe_clusters(result: AnalysisResult, _ctx: StepContext) -> None:
    from ale_app.stats import labels as L
    from ale_app.stats.fwe_clusters import focus_counts, fwe_clusters
    from ale_app.stats.jackknife import closed_form_contributions

    spec, evidence, fit = result.spec, result.evidence, result.fit
    assert fit is not None  # the fit step ran
    clusters = fwe_clusters(result.inference, fit.stat_img)
    clusters.table = L.label_cluster_table(clusters.table, clusters.label_img, spec.labels.atlas)
    result.fwe_clusters = clusters
    result.fwe_focus_counts = focus_counts(evidence.coordinates, clusters.label_img, clusters.labels, evidence.ids)
    if clusters.labels:
        label_values = cluster_label_values(fit, clusters.label_img)
        result.fwe_jackknife = closed_form_contributions(
            fit.ma, fit.ids, fit.stat_values, label_values, clusters.labels, evidence.ids)
    inf = spec.inference
    LGR.info("%s passed cluster-level FWE at alpha %g (cluster-forming p < %g)",
             plural(len(clusters.labels), "cluster"), inf.fwe_alpha, inf.voxel_p)


# --------------------------------------------------------------------------- robustness


def skip_robustness(part: str):
    def skip(result: AnalysisResult) -> str | None:
        if not result.inferential:
            return "descriptive mode"
        robustness = result.spec.robustness
        if robustness is None or not getattr(robustness, part).enabled:
            return "not asked for"
        if part == "failsafe":
            assert result.fwe_clusters is not None  # the FWE clusters step ran
            if not result.fwe_clusters.labels:
                return "no FWE cluster"
        return None
    return skip


def stability(result: AnalysisResult, ctx: StepContext) -> None:
    import numpy as np

    from ale_app.stats.stability import resampled_stability, resolve_subset_size

    # the fit and FWE clusters steps ran, and the spec asks for robustness (skip_robustness)
    assert result.spec.robustness is not None and result.fit is not None and result.fwe_clusters is not None
    spec, inf = result.spec.robustness.stability, result.spec.inference
    n = len(result.fit.ids)
    size = resolve_subset_size(spec.subset_size, n)
    sample_sizes = result.fit.estimator.inputs_["coordinates"]["sample_size"].to_numpy(dtype=float)
    if not np.isfinite(sample_sizes).all():
        from ale_app.errors import InputDataError

        raise InputDataError(
            "robustness.stability needs every experiment's sample size: its null draws each experiment's kernel "
            "from it (as NiMARE's ResampledStability does), whatever ale.kernel_fwhm says.",
            hint="Give each experiment a sample size in the input, or turn robustness.stability off.")
    total = inf.n_iterations + (n if size == n - 1 else min(spec.n_subsets or 1000, _n_choose(n, size)))
    with progress_bar(total, "stability") as advance:
        result.stability = resampled_stability(
            result.fit, subset_size=spec.subset_size, n_subsets=spec.n_subsets, voxel_p=inf.voxel_p,
            alpha=inf.fwe_alpha, n_iterations=inf.n_iterations, seed=inf.seed, null_space=spec.null_space,
            cluster_labels=cluster_label_values(result.fit, result.fwe_clusters.label_img),
            executor=ctx.executor, progress=advance)
    st = result.stability
    LGR.info("stability: %d subsets of %d experiments; clusters above %.1f voxels (null's %g%% point)",
             st.n_subsets, st.subset_size, st.cluster_size_threshold, 100 * (1 - inf.fwe_alpha))


def _n_choose(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


def describe_stability(result: AnalysisResult, ctx: StepContext) -> str:
    assert result.spec.robustness is not None and result.fit is not None  # as for stability()
    spec, inf = result.spec.robustness.stability, result.spec.inference
    size = spec.subset_size or len(result.fit.ids) - 1
    return (f"Subsampling stability: subsets of {size} experiments, {inf.n_iterations} null draws, seed {inf.seed}, "
            f"on {ctx.executor.for_gil_free_code().describe()}")


def failsafe(result: AnalysisResult, ctx: StepContext) -> None:
    from ale_app.stats.failsafe import failsafe_n

    # the fit and FWE clusters steps ran, and the spec asks for robustness (skip_robustness)
    assert result.spec.robustness is not None and result.fit is not None and result.fwe_clusters is not None
    spec, inf = result.spec.robustness.failsafe, result.spec.inference
    total = len(result.fwe_clusters.labels) * spec.tests_per_cluster

    with progress_bar(total, "fail-safe N", unit="tests") as advance:
        def progress(line: str) -> None:
            LGR.debug(line)
            advance(1)

        result.failsafe = failsafe_n(
            result.fit, cluster_label_values(result.fit, result.fwe_clusters.label_img), result.spec.ale,
            voxel_p=inf.voxel_p, alpha=inf.fwe_alpha, n_iterations=spec.n_iterations or inf.n_iterations,
            seed=inf.seed, lower_multiple=spec.lower_multiple, upper_multiple=spec.upper_multiple, step=spec.step,
            noise_space=spec.noise_space, noise_counts=spec.noise_counts, tests_per_cluster=spec.tests_per_cluster,
            executor=ctx.executor, progress=progress)
    table = result.failsafe.table
    LGR.info("fail-safe N: %s", "; ".join(f"cluster {int(r.cluster_id)} {r.failsafe_n:.1f}" for r in
                                           table.itertuples()) or "no cluster")


def describe_failsafe(result: AnalysisResult, _ctx: StepContext) -> str:
    from ale_app.stats.failsafe import bounds

    # the fit and FWE clusters steps ran, and the spec asks for robustness (skip_robustness)
    assert result.spec.robustness is not None and result.fit is not None and result.fwe_clusters is not None
    spec = result.spec.robustness.failsafe
    lower, upper = bounds(len(result.fit.ids), spec.lower_multiple, spec.upper_multiple)
    n = len(result.fwe_clusters.labels)
    return (f"Fail-safe N of {plural(n, 'FWE cluster')}: {plural(n * spec.tests_per_cluster, 'test')} "
            f"({spec.tests_per_cluster} per cluster), each its own noise draw, noise experiments between 0 and "
            f"{upper} (staircases start at {lower}), smallest step {spec.step}")


def atlas_title(result: AnalysisResult) -> str:
    from ale_app.spec.atlases import ATLAS_TITLES

    return ATLAS_TITLES[result.spec.labels.atlas]
