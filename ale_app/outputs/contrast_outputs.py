"""The files of one contrast between two groups: the ALE difference, the subtraction's or the
balanced contrast's maps and tables, the conjunction and their figures, each an
:class:`~ale_app.outputs.entries.Output` built from the contrast's
:class:`~ale_app.result.ContrastResult` and named under its label
(``contrast-<label>_...``, :func:`ale_app.outputs.names.contrast_names`).

The groups' own files are in :mod:`ale_app.outputs.group_outputs`, the run's in
:mod:`ale_app.outputs.run_outputs`; :mod:`ale_app.outputs.registry` puts them together.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ale_app.outputs import sidecars as SC
from ale_app.outputs.entries import Output, Sidecar
from ale_app.outputs.group_figures import figure_title
from ale_app.outputs.names import FWE_CLUSTER_MAP, STATMAP, contrast_names, group_prefix


def _image(result, values):
    from ale_app.stats.ale import values_to_image

    return values_to_image(np.asarray(values, dtype=np.float32), result.masker)


def groups_info(result) -> dict[str, Any]:
    """The groups as every contrast sidecar names them."""
    return {"Groups": {name: {"Experiments": len(g.evidence.ids), "Foci": int(len(g.evidence.coordinates)),
                              "Source": g.evidence.source["path"]}
                       for name, g in result.groups.items()},
            "Contrast": f"{result.names[0]} minus {result.names[1]}"}


def contrast_info(result) -> dict[str, Any]:
    """What the contrast's outputs say about how they were made."""
    spec = result.spec
    info = groups_info(result)
    if result.inferential and result.balanced is not None:
        inf, bal = spec.inference, result.balanced
        info.update({
            "Inferential": True,
            "Method": "Balanced contrast: the mean ALE difference of equal-sized random subsamples of both "
                      "groups, tested against the extremes of a random-foci null (NiMARE's "
                      "BalancedALESubtraction(null_method='random-foci')), two-sided",
            "TargetN": bal.target_n, "Subsamples": bal.n_subsamples, "SubsamplesUsed": list(bal.n_subsamples_used),
            "DifferenceIterations": bal.difference_iterations, "NullIterations": bal.n_iterations,
            "RandomSeed": inf.seed, "SecondGroupSeed": inf.seed + 1, "MaskCoverage": bal.mask_coverage,
            "ClusterFormingP": inf.voxel_p, "Alpha": inf.fwe_alpha,
            "NullThresholds": [bal.low_threshold, bal.high_threshold],
            "ProbabilisticMapClusterSizeThresholds": list(bal.cluster_size_thresholds),
            "Connectivity": "faces (6-neighbour)",
        })
    elif result.inferential:
        inf = spec.inference
        sub = result.subtraction
        info.update({
            "Inferential": True,
            "Method": "ALE subtraction: permutation of group labels (NiMARE's ALESubtraction), two-sided; voxel- "
                      "and cluster-level FWE from the same permutations (NiMARE's FWECorrector(method='montecarlo'))",
            "Permutations": inf.n_iterations, "RandomSeed": inf.seed, "ClusterFormingP": inf.voxel_p,
            "ClusterFormingALEDifference": None if sub is None else sub.cluster_forming_threshold,
            "FWEAlpha": inf.fwe_alpha, "Connectivity": "faces (6-neighbour)",
        })
    else:
        info.update({
            "Inferential": False, "DisplayThreshold": result.diff_threshold,
            "DisplayThresholdMethod": f"{spec.display.threshold_percentile:g}th percentile of the nonzero in-mask "
                                      "absolute ALE differences",
            "ThresholdIsStatistical": False,
        })
    return info


def _ale_params(result) -> dict[str, Any]:
    return {"Estimator": "ALE of each group (nimare.meta.cbma.ale.ALE kernels)",
            "Kernel": result.first.fit.kernel, "Template": result.spec.ale.template}


def _sidecar(description: str, sources: list[str]):
    def make(result) -> Sidecar:
        return Sidecar(description, sources, _ale_params(result), contrast_info(result))
    return make


def _sub(attr: str):
    return lambda r, _o: None if r.subtraction is None else _image(r, getattr(r.subtraction, attr))


def _bal(attr: str):
    return lambda r, _o: None if r.balanced is None else _image(r, getattr(r.balanced, attr))


def _balanced_null(r, _o):
    return None if r.balanced is None else r.balanced.null


def _diff_sidecar(a: str, b: str):
    plain = _sidecar(f"ALE difference: ALE of {a} minus ALE of {b} (raw values; not z, not p). Unthresholded.",
                     [f"bids::{group_prefix(a)}{STATMAP}", f"bids::{group_prefix(b)}{STATMAP}"])
    balanced = _sidecar(
        f"Balanced ALE difference: the mean, over balanced pairs, of the ALE of target_n random experiments of "
        f"{a} minus that of target_n random experiments of {b} (0 outside the mask coverage). Unthresholded.",
        ["bids::coordinates.tsv"])
    return lambda result: (balanced if result.balanced is not None else plain)(result)


def _directional(r, _o):
    sub = r.subtraction
    if sub is None or not sub.directional:
        return None
    return _image(r, sub.directional["z"])


def _null(r, _o):
    return None if r.subtraction is None else r.subtraction.null


def _cluster_table_sidecar(result) -> Sidecar:
    n = contrast_names(result.spec)
    cols = {"tail": "positive: first group's ALE higher; negative: second group's",
            "cluster_id": "Label in the contrast cluster map", "peak": "main peak or sub-peak",
            "x": "mm", "y": "mm", "z": "mm", "ale_difference": "ALE difference (first minus second) at the peak",
            "size_mm3": "Cluster volume, mm3", "region": "Atlas region at the peak",
            "composition": "Main-peak rows: regions holding most of the cluster's volume"}
    if result.inferential:
        cols.update({"size_voxels": "Cluster size, voxels", "p_fwe": "Cluster-level (size) FWE p",
                     "p_fwe_se": "Monte Carlo standard error of p_fwe, sqrt(p (1 - p) / permutations)",
                     "favoured_group_converges": "Share of the cluster's voxels where the group it favours "
                     "converges on its own (its clusters that passed cluster-level FWE): the GingerALE-style "
                     "reading counts a difference only there"})
    return Sidecar("Clusters of the ALE difference, per direction" + (
        " that passed cluster-level FWE." if result.inferential else " above the display-only threshold."),
        [f"bids::{n['diff']}", f"bids::{n['cluster_map']}"], _ale_params(result),
        {**contrast_info(result), "Labels": SC.atlas_info(result.first), "Columns": cols})


def _jackknife_sidecar(result) -> Sidecar:
    n = contrast_names(result.spec)
    return Sidecar(
        "Leave-one-out jackknife of the contrast clusters: per experiment, the mean over each cluster's voxels "
        "of 1 - difference(without it) / difference. First-group experiments are left out for positive "
        "clusters, second-group experiments for negative ones (as NiMARE's Jackknife on a pairwise result); "
        "'mean' averages the experiment's own clusters.",
        [f"bids::{n['diff']}", f"bids::{n['cluster_map']}", "bids::coordinates.tsv"], _ale_params(result),
        contrast_info(result))


def _focus_sidecar(result) -> Sidecar:
    n = contrast_names(result.spec)
    return Sidecar("Foci of each experiment inside each contrast cluster of its group's direction.",
                   ["bids::coordinates.tsv", f"bids::{n['cluster_map']}"], {}, contrast_info(result))


def _conjunction_sidecar(result) -> Sidecar:
    spec = result.spec
    basis = ("both groups' clusters that passed cluster-level FWE" if result.inferential else
             "both groups' ALE above their own display-only thresholds (description, not a test)")
    return Sidecar(
        f"Conjunction (minimum statistic, Nichols et al. 2005): min(ALE {spec.first}, ALE {spec.second}) where "
        f"{basis}; 0 elsewhere.", [f"bids::{group_prefix(g)}{STATMAP}" for g in result.names],
        _ale_params(result), {**contrast_info(result), "ConjunctionOf": basis})


def _fig_diff(result, _out=None):
    from ale_app.present import figures as F

    if result.diff_values is None:
        return None
    a, b = result.names
    if result.inferential:
        return F.plot_difference(_image(result, result.diff_values), 0.0, [a, b],
                                 figure_title(result, f"ALE difference, {a} minus {b} (unthresholded)"),
                                 "the raw difference of the two groups' ALE maps; see the z map for the test")
    return F.plot_difference(_image(result, result.diff_values), result.diff_threshold, [a, b],
                             figure_title(result, f"ALE difference, {a} minus {b}"),
                             f"drawn above the display-only threshold |difference| > {result.diff_threshold:.4g} "
                             "(not a statistical threshold)")


def _fig_z(result, _out=None):
    from ale_app.present import figures as F

    sub = result.subtraction
    cc = result.contrast_clusters
    if sub is None or cc is None or not cc.labels:  # no cluster passed: nothing to draw (the page says so)
        return None
    a, b = result.names
    label_values = np.rint(result.masker.transform(cc.label_img)).ravel()
    z = np.where(label_values > 0, sub.z_values, 0)
    return F.plot_difference(_image(result, z), 0.0, [a, b], figure_title(result, f"ALE subtraction {a} vs {b}: clusters that "
                             "passed cluster-level FWE"), f"z of the permutation test inside the {len(cc.labels)} "
                             f"cluster(s) with FWE p < {result.spec.inference.fwe_alpha:g}", label="z",
                             clusters=cc.table)


def _fig_conjunction(result, _out=None):
    from ale_app.present import figures as F

    if result.conjunction_values is None or not np.any(result.conjunction_values > 0):
        return None  # no voxel in both groups: the report says so, an empty brain would add nothing
    a, b = result.names
    basis = ("where both groups' clusters passed cluster-level FWE" if result.inferential
             else "where both groups are above their display-only thresholds (description)")
    return F.plot_conjunction(_image(result, result.conjunction_values), [a, b], result.spec.display.cmap,
                              figure_title(result, f"Conjunction of {a} and {b}"), f"min(ALE {a}, ALE {b}) {basis}")


def contrast_outputs(spec) -> tuple[Output, ...]:
    """Every file of the contrast of the version-2 ``spec`` (its pair of groups and contrast),
    in the order a run writes them."""
    n = contrast_names(spec)
    a, b = spec.first, spec.second
    return (
        Output(n["diff"], "nifti", "data", lambda r, _o: _image(r, r.diff_values), _diff_sidecar(a, b),
               needs=("diff_values",)),
        Output(n["balanced_z"], "nifti", "data", _bal("z_values"), _sidecar(
            "Balanced contrast: signed one-sided z of the balanced difference against the null extremes "
            "(positive: first group higher; 0 where the difference is inside the null band).",
            [f"bids::{n['diff']}", f"bids::{n['balanced_null']}"]), needs=("balanced",)),
        Output(n["balanced_p"], "nifti", "data", _bal("p_values"), _sidecar(
            "Balanced contrast: p of the balanced difference against the null of its largest (or, negative, "
            "smallest) value; 1 inside the null band, at least 1/null draws.",
            [f"bids::{n['diff']}", f"bids::{n['balanced_null']}"]), needs=("balanced",)),
        Output(n["balanced_logp"], "nifti", "data", _bal("logp_values"), _sidecar(
            "Balanced contrast: -log10 p.", [f"bids::{n['balanced_p']}"]), needs=("balanced",)),
        Output(n["balanced_null"], "tsv", "data", _balanced_null, _sidecar(
            "The balanced contrast's null: per random-foci draw, the smallest and largest mean balanced "
            "difference (NiMARE's values_desc-balancedMinNull_corr-none and values_desc-balancedMaxNull_corr-none).",
            ["bids::coordinates.tsv"]), needs=("balanced",)),
        Output(n["balanced_prob1"], "nifti", "data", _bal("prob1_values"), _sidecar(
            f"Balanced contrast: probabilistic map of {a}: the share of its target_n-experiment subsamples in which "
            "a voxel lies in a cluster larger than the group's random-foci cluster-size threshold.",
            ["bids::coordinates.tsv"]), needs=("balanced",)),
        Output(n["balanced_prob2"], "nifti", "data", _bal("prob2_values"), _sidecar(
            f"Balanced contrast: probabilistic map of {b} (as for {a}).", ["bids::coordinates.tsv"]),
            needs=("balanced",)),
        Output(n["balanced_conjunction"], "nifti", "data", _bal("conjunction_values"), _sidecar(
            "Balanced contrast: the minimum of the two groups' probabilistic maps.",
            [f"bids::{n['balanced_prob1']}", f"bids::{n['balanced_prob2']}"]), needs=("balanced",)),
        Output(n["z"], "nifti", "data", _sub("z_values"), _sidecar(
            "Signed z of the two-sided permutation test of the ALE difference (positive: first group higher), "
            "uncorrected.", [f"bids::{n['diff']}"]), needs=("subtraction",)),
        Output(n["p"], "nifti", "data", _sub("p_values"), _sidecar(
            "Two-sided uncorrected permutation p of the ALE difference (at least 1/permutations).",
            [f"bids::{n['diff']}"]), needs=("subtraction",)),
        Output(n["logp_voxel"], "nifti", "data", _sub("logp_voxel_fwe_values"), _sidecar(
            "-log10 voxel-level FWE p of the ALE difference (null of the largest |difference|).",
            [f"bids::{n['diff']}", f"bids::{n['null']}"]), needs=("subtraction",)),
        Output(n["logp_size"], "nifti", "data", _sub("logp_cluster_size_fwe_values"), _sidecar(
            "-log10 cluster-level (size) FWE p of each voxel's cluster of |difference| above the cluster-forming "
            "threshold.", [f"bids::{n['diff']}", f"bids::{n['null']}"]), needs=("subtraction",)),
        Output(n["logp_mass"], "nifti", "data", _sub("logp_cluster_mass_fwe_values"), _sidecar(
            "-log10 cluster-level (mass) FWE p of each voxel's cluster.", [f"bids::{n['diff']}",
                                                                            f"bids::{n['null']}"]),
            needs=("subtraction",)),
        Output(n["z_directional"], "nifti", "data", _directional, _sidecar(
            "GingerALE-style reading: one-sided z of the difference tested only where the group it favours "
            "converges on its own (positive where the first group's clusters passed FWE, negative where the "
            "second's did), as NiMARE's ALESubtraction.fit(inference_map1=, inference_map2=); 0 elsewhere, and so 0 "
            "everywhere on the side of a group without such a cluster.",
            [f"bids::{n['diff']}", f"bids::{group_prefix(a)}{FWE_CLUSTER_MAP}",
             f"bids::{group_prefix(b)}{FWE_CLUSTER_MAP}"]), needs=("subtraction",)),
        Output(n["null"], "tsv", "data", _null, _sidecar(
            "The permutation null: per permutation, the largest |ALE difference|, the largest cluster (voxels) "
            "and the largest cluster mass (NiMARE's values_level-voxel_corr-fwe_method-montecarlo, "
            "values_desc-size_... and values_desc-mass_level-cluster_corr-fwe_method-montecarlo).",
            ["bids::coordinates.tsv"]), needs=("subtraction",)),
        Output(n["cluster_map"], "nifti", "data", lambda r, _o: r.contrast_clusters.label_img, _sidecar(
            "Labels of the contrast clusters (positive first, then negative; 0 = none).",
            [f"bids::{n['diff']}"]), needs=("contrast_clusters",)),
        Output(n["cluster_table"], "tsv", "data", lambda r, _o: r.contrast_clusters.table, _cluster_table_sidecar,
               needs=("contrast_clusters",)),
        Output(n["jackknife"], "tsv", "data", lambda r, _o: r.contrast_jackknife, _jackknife_sidecar,
               needs=("contrast_jackknife",)),
        Output(n["focus_counts"], "tsv", "data", lambda r, _o: r.contrast_focus_counts, _focus_sidecar,
               needs=("contrast_focus_counts",)),
        Output(n["conjunction"], "nifti", "data", lambda r, _o: _image(r, r.conjunction_values),
               _conjunction_sidecar, needs=("conjunction_values",)),
        Output(n["conjunction_table"], "tsv", "data", lambda r, _o: r.conjunction_clusters.table,
               _conjunction_sidecar, needs=("conjunction_clusters",)),
        Output(n["fig_z"], "figure", "figures", _fig_z,
               caption="ALE subtraction: the clusters that passed cluster-level FWE (z)", section="contrast",
               needs=("subtraction", "contrast_clusters")),
        Output(n["fig_diff"], "figure", "figures", _fig_diff,
               caption="ALE difference (first group minus second)", section="contrast", needs=("diff_values",)),
        Output(n["fig_conjunction"], "figure", "figures", _fig_conjunction,
               caption="Conjunction (minimum statistic)", section="conjunction", needs=("conjunction_values",)),
    )
