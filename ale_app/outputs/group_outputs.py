"""The files of one group's analysis: its maps, tables, figures and Sleuth export, each an
:class:`~ale_app.outputs.entries.Output` built from the group's
:class:`~ale_app.result.AnalysisResult`.

A run of one group writes them under their own names; a run of several groups writes each
group's under ``group-<name>_`` (:func:`group_entry`). The run's own files (description,
coordinates, report, spec) are in :mod:`ale_app.outputs.run_outputs`; the registry that puts
them together is :mod:`ale_app.outputs.registry`.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ale_app.outputs import folder as D
from ale_app.outputs.entries import GroupPart, Output, Sidecar
from ale_app.outputs.group_figures import (fig_clusters, fig_coordinates, fig_dependence, fig_fwe, fig_fwe_clusters,
                                           fig_fwe_dependence, fig_fwe_peaks, fig_jackknife, fig_overlay, fig_peak,
                                           fig_z)
from ale_app.outputs.names import (CLUSTER_MAP, CLUSTER_TABLE, FAILSAFE_TABLE, FAILSAFE_TESTS, FIG_CLUSTERS,
                                   FIG_COORDINATES, FIG_DEPENDENCE, FIG_FWE, FIG_FWE_CLUSTERS, FIG_FWE_DEPENDENCE,
                                   FIG_FWE_PEAKS, FIG_JACKKNIFE, FIG_OVERLAY, FIG_PEAK, FIG_Z, FWE_CLUSTER_MAP,
                                   FWE_CLUSTER_TABLE, FWE_FOCUS_COUNTS, FWE_JACKKNIFE_TABLE, JACKKNIFE_TABLE,
                                   LOGP_CLUSTER_FWE, LOGP_VOXEL_FWE, MCNULL_TABLE, SLEUTH, STABILITY_MAP,
                                   STABILITY_NULL, STABILITY_TABLE, STATMAP, STAT_P, STAT_Z, group_prefix, prefixed)
from ale_app.outputs.sidecars import (cluster_map_sidecar, cluster_table_sidecar, failsafe_table_sidecar,
                                      failsafe_tests_sidecar, fwe_cluster_table_sidecar, fwe_focus_counts_sidecar,
                                      fwe_jackknife_sidecar, inferential_sidecar, jackknife_sidecar,
                                      logp_cluster_fwe_sidecar, mcnull_sidecar, sleuth_sidecar, stability_map_sidecar,
                                      stability_null_sidecar, stability_table_sidecar, statmap_sidecar)
from ale_app.result import AnalysisResult

LGR = logging.getLogger("ale_app")


def coordinates_table(evidence):
    """``coordinates.tsv``'s rows: every focus in the target space, with its experiment's sample
    size as the input gives it (missing: ``n/a``)."""
    table = evidence.coordinates.copy()
    table["space"] = "MNI152NLin6Asym"
    table["sample_size"] = table["analysis_id"].map(evidence.sample_sizes).astype(float)
    return table


def _stability_image(result: AnalysisResult, _out=None):
    from ale_app.stats.ale import values_to_image

    assert result.stability is not None and result.fit is not None  # needs=("fit", "stability")
    return values_to_image(result.stability.frequency_values, result.fit.masker)


def _stability_null(result: AnalysisResult, _out=None):
    import pandas as pd

    assert result.stability is not None  # needs=("stability",)
    sizes = result.stability.null_cluster_sizes
    return pd.DataFrame({"iteration": range(len(sizes)), "max_cluster_size_voxels": sizes})


def _sleuth(result: AnalysisResult, _out: D.OutputFolder | None = None) -> str:
    from ale_app.outputs.rerun import sleuth_text, unexported_names

    for item in unexported_names(result.evidence):
        LGR.warning("The Sleuth export (%s) cannot carry the name of experiment %r: %s; it is written as %r, with its "
                    "subjects and foci unchanged, and its sidecar lists it (NamesNotExported).", SLEUTH,
                    item["Id"], item["Why"], item["WrittenAs"])
    return sleuth_text(result.evidence, result.spec.ale.sample_size)


#: Every file of one group's analysis, in the order a run writes them.
GROUP_OUTPUTS: tuple[Output, ...] = (
    Output(STATMAP, "nifti", "data", lambda r, _o: r.fit.stat_img, statmap_sidecar,
           needs=("fit", "peak", "threshold")),
    Output(CLUSTER_MAP, "nifti", "data", lambda r, _o: r.clusters.label_img, cluster_map_sidecar,
           needs=("clusters",)),
    Output(CLUSTER_TABLE, "tsv", "data", lambda r, _o: r.clusters.table, cluster_table_sidecar,
           needs=("clusters",)),
    Output(JACKKNIFE_TABLE, "tsv", "data", lambda r, _o: r.jackknife, jackknife_sidecar, needs=("jackknife",)),
    Output(STAT_Z, "nifti", "data", lambda r, _o: r.inference.z_img, inferential_sidecar(
        "Uncorrected voxel-level z from NiMARE's analytic ALE null.", [f"bids::{STATMAP}"]), needs=("inference",)),
    Output(STAT_P, "nifti", "data", lambda r, _o: r.inference.p_img, inferential_sidecar(
        "Uncorrected voxel-level p from NiMARE's analytic ALE null.", [f"bids::{STATMAP}"]), needs=("inference",)),
    Output(LOGP_CLUSTER_FWE, "nifti", "data", lambda r, _o: r.inference.logp_cluster_size_fwe_img,
           logp_cluster_fwe_sidecar, needs=("inference",)),
    Output(LOGP_VOXEL_FWE, "nifti", "data", lambda r, _o: r.inference.logp_voxel_fwe_img, inferential_sidecar(
        "-log10 of each voxel's voxel-level FWE p (from the null of the largest ALE value).",
        [f"bids::{STATMAP}", f"bids::{MCNULL_TABLE}"]), needs=("inference",)),
    Output(FWE_CLUSTER_MAP, "nifti", "data", lambda r, _o: r.fwe_clusters.label_img, inferential_sidecar(
        "Labels of the clusters that passed cluster-level FWE (0 = none), numbered by descending peak ALE.",
        [f"bids::{STATMAP}", f"bids::{LOGP_CLUSTER_FWE}"]), needs=("fwe_clusters",)),
    Output(FWE_CLUSTER_TABLE, "tsv", "data", lambda r, _o: r.fwe_clusters.table, fwe_cluster_table_sidecar,
           needs=("fwe_clusters",)),
    Output(FWE_JACKKNIFE_TABLE, "tsv", "data", lambda r, _o: r.fwe_jackknife, fwe_jackknife_sidecar,
           needs=("fwe_jackknife",)),
    Output(FWE_FOCUS_COUNTS, "tsv", "data", lambda r, _o: r.fwe_focus_counts, fwe_focus_counts_sidecar,
           needs=("fwe_focus_counts",)),
    Output(MCNULL_TABLE, "tsv", "data", lambda r, _o: r.inference.null, mcnull_sidecar, needs=("inference",)),
    Output(STABILITY_MAP, "nifti", "data", _stability_image, stability_map_sidecar, needs=("fit", "stability")),
    Output(STABILITY_TABLE, "tsv", "data", lambda r, _o: r.stability.clusters, stability_table_sidecar,
           needs=("stability",)),
    Output(STABILITY_NULL, "tsv", "data", _stability_null, stability_null_sidecar, needs=("stability",)),
    Output(FAILSAFE_TABLE, "tsv", "data", lambda r, _o: r.failsafe.table, failsafe_table_sidecar,
           needs=("failsafe",)),
    Output(FAILSAFE_TESTS, "tsv", "data", lambda r, _o: r.failsafe.evaluations, failsafe_tests_sidecar,
           needs=("failsafe",)),
    Output(FIG_COORDINATES, "figure", "figures", fig_coordinates,
           caption="All reported coordinates, by study", section="evidence", needs=("evidence",)),
    Output(FIG_OVERLAY, "figure", "figures", fig_overlay,
           caption="Raw ALE map with the coordinates (ALE statistic, not z or p; drawn above display.glass_brain_threshold, as the figure's note says)", section="ale",
           needs=("fit",)),
    Output(FIG_PEAK, "figure", "figures", fig_peak,
           caption="ALE map above the display-only threshold, cut at the peak", section="ale",
           draw_cost=2.5, needs=("fit", "peak", "threshold")),  # nilearn loads and resamples the MNI152 template for it
    Output(FIG_JACKKNIFE, "figure", "figures", fig_jackknife,
           caption="Jackknife: mean contribution of each experiment over all descriptive clusters (an average; "
                   "the heatmap below shows each cluster)", section="jackknife",
           needs=("jackknife",)),
    Output(FIG_DEPENDENCE, "figure", "figures", fig_dependence,
           caption="Jackknife per descriptive cluster: the share of each cluster's ALE removed by leaving each "
                   "experiment out (outlined: the cluster rests on that experiment)", section="jackknife",
           needs=("jackknife",)),
    Output(FIG_CLUSTERS, "figure", "figures", fig_clusters,
           caption="Descriptive clusters D1, D2 ... as numbered in the tables (display threshold, not a test)",
           section="clusters", needs=("clusters",)),
    Output(FIG_FWE, "figure", "figures", fig_fwe,
           caption="The result of the test: ALE values of the clusters that passed cluster-level FWE (F1, F2 ...)",
           section="inference", needs=("fit", "fwe_clusters")),
    Output(FIG_FWE_PEAKS, "figure", "figures", fig_fwe_peaks,
           caption="Clusters that passed cluster-level FWE, cut at each cluster's peak", section="inference",
           draw_cost=3.0, needs=("fit", "fwe_clusters")),
    Output(FIG_FWE_CLUSTERS, "figure", "figures", fig_fwe_clusters,
           caption="FWE clusters F1, F2 ... as numbered in the FWE table", section="inference",
           needs=("fwe_clusters",)),
    Output(FIG_FWE_DEPENDENCE, "figure", "figures", fig_fwe_dependence,
           caption="Jackknife per FWE cluster: the share of each cluster's ALE removed by leaving each experiment "
                   "out (outlined: the cluster rests on that experiment)", section="inference",
           needs=("fwe_jackknife",)),
    Output(FIG_Z, "figure", "figures", fig_z,
           caption="Uncorrected voxel-level z from the analytic null, above the cluster-forming threshold "
                   "(not FWE-corrected)", section="inference", needs=("inference",)),
    Output(SLEUTH, "text", "data", _sleuth, sleuth_sidecar, needs=("evidence",)),
)


def _lower_first(text: str) -> str:
    """``text`` with its first letter in lower case, unless it begins an acronym (ALE, FWE)."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def group_entry(entry: Output, group: str) -> Output:
    """``entry`` as group ``group``'s file in a run of several groups: its name under
    ``group-<group>_``, its sidecar's sources under the same prefix (and naming the group),
    its caption and report section the group's."""
    prefix = group_prefix(group)

    def group_sidecar(result) -> Sidecar:
        assert entry.sidecar is not None  # only entries with a sidecar get this one
        side = entry.sidecar(result)
        sources = [s.replace("bids::", f"bids::{prefix}", 1) if s.startswith("bids::") else s
                   for s in side.sources]
        return Sidecar(side.description, sources, side.parameters, {**side.extra, "Group": group})

    caption = None if entry.caption is None else f"{group}: {_lower_first(entry.caption)}"
    return replace(entry, name=prefixed(entry.name, prefix), sidecar=None if entry.sidecar is None else group_sidecar,
                   caption=caption, section=None if entry.section is None else f"group-{group}",
                   part=GroupPart(group))


def group_outputs(group: str, own_names: bool) -> tuple[Output, ...]:
    """Group ``group``'s files, built from its part of a project's result: under their own
    names (``own_names``, a run of one group) or under the group's label."""
    if own_names:
        return tuple(replace(entry, part=GroupPart(group)) for entry in GROUP_OUTPUTS)
    return tuple(group_entry(entry, group) for entry in GROUP_OUTPUTS)
