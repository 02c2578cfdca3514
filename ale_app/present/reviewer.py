"""What a reviewer reads first in an inferential report: one row per FWE cluster with every
robustness number ale-app has for it, and the reporting items of Müller et al. (2018) that
the run fills by itself.

Every value is read from the tables the run wrote (the FWE cluster table, the foci per
cluster, the FWE jackknife, and the stability and fail-safe N tables when they ran); nothing
is recounted here.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

#: Müller, V. I., Cieslik, E. C., Laird, A. R., et al. (2018). Ten simple rules for
#: neuroimaging meta-analysis. Neuroscience and Biobehavioral Reviews, 84, 151-161.
MULLER_2018 = ("Müller, V. I., Cieslik, E. C., Laird, A. R., Fox, P. T., Radua, J., Mataix-Cols, D., Tench, C. R., "
               "Yarkoni, T., Nichols, T. E., Turkeltaub, P. E., Wager, T. D., & Eickhoff, S. B. (2018). Ten simple "
               "rules for neuroimaging meta-analysis. Neuroscience and Biobehavioral Reviews, 84, 151-161. "
               "doi:10.1016/j.neubiorev.2017.11.012")

#: Experiments whose foci are named in a summary row (most foci first); the rest are counted.
NAMED_CONTRIBUTORS = 5


def failsafe_words(row) -> str:
    """A cluster's fail-safe N as the report's table shows it (a row of the fail-safe table):
    the number of noise experiments it survives in half of the draws with its 95% interval, or
    what the tests showed when there is no interval."""
    import math

    value, tests, survived = float(row["failsafe_n"]), int(row["tests"]), int(row["tests_survived"])
    if survived == tests:
        return f"\u2265 {value:g} (survived all {tests} tests, up to the upper bound)"
    if survived == 0:
        return f"0 (survived none of {tests} tests)"
    if math.isnan(value):
        return f"no value (survived {survived} of {tests} tests; survival did not fall as noise was added)"
    if bool(row["passes_upper"]):
        return (f"\u2265 {value:g} (survives the upper bound in {100 * float(row['survival_at_upper']):.0f}% of "
                "draws)")
    return f"{value:.1f} (95% CI {float(row['ci_low']):.1f} to {float(row['ci_high']):.1f})"


def _main_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["peak"] == "main"] if "peak" in table.columns else table


def _per_cluster(extra: pd.DataFrame | None, cluster_id: int, column: str):
    """``column`` of ``extra`` (a table with ``cluster_id``) for one cluster, or None."""
    if extra is None or not len(extra) or column not in extra.columns:
        return None
    rows = extra[extra["cluster_id"].astype(int) == int(cluster_id)]
    return None if not len(rows) else rows.iloc[0][column]


def fwe_cluster_summary(fwe_table: pd.DataFrame, focus_counts: pd.DataFrame | None,
                        fwe_jackknife: pd.DataFrame | None, n_experiments: int,
                        robustness: dict | None = None) -> pd.DataFrame:
    """One row per FWE cluster: id (F1 ...), volume, peak, region, FWE p, the experiments with
    foci in it and how many each has, the largest leave-one-out share and whose it is, and,
    when they ran (``robustness``, the report's facts of ``stability`` and ``failsafe``), the
    share of subsets in which it survives and its fail-safe N."""
    robustness = robustness or {}
    rows = []
    for main in _main_rows(fwe_table).itertuples():
        cid = int(main.cluster_id)
        column = f"cluster_{cid}"
        row = {"Cluster": f"F{cid}", "Volume (mm³)": main.size_mm3,
               "Peak (x, y, z mm)": f"{float(main.x):.0f}, {float(main.y):.0f}, {float(main.z):.0f}",
               "Region": main.region, "FWE p": float(main.p_fwe)}
        if focus_counts is not None and column in focus_counts.columns:
            counts = focus_counts[["id", column]]
            counts = counts[counts[column].astype(int) > 0]
            order = np.argsort(-counts[column].astype(int).to_numpy(), kind="stable")
            counts = counts.iloc[order]
            named = [f"{i} ({int(k)})" for i, k in zip(counts["id"].head(NAMED_CONTRIBUTORS),
                                                       counts[column].head(NAMED_CONTRIBUTORS))]
            rest = len(counts) - len(named)
            row["Experiments with foci"] = f"{len(counts)} of {n_experiments}"
            row["Foci by experiment (most first)"] = ", ".join(named) + (f", and {rest} more" if rest > 0 else "")
        if fwe_jackknife is not None and column in fwe_jackknife.columns and len(fwe_jackknife):
            shares = fwe_jackknife[column].astype(float)
            top = int(np.argmax(shares.to_numpy()))  # the first of equal shares, in file order
            row["Largest leave-one-out share"] = f"{shares.iloc[top]:.2f} ({fwe_jackknife['id'].iloc[top]})"
        if "stability" in robustness:
            share = _per_cluster(robustness["stability"]["table"], cid, "stability")
            row["Stability (share of subsets)"] = None if share is None else f"{float(share):.2f}"
        if "failsafe" in robustness:
            table = robustness["failsafe"]["table"]
            found = table[table["cluster_id"].astype(int) == cid]
            row["Fail-safe N"] = failsafe_words(found.iloc[0]) if len(found) else None
        rows.append(row)
    return pd.DataFrame(rows)


#: Summary columns of words, read left-aligned.
_TEXT = {"Cluster": "text", "Peak (x, y, z mm)": "text nowrap", "Region": "text",
         "Foci by experiment (most first)": "text", "Largest leave-one-out share": "text", "FWE p": "nowrap",
         "Fail-safe N": "text"}


def fwe_cluster_summary_html(summary: pd.DataFrame, n_iterations: int) -> str:
    """The summary as a table; an FWE p at the Monte Carlo floor reads "≤ 1/n"."""
    floor = 1.0 / n_iterations
    head = "".join(f'<th class="{_TEXT[c]}">{html.escape(str(c))}</th>' if c in _TEXT else f"<th>{html.escape(str(c))}</th>"
                   for c in summary.columns)
    body = []
    for _, row in summary.iterrows():
        cells = []
        for c in summary.columns:
            v = row[c]
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                text = "not run"
            elif c == "FWE p":
                text = f"\u2264 {floor:.2g}" if float(v) <= floor * (1 + 1e-6) else f"{float(v):.4g}"
            elif isinstance(v, float):
                text = f"{v:.3g}"
            else:
                text = str(v)
            css = f' class="{_TEXT[c]}"' if c in _TEXT else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _several_experiment_studies(experiments: pd.DataFrame | None) -> int | None:
    if experiments is None or not len(experiments) or "study_id" not in experiments.columns:
        return None
    return int((experiments.groupby("study_id")["id"].nunique() > 1).sum())


def reporting_checklist(r) -> list[tuple[str, str, str]]:
    """The reporting items of Müller et al. (2018) that the run can fill, each with the value
    that ran: (rule, item, value). ``r`` is the report's :class:`ReportInputs`."""
    items: list[tuple[str, str, str]] = []
    power = f"{r.n_experiments:,} experiments from {r.n_studies:,} studies"
    if r.n_experiments < 17:
        power += " (fewer than the 17-20 that Müller et al. recommend for ALE)"
    items.append(("2: sufficient power", "Experiments", power))
    subjects = r.evidence.get("Subjects (sum of sample sizes)")
    if subjects:
        items.append(("3: collect and organise the data", "Subjects", subjects))
    items.append(("3: collect and organise the data", "Foci", f"{r.n_foci:,}"))
    items.append(("4: reference space", "Spaces in the input", r.evidence.get("Spaces in the input", "")))
    items.append(("4: reference space", "Space conversions", r.evidence.get("Space conversions", "none")))
    several = _several_experiment_studies(r.experiments)
    if several is not None:
        items.append(("5: within-group effects", "Studies with more than one experiment",
                      f"{several:,}" + (" (their experiments entered separately, not pooled per subject group)"
                                         if several else "")))
    items.append(("7: know the software", "Software and versions",
                  ", ".join(f"{k} {v}" for k, v in r.versions.items()
                            if k in ("ale-app", "nimare", "nilearn", "nibabel", "numpy", "python"))))
    items.append(("7: know the software", "Kernel", r.kernel_methods or r.kernel_text))
    if r.inference is not None:
        f = r.inference
        items.append(("8: appropriate threshold", "Threshold",
                      f"cluster-level FWE, alpha {f['alpha']:g}, cluster-forming p < {f['voxel_p']:g}"))
        items.append(("8: appropriate threshold", "Monte Carlo iterations and seed",
                      f"{f['n_iterations']:,} iterations, seed {f['seed']}"))
        items.append(("8: appropriate threshold", "Clusters that passed", f"{f['n_clusters']:,}"))
    else:
        items.append(("8: appropriate threshold", "Threshold",
                      f"none: a descriptive run ({r.threshold_percentile:g}th percentile display threshold, "
                      "not a test)"))
    diagnostics = [f"leave-one-out jackknife ({r.jackknife_method})"]
    if r.fwe_focus_counts is not None:
        diagnostics.append("foci of each experiment per FWE cluster")
    rb = r.robustness or {}
    if "stability" in rb:
        st = rb["stability"]
        diagnostics.append(f"subsampling stability ({st['n_subsets']:,} subsets of {st['subset_size']} experiments)")
    if "failsafe" in rb:
        fs = rb["failsafe"]
        diagnostics.append(f"fail-safe N (Acar et al. 2018; {fs['tests_per_cluster']:,} tests per cluster, each its "
                           f"own noise draw, staircases from {fs['lower']:,} noise experiments, at most "
                           f"{fs['upper']:,}, smallest step {fs['step']})")
    items.append(("9: diagnostics", "Contributions", "; ".join(diagnostics)))
    items.append(("10: transparency", "Data and re-run",
                  "coordinates.tsv and a Sleuth export of every focus as it ran; " + rerun_words(set(rb))
                  + "; provenance.json records every setting and file digest"))
    return items


def rerun_words(parts: set[str]) -> str:
    """What the re-run script re-runs, as the checklist says it (``parts``: the robustness
    parts that ran, "stability" and/or "failsafe")."""
    said = []
    if "stability" in parts:
        said.append("the subsampling stability too")
    if "failsafe" in parts:
        said.append("not the fail-safe N, which NiMARE does not have")
    return "code/nimare_rerun.py re-runs the analysis with NiMARE alone" + (f" ({', '.join(said)})" if said else "")


#: Items a run cannot know; the checklist names them so that none is taken as done.
YOURS_TO_REPORT = ("the research question (rule 1), the search, inclusion and exclusion criteria and the flow of "
                   "records (rules 3-4), and how the coordinates were checked against the papers (rule 6)")


def reporting_checklist_html(r) -> str:
    return _checklist_html(reporting_checklist(r))


def _rule_number(rule: str) -> int:
    """The number of a checklist rule ("8: appropriate threshold" is 8)."""
    return int(rule.split(":", 1)[0])


def merged_group_items(inputs: dict) -> list[tuple[str, str, str]]:
    """Each group's checklist items (:func:`reporting_checklist` of its report view in
    ``inputs``, by group name), one row per item, the groups' values joined when they differ;
    rule 10 apart (said once for the run)."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for name, r in inputs.items():
        for rule, item, value in reporting_checklist(r):
            if rule.startswith("10:"):
                continue  # said once for the run below
            rows.setdefault((rule, item), {})[name] = value
    items = []
    # In rule order (an item only one group has, such as Subjects, is first met in the second
    # group's list); a group without the item says so rather than being left out.
    for (rule, item), values in sorted(rows.items(), key=lambda kv: _rule_number(kv[0][0])):
        distinct = set(values.values())
        if len(distinct) == 1 and len(values) == len(inputs):
            value = next(iter(distinct))
        else:
            value = "; ".join(f"{name}: {values[name].rstrip('.')}" if name in values else f"{name}: not recorded"
                              for name in inputs)
        items.append((rule, item, value))
    return items


def contrast_test_words(result) -> str:
    """What a contrast (a :class:`~ale_app.result.ContrastResult`) tested, in one line."""
    spec, (a, b) = result.spec, result.names
    if result.inferential and result.balanced is not None:
        bal = result.balanced
        return (f"balanced contrast {a} - {b} (subsamples of {bal.target_n}; {bal.n_subsamples:,} subsamples per "
                f"group, {bal.difference_iterations:,} differences, {bal.n_iterations:,} null draws; seeds {bal.seed} "
                f"and {bal.seed + 1}), alpha {spec.inference.fwe_alpha:g} against the null extremes")
    if result.inferential:
        inf = spec.inference
        return (f"ALE subtraction {a} - {b}: {inf.n_iterations:,} permutations of the group labels, seed {inf.seed}, "
                f"cluster-level FWE alpha {inf.fwe_alpha:g}, cluster-forming p < {inf.voxel_p:g}")
    return (f"none: a descriptive difference {a} - {b} ({spec.display.threshold_percentile:g}th percentile display "
            "threshold, not a test)")


def project_checklist(contrasts: dict, inputs: dict, rerun: bool = True) -> list[tuple[str, str, str]]:
    """The checklist of a run: every group's items (:func:`merged_group_items`), then each
    contrast's own test and clusters (``contrasts``: label to
    :class:`~ale_app.result.ContrastResult`), then the run's data and re-run."""
    items = merged_group_items(inputs)
    named = len(contrasts) > 1
    contrast_rows, diagnostics = [], []
    for label, result in contrasts.items():
        which = f" ({label})" if named else ""
        contrast_rows.append(("8: appropriate threshold", f"Contrast test{which}", contrast_test_words(result)))
        cc = result.contrast_clusters
        if cc is not None:
            contrast_rows.append(("8: appropriate threshold", f"Contrast clusters{which}", f"{len(cc.labels):,}"))
        if result.contrast_jackknife is not None:
            diagnostics.append(("9: diagnostics", f"Contrast contributions{which}",
                                "leave-one-out share of each contrast cluster's difference, per experiment of the "
                                "group it favours"))
    position = next((i for i, (rule, _, _) in enumerate(items) if _rule_number(rule) > 8), len(items))
    items[position:position] = contrast_rows
    items.extend(diagnostics)
    parts = {part for r in inputs.values() for part in (r.robustness or {})}
    every = "both groups" if len(inputs) == 2 else "every group"
    again = rerun_words(parts) if rerun else ("a NiMARE re-run script for each contrast and each group no "
                                                 "contrast reads (code/contrast-<label>_nimare_rerun.py, "
                                                 "code/group-<name>_nimare_rerun.py)")
    items.append(("10: transparency", "Data and re-run",
                  f"coordinates.tsv with every focus of {every} as it ran; " + again
                  + "; provenance.json records every setting and file digest"))
    return items


def contrast_reporting_checklist(result, inputs: dict) -> list[tuple[str, str, str]]:
    """The checklist of a contrast run: each group's items, one row per item, the groups'
    values joined when they differ, then the contrast's own test and clusters."""
    return project_checklist({"": result}, inputs)


def project_checklist_html(contrasts: dict, inputs: dict, rerun: bool = True) -> str:
    return _checklist_html(project_checklist(contrasts, inputs, rerun))


def contrast_reporting_checklist_html(result, inputs: dict) -> str:
    return _checklist_html(contrast_reporting_checklist(result, inputs))


def _checklist_html(items) -> str:
    rows = "".join(f'<tr><td class="text">{html.escape(rule)}</td><td class="text">{html.escape(item)}</td>'
                   f'<td class="text">{html.escape(value)}</td></tr>' for rule, item, value in items)
    return ("<p>The reporting items of Müller et al. (2018) that this run fills by itself, with the values that ran. "
            f"Still yours to report: {html.escape(YOURS_TO_REPORT)}.</p>"
            '<div class="wide"><table><thead><tr><th class="text">Rule</th><th class="text">Item</th><th class="text">Value</th>'
            "</tr></thead>"
            f"<tbody>{rows}</tbody></table></div><p>{html.escape(MULLER_2018)}</p>")
