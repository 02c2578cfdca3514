"""The declared steps of an analysis, in the order a run takes them.

Each :class:`Step` says what it needs from the result (fields earlier steps computed), what it
computes (typed fields of :class:`~ale_app.result.AnalysisResult`), when it does not run and
why, and which report section it feeds; the registry entries it feeds are those whose
``needs`` it computes (:meth:`Step.outputs`). The workflow runs the steps in order
(``result = step(result)``), records each one's status in ``result.step_status`` (the report
reads it there) and hands ``result`` to the registry. Adding an analysis (a contrast, a
stability map) is a step here, its stats module, its result field and its registry entries.

Steps compute; none reads or writes a file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from ale_app.process.executor import Executor
from ale_app.run.progress import progress_bar
from ale_app.result import AnalysisResult

LGR = logging.getLogger("ale_app")


@dataclass
class StepContext:
    """What a step is handed besides the result: the executor its parallel work runs on."""

    executor: Executor = field(default_factory=Executor)


@dataclass(frozen=True)
class Step:
    """One declared step.

    Attributes
    ----------
    name : str
        The step's key (in ``result.step_status`` and the timings).
    title : str
        The step in words, for the log and a failure report ("the jackknife step failed").
    needs : tuple of str
        Result fields earlier steps computed that this one reads.
    computes : tuple of str
        Result fields this step sets.
    run : callable
        ``run(result, context)`` fills ``computes``; returns nothing.
    skip : callable
        ``skip(result)`` returns why the step does not run for this result (a short
        reason, recorded as its status), or None when it runs.
    describe : callable
        ``describe(result, context)``: what the step is about to do, for the log.
    report_section : str or None
        The report section its results appear in.
    """

    name: str
    title: str
    needs: tuple[str, ...]
    computes: tuple[str, ...]
    run: Callable[[AnalysisResult, StepContext], None]
    skip: Callable[[AnalysisResult], str | None] = lambda _r: None
    describe: Callable[[AnalysisResult, StepContext], str] | None = None
    report_section: str | None = None

    def outputs(self) -> list[str]:
        """The registry entries this step feeds (those whose ``needs`` it computes)."""
        from ale_app.outputs.registry import REGISTRY

        return [e.name for e in REGISTRY if set(e.needs) & set(self.computes)]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------- descriptive


def _fit_ale(result: AnalysisResult, _ctx: StepContext) -> None:
    from ale_app.stats import ale as A

    spec, evidence = result.spec, result.evidence
    with progress_bar(len(evidence.ids), "ALE") as advance:
        fit = A.fit_ale(evidence.studyset, spec.ale, progress=advance)
    result.fit = fit
    result.threshold = A.display_threshold(fit.stat_values, spec.display.threshold_percentile)
    result.peak = A.find_peak(fit.stat_img)
    LGR.info("peak ALE %.5f at (%g, %g, %g) mm; display threshold %.6f", result.peak.value, *result.peak.xyz,
             result.threshold)


def _find_clusters(result: AnalysisResult, _ctx: StepContext) -> None:
    from ale_app.stats import ale as A

    result.clusters = A.find_clusters(result.fit.stat_img, result.threshold,
                                      result.spec.jackknife.cluster_threshold_mm3)
    LGR.info("%s of at least %d voxels", _plural(len(result.clusters.labels), "descriptive cluster"),
             result.clusters.min_voxels)


def _label(result: AnalysisResult, _ctx: StepContext) -> None:
    from ale_app.stats import labels as L

    atlas = result.spec.labels.atlas
    result.peak_label = L.label_points([result.peak.xyz], atlas)[0]
    clusters = result.clusters
    clusters.table = L.label_cluster_table(clusters.table, clusters.label_img, atlas)


def _cluster_label_values(fit, label_img):
    import numpy as np

    return np.rint(fit.masker.transform(label_img)).astype(np.int32).ravel()


def _jackknife(result: AnalysisResult, ctx: StepContext) -> None:
    from ale_app.stats.jackknife import closed_form_contributions, refit_contributions

    spec, evidence, fit, clusters = result.spec, result.evidence, result.fit, result.clusters
    label_values = _cluster_label_values(fit, clusters.label_img)
    with progress_bar(len(fit.ids), "jackknife") as advance:
        if spec.jackknife.method == "closed-form":
            result.jackknife = closed_form_contributions(
                fit.ma, fit.ids, fit.stat_values, label_values, clusters.labels, evidence.ids, progress=advance)
        else:
            result.jackknife = refit_contributions(
                evidence.studyset, evidence.ids, spec.ale, fit.stat_values, label_values, clusters.labels,
                executor=ctx.executor, progress=advance)


def _skip_jackknife(result: AnalysisResult) -> str | None:
    if not result.spec.jackknife.enabled:
        return "disabled"
    if not result.clusters.labels:
        return "no clusters"
    return None


def _describe_jackknife(result: AnalysisResult, ctx: StepContext) -> str:
    method, n = result.spec.jackknife.method, len(result.fit.ids)
    if method == "refit":
        return f"Jackknife (refit): {n} leave-one-out refits on {ctx.executor.describe()}"
    return f"Jackknife ({method}): {n} experiments"


# --------------------------------------------------------------------------- inferential


def _not_inferential(result: AnalysisResult) -> str | None:
    return None if result.inferential else "descriptive mode"


def _montecarlo(result: AnalysisResult, ctx: StepContext) -> None:
    from ale_app.stats.montecarlo import montecarlo_fwe

    from ale_app.present.report import MIN_ITERATIONS

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


def _fwe_clusters(result: AnalysisResult, _ctx: StepContext) -> None:
    from ale_app.stats import labels as L
    from ale_app.stats.fwe_clusters import focus_counts, fwe_clusters
    from ale_app.stats.jackknife import closed_form_contributions

    spec, evidence, fit = result.spec, result.evidence, result.fit
    clusters = fwe_clusters(result.inference, fit.stat_img)
    clusters.table = L.label_cluster_table(clusters.table, clusters.label_img, spec.labels.atlas)
    result.fwe_clusters = clusters
    result.fwe_focus_counts = focus_counts(evidence.coordinates, clusters.label_img, clusters.labels, evidence.ids)
    if clusters.labels:
        label_values = _cluster_label_values(fit, clusters.label_img)
        result.fwe_jackknife = closed_form_contributions(
            fit.ma, fit.ids, fit.stat_values, label_values, clusters.labels, evidence.ids)
    inf = spec.inference
    LGR.info("%s passed cluster-level FWE at alpha %g (cluster-forming p < %g)",
             _plural(len(clusters.labels), "cluster"), inf.fwe_alpha, inf.voxel_p)


# --------------------------------------------------------------------------- robustness


def _skip_robustness(part: str):
    def skip(result: AnalysisResult) -> str | None:
        if not result.inferential:
            return "descriptive mode"
        robustness = result.spec.robustness
        if robustness is None or not getattr(robustness, part).enabled:
            return "not asked for"
        if part == "failsafe" and not result.fwe_clusters.labels:
            return "no FWE cluster"
        return None
    return skip


def _stability(result: AnalysisResult, ctx: StepContext) -> None:
    import numpy as np

    from ale_app.stats.stability import resampled_stability, resolve_subset_size

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
            cluster_labels=_cluster_label_values(result.fit, result.fwe_clusters.label_img),
            executor=ctx.executor, progress=advance)
    st = result.stability
    LGR.info("stability: %d subsets of %d experiments; clusters above %.1f voxels (null's %g%% point)",
             st.n_subsets, st.subset_size, st.cluster_size_threshold, 100 * (1 - inf.fwe_alpha))


def _n_choose(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


def _describe_stability(result: AnalysisResult, ctx: StepContext) -> str:
    spec, inf = result.spec.robustness.stability, result.spec.inference
    size = spec.subset_size or len(result.fit.ids) - 1
    return (f"Subsampling stability: subsets of {size} experiments, {inf.n_iterations} null draws, seed {inf.seed}, "
            f"on {ctx.executor.for_gil_free_code().describe()}")


def _failsafe(result: AnalysisResult, ctx: StepContext) -> None:
    from ale_app.stats.failsafe import failsafe_n

    spec, inf = result.spec.robustness.failsafe, result.spec.inference
    total = len(result.fwe_clusters.labels) * spec.tests_per_cluster

    with progress_bar(total, "fail-safe N", unit="tests") as advance:
        def progress(line: str) -> None:
            LGR.debug(line)
            advance(1)

        result.failsafe = failsafe_n(
            result.fit, _cluster_label_values(result.fit, result.fwe_clusters.label_img), result.spec.ale,
            voxel_p=inf.voxel_p, alpha=inf.fwe_alpha, n_iterations=spec.n_iterations or inf.n_iterations,
            seed=inf.seed, lower_multiple=spec.lower_multiple, upper_multiple=spec.upper_multiple, step=spec.step,
            noise_space=spec.noise_space, noise_counts=spec.noise_counts, tests_per_cluster=spec.tests_per_cluster,
            executor=ctx.executor, progress=progress)
    table = result.failsafe.table
    LGR.info("fail-safe N: %s", "; ".join(f"cluster {int(r.cluster_id)} {r.failsafe_n:.1f}" for r in
                                           table.itertuples()) or "no cluster")


def _describe_failsafe(result: AnalysisResult, _ctx: StepContext) -> str:
    from ale_app.stats.failsafe import bounds

    spec = result.spec.robustness.failsafe
    lower, upper = bounds(len(result.fit.ids), spec.lower_multiple, spec.upper_multiple)
    n = len(result.fwe_clusters.labels)
    return (f"Fail-safe N of {_plural(n, 'FWE cluster')}: {_plural(n * spec.tests_per_cluster, 'test')} "
            f"({spec.tests_per_cluster} per cluster), each its own noise draw, noise experiments between 0 and "
            f"{upper} (staircases start at {lower}), smallest step {spec.step}")


def _release_ma_maps(result: AnalysisResult, _ctx: StepContext) -> None:
    result.fit.ma = None


#: The compute steps, in order. The registry's "data", "figures" and "report" steps then
#: write what they computed.
STEPS: tuple[Step, ...] = (
    Step("ale", "ALE fit", needs=("evidence",), computes=("fit", "threshold", "peak"), run=_fit_ale,
         describe=lambda r, _c: f"Fitting ALE on {len(r.evidence.ids)} experiments", report_section="ale"),
    Step("clusters", "cluster", needs=("fit", "threshold"), computes=("clusters",), run=_find_clusters,
         describe=lambda _r, _c: "Finding descriptive clusters", report_section="ale"),
    Step("labels", "anatomical labelling", needs=("peak", "clusters"), computes=("peak_label",), run=_label,
         describe=lambda r, _c: f"Labelling the peak and clusters ({_atlas_title(r)})", report_section="ale"),
    Step("jackknife", "jackknife", needs=("fit", "clusters"), computes=("jackknife",), run=_jackknife,
         skip=_skip_jackknife, describe=_describe_jackknife, report_section="jackknife"),
    Step("inference", "Monte Carlo inference", needs=("fit",), computes=("inference",), run=_montecarlo,
         skip=_not_inferential, report_section="inference",
         describe=lambda r, c: (f"Monte Carlo FWE: {r.spec.inference.n_iterations} iterations, seed "
                                f"{r.spec.inference.seed}, on {c.executor.for_gil_free_code().describe()}")),
    Step("fwe-clusters", "FWE cluster", needs=("fit", "inference"),
         computes=("fwe_clusters", "fwe_focus_counts", "fwe_jackknife"), run=_fwe_clusters, skip=_not_inferential,
         describe=lambda _r, _c: "Describing the clusters that passed cluster-level FWE", report_section="inference"),
    Step("stability", "subsampling stability", needs=("fit", "inference", "fwe_clusters"), computes=("stability",),
         run=_stability, skip=_skip_robustness("stability"), describe=_describe_stability,
         report_section="inference"),
    Step("failsafe", "fail-safe N", needs=("fit", "fwe_clusters"), computes=("failsafe",), run=_failsafe,
         skip=_skip_robustness("failsafe"), describe=_describe_failsafe, report_section="inference"),
    # The MA maps (the largest arrays of a run) are not needed to draw or write anything.
    Step("release", "memory release", needs=("fit",), computes=(), run=_release_ma_maps),
)


def _atlas_title(result: AnalysisResult) -> str:
    from ale_app.spec.atlases import ATLAS_TITLES

    return ATLAS_TITLES[result.spec.labels.atlas]


#: The registry's writing steps in words, for files no compute step feeds.
_WRITING = {"start": "start", "data": "input", "figures": "figure", "report": "report"}


def made_by(file_name: str) -> str:
    """The step whose results the written file ``file_name`` shows, in words (``--verify``
    names it beside a file that differs): the last declared step that computes what the
    file's registry entry needs, else the registry step that writes it."""
    from ale_app.outputs.registry import PROVENANCE, REGISTRY

    for entry in REGISTRY:
        if file_name in entry.file_names():
            makers = [s for s in STEPS if set(s.computes) & set(entry.needs)]
            return makers[-1].title if makers else _WRITING[entry.step]
    return "provenance" if file_name == PROVENANCE else "unknown"


def step_named(name: str) -> Step:
    """The declared step called ``name``."""
    return next(s for s in STEPS if s.name == name)
