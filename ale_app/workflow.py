"""Run the analysis steps in order: inputs, ALE, clusters, jackknife, figures, outputs.

Knows nothing of argparse: :func:`run` takes one validated spec and the execution options.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ale_app import derivatives as D
from ale_app.spec import AnalysisSpec

LGR = logging.getLogger("ale_app")


@dataclass
class RunOptions:
    """Execution options: they never change a number."""

    n_jobs: int = 1
    backend: str = "loky"
    overwrite: bool = False
    argv: list[str] = field(default_factory=list)


class _Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str, what: str):
        LGR.info("%s ...", what)
        start = time.perf_counter()
        yield
        took = time.perf_counter() - start
        self.seconds[name] = took
        LGR.info("%s done in %.1f s", what, took)


def validate(spec: AnalysisSpec, spec_dir: Path):
    """Read and check the input data; return the :class:`~ale_app.inputs.Evidence`."""
    from ale_app.inputs import load_evidence

    return load_evidence(spec.input, spec_dir, spec.ale)


def run(spec: AnalysisSpec, spec_dir: Path, spec_text: str, output_dir: Path, options: RunOptions) -> dict:
    """Run the whole descriptive ALE workflow and write every derivative.

    Parameters
    ----------
    spec : AnalysisSpec
        The validated spec.
    spec_dir : Path
        Folder a relative input path is resolved against.
    spec_text : str
        The spec as read (its digest goes into provenance).
    output_dir : Path
        The derivatives folder.
    options : RunOptions
        Jobs, backend, overwrite, the command line.

    Returns
    -------
    dict
        A summary: peak, threshold, clusters, jackknife means, output digests.
    """
    import matplotlib

    matplotlib.use("Agg")

    from ale_app import ale as A
    from ale_app import figures as F
    from ale_app import report as R
    from ale_app.jackknife import run_jackknife

    started = datetime.now(timezone.utc)
    timer = _Timer()

    with timer.step("inputs", "Reading and checking the input"):
        evidence = validate(spec, spec_dir)
    coords = evidence.coordinates
    LGR.info("%d analyses, %d studies, %d foci", len(evidence.ids), len(evidence.study_ids), len(coords))

    out_root = D.prepare_output_dir(output_dir, options.overwrite)
    out = D.OutputFolder(out_root)
    # First, so that a folder left by an interrupted run is recognised as ale-app's and the
    # re-run completes it (provenance.json, written last, marks a finished run).
    out.write_json(D.DATASET_DESCRIPTION, D.dataset_description(spec.title, evidence.source))

    with timer.step("ale", "Fitting ALE"):
        fit = A.fit_ale(evidence.studyset, spec.ale)
        threshold = A.display_threshold(fit.stat_values, spec.display.threshold_percentile)
        peak = A.find_peak(fit.stat_img)
    LGR.info("peak ALE %.5f at (%g, %g, %g) mm; display threshold %.6f", peak.value, *peak.xyz, threshold)

    with timer.step("clusters", "Finding descriptive clusters"):
        clusters = A.find_clusters(fit.stat_img, threshold, spec.jackknife.cluster_threshold_mm3)
    LGR.info("%d descriptive clusters of at least %d voxels", len(clusters.labels), clusters.min_voxels)

    jk_table = None
    if spec.jackknife.enabled and clusters.labels:
        with timer.step("jackknife", f"Jackknife: {len(fit.ids)} leave-one-out refits on {options.n_jobs} job(s)"):
            label_values = np.rint(fit.masker.transform(clusters.label_img)).astype(np.int32).ravel()
            jk_table = run_jackknife(
                evidence.studyset, evidence.ids, spec.ale, fit.stat_values, label_values, clusters.labels,
                n_jobs=options.n_jobs, backend=options.backend,
            )

    threshold_info = {
        "DisplayThreshold": threshold,
        "DisplayThresholdMethod": (
            f"{spec.display.threshold_percentile:g}th percentile of the nonzero in-mask ALE values"
        ),
        "ThresholdIsStatistical": False,
        "Inferential": False,
    }
    source_name = f"bids::{D.COORDINATES}"
    params_ale = {"Estimator": "nimare.meta.cbma.ale.ALE", "Kernel": fit.kernel, "Template": spec.ale.template}

    with timer.step("write", "Writing derivatives"):
        # Coordinates
        coord_out = coords.copy()
        coord_out["space"] = "MNI152NLin6Asym"
        out.write_tsv(D.COORDINATES, coord_out)
        out.write_sidecar(
            D.COORDINATES, "Every focus that entered the analysis, in the target space (mm).",
            [evidence.source["path"]],
            {"InputFormat": evidence.source["format"], "Selection": _selection(spec),
             "SampleSizes": evidence.sample_sizes},
            Columns={"analysis_id": "Analysis id '<study id>-<analysis id>'", "study_id": "Study id",
                     "x": "mm", "y": "mm", "z": "mm", "space": "Coordinate space"},
        )
        # ALE map
        out.write_nifti(D.STATMAP, fit.stat_img)
        out.write_sidecar(
            D.STATMAP, "Raw ALE statistic (convergence value; not z, not p). Unthresholded.",
            [source_name], params_ale, **threshold_info, PeakValue=peak.value, PeakMNI=list(peak.xyz),
            DataType="float32",
        )
        # Clusters
        out.write_nifti(D.CLUSTER_MAP, clusters.label_img)
        cluster_params = {"ClusterThresholdMM3": spec.jackknife.cluster_threshold_mm3,
                          "ClusterMinVoxels": clusters.min_voxels, "Connectivity": "faces (6-neighbour)",
                          "Numbering": "by descending peak ALE value"}
        out.write_sidecar(
            D.CLUSTER_MAP, "Descriptive cluster labels of the display-thresholded ALE map (0 = none).",
            [f"bids::{D.STATMAP}"], cluster_params, **threshold_info,
        )
        out.write_tsv(D.CLUSTER_TABLE, clusters.table)
        out.write_sidecar(
            D.CLUSTER_TABLE, "Peak, up to three sub-peaks (8 mm apart) and size of each descriptive cluster.",
            [f"bids::{D.STATMAP}", f"bids::{D.CLUSTER_MAP}"], cluster_params, **threshold_info,
            Columns={"cluster_id": "Label in the cluster map", "peak": "main peak or sub-peak",
                     "x": "mm", "y": "mm", "z": "mm", "ale": "ALE value", "size_mm3": "Cluster volume, mm3"},
        )
        if jk_table is not None:
            out.write_tsv(D.JACKKNIFE_TABLE, jk_table)
            out.write_sidecar(
                D.JACKKNIFE_TABLE,
                "Leave-one-out jackknife: per left-out analysis, the mean over each cluster's voxels of "
                "1 - ALE(without it) / ALE(all); 'mean' averages the clusters.",
                [f"bids::{D.STATMAP}", f"bids::{D.CLUSTER_MAP}", source_name],
                {"Method": spec.jackknife.method, **cluster_params, "ALE": params_ale},
                **threshold_info,
            )

    with timer.step("figures", "Drawing figures"):
        study_ids = evidence.study_ids
        colors = dict(zip(study_ids, F.study_colors(len(study_ids))))
        fmts, dpi = spec.figures.formats, spec.figures.dpi
        out.write_figure(D.FIG_COORDINATES, F.plot_coordinates(coords, study_ids, colors,
                         "All reported coordinates, by study"), fmts, dpi)
        out.write_figure(D.FIG_OVERLAY, F.plot_overlay(fit.stat_img, coords, study_ids, colors,
                         spec.display.glass_brain_threshold, spec.display.cmap,
                         "Raw ALE statistic (unthresholded) with reported coordinates"), fmts, dpi)
        out.write_figure(D.FIG_PEAK, F.plot_peak_orthoview(fit.stat_img, peak.xyz, threshold, spec.display.cmap,
                         f"ALE statistic above the display-only threshold {threshold:.4f}"), fmts, dpi)
        if jk_table is not None:
            out.write_figure(D.FIG_JACKKNIFE, F.plot_jackknife_means(jk_table), fmts, dpi)

    versions = D.software_versions()
    rep = R.ReportInputs(
        title=spec.title, n_experiments=len(evidence.ids), n_studies=len(evidence.study_ids),
        n_foci=len(coords), peak_value=peak.value, peak_xyz=peak.xyz, threshold=threshold,
        threshold_percentile=spec.display.threshold_percentile, cluster_table=clusters.table,
        jackknife=jk_table, dominance_ratio=spec.report.dominance_ratio,
        dominance_min=spec.report.dominance_min, kernel_text=fit.kernel["fwhm_from"], versions=versions,
        cluster_threshold_mm3=spec.jackknife.cluster_threshold_mm3,
    )
    with timer.step("report", "Writing the report"):
        figure_paths = {
            "All reported coordinates, by study": out_root / f"{D.FIG_COORDINATES}.png",
            "Unthresholded ALE map with the coordinates": out_root / f"{D.FIG_OVERLAY}.png",
            "ALE map above the display-only threshold, cut at the peak": out_root / f"{D.FIG_PEAK}.png",
            "Jackknife mean contributions": out_root / f"{D.FIG_JACKKNIFE}.png",
        }
        out.write_text(D.REPORT, R.report_html(rep, figure_paths))
        out.write_text(D.CITATION, R.citation_markdown(rep))
        spec_record = spec.model_dump(mode="json")
        spec_record["input"]["sha256"] = evidence.source["sha256"]
        spec_record["input"]["format_used"] = evidence.source["format"]
        out.write_json(D.SPEC_JSON, spec_record)

    outputs = dict(out.digests)
    provenance = D.provenance_record(
        options.argv, started, D.sha256_bytes(spec_text.encode("utf-8")),
        {evidence.source["path"]: evidence.source["sha256"]}, outputs, options.n_jobs, options.backend,
        timer.seconds,
    )
    out.write_json(D.PROVENANCE, provenance)
    LGR.info("Wrote %d files to %s", len(outputs) + 1, out_root)

    return {
        "peak": peak,
        "threshold": threshold,
        "clusters": clusters.table,
        "jackknife": jk_table,
        "outputs": outputs,
        "timings": timer.seconds,
    }


def _selection(spec: AnalysisSpec):
    sel = spec.input.select
    return None if sel is None else sel.model_dump(exclude_none=True)
