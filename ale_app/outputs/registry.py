"""The registry of every file a run writes: its name, how it is made from the result, its
sidecar, and the step that writes it.

Adding an output, or a mode, is one new :class:`~ale_app.outputs.entries.Output` entry here
(and the compute step that fills the result); the writer (:mod:`ale_app.outputs.writing`),
``known_output_names`` (:mod:`ale_app.outputs.registries`: which files in an output folder are
ale-app's), the report's figures, provenance and ``--verify`` all read this registry. The
file names are in :mod:`ale_app.outputs.names`, the sidecars in :mod:`ale_app.outputs.sidecars`,
the figures in :mod:`ale_app.outputs.group_figures`. The folder itself
(:mod:`ale_app.outputs.folder`) only knows paths and bytes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from ale_app.outputs import folder as D
from ale_app.result import AnalysisResult
from ale_app.outputs.entries import Output
from ale_app.outputs.names import (BIDSIGNORE, CITATION, CLUSTER_MAP, CLUSTER_TABLE, COORDINATES, DATASET_DESCRIPTION,
                                   FAILSAFE_TABLE, FAILSAFE_TESTS, FIGURE_FORMATS, FIG_CLUSTERS, FIG_COORDINATES,
                                   FIG_DEPENDENCE, FIG_FWE, FIG_FWE_CLUSTERS, FIG_FWE_DEPENDENCE, FIG_FWE_PEAKS,
                                   FIG_JACKKNIFE, FIG_OVERLAY, FIG_PEAK, FIG_Z, FWE_CLUSTER_MAP, FWE_CLUSTER_TABLE,
                                   FWE_FOCUS_COUNTS, FWE_JACKKNIFE_TABLE, JACKKNIFE_TABLE, LOGP_CLUSTER_FWE,
                                   LOGP_VOXEL_FWE, MCNULL_TABLE, PROVENANCE, REPORT, RERUN_SCRIPT, SLEUTH, SPEC_JSON,
                                   STABILITY_MAP, STABILITY_NULL, STABILITY_TABLE, STATMAP, STAT_P, STAT_Z)
from ale_app.outputs.sidecars import (cluster_map_sidecar, cluster_table_sidecar, coordinates_sidecar,
                                      failsafe_table_sidecar, failsafe_tests_sidecar, fwe_cluster_table_sidecar,
                                      fwe_focus_counts_sidecar, fwe_jackknife_sidecar, inferential_sidecar,
                                      jackknife_sidecar, logp_cluster_fwe_sidecar, mcnull_sidecar, sleuth_sidecar,
                                      stability_map_sidecar, stability_null_sidecar, stability_table_sidecar,
                                      statmap_sidecar)
from ale_app.outputs.group_figures import (fig_clusters, fig_coordinates, fig_dependence, fig_fwe, fig_fwe_clusters,
                                           fig_fwe_dependence, fig_fwe_peaks, fig_jackknife, fig_overlay, fig_peak,
                                           fig_z)


LGR = logging.getLogger("ale_app")


#: Keys a run adds to ``spec.json``'s ``input`` section beside the spec's own fields
#: (:func:`spec_record` writes them; ``--verify`` strips them to rebuild the spec).
RECORDED_INPUT_KEYS = ("sha256", "format_used", "space_conversions")


def coordinates_table(evidence):
    """``coordinates.tsv``'s rows: every focus in the target space, with its experiment's sample
    size as the input gives it (missing: ``n/a``)."""
    table = evidence.coordinates.copy()
    table["space"] = "MNI152NLin6Asym"
    table["sample_size"] = table["analysis_id"].map(evidence.sample_sizes).astype(float)
    return table


def _coordinates(result: AnalysisResult, _out: D.OutputFolder | None = None):
    return coordinates_table(result.evidence)


def _stability_image(result: AnalysisResult, _out=None):
    from ale_app.stats.ale import values_to_image

    assert result.stability is not None and result.fit is not None  # needs=("fit", "stability")
    return values_to_image(result.stability.frequency_values, result.fit.masker)


def _stability_null(result: AnalysisResult, _out=None):
    import pandas as pd

    assert result.stability is not None  # needs=("stability",)
    sizes = result.stability.null_cluster_sizes
    return pd.DataFrame({"iteration": range(len(sizes)), "max_cluster_size_voxels": sizes})


def _dataset_description(result: AnalysisResult, _out: D.OutputFolder | None = None) -> dict:
    """``dataset_description.json``: the BIDS derivative's description (GeneratedBy ale-app; each input file
    in SourceDatasets with its SHA-256)."""
    from ale_app.outputs import provenance as P

    return P.dataset_description(result.spec.title, result.evidence.input_files)


def bidsignore_text(_result: AnalysisResult | None = None, _out: D.OutputFolder | None = None) -> str:
    """``.bidsignore``: the files whose entities or suffixes BIDS has no name for yet."""
    return "\n".join([
        "# Written by ale-app: derivatives whose entities or suffixes BIDS does not define yet.",
        "coordinates.*", "desc-*_coordinates.*", "desc-*_table.*", "figures/", REPORT, CITATION, SPEC_JSON, PROVENANCE, D.LOCK, "",
    ])


def spec_record(result: AnalysisResult, _out: D.OutputFolder | None = None) -> dict:
    """``spec.json``: the validated spec as run, defaults filled in, and (under ``input``) the
    keys of :data:`RECORDED_INPUT_KEYS`."""
    record = result.spec.record()
    ev = result.evidence
    recorded = dict(zip(RECORDED_INPUT_KEYS, (ev.source["sha256"], ev.source["format"], ev.conversions)))
    record["input"].update(recorded)
    return record


def _report(result: AnalysisResult, out: D.OutputFolder) -> str:
    """``report.html``: one self-contained page with every table, figure and the interpretation paragraph."""
    from ale_app.present.report import report_html
    from ale_app.present.report_view import report_inputs

    figures = {section: figure_files(out.root, section)
               for section in ("evidence", "ale", "clusters", "jackknife", "inference")}
    return report_html(report_inputs(result, out.digests), figures)


def _citation(result: AnalysisResult, out: D.OutputFolder) -> str:
    """``CITATION.md``: the methods text, the interpretation, the software and the references (with BibTeX)."""
    from ale_app.present.report_view import report_inputs
    from ale_app.present.report_words import citation_markdown

    return citation_markdown(report_inputs(result, out.digests))


def _sleuth(result: AnalysisResult, _out: D.OutputFolder | None = None) -> str:
    from ale_app.outputs.rerun import sleuth_text, unexported_names

    for item in unexported_names(result.evidence):
        LGR.warning("The Sleuth export (%s) cannot carry the name of experiment %r: %s; it is written as %r, with its "
                    "subjects and foci unchanged, and its sidecar lists it (NamesNotExported).", SLEUTH,
                    item["Id"], item["Why"], item["WrittenAs"])
    return sleuth_text(result.evidence, result.spec.ale.sample_size)


def _rerun_script(result: AnalysisResult, _out: D.OutputFolder | None = None) -> str:
    """``code/nimare_rerun.py``: a self-contained script that re-runs the analysis with NiMARE alone and
    compares its maps with this run's."""
    from ale_app.outputs.rerun import nimare_script

    return nimare_script(result)


REGISTRY: tuple[Output, ...] = (
    Output(DATASET_DESCRIPTION, "json", "start", _dataset_description),
    Output(BIDSIGNORE, "text", "start", bidsignore_text),
    Output(COORDINATES, "tsv", "data", _coordinates, coordinates_sidecar, needs=("evidence",)),
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
    Output(RERUN_SCRIPT, "text", "report", _rerun_script, needs=("evidence", "fit")),
    Output(REPORT, "text", "report", _report),
    Output(CITATION, "text", "report", _citation),
    Output(SPEC_JSON, "json", "report", spec_record),
)


def figure_entries(section: str | None = None, registry: tuple[Output, ...] = REGISTRY) -> list[Output]:
    """The figure entries, in registry order, optionally of one report section."""
    return [e for e in registry if e.kind == "figure" and (section is None or e.section == section)]


def figure_files(root: Path, section: str, registry: tuple[Output, ...] = REGISTRY) -> list[tuple[str, Path]]:
    """(caption, file) of each figure of ``section`` that is in ``root`` (PNG preferred)."""
    found = []
    for entry in figure_entries(section, registry):
        for fmt in FIGURE_FORMATS:
            path = root / f"{entry.name}.{fmt}"
            if path.is_file():
                assert entry.caption is not None  # every figure entry has its caption
                found.append((entry.caption, path))
                break
    return found


def started_now() -> datetime:
    """The current time (UTC), for :class:`~ale_app.result.RunRecord`."""
    return datetime.now(timezone.utc)
