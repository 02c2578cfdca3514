"""The report's view of a run: :class:`ReportInputs`, every number the page, the methods and
``CITATION.md`` state, read from the objects the tables and maps are written from (never
recounted), with the facts of the evidence, the kernel, the inference and the robustness
analyses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


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
    fwe_in_descriptive: dict[int, list[int]] | None = None
    assumed_spaces: dict[str, int] = field(default_factory=dict)


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
                "not derived from sample sizes.")
    if ale_spec.sample_size is not None:
        return (f"Every experiment was modelled with a Gaussian kernel of {kernel_fwhm_mm(ale_spec.sample_size):.2f} mm "
                f"FWHM, from one assumed sample size of {ale_spec.sample_size} subjects by the "
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
        parts.append(f"{len(ev.outside_fov):,} foci outside the template's field of view were kept, as NiMARE "
                     "keeps them")
    if len(ev.outside_mask):
        parts.append(f"{len(ev.outside_mask):,} foci inside the template's box but outside its brain mask were kept")
    by_study = ev.coordinates_by_study()
    if ev.study_of:
        from ale_app.inputs.studies import RULE_WORDS

        rule = ev.study_rule
        parts.append(f"experiments were grouped into {len(ev.study_ids):,} studies ({RULE_WORDS[rule]}), with any placeholder study name (such as 'null, .') "
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


def fmt_xyz(xyz) -> str:
    return f"x={xyz[0]:.0f}, y={xyz[1]:.0f}, z={xyz[2]:.0f} mm (MNI)"


def report_inputs(result, digests: dict[str, str] | None = None) -> ReportInputs:
    """The report's view of an :class:`~ale_app.result.AnalysisResult`: every number is read
    from the objects the tables and maps are written from, never recounted."""
    from ale_app.inputs.evidence_summary import experiment_key, input_text
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
        fwe_in_descriptive=fwe_in_descriptive(result),
        assumed_spaces=_assumed_spaces(ev),
    )


def fwe_in_descriptive(result) -> dict[int, list[int]] | None:
    """Which descriptive clusters (D) each cluster that passed cluster-level FWE (F) overlaps,
    read from the two label maps: F label -> the D labels sharing a voxel with it, largest
    overlap first (None when either map is missing)."""
    if result.fwe_clusters is None or result.clusters is None:
        return None
    fwe = np.asarray(result.fwe_clusters.label_img.dataobj)
    desc = np.asarray(result.clusters.label_img.dataobj)
    out = {}
    for label in result.fwe_clusters.labels:
        inside = desc[fwe == int(label)]
        found, counts = np.unique(inside[inside > 0], return_counts=True)
        out[int(label)] = [int(d) for d in found[np.argsort(-counts, kind="stable")]]
    return out


def _assumed_spaces(ev) -> dict[str, int]:
    from ale_app.present.caveats import assumed_spaces

    return assumed_spaces(ev)


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
    from ale_app.inputs.evidence_summary import conversion_text, spaces_text, subjects_text

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
