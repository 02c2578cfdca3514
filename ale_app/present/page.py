"""The report page and ``CITATION.md`` of a run, one writer for every shape of project: a
group's page (:func:`report_html`, :func:`citation_markdown`, from the group's
:class:`~ale_app.present.report_view.ReportInputs`), a pair of groups and their contrast
(:func:`contrast_report_html`, :func:`contrast_citation`) and any other project
(:func:`project_report_html`, :func:`project_citation`), each assembled from the sections of
:mod:`ale_app.present.sections` and the words of :mod:`ale_app.present.methods_words` and
:mod:`ale_app.present.interpretation_words`. Pages are self-contained: figures are embedded as
data URIs, styles are inline, and nothing is fetched when they open.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from ale_app import __version__
from ale_app.present.dependence import DEPENDENCE_RULE, cluster_dependence
from ale_app.present.html_parts import (DESCRIPTIVE_PREFIX, closing_html, cluster_html, colour_key_html, dl,
                                        experiment_key_html, failure_html, img_tag, page_html)
from ale_app.present.detail_words import contrast_details, group_details, project_details
from ale_app.present.interpretation_words import contrast_interpretation, group_interpretation, project_interpretation
from ale_app.present.markdown import markdown_escape, markdown_text
from ale_app.present.methods_words import contrast_methods_text, group_methods_text, project_methods_text
from ale_app.present.references import cited_references, contrast_references, project_references, references_for
from ale_app.present.report_view import ReportInputs, evidence_names, fmt_xyz, report_inputs
from ale_app.present.reviewer import project_checklist_html
from ale_app.present.sections import (contrast_section, group_section, inference_html, jackknife_html, summary_html,
                                      summary_rows, table_html)


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
    parts.append(f"<p>{html.escape(group_interpretation(r))}</p>")
    parts.extend(_details_html(group_details(r)))
    if r.inference is not None:
        parts.extend(inference_html(r, figures))
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
        parts.append(jackknife_html(r, jackknife_href))
        parts.extend(img_tag(path, cap) for cap, path in figures.get("jackknife", []))
    parts.append(f"<h2>Methods</h2><p>{html.escape(group_methods_text(r))}</p>")
    from ale_app.present.reviewer import reporting_checklist_html

    parts.append("<h2>Reporting checklist (Müller et al., 2018)</h2>" + reporting_checklist_html(r))
    parts.extend(closing_html(_cited(references_for(r.robustness), parts), r.versions, r.digests))
    return page_html(title, parts)


def citation_markdown(r: ReportInputs) -> str:
    """``CITATION.md``: methods, interpretation, software, references and BibTeX."""
    text = f"{group_methods_text(r)} {group_interpretation(r)} {group_details(r)}"
    references = cited_references(references_for(r.robustness), text)
    refs = "\n".join(f"- {text}" for text, _ in references.values())
    bib = "\n\n".join(b for _, b in references.values())
    software = ", ".join(f"{k} {v}" for k, v in r.versions.items() if k in ("ale-app", "nimare", "nilearn",
                                                                              "nibabel", "numpy", "python"))
    return (
        f"# {markdown_escape(r.title or 'ale-app analysis')}\n\n## Methods\n\n{markdown_text(group_methods_text(r), r.names)}"
        f"\n\n## Interpretation\n\n{markdown_text(group_interpretation(r), r.names)}"
        f"{_details_markdown(group_details(r), r.names)}\n\n## Software\n\n{software}.\n\n"
        f"## References\n\n{refs}\n\n## BibTeX\n\n```bibtex\n{bib}\n```\n"
    )


def group_inputs(result) -> dict:
    """Each group's report view (:func:`ale_app.present.report_view.report_inputs`), by name."""
    return {name: report_inputs(g) for name, g in result.groups.items()}


def contrast_citation(result) -> str:
    """``CITATION.md`` of a contrast run."""
    text = f"{contrast_methods_text(result)} {contrast_interpretation(result)} {contrast_details(result)}"
    refs = cited_references(contrast_references(result), text)
    software = ", ".join(f"{k} {v}" for k, v in result.record.versions.items()
                         if k in ("ale-app", "nimare", "nilearn", "nibabel", "numpy", "python"))
    names = [*result.groups, result.spec.title or ""]
    for group in result.groups.values():
        names += evidence_names(group.evidence)
    return (f"# {markdown_escape(result.spec.title or 'ale-app contrast')}\n\n## Methods\n\n"
            f"{markdown_text(contrast_methods_text(result), names)}\n\n"
            f"## Interpretation\n\n{markdown_text(contrast_interpretation(result), names)}"
            f"{_details_markdown(contrast_details(result), names)}\n\n## Software\n\n{software}.\n\n"
            "## References\n\n"
            + "\n".join(f"- {t}" for t, _ in refs.values())
            + "\n\n## BibTeX\n\n```bibtex\n" + "\n\n".join(b for _, b in refs.values()) + "\n```\n")


def contrast_report_html(result, digests: dict[str, str], figures: dict[str, list[tuple[str, Path]]]) -> str:
    """The self-contained report page of a contrast run."""
    a, b = result.names
    spec = result.spec
    title = html.escape(spec.title or f"ale-app contrast: {a} vs {b}")
    if result.inferential and spec.contrast.method == "balanced":
        intro = (f"<p>An ALE contrast made by ale-app {html.escape(__version__)}, in the inferential mode the spec "
                 "declared before the run: a balanced contrast (equal-sized random subsamples of both groups, "
                 "NiMARE's BalancedALESubtraction procedure), each group's own inference, and their "
                 "conjunction.</p>")
    elif result.inferential:
        intro = (f"<p>An ALE contrast made by ale-app {html.escape(__version__)}, in the inferential mode the spec "
                 "declared before the run: the ALE subtraction with permutation FWE inference, each group's own "
                 "inference, and their conjunction.</p>")
    else:
        intro = (f"<p>A descriptive ALE contrast made by ale-app {html.escape(__version__)}. Every threshold in this "
                 "report is for display only; nothing here is a statistical test.</p>")
    parts = [f"<h1>{title}</h1>", intro]
    parts.extend(failure_html(result.failed_step))
    parts.append(f"<h2>Interpretation</h2><p>{html.escape(contrast_interpretation(result))}</p>")
    parts.extend(_details_html(contrast_details(result)))
    groups = []
    for name, g in result.groups.items():
        ev = g.evidence
        row = {"Group": name, "Experiments": len(ev.ids), "Studies": len(ev.study_ids), "Foci": len(ev.coordinates),
               "Source": ", ".join(f["path"] for f in ev.input_files)}
        if g.fit is not None:
            row["Peak ALE"] = f"{g.peak.value:.5f}"
        if result.inferential and g.fwe_clusters is not None:
            row["Clusters that passed FWE"] = len(g.fwe_clusters.labels)
        elif g.clusters is not None:
            row["Descriptive clusters"] = len(g.clusters.labels)
        groups.append(row)
    parts.append("<h2>Groups</h2>" + table_html(pd.DataFrame(groups)))
    parts.extend(contrast_section(result, figures))
    inputs = group_inputs(result)
    for name, g in result.groups.items():
        parts.extend(group_section(name, g, inputs[name], result.inferential, figures.get(f"group-{name}", [])))
    parts.append(f"<h2>Methods</h2><p>{html.escape(contrast_methods_text(result))}</p>")
    from ale_app.present.reviewer import contrast_reporting_checklist_html

    parts.append("<h2>Reporting checklist (Müller et al., 2018)</h2>" + contrast_reporting_checklist_html(result, inputs))
    parts.extend(closing_html(_cited(contrast_references(result), parts), result.record.versions, digests))
    return page_html(title, parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def project_report_html(result, digests: dict[str, str], figures: dict[str, list[tuple[str, Path]]]) -> str:
    """The self-contained report page of a project (a :class:`~ale_app.result.ProjectResult`)."""
    spec = result.spec
    title = html.escape(spec.title or "ale-app project")
    inputs = {name: report_inputs(g) for name, g in result.groups.items()}
    what = (f"{_plural(len(result.groups), 'group')} analysed on their own and "
            f"{_plural(len(result.contrasts), 'contrast')} between them")
    if result.inferential:
        intro = (f"<p>An ALE project made by ale-app {html.escape(__version__)}: {what}, in the inferential mode the "
                 "spec declared before the run (each group's cluster-level FWE inference, each contrast's test).</p>")
    else:
        intro = (f"<p>A descriptive ALE project made by ale-app {html.escape(__version__)}: {what}. Every threshold "
                 "in this report is for display only; nothing here is a statistical test.</p>")
    parts = [f"<h1>{title}</h1>", intro, *failure_html(result.failed_step)]
    parts.append("<h2>Analyses</h2>" + summary_html(summary_rows(result)))
    parts.extend(img_tag(path, cap) for cap, path in figures.get("project", []))
    for label, c in result.contrasts.items():
        a, b = c.names
        parts.append(f'<section id="contrast-{html.escape(label)}"><h2>Contrast {html.escape(label)}: '
                     f"{html.escape(a)} minus {html.escape(b)}</h2>")
        if c.contrast_clusters is not None:
            parts.append(f"<p>{html.escape(contrast_interpretation(c))}</p>")
            details = contrast_details(c)
            if details:
                parts.append(f"<p>In detail: {html.escape(details)}</p>")
        parts.extend(contrast_section(c, {"contrast": figures.get(f"contrast-{label}", []),
                                             "conjunction": figures.get(f"conjunction-{label}", [])}, heading="h3"))
        parts.append("</section>")
    for name, g in result.groups.items():
        parts.append(f'<section id="group-{html.escape(name)}">')
        parts.extend(group_section(name, g, inputs[name], result.inferential, figures.get(f"group-{name}", [])))
        parts.append("</section>")
    parts.append(f"<h2>Methods</h2><p>{html.escape(project_methods_text(result, inputs))}</p>")
    parts.append("<h2>Reporting checklist (Müller et al., 2018)</h2>"
                 + project_checklist_html(result.contrasts, inputs, rerun=False))
    parts.extend(closing_html(_cited(project_references(result, inputs), parts), result.record.versions, digests))
    return page_html(title, parts)


def project_citation(result) -> str:
    """``CITATION.md`` of a project: the methods and interpretation of every analysis."""
    inputs = {name: report_inputs(g) for name, g in result.groups.items()}
    refs = cited_references(project_references(result, inputs),
                            f"{project_methods_text(result, inputs)} {project_interpretation(result, inputs)}")
    software = ", ".join(f"{k} {v}" for k, v in result.record.versions.items()
                         if k in ("ale-app", "nimare", "nilearn", "nibabel", "numpy", "python"))
    names = [*result.groups, *result.contrasts, result.spec.title or ""]
    for group in result.groups.values():
        names += evidence_names(group.evidence)
    return (f"# {markdown_escape(result.spec.title or 'ale-app project')}\n\n## Methods\n\n"
            f"{markdown_text(project_methods_text(result, inputs), names)}\n\n"
            f"## Interpretation\n\n{markdown_text(project_interpretation(result, inputs), names)}"
            f"{_details_markdown(project_details(result, inputs), names)}\n\n## Software\n\n"
            f"{software}.\n\n## References\n\n" + "\n".join(f"- {t}" for t, _ in refs.values())
            + "\n\n## BibTeX\n\n```bibtex\n" + "\n\n".join(b for _, b in refs.values()) + "\n```\n")


def _details_html(details: str) -> list[str]:
    """The interpretation's details, below the short paragraph (nothing when there are none)."""
    return [f"<h3>In detail</h3><p>{html.escape(details)}</p>"] if details else []


def _details_markdown(details: str, names) -> str:
    return f"\n\n### In detail\n\n{markdown_text(details, names)}" if details else ""


def _cited(refs: dict, parts: list[str]) -> list[str]:
    """The texts of the references the page's words cite."""
    return [text for text, _ in cited_references(refs, html.unescape(" ".join(parts))).values()]
