"""The names of a run's files that more than one part of ale-app composes: the template
space every image is in, a group's prefix (``group-<name>_``) and a contrast's files
(``contrast-<label>_...``). The registry, the re-run script and ``--verify`` take them from
here.
"""

from __future__ import annotations

#: The template space and resolution of every image a run writes (a BIDS entity pair).
SPACE = "space-MNI152NLin6Asym_res-2"


def group_prefix(name: str) -> str:
    return f"group-{name}_"


def prefixed(name: str, prefix: str) -> str:
    folder, _, base = name.rpartition("/")
    return f"{folder}/{prefix}{base}" if folder else f"{prefix}{base}"


#: The figure of every group's foci, coloured by group (a run of several groups).
FIG_GROUPS = "figures/desc-groups_glassbrain"


def contrast_names(spec) -> dict[str, str]:
    """The contrast's file names for ``spec``."""
    c = f"contrast-{spec.contrast_label}_"
    return {
        "diff": f"{c}{SPACE}_stat-aledifference_statmap.nii.gz",
        "z": f"{c}{SPACE}_stat-z_statmap.nii.gz",
        "p": f"{c}{SPACE}_stat-p_statmap.nii.gz",
        "logp_voxel": f"{c}{SPACE}_stat-logp_desc-voxelFWE_statmap.nii.gz",
        "logp_size": f"{c}{SPACE}_stat-logp_desc-clusterFWE_statmap.nii.gz",
        "logp_mass": f"{c}{SPACE}_stat-logp_desc-clustermassFWE_statmap.nii.gz",
        "z_directional": f"{c}{SPACE}_stat-z_desc-directional_statmap.nii.gz",
        "null": f"{c}desc-permnull_table.tsv",
        "cluster_map": f"{c}{SPACE}_desc-clusters_dseg.nii.gz",
        "cluster_table": f"{c}desc-clusters_table.tsv",
        "jackknife": f"{c}desc-jackknife_table.tsv",
        "focus_counts": f"{c}desc-focuscounts_table.tsv",
        "conjunction": f"{c}{SPACE}_stat-ale_desc-conjunction_statmap.nii.gz",
        "conjunction_table": f"{c}desc-conjunction_table.tsv",
        "fig_coordinates": FIG_GROUPS,
        "fig_diff": f"figures/{c}stat-aledifference_glassbrain",
        "fig_z": f"figures/{c}stat-z_desc-clusterFWE_glassbrain",
        "fig_conjunction": f"figures/{c}desc-conjunction_glassbrain",
        "coordinates": "coordinates.tsv",
        "balanced_z": f"{c}{SPACE}_stat-z_desc-balanced_statmap.nii.gz",
        "balanced_p": f"{c}{SPACE}_stat-p_desc-balanced_statmap.nii.gz",
        "balanced_logp": f"{c}{SPACE}_stat-logp_desc-balanced_statmap.nii.gz",
        "balanced_null": f"{c}desc-balancednull_table.tsv",
        "balanced_prob1": f"{c}{SPACE}_stat-prob_desc-balanced{cap(spec.first)}_statmap.nii.gz",
        "balanced_prob2": f"{c}{SPACE}_stat-prob_desc-balanced{cap(spec.second)}_statmap.nii.gz",
        "balanced_conjunction": f"{c}{SPACE}_stat-prob_desc-balancedConjunction_statmap.nii.gz",
    }


def cap(name: str) -> str:
    return name[:1].upper() + name[1:]


# The files of a single group's run (the registry's names; a group of a contrast run
# carries them behind its prefix).
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
PROVENANCE = "provenance.json"
REPORT = "report.html"
CITATION = "CITATION.md"
BIDSIGNORE = ".bidsignore"
# Re-run elsewhere: the evidence base as Sleuth text and a NiMARE script (ale_app.outputs.rerun).
SLEUTH = "desc-sleuth_coordinates.txt"
RERUN_SCRIPT = "code/nimare_rerun.py"
FIGURE_FORMATS = ("png", "svg")
