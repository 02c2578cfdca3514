"""The report's sections, each from one part of the result: a group's inference (its FWE
clusters, their jackknife and foci), a group's jackknife table, a contrast's (its test, cluster
table, dependence on single experiments and conjunction), a group's part of a page of several
groups, and the summary table of a project's analyses. The page
(:mod:`ale_app.present.page`) picks them by what the project holds.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from ale_app.inputs.evidence_summary import experiment_key
from ale_app.present.dependence import (RESTS_ON, cluster_dependence, contrast_cluster_dependence,
                                        dominant_analyses)
from ale_app.present.figures import studies_coloured
from ale_app.present.html_parts import (CONTRAST_PREFIX, DESCRIPTIVE_PREFIX, FWE_PREFIX, cluster_heading, cluster_html,
                                        dl, experiment_key_html, img_tag)
from ale_app.present.methods_words import robustness_methods
from ale_app.present.phrases import mm3, plural
from ale_app.present.report_view import ReportInputs, with_robustness


def jackknife_html(r: ReportInputs, table_href: str, table: pd.DataFrame | None = None,
                    prefix: str = DESCRIPTIVE_PREFIX) -> str:
    """The jackknife table sorted by mean contribution, largest first, with the ranks the
    plot uses; beyond :data:`ale_app.present.figures.JACKKNIFE_ALL_UP_TO` experiments only the
    largest, and a line that summarises the rest and links the full table."""
    from ale_app.present.figures import dominance_cutoff, jackknife_rows_shown, sort_jackknife

    table = r.jackknife if table is None else table
    assert table is not None  # the report shows a jackknife only where one was run
    ranked = sort_jackknife(table)
    means = ranked["mean"].to_numpy(dtype=float)
    cutoff = dominance_cutoff(means, r.dominance_ratio, r.dominance_min)
    dominant = set(dominant_analyses(table, r.dominance_ratio, r.dominance_min))
    k = jackknife_rows_shown(len(ranked), len(dominant))
    cols = [c for c in table.columns if c != "id"]
    heads = ["Rank", "Experiment left out", *(cluster_heading(c, prefix) if c != "mean" else "Mean" for c in cols)]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    values = ranked[cols].to_numpy(dtype=float)
    top = float(np.nanmax(values)) if values.size and np.isfinite(values).any() else 0.0
    digits = 3 if top >= 0.1 else 4  # small contributions keep their differences visible
    body = []
    for _, row in ranked.iloc[:k].iterrows():
        mark = ' class="dominant"' if row["id"] in dominant else ""
        cells = [f"<td>{int(row['rank'])}</td>", f"<td>{html.escape(str(row['id']))}</td>"]
        for c in cols:
            v = float(row[c])
            shade = max(0.0, min(1.0, v / top)) if top > 0 else 0.0
            weight = ";font-weight:600" if c == "mean" else ""
            cells.append(f'<td style="background:rgba(245,133,24,{0.85 * shade:.2f}){weight}">{v:.{digits}f}</td>')
        body.append(f"<tr{mark}>" + "".join(cells) + "</tr>")
    rest = ranked.iloc[k:]
    link = f'<a href="{html.escape(table_href)}">{html.escape(table_href)}</a>'
    if len(rest):
        rest_means = rest["mean"].to_numpy(dtype=float)
        body.append(
            f'<tr class="rest"><td colspan="{len(heads)}">&hellip; and {len(rest)} more experiments, each with a '
            f"mean of at most {rest_means.max():.3g} (their median {float(np.median(rest_means)):.3g}); every "
            f"row is in {link}</td></tr>")
    note = (f"<p>Sorted by the mean contribution, largest first. Rows in red meet the dominance rule "
            f"(mean at least {r.dominance_ratio:g} \u00d7 the median and at least {r.dominance_min:g}; "
            f"cut-off {cutoff:.3f}). The plot below uses the same ranks. Full table, in file order: {link}.</p>")
    return (note + f'<div class="wide"><table class="jackknife"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table></div>")


def focus_counts_html(counts: pd.DataFrame) -> str:
    """Foci of each experiment in each FWE cluster; experiments with none are summarised."""
    cols = [c for c in counts.columns if c != "id"]
    total = counts["total"] if "total" in counts.columns else counts[cols].sum(axis=1)
    shown = counts[total.to_numpy() > 0]
    shown = shown.iloc[np.argsort(-total[total > 0].to_numpy(), kind="stable")]
    head = "".join(f"<th>{html.escape(cluster_heading(str(c), FWE_PREFIX) if c != 'total' else 'Total')}</th>"
                   for c in ["Experiment", *cols])
    body = "".join("<tr>" + f"<td>{html.escape(str(row['id']))}</td>"
                   + "".join(f"<td>{int(row[c])}</td>" for c in cols) + "</tr>" for _, row in shown.iterrows())
    rest = len(counts) - len(shown)
    note = (f"<p>Foci of each experiment inside each FWE cluster (a focus counts for the cluster of its nearest "
            f"voxel), most first; {rest} experiment{'s' if rest != 1 else ''} with no focus in any FWE cluster "
            "are left out (all rows: desc-fwefocuscounts_table.tsv).</p>")
    return note + f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


#: The inferential maps, named with what they hold (the report lists them).
INFERENTIAL_MAPS = (
    ("stat-z_statmap", "uncorrected voxel-level z from NiMARE's analytic ALE null (not FWE-corrected)"),
    ("stat-p_statmap", "uncorrected voxel-level p from the same null (not FWE-corrected)"),
    ("stat-logp_desc-clusterFWE_statmap", "-log10 cluster-level (size) FWE p of each voxel's cluster: the test"),
    ("stat-logp_desc-voxelFWE_statmap", "-log10 voxel-level FWE p (from the null of the largest ALE value)"),
    ("desc-fweclusters_dseg", "labels of the clusters that passed cluster-level FWE (F1 = 1, F2 = 2 ...)"),
)


def inference_html(r: ReportInputs, figures: dict) -> list[str]:
    # The test's sentences lead the Interpretation above; here, what they rest on.
    assert r.inference is not None  # called in inferential mode only
    f = r.inference
    parts = ["<h2>Inference: cluster-level FWE</h2>",
             f"<p>The clusters that passed cluster-level FWE (alpha {f['alpha']:g}, cluster-forming p &lt; "
             f"{f['voxel_p']:g}, {f['n_iterations']:,} Monte Carlo iterations, seed {f['seed']}), as the "
             "Interpretation above reports them: their maps, table, jackknife and foci.</p>"]
    parts.extend(img_tag(path, cap) for cap, path in figures.get("inference", []))
    if r.fwe_table is not None and len(r.fwe_table):
        from ale_app.present.reviewer import fwe_cluster_summary, fwe_cluster_summary_html

        summary = fwe_cluster_summary(r.fwe_table, r.fwe_focus_counts, r.fwe_jackknife, r.n_experiments,
                                      r.robustness)
        parts.append("<h3>Each FWE cluster in one row</h3><p>Volume, peak, region and FWE p from the table below; "
                     "the experiments with foci in the cluster (foci in brackets) from the foci per cluster; the "
                     "largest leave-one-out share (the cluster's mean ALE drop when that experiment is left out) "
                     "from the jackknife over the FWE clusters"
                     + ("; the share of the stability subsets in which the cluster survives (desc-stability_table.tsv)"
                        if r.robustness and "stability" in r.robustness else "")
                     + ("; its fail-safe N, the number of noise experiments it survives in half of the noise "
                        "draws, with its 95% interval (desc-failsafe_table.tsv)"
                        if r.robustness and "failsafe" in r.robustness else "") + ".</p>")
        parts.append(fwe_cluster_summary_html(summary, f["n_iterations"]))
        parts.append("<h3>Clusters that passed cluster-level FWE (F)</h3>")
        parts.append(cluster_html(with_robustness(r.fwe_table, r.robustness), FWE_PREFIX,
                                   cluster_dependence(r.fwe_jackknife, FWE_PREFIX), r.inference["n_iterations"]))
        if r.robustness:
            parts.append(f"<p>{html.escape(robustness_methods(r.robustness).strip())} Tables: desc-stability_table.tsv, "
                         "desc-failsafe_table.tsv; map: space-MNI152NLin6Asym_res-2_desc-stability_statmap.nii.gz."
                         "</p>")
    if r.fwe_jackknife is not None and len(r.fwe_jackknife):
        parts.append("<h3>Jackknife over the FWE clusters</h3><p>Rows: the experiment left out. Columns: FWE "
                     "clusters. Each cell is the mean drop in ALE over the cluster's voxels when that experiment "
                     "is removed (0 = none, 1 = the cluster disappears).</p>")
        parts.append(jackknife_html(r, "desc-fwejackknife_table.tsv", r.fwe_jackknife, FWE_PREFIX))
    if r.fwe_focus_counts is not None and len(r.fwe_focus_counts) and r.inference["n_clusters"]:
        parts.append("<h3>Foci per FWE cluster</h3>" + focus_counts_html(r.fwe_focus_counts))
    parts.append("<h3>Inferential maps written</h3>" + dl(
        {f"space-MNI152NLin6Asym_res-2_{name}.nii.gz": what for name, what in INFERENTIAL_MAPS}))
    return parts


def no_conjunction_words(result) -> str:
    """What the conjunction section says when no region reaches the cluster size: whether any
    voxel lies in both groups at all (then the figure shows those voxels) or none does (then
    no figure is drawn)."""
    where = ("in both groups' own clusters that passed cluster-level FWE" if result.inferential
             else "above both groups' display-only thresholds")
    n_voxels = int(np.count_nonzero(np.asarray(result.conjunction_values) > 0))
    size = mm3(result.spec.jackknife.cluster_threshold_mm3)
    if not n_voxels:
        return f"No voxel lies {where}: the two groups do not overlap."
    return (f"{plural(n_voxels, 'voxel')} {'lies' if n_voxels == 1 else 'lie'} {where}, in no connected region "
            f"of at least {size}; the figure shows {'it' if n_voxels == 1 else 'them'}.")


_CONTRAST_COLUMNS = {"tail": "Direction", "ale_difference": "ALE difference",
                     "favoured_group_converges": "Share where the favoured group converges"}


def table_html(table: pd.DataFrame, digits: int = 3) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    rows = []
    for _, row in table.iterrows():
        cells = []
        for v in row:
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append("<td></td>")
            elif isinstance(v, (float, np.floating)):
                cells.append(f"<td>{float(v):.{digits}f}</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def contrast_table_html(table: pd.DataFrame, names, n_iterations: int | None = None, balanced: bool = False) -> str:
    # The cluster volume by region is in the TSV; the page keeps the region of each peak.
    shown = table.drop(columns=["composition"], errors="ignore")
    if balanced:  # the p against the balanced null's extremes, and its binomial SE over the null draws
        shown = shown.rename(columns={"p_fwe": "Balanced p (null extremes)", "p_fwe_se": "Balanced p SE",
                                      "ale_difference": "ale_difference"})
    shown["tail"] = shown["tail"].map({"positive": f"{names[0]} > {names[1]}", "negative": f"{names[1]} > {names[0]}"})
    shown["ale_difference"] = shown["ale_difference"].map(lambda v: f"{float(v):+.5f}")
    return cluster_html(shown.rename(columns=_CONTRAST_COLUMNS), CONTRAST_PREFIX, None, n_iterations)


def group_fwe_html(name: str, r) -> list[str]:
    """A group's own FWE clusters: the one-row summary (with stability and fail-safe N when
    they ran), the cluster table, and what the robustness numbers mean."""
    from ale_app.present.reviewer import fwe_cluster_summary, fwe_cluster_summary_html

    prefix = f"group-{name}_"
    summary = fwe_cluster_summary(r.fwe_table, r.fwe_focus_counts, r.fwe_jackknife, r.n_experiments, r.robustness)
    rb = r.robustness or {}
    sources = [f"the foci per cluster ({prefix}desc-fwefocuscounts_table.tsv)",
               f"the jackknife over the FWE clusters ({prefix}desc-fwejackknife_table.tsv)"]
    if "stability" in rb:
        sources.append(f"the share of the stability subsets in which the cluster survives ({prefix}desc-stability_table.tsv)")
    if "failsafe" in rb:
        sources.append("its fail-safe N, the number of noise experiments it survives in half of the noise draws, "
                       f"with its 95% interval ({prefix}desc-failsafe_table.tsv)")
    parts = [f"<h3>Each FWE cluster of group {html.escape(name)} in one row</h3><p>Volume, peak, region and FWE p "
             f"from the group's FWE cluster table ({prefix}desc-fweclusters_table.tsv); "
             + html.escape("; ".join(sources)) + ".</p>",
             fwe_cluster_summary_html(summary, r.inference["n_iterations"]),
             "<p>Clusters that passed cluster-level FWE:</p>"
             + cluster_html(with_robustness(r.fwe_table, r.robustness), FWE_PREFIX)]
    if rb:
        parts.append(f"<p>{html.escape(robustness_methods(r.robustness).strip())}</p>")
    return parts


def contrast_section(result, figures: dict[str, list[tuple[str, Path]]], heading: str = "h2") -> list[str]:
    """The contrast's part of a page: its figures, what ran, its cluster table, the dependence
    on single experiments and the conjunction (``figures`` by section: ``contrast``,
    ``conjunction``)."""
    a, b = result.names
    spec = result.spec
    parts: list[str] = []
    parts.append(f"<{heading}>Contrast: {html.escape(a)} minus {html.escape(b)}</{heading}>")
    parts.extend(img_tag(path, cap) for cap, path in figures.get("contrast", []))
    if result.balanced is not None:
        bal = result.balanced
        parts.append("<h3>Balanced contrast: what ran</h3>" + table_html(pd.DataFrame([{
            "Method": "balanced (NiMARE's BalancedALESubtraction, random-foci null)",
            "Experiments": f"{bal.n1} vs {bal.n2}", "Subsample size": bal.target_n,
            "Subsamples per group (used)": f"{bal.n_subsamples:,} ({bal.n_subsamples_used[0]:,}, "
                                           f"{bal.n_subsamples_used[1]:,})",
            "Balanced differences": f"{bal.difference_iterations:,}", "Null draws": f"{bal.n_iterations:,}",
            "Seed": f"{bal.seed} (second group {bal.seed + 1})", "Mask coverage": bal.mask_coverage,
            "Null band": f"{bal.low_threshold:.4g} to {bal.high_threshold:.4g}"}])))
    cc = result.contrast_clusters
    if cc is not None:
        if len(cc.table):
            n_null = (None if not result.inferential else result.balanced.n_iterations
                      if result.balanced is not None else spec.inference.n_iterations)
            parts.append(contrast_table_html(cc.table, (a, b), n_null, balanced=result.balanced is not None))
        else:
            parts.append("<p>No contrast cluster.</p>")
    if result.contrast_jackknife is not None:
        dep = contrast_cluster_dependence(result)
        parts.append("<h3>Dependence on single experiments</h3><p>For each contrast cluster, the share of its "
                     "difference that disappears when one experiment of the group it favours is left out; a "
                     f"cluster rests on one experiment when that share reaches {RESTS_ON:.0%}; a share above 1 means the "
                     "difference reverses without that experiment.</p>")
        if dep:
            parts.append(table_html(pd.DataFrame([{
                "Cluster": f"{CONTRAST_PREFIX}{d['cluster']}", "Direction": f"{a} > {b}" if d["tail"] == "positive" else f"{b} > {a}",
                "Largest share": d["top"], "Experiment": d["top_id"],
                "Rests on one experiment": "yes" if d["rests_on_one"] else "no"} for d in dep])))
        parts.append("<details><summary>Every experiment's contribution</summary>"
                     + table_html(result.contrast_jackknife) + "</details>")
    if result.conjunction_clusters is not None:
        parts.append(f"<{heading}>Conjunction</{heading}>")
        parts.extend(img_tag(path, cap) for cap, path in figures.get("conjunction", []))
        if len(result.conjunction_clusters.table):
            parts.append(cluster_html(result.conjunction_clusters.table))
        else:
            parts.append(f"<p>{html.escape(no_conjunction_words(result))}</p>")
    return parts


def group_section(name: str, g, inputs, inferential: bool, figures: list[tuple[str, Path]]) -> list[str]:
    """One group's part of a page: its figures, its clusters (FWE or descriptive) and its
    experiments' key (``inputs``: the group's :class:`~ale_app.present.report_view.ReportInputs`)."""
    parts = [f"<h2>Group {html.escape(name)}</h2>"]
    parts.extend(img_tag(path, cap) for cap, path in figures)
    if inferential and g.fwe_clusters is not None and len(g.fwe_clusters.table):
        parts.extend(group_fwe_html(name, inputs))
    elif g.clusters is not None and len(g.clusters.table):
        parts.append("<p>Descriptive clusters (display-only threshold):</p>" + cluster_html(g.clusters.table))
    parts.append(f"<h3>Experiments of group {html.escape(name)} and their ids</h3>"
                 + experiment_key_html(experiment_key(g.evidence), name,
                                       coloured_by_study=studies_coloured(len(g.evidence.study_ids))))
    return parts


def summary_rows(result) -> list[dict]:
    """One row per analysis: what it is, its experiments, how many clusters passed (or, in
    descriptive mode, were found) and its largest effect; ``anchor`` is its section's id."""
    rows = []
    inferential = result.inferential
    for name, g in result.groups.items():
        ev = g.evidence
        if inferential:
            found = "not reached" if g.fwe_clusters is None else f"{g.n_fwe_clusters} passed FWE"
        else:
            found = "not reached" if g.clusters is None else f"{g.n_clusters} descriptive"
        largest = "" if g.peak is None else f"peak ALE {g.peak.value:.5f}"
        rows.append({"anchor": f"group-{name}", "Analysis": f"Group {name}", "Kind": "main effect",
                     "Experiments": f"{len(ev.ids)}", "Clusters": found, "Largest effect": largest})
    for label, c in result.contrasts.items():
        a, b = c.names
        kind = ("balanced contrast" if c.spec.contrast.method == "balanced" else "ALE subtraction") \
            if inferential else "descriptive difference"
        cc = c.contrast_clusters
        if cc is None:
            found, largest = "not reached", ""
        else:
            found = f"{len(cc.labels)} {'passed FWE' if inferential else 'descriptive'}"
            main = cc.table[cc.table["peak"] == "main"] if len(cc.table) else cc.table
            largest = (f"|ALE difference| {float(main['ale_difference'].abs().max()):.5f}" if len(main) else "")
        if c.conjunction_clusters is not None:
            found += f"; conjunction {len(c.conjunction_clusters.labels)}"
        rows.append({"anchor": f"contrast-{label}", "Analysis": f"Contrast {a} minus {b}" + (
            f" ({label})" if label != f"{a}Minus{b[:1].upper()}{b[1:]}" else ""), "Kind": kind,
            "Experiments": f"{len(c.first.evidence.ids)} vs {len(c.second.evidence.ids)}", "Clusters": found,
            "Largest effect": largest})
    return rows


def summary_html(rows: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("Analysis", "Kind", "Experiments", "Clusters",
                                                         "Largest effect"))
    body = "".join(
        f'<tr><td class="text"><a href="#{html.escape(r["anchor"])}">{html.escape(r["Analysis"])}</a></td>'
        + "".join(f"<td>{html.escape(r[c])}</td>" for c in ("Kind", "Experiments", "Clusters", "Largest effect"))
        + "</tr>" for r in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
