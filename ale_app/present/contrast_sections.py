"""The parts of a page that describe a contrast or one group of several: the contrast's
figures, its test, cluster table, dependence on single experiments and conjunction, and a
group's clusters and experiments. The contrast's page (:mod:`ale_app.present.contrast_report`)
and a project's (:mod:`ale_app.present.project_report`) are built from them.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from ale_app.inputs.evidence_summary import experiment_key
from ale_app.present.figures import studies_coloured
from ale_app.present.html_parts import FWE_PREFIX, cluster_html, experiment_key_html, img_tag
from ale_app.present.report_view import with_robustness
from ale_app.present.report_words import RESTS_ON, robustness_methods

__all__ = ["PREFIX", "cluster_dependence", "contrast_section", "group_section", "mm3", "plural", "table_html"]

#: Contrast clusters are named C1, C2, ... (single-group runs use D1 and F1).
PREFIX = "C"


def mm3(volume: float) -> str:
    """A volume as the spec gave it, digits grouped (10,000,000 mm3, not 1e+07 mm3)."""
    return f"{volume:,.0f} mm3" if float(volume).is_integer() else f"{volume:,} mm3"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


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


def cluster_dependence(result) -> list[dict]:
    """Per contrast cluster: its largest leave-one-out contribution and whose it is, and
    whether the cluster rests on one experiment (contribution at least :data:`RESTS_ON`)."""
    jk, cc = result.contrast_jackknife, result.contrast_clusters
    if jk is None or cc is None:
        return []
    out = []
    for label in cc.labels:
        column = f"cluster_{label}"
        values = jk[["id", "group", column]].dropna()
        values = values[values["group"] == (result.names[0] if cc.tail_of(label) == "positive" else result.names[1])]
        if not len(values):
            continue
        top = values.loc[values[column].astype(float).idxmax()]
        out.append({"cluster": label, "tail": cc.tail_of(label), "top_id": str(top["id"]),
                    "top": float(top[column]), "rests_on_one": float(top[column]) >= RESTS_ON})
    return out


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
    return cluster_html(shown.rename(columns=_CONTRAST_COLUMNS), PREFIX, None, n_iterations)


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
        dep = cluster_dependence(result)
        parts.append("<h3>Dependence on single experiments</h3><p>For each contrast cluster, the share of its "
                     "difference that disappears when one experiment of the group it favours is left out; a "
                     f"cluster rests on one experiment when that share reaches {RESTS_ON:.0%}; a share above 1 means the "
                     "difference reverses without that experiment.</p>")
        if dep:
            parts.append(table_html(pd.DataFrame([{
                "Cluster": f"{PREFIX}{d['cluster']}", "Direction": f"{a} > {b}" if d["tail"] == "positive" else f"{b} > {a}",
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
