"""The report and methods of a contrast (two groups), written from the run's results.

Descriptive contrasts describe and never infer (the words of
:data:`ale_app.present.report.FORBIDDEN_PHRASES` do not appear); inferential ones name the
test, the permutations, the seed and the reading of the difference they used.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from ale_app import __version__
from ale_app.present.markdown import markdown_escape, markdown_text
from ale_app.present.html_parts import (closing_html, failure_html,
                                        page_html)
from ale_app.present.report_view import evidence_names, report_inputs, robustness_facts
from ale_app.present.references import CONTRAST_REFERENCES, references_for
from ale_app.present.report_words import NAMED, RESTS_ON, robustness_methods
from ale_app.present.contrast_sections import (PREFIX, cluster_dependence, contrast_section, group_section, mm3,
                                               plural, table_html)

def _subsamples_words(bal, a: str, b: str) -> str:
    """How many distinct subsamples each group's probabilistic map used, and why that many."""
    from math import comb

    words = []
    for name, n, used in ((a, bal.n1, bal.n_subsamples_used[0]), (b, bal.n2, bal.n_subsamples_used[1])):
        if n == bal.target_n:
            words.append(f"{name}: 1, the whole group")
        elif used == comb(n, bal.target_n):
            words.append(f"{name}: {used:,}, every one there is")
        else:
            words.append(f"{name}: {used:,}")
    return "; ".join(words)


def _p_text(p: float, n_iterations: int, draws: str = "permutations") -> str:
    """A permutation p as its numbers allow: at the floor 1/n it is an inequality."""
    floor = 1.0 / n_iterations
    if p <= floor * (1 + 1e-6):
        return f"p \u2264 {floor:.2g} (the smallest p {n_iterations:,} {draws} can give)"
    return f"p = {p:.3g}"


def _group_line(name: str, group) -> str:
    ev = group.evidence
    return (f"{name} ({plural(len(ev.ids), 'experiment')}, {plural(len(ev.coordinates), 'focus', 'foci')}, "
            f"{plural(len(ev.study_ids), 'study', 'studies')})")


def _kernel_text(result) -> str:
    spec = result.spec.ale
    if spec.kernel_fwhm is not None:
        return f"one kernel FWHM of {spec.kernel_fwhm:g} mm for every experiment (ale.kernel_fwhm)"
    if spec.sample_size is not None:
        return (f"one sample size of {spec.sample_size} for every experiment (ale.sample_size), giving each "
                "kernel's FWHM by Eickhoff et al. (2009)")
    parts = []
    for name, g in result.groups.items():
        sizes = [v for v in g.evidence.sample_sizes.values() if v is not None]
        if sizes:
            parts.append(f"{name}: {min(sizes):g} to {max(sizes):g} subjects")
    return ("each experiment's sample size (" + "; ".join(parts) + "), giving each kernel's FWHM by Eickhoff et "
            "al. (2009)")


def _conversions_text(result) -> str:
    parts = []
    for name, g in result.groups.items():
        n = sum(int(c.get("Foci", 0)) for c in g.evidence.conversions)
        files = [c["File"] for c in g.evidence.conversions if "File" in c]
        if n:
            parts.append(f"{plural(n, 'focus', 'foci')} of {name}" + (f" in {', '.join(files)}" if files else ""))
    if not parts:
        return ""
    return (" Talairach coordinates (" + ", ".join(parts) + ") were converted to MNI with the Lancaster et al. "
            "(2007) transform (NiMARE's tal2mni).")


def interpretation(result) -> str:
    """The paragraph that summarises the contrast, sentence by sentence from its tables."""
    a, b = result.names
    cc = result.contrast_clusters
    text = [f"This analysis compared {_group_line(a, result.first)} with {_group_line(b, result.second)}."]
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
            text.append(f"Cluster {PREFIX}{int(row['cluster_id'])} ({favours} > {a if favours == b else b}, "
                        f"{int(row['size_mm3']):,} mm3, peak at ({row['x']:.0f}, {row['y']:.0f}, {row['z']:.0f}) "
                        f"mm): {_p_text(float(row['p_fwe']), bal.n_iterations, 'null draws')}.")
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
            text.append(f"Cluster {PREFIX}{int(row['cluster_id'])} ({favours} > {a if favours == b else b}, "
                        f"{int(row['size_mm3']):,} mm3, peak at ({row['x']:.0f}, {row['y']:.0f}, {row['z']:.0f}) "
                        f"mm{', ' + str(row['region']) if 'region' in row and isinstance(row['region'], str) else ''})"
                        f": {_p_text(p, inf.n_iterations)}{within}.")
            se = float(row["p_fwe_se"])
            if abs(p - inf.fwe_alpha) <= se:
                text.append(f"Cluster {PREFIX}{int(row['cluster_id'])}'s p is within one Monte Carlo standard error "
                            f"({se:.2g}) of alpha: another seed could move it across.")
        text.extend(_empty_directional_words(result))
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
    dependence = cluster_dependence(result)
    if dependence:
        resting = [d for d in dependence if d["rests_on_one"]]
        if resting:
            named = "; ".join(f"cluster {PREFIX}{d['cluster']} on {d['top_id']} ({d['top']:.2f})" for d in resting[:NAMED])
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
                f"{worst['top_id']} in cluster {PREFIX}{worst['cluster']}).")
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


def _empty_directional_words(result) -> list[str]:
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


def methods_text(result) -> str:
    """The methods paragraph, with the values that ran."""
    v = result.record.versions
    a, b = result.names
    spec = result.spec
    base = (
        f"Two groups were compared with activation likelihood estimation (ALE; Turkeltaub et al., 2002; "
        f"Eickhoff et al., 2009, 2012; modified procedure of Turkeltaub et al., 2012): {_group_line(a, result.first)} "
        f"and {_group_line(b, result.second)}, in MNI152 space (FSL's MNI152NLin6Asym template and brain mask at "
        f"2 mm), with NiMARE {v.get('nimare', '?')} (Salo et al., 2023) run by ale-app {__version__}. Gaussian "
        f"kernel widths came from {_kernel_text(result)}.{_conversions_text(result)}")
    if result.inferential and result.balanced is not None:
        inf, bal = spec.inference, result.balanced
        body = (
            f" Each group's own ALE was tested as in a single-group analysis (cluster-level FWE from "
            f"{inf.n_iterations:,} Monte Carlo iterations, cluster-forming p < {inf.voxel_p:g}, alpha "
            f"{inf.fwe_alpha:g}, seed {inf.seed}). The groups ({bal.n1} and {bal.n2} experiments) were compared "
            f"with a balanced contrast (matched-size subsampling as in JALE, as NiMARE's "
            f"BalancedALESubtraction implements it, null_method 'random-foci', mask coverage "
            f"'{bal.mask_coverage}'): the balanced difference is the mean, over {bal.difference_iterations:,} "
            f"pairs of random subsamples of {bal.target_n} experiments from each group, of the difference of "
            f"their ALE maps; its null comes from {bal.n_iterations:,} draws in which every experiment's foci were "
            f"placed at random in the mask coverage (each draw's smallest and largest mean balanced difference), "
            f"and a voxel passes where its difference lies beyond the {inf.fwe_alpha / 2:g} and "
            f"{1 - inf.fwe_alpha / 2:g} quantiles of those extremes ({bal.low_threshold:.4g} and "
            f"{bal.high_threshold:.4g}), with p the share of null extremes at least as extreme. Each group's "
            f"probabilistic map is the share of its distinct subsamples of {bal.target_n} experiments "
            f"({bal.n_subsamples:,} asked for; {_subsamples_words(bal, a, b)}) in which a voxel lies in a cluster "
            f"(approximate-null p < {inf.voxel_p:g}) larger than the group's random-foci cluster-size threshold; "
            f"their minimum is the "
            f"balanced conjunction. Seeds: {inf.seed} for the first group's subsamples and the differences, "
            f"{inf.seed + 1} for the second group's subsamples. Computed by ale-app's balanced engine, equal to "
            f"NiMARE's to within 1e-6.")
    elif result.inferential:
        inf = spec.inference
        sub = result.subtraction
        thr = "" if sub is None else f" (|ALE difference| > {sub.cluster_forming_threshold:.4g})"
        body = (
            f" Each group's own ALE was tested as in a single-group analysis (cluster-level FWE from "
            f"{inf.n_iterations:,} Monte Carlo iterations, cluster-forming p < {inf.voxel_p:g}, alpha "
            f"{inf.fwe_alpha:g}, seed {inf.seed}; at least {inf.min_experiments} experiments per group, Eickhoff "
            f"et al., 2016). The difference of the two ALE maps ({a} minus {b}) was tested with the ALE "
            f"subtraction of Laird et al. (2005) and Eickhoff et al. (2012) as NiMARE implements it: the "
            f"experiments of both groups were pooled and randomly reassigned to groups of the original sizes "
            f"{inf.n_iterations:,} times (seed {inf.seed}); the two-sided voxelwise permutation p, and voxel- and "
            f"cluster-level family-wise error from the largest |difference| and the largest cluster of each "
            f"permutation, with a cluster-forming threshold at the {1 - inf.voxel_p:g} quantile of all permuted "
            f"|differences|{thr}, faces connectivity. Contrast clusters are those with a cluster-size FWE p "
            f"below {inf.fwe_alpha:g}, tested over the whole brain mask (NiMARE's reading). For the GingerALE-"
            f"style reading, each cluster's table row gives the share of its voxels where the group it favours "
            f"converges on its own, and a directional map tests each direction only there (nowhere for a group "
            f"without such a cluster).")
    else:
        body = (
            f" The difference of the two ALE maps ({a} minus {b}) was inspected descriptively and drawn above a "
            f"display-only threshold, the {spec.display.threshold_percentile:g}th percentile of the nonzero "
            f"absolute differences ({result.diff_threshold:.4g} when computed). Contrast clusters were the "
            f"face-connected voxels beyond it, per direction, spanning at least "
            f"{spec.jackknife.cluster_threshold_mm3:g} mm3.")
    body += (f" Each contrast cluster's dependence on single experiments was measured by leaving each experiment of "
             f"the group it favours out (the mean over the cluster's voxels of 1 - difference without it / "
             f"difference); a cluster rests on one experiment when that removes at least {RESTS_ON:.0%} of it.")
    body += group_robustness_methods(result)
    if spec.contrast.conjunction:
        body += (" The conjunction is the voxelwise minimum of the two groups' ALE (minimum statistic, Nichols et "
                 "al., 2005) where both groups " + ("passed cluster-level FWE." if result.inferential else
                                                    "lie above their own display-only thresholds (a description)."))
    return base + body + f" Figures were made with nilearn {v.get('nilearn', '?')}."


def group_inputs(result) -> dict:
    """Each group's report view (:func:`ale_app.present.report.report_inputs`), by name."""
    return {name: report_inputs(g) for name, g in result.groups.items()}


#: The robustness facts that follow a group's number of experiments (stated per group).
_PER_GROUP = {"stability": ("table", "n_subsets", "subset_size", "cluster_size_threshold"),
              "failsafe": ("table", "lower", "upper", "n_experiments")}


def group_robustness_methods(result) -> str:
    """The stability and fail-safe N sentences of the groups' own FWE clusters (empty when
    neither ran): said once, with each group's subsets and bounds, when the groups ran the
    same parts with the same settings; else group by group."""
    facts = {name: robustness_facts(g) for name, g in result.groups.items()}
    ran = {name: f for name, f in facts.items() if f}
    if not ran:
        return ""

    def shared(f):
        return {part: {k: v for k, v in f[part].items() if k not in _PER_GROUP[part]} for part in f}

    first = next(iter(ran.values()))
    if len(ran) == len(facts) > 1 and all(shared(f) == shared(first) for f in ran.values()):
        subsets = bounds = robust_at = None
        if "stability" in first:
            subsets = " and ".join(f"{f['stability']['n_subsets']:,} subsets of {f['stability']['subset_size']} "
                                   f"experiments in {name}" for name, f in ran.items())
        if "failsafe" in first:
            bounds = " or ".join(f"{f['failsafe']['lower']} and {f['failsafe']['upper']} ({name})"
                                 for name, f in ran.items())
            robust_at = " or ".join(f"{f['failsafe']['lower']} ({name})" for name, f in ran.items())
        return (" Robustness of each group's own FWE clusters:"
                + robustness_methods(first, subsets=subsets, bounds=bounds, robust_at=robust_at))
    return "".join(f" Robustness of group {name}'s own FWE clusters:{robustness_methods(f)}"
                   for name, f in ran.items())


def contrast_references(result) -> dict:
    """The references of a contrast run: the single-group ones, those of the robustness parts
    that ran in either group (and of the balanced contrast), and the contrast's own."""
    ran = {part for g in result.groups.values() for part in ("stability", "failsafe")
           if getattr(g, part, None) is not None}
    return {**references_for(dict.fromkeys(ran), balanced=result.balanced is not None), **CONTRAST_REFERENCES}


def contrast_citation(result) -> str:
    """``CITATION.md`` of a contrast run."""
    refs = contrast_references(result)
    software = ", ".join(f"{k} {v}" for k, v in result.record.versions.items()
                         if k in ("ale-app", "nimare", "nilearn", "nibabel", "numpy", "python"))
    names = [*result.groups, result.spec.title or ""]
    for group in result.groups.values():
        names += evidence_names(group.evidence)
    return (f"# {markdown_escape(result.spec.title or 'ale-app contrast')}\n\n## Methods\n\n"
            f"{markdown_text(methods_text(result), names)}\n\n"
            f"## Interpretation\n\n{markdown_text(interpretation(result), names)}\n\n## Software\n\n{software}.\n\n"
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
    parts.append(f"<h2>Interpretation</h2><p>{html.escape(interpretation(result))}</p>")
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
    parts.append(f"<h2>Methods</h2><p>{html.escape(methods_text(result))}</p>")
    from ale_app.present.reviewer import contrast_reporting_checklist_html

    parts.append("<h2>Reporting checklist (Müller et al., 2018)</h2>" + contrast_reporting_checklist_html(result, inputs))
    parts.extend(closing_html([text for text, _ in contrast_references(result).values()], result.record.versions, digests))
    return page_html(title, parts)
