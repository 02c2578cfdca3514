"""The interpretation of every analysis a project holds, sentence by sentence from its
tables: a group's (:func:`group_interpretation`, with the inference paragraph and its caveats
in inferential mode), a contrast's (:func:`contrast_interpretation`) and a project's
(:func:`project_interpretation`).

The words here describe; they never infer outside inferential mode. ``FORBIDDEN_PHRASES``
lists the inferential phrases that must not appear in descriptive output; the tests scan the
report and CITATION.md for them.
"""

from __future__ import annotations

import math

import pandas as pd

from ale_app.constants import MIN_EXPERIMENTS_FOR_INFERENCE, MIN_ITERATIONS
from ale_app.present.dependence import (DEPENDENCE_RULE, NAMED, RESTS_ON, cluster_dependence,
                                        contrast_cluster_dependence, dependence_text, dominant_analyses)
from ale_app.present.html_parts import CONTRAST_PREFIX, DESCRIPTIVE_PREFIX, FWE_PREFIX
from ale_app.present.phrases import group_line, mm3, p_text, permutation_p_text, plural, standalone_groups
from ale_app.present.report_view import ReportInputs, fmt_xyz


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


def borderline_clusters(all_clusters: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Clusters (passed or not) whose cluster-size FWE p lies within one Monte Carlo standard
    error of ``alpha``: another seed could decide them the other way."""
    if all_clusters is None or not len(all_clusters):
        return pd.DataFrame()
    p = all_clusters["p_fwe_size"].astype(float)
    se = all_clusters["p_fwe_size_se"].astype(float)
    return all_clusters[(p - alpha).abs() <= se]


def _descriptive_parts(r: ReportInputs) -> list[str]:
    """The descriptive sentences of the paragraph (both modes)."""
    opening = ("The raw ALE statistic map of " if r.mode == "descriptive" else
               "Beside that test, the raw ALE statistic map of ")
    parts = [
        f"{opening}{r.n_experiments} experiments from {r.n_studies} studies "
        f"({r.n_foci} reported foci) was inspected descriptively.",
    ]
    if r.mode == "descriptive" and r.n_experiments < MIN_EXPERIMENTS_FOR_INFERENCE:
        parts.append(
            f"With fewer than {MIN_EXPERIMENTS_FOR_INFERENCE} experiments, voxelwise inference would not "
            "be reliable at this size, so no z or p maps were computed or interpreted."
        )
    if r.peak_value is not None:
        where = f"; atlas region: {r.peak_label}" if r.peak_label else ""
        parts.append(f"The largest ALE value, {r.peak_value:.4f}, lies at {fmt_xyz(r.peak_xyz)}{where}.")
    if r.threshold is not None:
        parts.append(
            f"The map was drawn above {r.threshold:.5f}, the {r.threshold_percentile:g}th percentile of "
            "the nonzero in-brain ALE values. This threshold is not statistical: it makes the picture readable, "
            "and it also defines the descriptive clusters and so every jackknife number below, which would "
            "change with it."
        )
        n_clusters = r.n_clusters
        parts.append(
            f"Above it, {n_clusters} descriptive cluster{'s' if n_clusters != 1 else ''} "
            f"(D1{'' if n_clusters == 1 else ' and D2' if n_clusters == 2 else f' to D{n_clusters}'}) of at least "
            f"{r.cluster_threshold_mm3:g} mm3 remained." if n_clusters else
            f"Above it, no descriptive cluster of at least {r.cluster_threshold_mm3:g} mm3 remained."
        )
        if r.peak_in_cluster is False:
            parts.append(
                f"The peak itself lies in a patch smaller than {r.cluster_threshold_mm3:g} mm3, so it belongs to "
                "none of them."
            )
    if r.jackknife_status == "disabled":
        parts.append("No leave-one-out jackknife was run (jackknife.enabled: false), so this report does not "
                     "say how much each experiment drives the pattern.")
    elif r.jackknife_status == "no clusters":
        parts.append("No descriptive cluster remained, so the leave-one-out jackknife had nothing to attribute "
                     "and was not run.")
    if r.jackknife is not None and len(r.jackknife) and r.n_clusters:
        means = r.jackknife.set_index("id")["mean"].astype(float)
        # Two decimals, or as many as the median needs to show a digit (0.0004 at 906 experiments).
        median = float(means.median())
        places = max(2, -math.floor(math.log10(median))) if median > 0 else 2
        parts.append(
            "A leave-one-out jackknife removed each experiment in turn; the mean drop in ALE across "
            f"clusters ranged from {means.min():.{places}f} to {means.max():.{places}f} (median {median:.{places}f})."
        )
        dominant = dominant_analyses(r.jackknife, r.dominance_ratio, r.dominance_min)
        deps = cluster_dependence(r.jackknife, DESCRIPTIVE_PREFIX)
        if dominant:
            named = ", ".join(f"{d} (mean {means[d]:.{places}f})" for d in dominant)
            subject = f"on {named}: leaving it out" if len(dominant) == 1 else (
                f"on each of {named}: leaving any one of them out")
            parts.append(
                f"On average over the clusters, the pattern leans {subject} lowers the ALE values in the clusters "
                f"at least {r.dominance_ratio:g} times as much as leaving out the median experiment, so the pattern "
                "should not be described as stable without it."
            )
        elif not any(d["rests_on"] for d in deps):
            parts.append("No single experiment dominates the descriptive clusters, on average or in any one cluster.")
        else:
            parts.append("No experiment's mean contribution meets the dominance rule, but the average hides single "
                         "clusters.")
        parts.append(dependence_text(deps, "descriptive clusters"))
    if r.failed_step:
        parts.append(f"The run stopped during the {r.failed_step} step, so later results are missing.")
    return parts


def group_interpretation(r: ReportInputs) -> str:
    """The interpretation paragraph, written from the results (PRODUCT.md's contract). In
    inferential mode the test comes first; the description follows and is called one."""
    parts = _descriptive_parts(r)
    if r.mode == "inferential":
        parts.append(
            "These descriptive results summarise where the included coordinates tended to be reported; the "
            "cluster-level FWE inference is the only test in this report."
        )
        lead = inference_text(r) if r.inference is not None else (
            "The spec declared inferential mode, but the inference did not finish, so nothing here is a test.")
        rest = " ".join(parts)
        if DEPENDENCE_RULE in lead:  # the rule is stated once, where it is first used
            rest = rest.replace(" " + DEPENDENCE_RULE, "").replace(DEPENDENCE_RULE, "")
        return lead + " " + rest
    parts.append(
        "These results summarise where the included coordinates tended to be reported; they are a "
        "description, not a test."
    )
    return " ".join(parts)


def inference_caveats(r: ReportInputs) -> list[str]:
    """The sentences the evidence calls for before any cluster is named: too few experiments
    (below :data:`MIN_EXPERIMENTS_FOR_INFERENCE`) and too few iterations (below
    :data:`MIN_ITERATIONS`)."""
    assert r.inference is not None  # inferential mode only
    f = r.inference
    out = []
    if r.n_experiments < MIN_EXPERIMENTS_FOR_INFERENCE:
        out.append(
            f"With {r.n_experiments} experiments, fewer than the {MIN_EXPERIMENTS_FOR_INFERENCE} that Eickhoff et al. "
            f"(2016) found ALE needs (inference.min_experiments was lowered to {f.get('min_experiments', '?')}), this "
            "inference has little power and a cluster that passes may rest on one or two experiments; read it as "
            "exploratory.")
    n = f["n_iterations"]
    if n < MIN_ITERATIONS:
        out.append(
            f"Only {n:,} Monte Carlo iterations were run, fewer than {MIN_ITERATIONS:,}: the smallest FWE p they "
            f"can give is {1 / n:.2g} and each p carries a Monte Carlo standard error of up to {0.5 / math.sqrt(n):.3f}, "
            "so the FWE p-values are coarse.")
    return out


def inference_text(r: ReportInputs) -> str:
    """The inferential paragraph (inferential mode): what was tested, at which level, what
    passed, which clusters are borderline and which rest on one or two experiments.
    Inferential words are used only for clusters that passed."""
    assert r.inference is not None  # inferential mode only
    f = r.inference
    n_it = f["n_iterations"]
    parts = [
        "Inference was declared in the spec before the run (mode: inferential). Voxels were thresholded at "
        f"an uncorrected p < {f['voxel_p']:g} under NiMARE's analytic null (ALE > {f['cluster_forming_ale']:.5f}), "
        "and each resulting cluster's size was compared with the largest cluster sizes of "
        f"{n_it:,} Monte Carlo iterations of randomly placed foci (seed {f['seed']}), at a "
        f"cluster-level family-wise error rate of {f['alpha']:g}."
    ]
    parts += inference_caveats(r)
    table = r.fwe_table
    if not f["n_clusters"] or table is None or not len(table):
        parts.append(f"No cluster passed cluster-level FWE at {f['alpha']:g}, so no location is claimed to show "
                     "convergence beyond chance.")
    else:
        mains = table[table["peak"] == "main"]
        described = []
        for row in mains.itertuples():
            region = f", {row.region}" if "region" in mains.columns and isinstance(row.region, str) else ""
            described.append(f"{FWE_PREFIX}{row.cluster_id} at {fmt_xyz((row.x, row.y, row.z))}{region}, "
                             f"{row.size_mm3:,.0f} mm3, FWE-corrected {p_text(float(row.p_fwe), n_it)}")
        n = len(mains)
        parts.append(f"{n} cluster{'s' if n != 1 else ''} showed significant convergence at the cluster level "
                     f"(numbered {FWE_PREFIX}1{'' if n == 1 else f' and {FWE_PREFIX}2' if n == 2 else f' to {FWE_PREFIX}{n}'}; the descriptive clusters D1, "
                     "D2 ... are other regions, cut at the display threshold): " + "; ".join(described) + ".")
    border = borderline_clusters(f.get("all_clusters"), f["alpha"])
    if len(border):
        named = []
        for row in border.itertuples():
            passed = int(row.cluster_id) > 0
            who = f"{FWE_PREFIX}{row.cluster_id}" if passed else f"a cluster of {row.size_mm3:,.0f} mm3 peaking at {fmt_xyz((row.peak_x, row.peak_y, row.peak_z))}"
            verdict = "passed" if passed else "did not pass, as p must be below alpha"
            named.append(f"{who} (p = {row.p_fwe_size:.4f}, standard error {row.p_fwe_size_se:.4f}; {verdict})")
        parts.append(f"Borderline, within one Monte Carlo standard error of alpha {f['alpha']:g}, so that another seed "
                     "or more iterations could decide them the other way: " + "; ".join(named) + ".")
    if f["n_clusters"] and r.fwe_jackknife is not None and len(r.fwe_jackknife):
        means = r.fwe_jackknife.set_index("id")["mean"].astype(float)
        dominant = dominant_analyses(r.fwe_jackknife, r.dominance_ratio, r.dominance_min)
        if dominant:
            leans = ", ".join(f"{d} (mean {means[d]:.2f})" for d in dominant)
            parts.append(f"On average over these clusters, a leave-one-out jackknife shows that they lean on {leans}: "
                         "leaving it out lowers their ALE values the most, so the finding depends on it.")
        else:
            parts.append("On average over these clusters, a leave-one-out jackknife finds no single experiment that "
                         f"dominates them (mean contributions {means.min():.2f} to {means.max():.2f}).")
        parts.append(dependence_text(cluster_dependence(r.fwe_jackknife, FWE_PREFIX), "FWE clusters"))
    return " ".join(parts)


def contrast_interpretation(result) -> str:
    """The paragraph that summarises the contrast, sentence by sentence from its tables."""
    a, b = result.names
    cc = result.contrast_clusters
    text = [f"This analysis compared {group_line(a, result.first)} with {group_line(b, result.second)}."]
    if cc is None:
        text.append("The comparison did not finish.")
        return " ".join(text)
    n_pos = len(cc.positive.clusters.labels)
    n_neg = len(cc.negative.clusters.labels)
    if result.inferential and result.balanced is not None:
        inf, bal = result.spec.inference, result.balanced
        text.append(
            f"In the balanced contrast (subsamples of {bal.target_n} experiments from each group, "
            f"{bal.difference_iterations:,} balanced differences, {bal.n_iterations:,} random-foci null draws, "
            f"seed {inf.seed}, alpha {inf.fwe_alpha:g}), "
            + ("no cluster of the balanced difference passed." if n_pos + n_neg == 0 else
               f"{plural(n_pos, 'cluster')} where {a} converged more than {b} and {plural(n_neg, 'cluster')} "
               f"where {b} converged more than {a} passed (their balanced difference beyond the null's extremes)."))
        table = cc.table[cc.table["peak"] == "main"]
        for _, row in table.iterrows():
            favours = a if row["tail"] == "positive" else b
            text.append(f"Cluster {CONTRAST_PREFIX}{int(row['cluster_id'])} ({favours} > {a if favours == b else b}, "
                        f"{int(row['size_mm3']):,} mm3, peak at ({row['x']:.0f}, {row['y']:.0f}, {row['z']:.0f}) "
                        f"mm): {permutation_p_text(float(row['p_fwe']), bal.n_iterations, 'null draws')}.")
    elif result.inferential:
        inf = result.spec.inference
        text.append(
            f"In the ALE subtraction ({inf.n_iterations:,} permutations of the group labels, seed {inf.seed}, "
            f"cluster-forming p < {inf.voxel_p:g}, cluster-level FWE alpha {inf.fwe_alpha:g}), "
            + ("no cluster of the difference passed cluster-level FWE." if n_pos + n_neg == 0 else
               f"{plural(n_pos, 'cluster')} where {a} converged more than {b} and {plural(n_neg, 'cluster')} "
               f"where {b} converged more than {a} passed cluster-level FWE."))
        table = cc.table[cc.table["peak"] == "main"]
        for _, row in table.iterrows():
            p = float(row["p_fwe"])
            favours = a if row["tail"] == "positive" else b
            share = row.get("favoured_group_converges")
            within = ("" if share is None or pd.isna(share) else
                      f"; {float(share):.0%} of its voxels lie where {favours} converges on its own")
            text.append(f"Cluster {CONTRAST_PREFIX}{int(row['cluster_id'])} ({favours} > {a if favours == b else b}, "
                        f"{int(row['size_mm3']):,} mm3, peak at ({row['x']:.0f}, {row['y']:.0f}, {row['z']:.0f}) "
                        f"mm{', ' + str(row['region']) if 'region' in row and isinstance(row['region'], str) else ''})"
                        f": {permutation_p_text(p, inf.n_iterations)}{within}.")
            se = float(row["p_fwe_se"])
            if abs(p - inf.fwe_alpha) <= se:
                text.append(f"Cluster {CONTRAST_PREFIX}{int(row['cluster_id'])}'s p is within one Monte Carlo standard error "
                            f"({se:.2g}) of alpha: another seed could move it across.")
        text.extend(empty_directional_words(result))
        if inf.n_iterations < 5000:
            text.append(f"Only {inf.n_iterations:,} permutations were run (at least 5,000 are usual): their FWE "
                        "p-values are coarse, with the Monte Carlo standard errors given in the cluster table.")
    else:
        text.append(
            f"The ALE difference ({a} minus {b}) was inspected descriptively: above a display-only threshold "
            f"(|difference| > {result.diff_threshold:.4g}, the {result.spec.display.threshold_percentile:g}th "
            f"percentile of the nonzero absolute differences), {plural(n_pos, 'cluster')} showed a higher ALE in "
            f"{a} and {plural(n_neg, 'cluster')} a higher ALE in {b}. This threshold is not statistical; these "
            "clusters describe where the two maps differ most, not where the groups differ in the population.")
    dependence = contrast_cluster_dependence(result)
    if dependence:
        resting = [d for d in dependence if d["rests_on_one"]]
        if resting:
            named = "; ".join(f"cluster {CONTRAST_PREFIX}{d['cluster']} on {d['top_id']} ({d['top']:.2f})" for d in resting[:NAMED])
            if len(resting) > NAMED:
                named += f"; and {len(resting) - NAMED} more, listed under Dependence on single experiments"
            if any(d["top"] > 1 for d in resting):
                named += " (a share above 1: without that experiment the difference reverses)"
            verb = "rests" if len(resting) == 1 else "rest"
            text.append(
                f"{len(resting)} of the {plural(len(dependence), 'contrast cluster')} {verb} on a single "
                f"experiment (leaving it out removes at least {RESTS_ON:.0%} of the cluster's difference): {named}.")
        else:
            worst = max(dependence, key=lambda d: d["top"])
            text.append(
                f"No contrast cluster rests on a single experiment (no experiment's removal takes away "
                f"{RESTS_ON:.0%} or more of any cluster's difference; the largest share is {worst['top']:.2f}, "
                f"{worst['top_id']} in cluster {CONTRAST_PREFIX}{worst['cluster']}).")
    if result.conjunction_clusters is not None:
        k = len(result.conjunction_clusters.labels)
        size = f" of at least {mm3(result.spec.jackknife.cluster_threshold_mm3)}"
        if result.inferential:
            text.append(f"Both groups' own clusters that passed cluster-level FWE overlap in {plural(k, 'region')}{size} "
                        "(conjunction, minimum statistic)." if k else "The two groups' own clusters that passed "
                        f"cluster-level FWE do not overlap in any region{size} (conjunction).")
        else:
            text.append(f"Both groups' ALE maps lie above their own display-only thresholds together in "
                        f"{plural(k, 'region')}{size} (a descriptive conjunction)." if k else f"No region{size} lies above both "
                        "groups' display-only thresholds (descriptive conjunction).")
    return " ".join(text)


def empty_directional_words(result) -> list[str]:
    """Which direction of the GingerALE-style reading is empty: a group without a cluster of its
    own that passed cluster-level FWE tests its direction nowhere."""
    a, b = result.names
    empty = [name for name, group in ((a, result.first), (b, result.second))
             if group.fwe_clusters is None or not group.fwe_clusters.labels]
    if len(empty) == 2:
        return [f"Neither {a} nor {b} has a cluster of its own that passed cluster-level FWE, so the directional "
                "reading (each direction tested only where the group it favours converges on its own) is empty: "
                "its map is 0 everywhere."]
    if empty:
        other = b if empty[0] == a else a
        return [f"{empty[0]} has no cluster of its own that passed cluster-level FWE, so the directional reading "
                f"of {empty[0]} > {other} is empty: that direction is tested nowhere."]
    return []


def project_interpretation(result, inputs: dict) -> str:
    """Each contrast's interpretation, then each group's that no contrast reads."""
    parts = [f"Contrast {label}: {contrast_interpretation(c)}" for label, c in result.contrasts.items()]
    parts += [f"Group {name}: {group_interpretation(inputs[name])}" for name in standalone_groups(result)]
    return " ".join(parts)
