"""The interpretation in detail, below the short paragraph of
:mod:`ale_app.present.interpretation_words`: a group's description and inference cluster by
cluster (which descriptive clusters hold each FWE cluster, which clusters are borderline or
rest on one or two experiments), and a contrast's clusters one by one.
"""

from __future__ import annotations

import math

import pandas as pd

from ale_app.present.dependence import (DEPENDENCE_RULE, NAMED, RESTS_ON, cluster_dependence, contrast_cluster_dependence,
                                        dependence_text, dominant_analyses)
from ale_app.present.html_parts import CONTRAST_PREFIX, DESCRIPTIVE_PREFIX, FWE_PREFIX
from ale_app.present.phrases import p_text, permutation_p_text, plural
from ale_app.present.report_view import ReportInputs, fmt_xyz


def cluster_names(prefix: str, labels: list[int]) -> str:
    """"D1", "D1 and D2", "D1, D3 and D4"."""
    names = [f"{prefix}{x}" for x in labels]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def overlap_text(fwe_in_descriptive: dict[int, list[int]] | None) -> str:
    """Which descriptive clusters (cut at the display threshold) hold each FWE cluster, read
    from the two label maps (:func:`~ale_app.present.report_view.fwe_in_descriptive`)."""
    if not fwe_in_descriptive:
        return ""
    inside = [f"{FWE_PREFIX}{f} in {cluster_names(DESCRIPTIVE_PREFIX, ds)}" for f, ds in fwe_in_descriptive.items() if ds]
    outside = [f for f, ds in fwe_in_descriptive.items() if not ds]
    said = [", ".join(inside)] if inside else []
    if outside:
        said.append(f"{cluster_names(FWE_PREFIX, outside)} outside every descriptive cluster")
    return ("Against the descriptive clusters cut at the display threshold: " + "; ".join(said) + ".")


def borderline_clusters(all_clusters: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Clusters (passed or not) whose cluster-size FWE p lies within one Monte Carlo standard
    error of ``alpha``: another seed could decide them the other way."""
    if all_clusters is None or not len(all_clusters):
        return pd.DataFrame()
    p = all_clusters["p_fwe_size"].astype(float)
    se = all_clusters["p_fwe_size_se"].astype(float)
    return all_clusters[(p - alpha).abs() <= se]


def descriptive_details(r: ReportInputs) -> list[str]:
    """The description in detail: in inferential mode all of it (the short paragraph names
    only the test); in descriptive mode what the short paragraph leaves out."""
    inferential = r.mode == "inferential"
    parts = []
    if inferential:
        parts.append(f"Beside that test, the raw ALE statistic map of {r.n_experiments} experiments from "
                     f"{r.n_studies} studies ({r.n_foci} reported foci) was inspected descriptively.")
    if inferential and r.peak_value is not None:
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
        ) if inferential else None
        parts = [p for p in parts if p]
        if r.peak_in_cluster is False:
            parts.append(
                f"The peak itself lies in a patch smaller than {r.cluster_threshold_mm3:g} mm3, so it belongs to "
                "none of them."
            )
    if r.jackknife_status == "disabled":
        parts.append("No leave-one-out jackknife was run (it was disabled before the run), so this report does not "
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


def group_details(r: ReportInputs) -> str:
    """The paragraph below a group's short interpretation."""
    parts = descriptive_details(r)
    if r.mode == "inferential" and r.inference is not None:
        lead = inference_details(r)
        rest = " ".join(parts)
        if DEPENDENCE_RULE in lead:  # the rule is stated once, where it is first used
            rest = rest.replace(" " + DEPENDENCE_RULE, "").replace(DEPENDENCE_RULE, "")
        return (lead + " " + rest).strip()
    return " ".join(parts)


def inference_details(r: ReportInputs) -> str:
    """The inference in detail (inferential mode): every cluster that passed, which
    descriptive clusters hold it, which clusters are borderline and which rest on one or two
    experiments. Inferential words are used only for clusters that passed."""
    assert r.inference is not None  # inferential mode only
    f = r.inference
    n_it = f["n_iterations"]
    parts: list[str] = []
    table = r.fwe_table
    if f["n_clusters"] and table is not None and len(table):
        mains = table[table["peak"] == "main"]
        described = []
        for row in mains.itertuples():
            region = f", {row.region}" if "region" in mains.columns and isinstance(row.region, str) else ""
            described.append(f"{FWE_PREFIX}{row.cluster_id} at {fmt_xyz((row.x, row.y, row.z))}{region}, "
                             f"{row.size_mm3:,.0f} mm3, FWE-corrected {p_text(float(row.p_fwe), n_it)}")
        n = len(mains)
        parts.append(f"The {n} cluster{'s' if n != 1 else ''} that passed, one by one: " + "; ".join(described) + ".")
        parts.append(overlap_text(r.fwe_in_descriptive))
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
    return " ".join(p for p in parts if p)


def contrast_details(result) -> str:
    """The contrast in detail, sentence by sentence from its tables: each cluster, its p and
    where the favoured group converges, the borderline ones, the directional reading, the
    dependence on single experiments (the short paragraph gives the counts)."""
    a, b = result.names
    cc = result.contrast_clusters
    text: list[str] = []
    if cc is None:
        return ""
    if result.inferential and result.balanced is not None:
        inf, bal = result.spec.inference, result.balanced
        table = cc.table[cc.table["peak"] == "main"]
        for _, row in table.iterrows():
            favours = a if row["tail"] == "positive" else b
            text.append(f"Cluster {CONTRAST_PREFIX}{int(row['cluster_id'])} ({favours} > {a if favours == b else b}, "
                        f"{int(row['size_mm3']):,} mm3, peak at ({row['x']:.0f}, {row['y']:.0f}, {row['z']:.0f}) "
                        f"mm): {permutation_p_text(float(row['p_fwe']), bal.n_iterations, 'null draws')}.")
    elif result.inferential:
        inf = result.spec.inference
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
    else:
        text.append("The display-only threshold is not statistical: these clusters describe where the two maps "
                    "differ most, not where the groups differ in the population.")
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


def project_details(result, inputs: dict) -> str:
    """Each contrast's details, then those of each group that no contrast reads."""
    from ale_app.present.phrases import standalone_groups

    parts = [f"Contrast {label}: {d}" for label, c in result.contrasts.items() if (d := contrast_details(c))]
    parts += [f"Group {name}: {d}" for name in standalone_groups(result) if (d := group_details(inputs[name]))]
    return " ".join(parts)
