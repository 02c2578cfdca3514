"""The figure entries of a single group's run: each builds its matplotlib figure from the
result with :mod:`ale_app.present.figures` (the registry names the files and the report
sections).
"""

from __future__ import annotations


from ale_app.outputs import folder as D
from ale_app.result import AnalysisResult


def figure_title(result: AnalysisResult, text: str) -> str | None:
    """A figure's title, or None when the spec asks for figures without (``figures.titles``)."""
    return text if result.spec.figures.titles else None


def fig_coordinates(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import figures as F

    ev = result.evidence
    by = ", by study" if F.studies_coloured(len(ev.study_ids)) else ""
    return F.plot_coordinates(ev.coordinates_by_study(), ev.study_ids, F.study_color_map(ev.study_ids),
                              figure_title(result, f"All reported coordinates{by}"))


def fig_overlay(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import figures as F

    ev, display = result.evidence, result.spec.display
    assert result.fit is not None  # the fit step ran
    return F.plot_overlay(result.fit.stat_img, ev.coordinates_by_study(), ev.study_ids, F.study_color_map(ev.study_ids),
                          display.glass_brain_threshold, display.cmap,
                          figure_title(result, "Raw ALE statistic with the reported coordinates"))


def fig_peak(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import figures as F

    assert result.fit is not None and result.peak is not None and result.threshold is not None  # the fit ran
    return F.plot_peak_orthoview(result.fit.stat_img, result.peak.xyz, result.threshold, result.spec.display.cmap,
                                 figure_title(result, f"ALE statistic above the display-only threshold {result.threshold:.4f}"))


def fig_jackknife(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import figures as F

    report = result.spec.report
    return None if result.jackknife is None else F.plot_jackknife_means(
        result.jackknife, report.dominance_ratio, report.dominance_min,
        figure_title(result, "Jackknife: mean contribution of each experiment, largest first"))


def fig_clusters(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C

    clusters = result.clusters
    assert clusters is not None  # the clusters step ran
    if not clusters.labels:
        return None
    return C.plot_cluster_map(clusters.label_img, clusters.table, "D", figure_title(
        result, "Descriptive clusters D1, D2 ... (display threshold, not a test)"),
        f"above the display-only ALE threshold {result.threshold:.5f}, at least "
        f"{result.spec.jackknife.cluster_threshold_mm3:g} mm3; numbered by descending peak ALE")


def fig_dependence(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C
    from ale_app.present.dependence import RESTS_ON

    return None if result.jackknife is None else C.plot_dependence(
        result.jackknife, "D", RESTS_ON, figure_title(result, "Jackknife per descriptive cluster: share removed by each experiment"))


def fig_fwe(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C

    c, inf = result.fwe_clusters, result.spec.inference
    assert c is not None  # the FWE clusters step ran
    if not c.labels:
        return None
    assert result.fit is not None
    return C.plot_fwe_glass(result.fit.stat_img, c.label_img, c.table, result.spec.display.cmap, figure_title(
        result, "Clusters that passed cluster-level FWE (F1, F2 ...), ALE values"),
        f"cluster-forming p < {inf.voxel_p:g}, FWE alpha {inf.fwe_alpha:g}, {inf.n_iterations:,} Monte Carlo "
        f"iterations (seed {inf.seed}); nothing outside these clusters is drawn")


def fig_fwe_peaks(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C

    c = result.fwe_clusters
    assert c is not None  # the FWE clusters step ran
    if not c.labels:
        return None
    assert result.fit is not None
    return C.plot_fwe_peaks(result.fit.stat_img, c.label_img, c.table, result.spec.display.cmap,
                            figure_title(result, "Clusters that passed cluster-level FWE, cut at each peak"))


def fig_fwe_clusters(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C

    c = result.fwe_clusters
    assert c is not None  # the FWE clusters step ran
    if not c.labels:
        return None
    return C.plot_cluster_map(c.label_img, c.table, "F", figure_title(result, "FWE clusters F1, F2 ..., numbered"),
                              "passed cluster-level FWE; numbered by descending peak ALE (not the descriptive D numbers)")


def fig_fwe_dependence(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from ale_app.present import cluster_figures as C
    from ale_app.present.dependence import RESTS_ON

    return None if result.fwe_jackknife is None else C.plot_dependence(
        result.fwe_jackknife, "F", RESTS_ON, figure_title(result, "Jackknife per FWE cluster: share removed by each experiment"))


def fig_z(result: AnalysisResult, _out: D.OutputFolder | None = None):
    from scipy.stats import norm

    from ale_app.present import cluster_figures as C

    p = result.spec.inference.voxel_p
    assert result.inference is not None  # the Monte Carlo step ran
    return C.plot_z_map(result.inference.z_img, float(norm.isf(p)), p,
                        figure_title(result, "Uncorrected voxel-level z (analytic null)"))
