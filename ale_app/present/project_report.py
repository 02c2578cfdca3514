"""The page and ``CITATION.md`` of a project of several analyses (shape ``project``): a summary
table of every analysis with links to its section, each contrast's section, each group's
section, the methods of every analysis, one checklist and the references.

A run of one group, or of two groups and their contrast, writes the pages of
:mod:`ale_app.present.report` and :mod:`ale_app.present.contrast_report`; this page is built
from the same sections (:func:`~ale_app.present.contrast_report.contrast_section`,
:func:`~ale_app.present.contrast_report.group_section`).
"""

from __future__ import annotations

import html
from pathlib import Path


from ale_app import __version__
from ale_app.present import contrast_report as CR
from ale_app.present import contrast_sections as CS
from ale_app.present import report_words as RW
from ale_app.present.html_parts import closing_html, failure_html, img_tag, page_html
from ale_app.present.markdown import markdown_escape, markdown_text
from ale_app.present.report_view import evidence_names, report_inputs
from ale_app.present.reviewer import project_checklist_html


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _standalone(result) -> list[str]:
    """The groups no contrast reads (their own interpretation and methods are said once)."""
    read = {g for c in result.contrasts.values() for g in c.names}
    return [name for name in result.groups if name not in read]


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


def _summary_html(rows: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("Analysis", "Kind", "Experiments", "Clusters",
                                                         "Largest effect"))
    body = "".join(
        f'<tr><td class="text"><a href="#{html.escape(r["anchor"])}">{html.escape(r["Analysis"])}</a></td>'
        + "".join(f"<td>{html.escape(r[c])}</td>" for c in ("Kind", "Experiments", "Clusters", "Largest effect"))
        + "</tr>" for r in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def methods_text(result, inputs: dict) -> str:
    """Every analysis's methods: each contrast's (which describe its two groups), then each
    group that no contrast reads."""
    parts = [f"Contrast {label} ({c.names[0]} minus {c.names[1]}). {CR.methods_text(c)}"
             for label, c in result.contrasts.items()]
    parts += [f"Group {name}. {RW.methods_text(inputs[name])}" for name in _standalone(result)]
    return " ".join(parts)


def interpretation(result, inputs: dict) -> str:
    """Each contrast's interpretation, then each group's that no contrast reads."""
    parts = [f"Contrast {label}: {CR.interpretation(c)}" for label, c in result.contrasts.items()]
    parts += [f"Group {name}: {RW.interpretation(inputs[name])}" for name in _standalone(result)]
    return " ".join(parts)


def references(result, inputs: dict) -> dict:
    """The references of every analysis that ran, each once."""
    refs: dict = {}
    for c in result.contrasts.values():
        refs.update(CR.contrast_references(c))
    for name in _standalone(result):
        refs.update(RW.references_for(inputs[name].robustness))
    if not refs:
        refs.update(RW.references_for())
    return refs


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
    parts.append("<h2>Analyses</h2>" + _summary_html(summary_rows(result)))
    parts.extend(img_tag(path, cap) for cap, path in figures.get("project", []))
    for label, c in result.contrasts.items():
        a, b = c.names
        parts.append(f'<section id="contrast-{html.escape(label)}"><h2>Contrast {html.escape(label)}: '
                     f"{html.escape(a)} minus {html.escape(b)}</h2>")
        if c.contrast_clusters is not None:
            parts.append(f"<p>{html.escape(CR.interpretation(c))}</p>")
        parts.extend(CS.contrast_section(c, {"contrast": figures.get(f"contrast-{label}", []),
                                             "conjunction": figures.get(f"conjunction-{label}", [])}, heading="h3"))
        parts.append("</section>")
    for name, g in result.groups.items():
        parts.append(f'<section id="group-{html.escape(name)}">')
        parts.extend(CS.group_section(name, g, inputs[name], result.inferential, figures.get(f"group-{name}", [])))
        parts.append("</section>")
    parts.append(f"<h2>Methods</h2><p>{html.escape(methods_text(result, inputs))}</p>")
    parts.append("<h2>Reporting checklist (Müller et al., 2018)</h2>"
                 + project_checklist_html(result.contrasts, inputs, rerun=False))
    parts.extend(closing_html([text for text, _ in references(result, inputs).values()], result.record.versions,
                              digests))
    return page_html(title, parts)


def project_citation(result) -> str:
    """``CITATION.md`` of a project: the methods and interpretation of every analysis."""
    inputs = {name: report_inputs(g) for name, g in result.groups.items()}
    refs = references(result, inputs)
    software = ", ".join(f"{k} {v}" for k, v in result.record.versions.items()
                         if k in ("ale-app", "nimare", "nilearn", "nibabel", "numpy", "python"))
    names = [*result.groups, *result.contrasts, result.spec.title or ""]
    for group in result.groups.values():
        names += evidence_names(group.evidence)
    return (f"# {markdown_escape(result.spec.title or 'ale-app project')}\n\n## Methods\n\n"
            f"{markdown_text(methods_text(result, inputs), names)}\n\n"
            f"## Interpretation\n\n{markdown_text(interpretation(result, inputs), names)}\n\n## Software\n\n"
            f"{software}.\n\n## References\n\n" + "\n".join(f"- {t}" for t, _ in refs.values())
            + "\n\n## BibTeX\n\n```bibtex\n" + "\n\n".join(b for _, b in refs.values()) + "\n```\n")


__all__ = ["project_citation", "project_report_html", "summary_rows"]
