"""The steps of a contrast between two groups: the difference (descriptive), the ALE
subtraction or the balanced contrast (inferential), the difference's jackknife and the
conjunction. Each works on the contrast's :class:`~ale_app.result.ContrastResult`, after
both groups' own steps (:mod:`ale_app.run.main_effect`); the table that orders them is
:data:`ale_app.run.steps.STEPS`. None reads or writes a file.
"""

from __future__ import annotations

import logging

from ale_app.result import ContrastResult
from ale_app.run.main_effect import cluster_label_values, skip_jackknife_of
from ale_app.run.progress import progress_bar
from ale_app.run.step import StepContext, plural

LGR = logging.getLogger("ale_app")


def _label_table(result: ContrastResult) -> None:
    from ale_app.stats import labels as L

    cc = result.contrast_clusters
    assert cc is not None  # the difference or inferential contrast step ran
    if len(cc.table):
        table = cc.table.rename(columns={"ale_difference": "ale"})
        labelled = L.label_cluster_table(table, cc.label_img, result.spec.labels.atlas)
        cc.table = labelled.rename(columns={"ale": "ale_difference"})


def difference(result: ContrastResult, _ctx: StepContext) -> None:
    from ale_app.stats import contrast as C

    first, second = result.first, result.second
    assert first.fit is not None and second.fit is not None  # both groups' fit steps ran
    result.diff_values = C.difference_values(first.fit.stat_values, second.fit.stat_values)
    result.diff_threshold = C.difference_threshold(result.diff_values, result.spec.display.threshold_percentile)
    result.contrast_clusters = C.descriptive_clusters(
        result.diff_values, result.masker, result.diff_threshold, result.spec.jackknife.cluster_threshold_mm3,
        result.names)
    _label_table(result)
    LGR.info("%s of the difference above the display threshold %.6f",
             plural(len(result.contrast_clusters.labels), "descriptive cluster"), result.diff_threshold)


def _fwe_mask(group):
    """In-mask booleans: where the group's own main effect passed cluster-level FWE."""
    return cluster_label_values(group.fit, group.fwe_clusters.label_img) > 0


def subtraction(result: ContrastResult, ctx: StepContext) -> None:
    from ale_app.stats import contrast as C
    from ale_app.stats.subtraction import fit_subtraction

    inf = result.spec.inference
    first, second = result.first, result.second
    masks = (_fwe_mask(first), _fwe_mask(second))
    with progress_bar(inf.n_iterations, "permutations", "iterations") as advance:
        sub = fit_subtraction(first.fit, second.fit, n_iterations=inf.n_iterations, seed=inf.seed,
                              voxel_p=inf.voxel_p, inference_mask1=masks[0], inference_mask2=masks[1],
                              executor=ctx.executor, progress=advance)
    result.subtraction = sub
    result.diff_values = sub.diff_values
    result.contrast_clusters = C.inferential_clusters(
        sub.diff_values, sub.p_cluster_size_fwe_values, result.masker, inf.fwe_alpha, inf.n_iterations,
        result.names, masks)
    _label_table(result)
    LGR.info("%s of the difference passed cluster-level FWE at alpha %g",
             plural(len(result.contrast_clusters.labels), "cluster"), inf.fwe_alpha)


def balanced(result: ContrastResult, ctx: StepContext) -> None:
    from ale_app.stats import contrast as C
    from ale_app.stats.balanced import fit_balanced

    inf, bal = result.spec.inference, result.spec.contrast.balanced
    first, second = result.first, result.second
    masks = (_fwe_mask(first), _fwe_mask(second))
    with progress_bar(3 * bal.null_iterations, "balanced null draws") as advance:
        res = fit_balanced(first.fit, second.fit, target_n=bal.target_n, n_subsamples=bal.subsamples,
                           difference_iterations=bal.difference_iterations, n_iterations=bal.null_iterations,
                           voxel_p=inf.voxel_p, alpha=inf.fwe_alpha, mask_coverage=bal.mask_coverage,
                           seed=inf.seed, executor=ctx.executor, progress=lambda _stage, n: advance(n))
    result.balanced = res
    result.diff_values = res.diff_values
    # A voxel passes where its balanced p (against the null extremes) is below alpha.
    result.contrast_clusters = C.inferential_clusters(
        res.diff_values, res.p_values, result.masker, inf.fwe_alpha, bal.null_iterations, result.names, masks)
    _label_table(result)
    LGR.info("%s of the balanced difference passed (alpha %g against the null extremes)",
             plural(len(result.contrast_clusters.labels), "cluster"), inf.fwe_alpha)


def describe_balanced(r, c) -> str:
    bal, n1, n2 = r.spec.contrast.balanced, len(r.first.evidence.ids), len(r.second.evidence.ids)
    target = bal.target_n or min(n1, n2)
    return (f"Balanced contrast {r.names[0]} - {r.names[1]} ({n1} vs {n2} experiments, subsamples of {target}): "
            f"{bal.subsamples} subsamples per group, {bal.difference_iterations} differences, "
            f"{bal.null_iterations} null draws, seed {r.spec.inference.seed}, on {c.executor.describe()}")


def only_method(method: str):
    """The spec skip of an inferential contrast method's step: it runs in inferential mode
    with ``contrast.method`` ``method``."""
    def skip(mode: str, contrast) -> str | None:
        if mode != "inferential":
            return f"{mode} mode"
        return None if contrast.method == method else f"contrast.method {contrast.method}"
    return skip


def contrast_jackknife(result: ContrastResult, _ctx: StepContext) -> None:
    import pandas as pd

    from ale_app.stats import contrast as C
    from ale_app.stats.fwe_clusters import focus_counts

    cc = result.contrast_clusters
    assert cc is not None  # the contrast's clusters step ran
    label_values = cluster_label_values(result.first.fit, cc.label_img)
    first, second = result.first, result.second
    tables, counts = [], []
    for group_name, group, other, sign, tail in ((result.names[0], first, second, 1.0, "positive"),
                                                  (result.names[1], second, first, -1.0, "negative")):
        labels = [k for k in cc.labels if cc.tail_of(k) == tail]
        assert group.fit is not None and other.fit is not None  # both groups' fit steps ran
        table = C.contrast_jackknife(group.fit.ma, group.fit.ids, group.fit.stat_values, other.fit.stat_values,
                                     sign, label_values, labels, group.evidence.ids)
        table.insert(1, "group", group_name)
        tables.append(table)
        fc = focus_counts(group.evidence.coordinates, cc.label_img, labels, group.evidence.ids)
        fc.insert(1, "group", group_name)
        counts.append(fc)
    columns = ["id", "group"] + [f"cluster_{k}" for k in cc.labels]
    result.contrast_jackknife = pd.concat(tables, ignore_index=True).reindex(columns=columns + ["mean"])
    result.contrast_focus_counts = pd.concat(counts, ignore_index=True).reindex(columns=columns + ["total"])


skip_contrast_jackknife = skip_jackknife_of("contrast_clusters")


def conjunction(result: ContrastResult, _ctx: StepContext) -> None:
    from ale_app.stats import contrast as C

    first, second = result.first, result.second
    assert first.fit is not None and second.fit is not None  # both groups' fit steps ran
    if result.inferential:
        in1, in2 = _fwe_mask(first), _fwe_mask(second)
    else:
        in1 = first.fit.stat_values > first.threshold
        in2 = second.fit.stat_values > second.threshold
    result.conjunction_values = C.conjunction_values(first.fit.stat_values, second.fit.stat_values, in1, in2)
    result.conjunction_clusters = C.conjunction_clusters(
        result.conjunction_values, result.masker, result.spec.jackknife.cluster_threshold_mm3)
    if result.conjunction_clusters.labels:
        from ale_app.stats import labels as L

        clusters = result.conjunction_clusters
        clusters.table = L.label_cluster_table(clusters.table, clusters.label_img, result.spec.labels.atlas)


def only_mode(mode: str):
    """The spec skip of a step that runs in ``mode`` alone."""
    def skip(spec_mode: str, _contrast) -> str | None:
        return None if spec_mode == mode else f"{spec_mode} mode"
    return skip
