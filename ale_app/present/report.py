"""The HTML report of a single-group run, written from its view
(:func:`~ale_app.present.report_view.report_inputs`) and words
(:mod:`ale_app.present.report_words`). The page is self-contained: figures are embedded as
data URIs, styles are inline, and nothing is fetched when it opens.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from ale_app import __version__
from ale_app.present.html_parts import (DESCRIPTIVE_PREFIX, FWE_PREFIX, closing_html, cluster_heading, cluster_html,
                                        colour_key_html, dl, experiment_key_html, failure_html, img_tag, page_html)
from ale_app.present.report_view import ReportInputs, fmt_xyz, with_robustness
from ale_app.present.report_words import (DEPENDENCE_RULE, cluster_dependence, dominant_analyses, interpretation,
                                          methods_text, references_for, robustness_methods)


def _jackknife_html(r: ReportInputs, table_href: str, table: pd.DataFrame | None = None,
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


def _focus_counts_html(counts: pd.DataFrame) -> str:
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


def _inference_html(r: ReportInputs, figures: dict) -> list[str]:
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
        parts.append(_jackknife_html(r, "desc-fwejackknife_table.tsv", r.fwe_jackknife, FWE_PREFIX))
    if r.fwe_focus_counts is not None and len(r.fwe_focus_counts) and r.inference["n_clusters"]:
        parts.append("<h3>Foci per FWE cluster</h3>" + _focus_counts_html(r.fwe_focus_counts))
    parts.append("<h3>Inferential maps written</h3>" + dl(
        {f"space-MNI152NLin6Asym_res-2_{name}.nii.gz": what for name, what in INFERENTIAL_MAPS}))
    return parts


def report_html(r: ReportInputs, figures: dict[str, list[tuple[str, Path]]],
                jackknife_href: str = "desc-jackknife_table.tsv") -> str:
    """The self-contained report page; ``figures`` maps a report section (``evidence``,
    ``ale``, ``jackknife``, ``inference``) to the (caption, file) of its figures, in order.
    In inferential mode the inference comes first, then the description.
    ``jackknife_href`` is the full jackknife table's path relative to the report (a link,
    never fetched when the page opens)."""
    title = html.escape(r.title or "ale-app report")
    if r.mode == "inferential":
        intro = (f"<p>An ALE analysis made by ale-app {html.escape(__version__)}, in the inferential mode the spec "
                 "declared before the run. The only statistical test is the cluster-level FWE inference, first "
                 "below; the descriptive sections after it use a display threshold that is not a test.</p>")
    else:
        intro = (f"<p>A descriptive ALE analysis made by ale-app {html.escape(__version__)}. Every threshold in "
                 "this report is for display only; nothing here is a statistical test.</p>")
    parts = [f"<h1>{title}</h1>", intro]
    parts.extend(failure_html(r.failed_step))
    parts.append("<h2>Interpretation</h2>")
    parts.append(f"<p>{html.escape(interpretation(r))}</p>")
    if r.inference is not None:
        parts.extend(_inference_html(r, figures))
    if r.spec_summary:
        parts.append("<h2>Analysis</h2>" + dl(r.spec_summary))
    parts.append("<h2>Evidence base</h2>" + dl({
        "Experiments": r.n_experiments, "Studies": r.n_studies, "Foci": r.n_foci, **r.evidence}))
    from ale_app.present.figures import studies_coloured

    if r.experiments is not None and len(r.experiments):
        coloured = bool(r.study_colors) and studies_coloured(len(r.study_colors))
        parts.append("<h3>Experiments and their ids</h3>" + experiment_key_html(r.experiments,
                                                                                 coloured_by_study=coloured))
    parts.extend(img_tag(path, cap) for cap, path in figures.get("evidence", []))

    if r.study_colors and studies_coloured(len(r.study_colors)) and not figures.get("evidence"):
        # The coordinate figure's legend is the key; when that figure was not drawn, the key is
        # here. Beyond MAX_STUDY_COLOURS studies the figure is in one colour: no key.
        parts.append(colour_key_html(r.study_colors))
    descriptive = " (descriptive: display threshold, not a test)" if r.mode == "inferential" else ""
    if r.peak_value is not None:
        parts.append(f"<h2>ALE statistic{descriptive}</h2>")
        peak = {"Peak ALE value": f"{r.peak_value:.5f}", "Peak location": fmt_xyz(r.peak_xyz)}
        if r.peak_label:
            peak["Peak region"] = r.peak_label
        if r.threshold is not None:
            peak["Display threshold (not statistical)"] = (
                f"{r.threshold:.5f} = {r.threshold_percentile:g}th percentile of nonzero in-brain ALE values; "
                "it also defines the descriptive clusters and every jackknife number")
        parts.append(dl(peak))
        parts.extend(img_tag(path, cap) for cap, path in figures.get("ale", []))
    if r.cluster_table is not None:
        parts.append(f"<h2>Descriptive clusters (D){descriptive}</h2>")
        parts.append(cluster_html(r.cluster_table, DESCRIPTIVE_PREFIX,
                                   cluster_dependence(r.jackknife, DESCRIPTIVE_PREFIX)))
        parts.append(f"<p>{html.escape(DEPENDENCE_RULE)}</p>")
        parts.extend(img_tag(path, cap) for cap, path in figures.get("clusters", []))
    if r.jackknife is not None:
        parts.append("<h2>Jackknife contributions</h2><p>Rows: the experiment left out. Columns: descriptive "
                     "clusters. Each cell is the mean drop in ALE over the cluster's voxels when that experiment is "
                     "removed (0 = none, 1 = the cluster disappears); darker cells are larger (shaded relative to the "
                     "largest value in the table).</p>")
        parts.append(_jackknife_html(r, jackknife_href))
        parts.extend(img_tag(path, cap) for cap, path in figures.get("jackknife", []))
    parts.append(f"<h2>Methods</h2><p>{html.escape(methods_text(r))}</p>")
    from ale_app.present.reviewer import reporting_checklist_html

    parts.append("<h2>Reporting checklist (Müller et al., 2018)</h2>" + reporting_checklist_html(r))
    parts.extend(closing_html([text for text, _ in references_for(r.robustness).values()], r.versions, r.digests))
    return page_html(title, parts)
