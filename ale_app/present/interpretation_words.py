"""The short interpretation of every analysis a project holds (about 150 words: what was
tested, what passed, the strongest result, the robustness verdict, the caveats), written from
its tables: a group's (:func:`group_interpretation`), a contrast's
(:func:`contrast_interpretation`) and a project's (:func:`project_interpretation`). The
details, cluster by cluster, are in :mod:`ale_app.present.detail_words` and the tables.

The words here describe; they never infer outside inferential mode. ``FORBIDDEN_PHRASES``
lists the inferential phrases that must not appear in descriptive output; the tests scan the
report and CITATION.md for them.
"""

from __future__ import annotations

import math

from ale_app.present.caveats import caveats_sentence, few_experiments_caveat
from ale_app.present.dependence import cluster_dependence, contrast_cluster_dependence, dominant_analyses
from ale_app.present.detail_words import borderline_clusters, empty_directional_words
from ale_app.present.html_parts import CONTRAST_PREFIX, DESCRIPTIVE_PREFIX, FWE_PREFIX
from ale_app.present.phrases import group_line, mm3, p_text, permutation_p_text, plural, standalone_groups
from ale_app.present.report_view import ReportInputs, fmt_xyz

__all__ = ["FORBIDDEN_PHRASES", "contrast_interpretation", "empty_directional_words", "group_interpretation",
           "project_interpretation"]

FORBIDDEN_PHRASES = (
    "significant",
    "significantly",
    "activation was found",
    "evidence for convergence",
    "reliable convergence",
    "p <",
    "fwe",
    "corrected",
)


def _span(prefix: str, n: int) -> str:
    return f"{prefix}1" if n == 1 else f"{prefix}1 and {prefix}2" if n == 2 else f"{prefix}1 to {prefix}{n}"


def _dependence_verdict(deps: list[dict], what: str) -> str:
    """How many clusters rest on one or two experiments (named in the details)."""
    one = sum(d["rests_on"] == 1 for d in deps)
    two = sum(d["rests_on"] == 2 for d in deps)
    if not one and not two:
        return f"none of the {plural(len(deps), what)} rests on one or two experiments"
    said = [f"{one} of the {plural(len(deps), what)} rest{'s' if one == 1 else ''} on one experiment"] if one else []
    if two:
        said.append(f"{two}{'' if one else f' of the {plural(len(deps), what)}'} on two")
    return " and ".join(said) + " (named below), so these should not be described as convergence across experiments"


def _robustness(jackknife, r: ReportInputs, prefix: str, what: str) -> str:
    """The robustness verdict of a leave-one-out table: the dominant experiment, if any, and
    how many clusters rest on one or two experiments."""
    deps = cluster_dependence(jackknife, prefix)
    dominant = dominant_analyses(jackknife, r.dominance_ratio, r.dominance_min)
    means = jackknife.set_index("id")["mean"].astype(float)
    if dominant:
        median = float(means.median())
        places = max(2, -math.floor(math.log10(median))) if median > 0 else 2
        named = ", ".join(f"{d} (mean {means[d]:.{places}f})" for d in dominant)
        lead = (f"the pattern leans on {named}, on average at least {r.dominance_ratio:g} times the median "
                f"experiment's drop in ALE ({median:.{places}f}); ")
    else:
        lead = "no single experiment dominates on average; "
    return "In a leave-one-out jackknife, " + lead + _dependence_verdict(deps, what) + "."


def _description(r: ReportInputs) -> list[str]:
    parts = [f"The raw ALE statistic map of {r.n_experiments} experiments from {r.n_studies} studies ({r.n_foci} "
             "reported foci) was inspected descriptively."]
    parts.append(few_experiments_caveat({"": r.n_experiments}, None, False))
    if r.peak_value is not None:
        where = f", in {r.peak_label}" if r.peak_label else ""
        parts.append(f"Its largest value, {r.peak_value:.4f}, lies at {fmt_xyz(r.peak_xyz)}{where}.")
    if r.threshold is not None:
        k = r.n_clusters
        found = (f"{plural(k, 'descriptive cluster')} ({_span(DESCRIPTIVE_PREFIX, k)}) of at least "
                 f"{r.cluster_threshold_mm3:g} mm3 remained" if k else
                 f"no descriptive cluster of at least {r.cluster_threshold_mm3:g} mm3 remained")
        parts.append(f"Above a display-only threshold ({r.threshold:.5f}, the {r.threshold_percentile:g}th percentile "
                     f"of nonzero in-brain values; not statistical), {found}"
                     + ("; the peak lies in none of them." if k and r.peak_in_cluster is False else "."))
    if r.jackknife_status == "disabled":
        parts.append("No leave-one-out jackknife was run, so this report does not say how much each experiment "
                     "drives the pattern.")
    elif r.jackknife is not None and len(r.jackknife) and r.n_clusters:
        parts.append(_robustness(r.jackknife, r, DESCRIPTIVE_PREFIX, "descriptive cluster"))
    return parts


def _inference(r: ReportInputs) -> list[str]:
    f = r.inference
    assert f is not None  # inferential mode only
    n_it = f["n_iterations"]
    parts = [f"Inference was declared before the run: in {r.n_experiments} experiments from {r.n_studies} studies "
             f"({r.n_foci} foci), clusters of voxels above an uncorrected p < {f['voxel_p']:g} (ALE > "
             f"{f['cluster_forming_ale']:.5f}) were tested against the largest clusters of {n_it:,} Monte Carlo "
             f"iterations of random foci (seed {f['seed']}), at a cluster-level family-wise error rate of "
             f"{f['alpha']:g}."]
    table = r.fwe_table
    if not f["n_clusters"] or table is None or not len(table):
        parts.append(f"No cluster passed cluster-level FWE at {f['alpha']:g}, so no location is claimed to show "
                     "convergence beyond chance.")
    else:
        mains = table[table["peak"] == "main"]
        n = len(mains)
        top = mains.loc[mains["size_mm3"].astype(float).idxmax()]
        region = f", {top['region']}" if isinstance(top.get("region"), str) else ""
        held = sum(bool(d) for d in (r.fwe_in_descriptive or {}).values())
        parts.append(f"{plural(n, 'cluster')} showed significant convergence ({_span(FWE_PREFIX, n)}); the largest, "
                     f"{FWE_PREFIX}{int(top['cluster_id'])} ({float(top['size_mm3']):,.0f} mm3, "
                     f"{p_text(float(top['p_fwe']), n_it).split(' (')[0]}), peaks at {fmt_xyz((top['x'], top['y'], top['z']))}"
                     f"{region}."
                     + ("" if r.fwe_in_descriptive is None else
                        f" {'It lies' if n == 1 else 'Each lies'} within a descriptive cluster cut at the display "
                        "threshold (which: below)." if held == n else
                        f" {held} of the {n} lie within descriptive clusters cut at the display threshold, "
                        f"{n - held} outside every one (which: below)."))
        border = borderline_clusters(f.get("all_clusters"), f["alpha"])
        if len(border):
            parts.append(f"{plural(len(border), 'cluster')} {'lies' if len(border) == 1 else 'lie'} within one Monte "
                         f"Carlo standard error of alpha (named below).")
        if r.fwe_jackknife is not None and len(r.fwe_jackknife):
            parts.append(_robustness(r.fwe_jackknife, r, FWE_PREFIX, "FWE cluster"))
    parts.append(caveats_sentence({"": r.n_experiments}, (n_it, "Monte Carlo iterations"),
                                  {"": r.assumed_spaces}))
    parts.append("The description below uses a display threshold that is not a test.")
    return parts


def group_interpretation(r: ReportInputs) -> str:
    """A group's short interpretation, written from the results (PRODUCT.md's contract). In
    inferential mode the test comes first and the description is called one."""
    if r.mode == "inferential":
        if r.inference is None:
            return "The spec declared inferential mode, but the inference did not finish, so nothing here is a test."
        return " ".join(p for p in _inference(r) if p)
    parts = _description(r)
    parts.append(caveats_sentence(spaces_by_group={"": r.assumed_spaces}))
    if r.failed_step:
        parts.append(f"The run stopped during the {r.failed_step} step, so later results are missing.")
    parts.append("These results summarise where the included coordinates tended to be reported; they are a "
                 "description, not a test.")
    return " ".join(p for p in parts if p)


def _contrast_test(result, n_pos: int, n_neg: int) -> list[str]:
    a, b = result.names
    inf = result.spec.inference
    passed = (f"{plural(n_pos, 'cluster')} where {a} converged more than {b} and {plural(n_neg, 'cluster')} where {b} "
              f"converged more than {a} passed")
    if result.balanced is not None:
        bal = result.balanced
        return [f"In the balanced contrast (subsamples of {bal.target_n} experiments from each group, "
                f"{bal.difference_iterations:,} balanced differences, {bal.n_iterations:,} random-foci null draws, "
                f"seed {inf.seed}, alpha {inf.fwe_alpha:g}), "
                + ("no cluster of the balanced difference passed." if n_pos + n_neg == 0 else
                   passed + " (their balanced difference beyond the null's extremes).")]
    sub = result.subtraction
    rule = (f"clusters formed where the absolute difference exceeds the {1 - inf.voxel_p:g} quantile of all permuted "
            "absolute differences" + ("" if sub is None else f" ({sub.cluster_forming_threshold:.4g})"))
    return [f"In the ALE subtraction ({inf.n_iterations:,} permutations of the group labels, seed {inf.seed}; {rule}; "
            f"cluster-level FWE alpha {inf.fwe_alpha:g}), "
            + ("no cluster of the difference passed cluster-level FWE." if n_pos + n_neg == 0 else
               passed + " cluster-level FWE.")]


def contrast_interpretation(result) -> str:
    """A contrast's short interpretation: the groups, the test (or the description), how many
    clusters, the strongest, their dependence on single experiments, the conjunction, caveats."""
    a, b = result.names
    cc = result.contrast_clusters
    text = [f"This analysis compared {group_line(a, result.first)} with {group_line(b, result.second)}."]
    if cc is None:
        text.append("The comparison did not finish.")
        return " ".join(text)
    n_pos, n_neg = len(cc.positive.clusters.labels), len(cc.negative.clusters.labels)
    if result.inferential:
        text += _contrast_test(result, n_pos, n_neg)
        mains = cc.table[cc.table["peak"] == "main"] if len(cc.table) else cc.table
        if len(mains):
            top = mains.loc[mains["size_mm3"].astype(float).idxmax()]
            favours = a if top["tail"] == "positive" else b
            n_null = result.balanced.n_iterations if result.balanced is not None else result.spec.inference.n_iterations
            draws = "null draws" if result.balanced is not None else "permutations"
            text.append(f"The largest, {CONTRAST_PREFIX}{int(top['cluster_id'])} ({favours} > {b if favours == a else a}, "
                        f"{int(top['size_mm3']):,} mm3, peak at ({top['x']:.0f}, {top['y']:.0f}, {top['z']:.0f}) mm), "
                        f"has {permutation_p_text(float(top['p_fwe']), n_null, draws).split(' (')[0]}.")
        if result.balanced is None:
            text.extend(empty_directional_words(result))
    else:
        text.append(f"The ALE difference ({a} minus {b}) was inspected descriptively: above a display-only threshold "
                    f"(|difference| > {result.diff_threshold:.4g}, the {result.spec.display.threshold_percentile:g}th "
                    f"percentile of the nonzero absolute differences; not statistical), {plural(n_pos, 'cluster')} "
                    f"showed a higher ALE in {a} and {plural(n_neg, 'cluster')} a higher ALE in {b}.")
    dependence = contrast_cluster_dependence(result)
    if dependence:
        resting = sum(d["rests_on_one"] for d in dependence)
        text.append(f"{resting} of the {plural(len(dependence), 'contrast cluster')} rest{'s' if resting == 1 else ''} "
                    "on a single experiment (named below)." if resting else
                    "No contrast cluster rests on a single experiment.")
    if result.conjunction_clusters is not None:
        k = len(result.conjunction_clusters.labels)
        size = f" of at least {mm3(result.spec.jackknife.cluster_threshold_mm3)}"
        if result.inferential:
            text.append(f"Both groups' own clusters that passed cluster-level FWE overlap in {plural(k, 'region')}{size} "
                        "(conjunction, minimum statistic)." if k else "The two groups' own clusters that passed "
                        f"cluster-level FWE do not overlap in any region{size} (conjunction).")
        else:
            text.append(f"Both groups' ALE maps lie above their own display-only thresholds together in "
                        f"{plural(k, 'region')}{size} (a descriptive conjunction)." if k else f"No region{size} lies above "
                        "both groups' display-only thresholds (descriptive conjunction).")
    n1, n2 = len(result.first.evidence.ids), len(result.second.evidence.ids)
    from ale_app.present.caveats import assumed_spaces

    iterations = None
    if result.inferential:
        iterations = ((result.balanced.n_iterations, "null draws") if result.balanced is not None else
                      (result.spec.inference.n_iterations, "permutations"))
    text.append(caveats_sentence({a: n1, b: n2}, iterations,
                                 {name: assumed_spaces(g.evidence) for name, g in result.groups.items()},
                                 None if result.balanced is not None else (a, n1, b, n2)))
    return " ".join(t for t in text if t)


def project_interpretation(result, inputs: dict) -> str:
    """Each contrast's interpretation, then each group's that no contrast reads."""
    parts = [f"Contrast {label}: {contrast_interpretation(c)}" for label, c in result.contrasts.items()]
    parts += [f"Group {name}: {group_interpretation(inputs[name])}" for name in standalone_groups(result)]
    return " ".join(parts)
