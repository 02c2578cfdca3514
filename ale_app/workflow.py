"""Run the analysis steps in order: inputs, ALE, clusters, jackknife, figures, outputs.

Knows nothing of argparse: :func:`run` takes one validated spec and the execution options.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ale_app import derivatives as D
from ale_app import provenance as P
from ale_app.spec import AnalysisSpec

LGR = logging.getLogger("ale_app")


@dataclass
class RunOptions:
    """Execution options: they never change a number."""

    n_jobs: int = 1
    backend: str = "loky"
    dask_scheduler: str | None = None
    overwrite: bool = False
    argv: list[str] = field(default_factory=list)


class _Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.current: str | None = None

    @contextmanager
    def step(self, name: str, what: str):
        LGR.info("%s ...", what)
        self.current = name
        start = time.perf_counter()
        yield
        took = time.perf_counter() - start
        self.seconds[name] = took
        self.current = None
        LGR.info("%s done in %.1f s", what, took)


STEP_NAMES = {
    "ale": "ALE fit", "clusters": "cluster", "jackknife": "jackknife", "write": "writing",
    "figures": "figure", "report": "report",
}


@dataclass
class _State:
    """What a run has produced so far, so a report can be written if a later step fails."""

    evidence: object = None
    out: object = None
    fit: object = None
    threshold: float | None = None
    peak: object = None
    peak_label: str | None = None
    clusters: object = None
    jackknife: object = None


@contextmanager
def progress_bar(total: int, desc: str):
    """Yield a callable that advances a tqdm bar on a terminal, and does nothing otherwise."""
    if not sys.stderr.isatty() or not LGR.isEnabledFor(logging.INFO):
        yield lambda n=1: None
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, unit="exp", leave=False) as bar:
        yield bar.update


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
        A summary: peak, threshold, clusters, jackknife table, output digests, step timings.

    Notes
    -----
    If a step after the output folder is prepared fails (other than by an interruption),
    ``report.html`` is still written from the results finished before it, naming the step.
    """
    return _run_steps(spec, spec_dir, spec_text, output_dir, options, _Timer(), _State())


def _run_steps(spec, spec_dir, spec_text, output_dir, options, timer, state) -> dict:
    import matplotlib

    from ale_app.errors import InterruptedRun

    matplotlib.use("Agg")

    started = datetime.now(timezone.utc)

    with timer.step("inputs", "Reading and checking the input"):
        evidence = validate(spec, spec_dir)
    state.evidence = evidence
    coords = evidence.coordinates
    LGR.info("%d analyses, %d studies, %d foci", len(evidence.ids), len(evidence.study_ids), len(coords))

    out_root = D.prepare_output_dir(output_dir)
    with D.lock_output_dir(out_root):
        folder = D.inspect_output_dir(out_root, options.overwrite)
        out = D.OutputFolder(out_root)
        state.out = out
        D.start_writing(out, folder)
        # First, so that an interrupted run is recognisable as ale-app's and can be completed.
        out.write_json(D.DATASET_DESCRIPTION, P.dataset_description(spec.title, evidence.source))
        out.write_text(D.BIDSIGNORE, D.bidsignore_text())
        try:
            return _compute_and_write(spec, spec_dir, spec_text, evidence, out, folder, options, started,
                                      timer, state)
        except (InterruptedRun, KeyboardInterrupt):
            raise
        except Exception:
            # Still inside the lock: the report names the step that failed.
            failed = timer.current
            if failed is not None:
                try:
                    _write_report(spec, state, failed_step=STEP_NAMES.get(failed, failed))
                    LGR.warning("The %s step failed; report.html describes what was finished.", failed)
                except Exception:  # noqa: BLE001 - the original error is the one to report
                    LGR.debug("could not write the failure report", exc_info=True)
            raise


def _compute_and_write(spec, spec_dir, spec_text, evidence, out, folder, options, started, timer, state) -> dict:
    """Fit, find clusters, run the jackknife and write every file into the locked ``out``."""
    from ale_app import ale as A
    from ale_app import figures as F
    from ale_app.anatomy import nearest_label
    from ale_app.jackknife import closed_form_contributions, refit_contributions

    coords = evidence.coordinates
    out_root = out.root

    with timer.step("ale", f"Fitting ALE on {len(evidence.ids)} experiments"), \
            progress_bar(len(evidence.ids), "ALE") as advance:
        fit = A.fit_ale(evidence.studyset, spec.ale, progress=advance)
        threshold = A.display_threshold(fit.stat_values, spec.display.threshold_percentile)
        peak = A.find_peak(fit.stat_img)
        state.fit, state.threshold, state.peak = fit, threshold, peak
        state.peak_label = nearest_label(peak.xyz).describe()
    LGR.info("peak ALE %.5f at (%g, %g, %g) mm; display threshold %.6f", peak.value, *peak.xyz, threshold)

    with timer.step("clusters", "Finding descriptive clusters"):
        clusters = A.find_clusters(fit.stat_img, threshold, spec.jackknife.cluster_threshold_mm3)
        state.clusters = clusters
    LGR.info("%d descriptive clusters of at least %d voxels", len(clusters.labels), clusters.min_voxels)

    jk_table = None
    if spec.jackknife.enabled and clusters.labels:
        method = spec.jackknife.method
        n = len(fit.ids)
        what = (f"Jackknife ({method}): {n} leave-one-out refits on {options.n_jobs} job(s), "
                f"{options.backend} backend" if method == "refit" else f"Jackknife ({method}): {n} experiments")
        with timer.step("jackknife", what), progress_bar(n, "jackknife") as advance:
            label_values = np.rint(fit.masker.transform(clusters.label_img)).astype(np.int32).ravel()
            if method == "closed-form":
                jk_table = closed_form_contributions(
                    fit.ma, fit.ids, fit.stat_values, label_values, clusters.labels, evidence.ids, progress=advance,
                )
            else:
                jk_table = refit_contributions(
                    evidence.studyset, evidence.ids, spec.ale, fit.stat_values, label_values, clusters.labels,
                    n_jobs=options.n_jobs, backend=options.backend, scheduler=options.dask_scheduler,
                    progress=advance,
                )
    state.jackknife = jk_table
    fit.ma = None  # free the MA maps before drawing

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
             "SampleSizes": evidence.sample_sizes, "InputSpaces": evidence.spaces,
             "SpaceConversions": evidence.conversions,
             "FociOutsideBrainMask": evidence.outside_mask.to_dict(orient="records"),
             "FociOutsideFieldOfView": evidence.outside_fov.to_dict(orient="records"),
             "InputWarnings": evidence.warnings},
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
        colors = study_color_map(study_ids)
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

    with timer.step("report", "Writing the report"):
        _write_report(spec, state)
        spec_record = spec.model_dump(mode="json")
        # What is recorded beside the spec here, --verify strips again (verify.RECORDED_INPUT_KEYS).
        spec_record["input"]["sha256"] = evidence.source["sha256"]
        spec_record["input"]["format_used"] = evidence.source["format"]
        spec_record["input"]["space_conversions"] = evidence.conversions
        out.write_json(D.SPEC_JSON, spec_record)

    stale = D.remove_stale_outputs(out, folder)
    if stale:
        LGR.info("Removed %d file(s) of the earlier run that this run does not write: %s",
                 len(stale), ", ".join(stale))
    outputs = dict(out.digests)
    provenance = P.provenance_record(
        options.argv, started, D.sha256_bytes(spec_text.encode("utf-8")), [evidence.source], outputs,
        options.n_jobs, options.backend, timer.seconds, spec_folder=spec_dir, output_dir=out.root,
    )
    provenance["JackknifeMethod"] = spec.jackknife.method if spec.jackknife.enabled else None
    provenance["InputFormat"] = evidence.source["format"]
    provenance["InputSpaceConversions"] = evidence.conversions
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


def _figure_file(root: Path, stem: str) -> Path:
    png = root / f"{stem}.png"
    return png if png.exists() else root / f"{stem}.svg"


def _write_report(spec: AnalysisSpec, state: _State, failed_step: str | None = None) -> None:
    """Write report.html and CITATION.md from whatever ``state`` holds."""
    from ale_app import report as R

    evidence, out, fit = state.evidence, state.out, state.fit
    coords = evidence.coordinates
    root = out.root
    figures = {
        "All reported coordinates, by study": _figure_file(root, D.FIG_COORDINATES),
        "Unthresholded ALE map with the coordinates (ALE statistic, not z or p)": _figure_file(root, D.FIG_OVERLAY),
        "ALE map above the display-only threshold, cut at the peak": _figure_file(root, D.FIG_PEAK),
        "Jackknife: mean contribution of each experiment": _figure_file(root, D.FIG_JACKKNIFE),
    }
    sel = _selection(spec)
    rep = R.ReportInputs(
        title=spec.title, n_experiments=len(evidence.ids), n_studies=len(evidence.study_ids), n_foci=len(coords),
        threshold_percentile=spec.display.threshold_percentile,
        cluster_threshold_mm3=spec.jackknife.cluster_threshold_mm3, dominance_ratio=spec.report.dominance_ratio,
        dominance_min=spec.report.dominance_min,
        kernel_text=fit.kernel["fwhm_from"] if fit is not None else "",
        versions=P.software_versions(),
        peak_value=state.peak.value if state.peak else None, peak_xyz=state.peak.xyz if state.peak else None,
        peak_label=state.peak_label, threshold=state.threshold,
        cluster_table=state.clusters.table if state.clusters is not None else None,
        jackknife=state.jackknife, jackknife_method=spec.jackknife.method,
        evidence=evidence_summary(evidence),
        spec_summary={"Input": f"{evidence.source['path']} ({evidence.source['format']})",
                      "Input SHA-256": evidence.source["sha256"],
                      "Selection": ", ".join(f"{k}: {v}" for k, v in sel.items()) if sel else "all analyses",
                      "Kernel": fit.kernel["fwhm_from"] if fit is not None else "",
                      "Jackknife": f"{spec.jackknife.method}" if spec.jackknife.enabled else "off"},
        digests=dict(out.digests),
        failed_step=failed_step,
        study_colors=study_color_map(evidence.study_ids),
    )
    out.write_text(D.REPORT, R.report_html(rep, figures))
    out.write_text(D.CITATION, R.citation_markdown(rep))


def study_color_map(study_ids: list[str]) -> dict[str, str]:
    """Each study's colour, the same in every figure and in the report's key."""
    from ale_app.figures import study_colors

    return dict(zip(study_ids, study_colors(len(study_ids))))


def evidence_summary(evidence) -> dict[str, str]:
    """The evidence base in words for the report: subjects, spaces, conversions, foci
    outside the mask or field of view, warnings."""
    sizes = [n for n in evidence.sample_sizes.values() if n is not None]
    summary = {}
    if sizes:
        missing = len(evidence.sample_sizes) - len(sizes)
        summary["Subjects (sum of sample sizes)"] = f"{sum(sizes):g}" + (
            f" ({missing} experiments without one)" if missing else "")
    summary["Spaces in the input"] = ", ".join(f"{k}: {v} foci" for k, v in evidence.spaces.items()) or "n/a"
    summary["Space conversions"] = "; ".join(
        f"{c['Foci']} foci {c['From']} to {c['To']} ({c['Transform']})" for c in evidence.conversions) or "none"
    summary["Foci outside the brain mask (kept)"] = str(len(evidence.outside_mask))
    if len(evidence.outside_fov):
        summary["Foci outside the field of view (kept)"] = str(len(evidence.outside_fov))
    for i, warning in enumerate(evidence.warnings, start=1):
        summary[f"Warning {i}"] = warning
    return summary


def _selection(spec: AnalysisSpec):
    sel = spec.input.select
    return None if sel is None else sel.model_dump(exclude_none=True)
