"""The declared steps of a contrast (a version-2 spec): each group's own analysis, then the
difference of the two groups, its clusters and their jackknife, and the conjunction.

Each group runs the single-group steps (:data:`ale_app.run.steps.STEPS`, the release of its
MA maps apart: the contrast needs them) on its own version-1 spec. The steps here compute;
none reads or writes a file.
"""

from __future__ import annotations

import logging

from ale_app.result import ContrastResult
from ale_app.run.steps import STEPS, Step, StepContext, _cluster_label_values, _plural, made_by, progress_bar

LGR = logging.getLogger("ale_app")

#: The group steps: every single-group step but the release of the MA maps.
GROUP_STEPS = tuple(s for s in STEPS if s.name != "release")


def _label_table(result: ContrastResult) -> None:
    from ale_app.stats import labels as L

    cc = result.contrast_clusters
    if len(cc.table):
        table = cc.table.rename(columns={"ale_difference": "ale"})
        labelled = L.label_cluster_table(table, cc.label_img, result.spec.labels.atlas)
        cc.table = labelled.rename(columns={"ale": "ale_difference"})


def _difference(result: ContrastResult, _ctx: StepContext) -> None:
    from ale_app.stats import contrast as C

    first, second = result.first, result.second
    result.diff_values = C.difference_values(first.fit.stat_values, second.fit.stat_values)
    result.diff_threshold = C.difference_threshold(result.diff_values, result.spec.display.threshold_percentile)
    result.contrast_clusters = C.descriptive_clusters(
        result.diff_values, result.masker, result.diff_threshold, result.spec.jackknife.cluster_threshold_mm3,
        result.names)
    _label_table(result)
    LGR.info("%s of the difference above the display threshold %.6f",
             _plural(len(result.contrast_clusters.labels), "descriptive cluster"), result.diff_threshold)


def _fwe_mask(group):
    """In-mask booleans: where the group's own main effect passed cluster-level FWE."""
    return _cluster_label_values(group.fit, group.fwe_clusters.label_img) > 0


def _subtraction(result: ContrastResult, ctx: StepContext) -> None:
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
             _plural(len(result.contrast_clusters.labels), "cluster"), inf.fwe_alpha)


def _balanced(result: ContrastResult, ctx: StepContext) -> None:
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
             _plural(len(result.contrast_clusters.labels), "cluster"), inf.fwe_alpha)


def _describe_balanced(r, c) -> str:
    bal, n1, n2 = r.spec.contrast.balanced, len(r.first.evidence.ids), len(r.second.evidence.ids)
    target = bal.target_n or min(n1, n2)
    return (f"Balanced contrast {r.names[0]} - {r.names[1]} ({n1} vs {n2} experiments, subsamples of {target}): "
            f"{bal.subsamples} subsamples per group, {bal.difference_iterations} differences, "
            f"{bal.null_iterations} null draws, seed {r.spec.inference.seed}, on {c.executor.describe()}")


def _only_method(method: str):
    def skip(spec) -> str | None:
        if spec.mode != "inferential":
            return f"{spec.mode} mode"
        return None if spec.contrast.method == method else f"contrast.method {spec.contrast.method}"
    return skip


def _contrast_jackknife(result: ContrastResult, _ctx: StepContext) -> None:
    import pandas as pd

    from ale_app.stats import contrast as C
    from ale_app.stats.fwe_clusters import focus_counts

    cc = result.contrast_clusters
    label_values = _cluster_label_values(result.first.fit, cc.label_img)
    first, second = result.first, result.second
    tables, counts = [], []
    for group_name, group, other, sign, tail in ((result.names[0], first, second, 1.0, "positive"),
                                                  (result.names[1], second, first, -1.0, "negative")):
        labels = [k for k in cc.labels if cc.tail_of(k) == tail]
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


def _skip_contrast_jackknife(result: ContrastResult) -> str | None:
    if not result.spec.jackknife.enabled:
        return "disabled"
    if not result.contrast_clusters.labels:
        return "no clusters"
    return None


def _conjunction(result: ContrastResult, _ctx: StepContext) -> None:
    from ale_app.stats import contrast as C

    first, second = result.first, result.second
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


def _release(result: ContrastResult, _ctx: StepContext) -> None:
    for group in result.groups.values():
        group.fit.ma = None


def _only(mode: str):
    def skip(spec) -> str | None:
        return None if spec.mode == mode else f"{spec.mode} mode"
    return skip


#: Why a step does not run, from the spec alone (the steps whose running the spec decides).
SPEC_SKIPS = {"difference": _only("descriptive"), "subtraction": _only_method("subtraction"),
              "balanced": _only_method("balanced")}


#: The contrast's own steps, after every group's :data:`GROUP_STEPS`.
CONTRAST_STEPS: tuple[Step, ...] = (
    Step("difference", "difference", needs=("groups",), computes=("diff_values", "diff_threshold", "contrast_clusters"),
         run=_difference, skip=lambda r: SPEC_SKIPS["difference"](r.spec), report_section="contrast",
         describe=lambda r, _c: f"Comparing {r.names[0]} with {r.names[1]} (descriptive difference)"),
    Step("subtraction", "ALE subtraction", needs=("groups",),
         computes=("subtraction", "diff_values", "contrast_clusters"), run=_subtraction,
         skip=lambda r: SPEC_SKIPS["subtraction"](r.spec),
         report_section="contrast",
         describe=lambda r, c: (f"ALE subtraction {r.names[0]} - {r.names[1]}: {r.spec.inference.n_iterations} "
                                f"permutations, seed {r.spec.inference.seed}, on "
                                f"{c.executor.for_gil_free_code().describe()}")),
    Step("balanced", "balanced contrast", needs=("groups",),
         computes=("balanced", "diff_values", "contrast_clusters"), run=_balanced,
         skip=lambda r: SPEC_SKIPS["balanced"](r.spec), report_section="contrast", describe=_describe_balanced),
    Step("contrast-jackknife", "contrast jackknife", needs=("contrast_clusters",),
         computes=("contrast_jackknife", "contrast_focus_counts"), run=_contrast_jackknife,
         skip=_skip_contrast_jackknife, report_section="contrast",
         describe=lambda r, _c: f"Jackknife of {_plural(len(r.contrast_clusters.labels), 'contrast cluster')}"),
    Step("conjunction", "conjunction", needs=("groups",), computes=("conjunction_values", "conjunction_clusters"),
         run=_conjunction, skip=lambda r: None if r.spec.contrast.conjunction else "not asked for",
         report_section="conjunction", describe=lambda _r, _c: "Conjunction (minimum statistic)"),
    Step("release", "memory release", needs=("groups",), computes=(), run=_release),
)


def contrast_made_by(file_name: str, spec) -> str:
    """The step whose results the written file ``file_name`` of a contrast run (version-2
    ``spec``) shows, in words, as :func:`ale_app.run.steps.made_by` says it for one group: a
    group's file is named by its single-group step and the group (``"jackknife step of group
    a"``), a contrast file by the last contrast step that computes what its registry entry
    needs, else by the registry step that writes it."""
    from ale_app.outputs.contrast_registry import contrast_registry, group_prefix
    from ale_app.outputs.registry import PROVENANCE

    folder, _, base = file_name.rpartition("/")
    for group in spec.contrast.groups:
        prefix = group_prefix(group)
        if base.startswith(prefix):
            own = f"{folder}/{base[len(prefix):]}" if folder else base[len(prefix):]
            maker = made_by(own)
            if maker != "unknown":
                return f"{maker} step of group {group}"
    for entry in contrast_registry(spec):
        if file_name in entry.file_names():
            makers = [s for s in CONTRAST_STEPS if set(s.computes) & set(entry.needs)
                      and not (s.name in SPEC_SKIPS and SPEC_SKIPS[s.name](spec))]
            if makers:
                return f"{makers[-1].title} step"
            return f"{_WRITING_WORDS[entry.step]} step"
    return "provenance step" if file_name == PROVENANCE else "unknown step"


#: The registry's writing steps in words, for contrast files no compute step feeds.
_WRITING_WORDS = {"start": "start", "data": "input", "figures": "figure", "report": "report"}
