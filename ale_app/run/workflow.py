"""Run the analysis: read the input, compute the result, write it.

``result = compute(...)`` fills one :class:`~ale_app.result.AnalysisResult` from pure
compute steps; ``write(result, folder)`` hands it to the registry of outputs
(:mod:`ale_app.outputs.registry`). Knows nothing of argparse: :func:`run` takes one validated spec
and the execution options.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ale_app.outputs import folder as D
from ale_app.outputs import registry as O
from ale_app.errors import InputDataError, InterruptedRun
from ale_app.result import AnalysisResult, RunRecord
from ale_app.spec.models import AnalysisSpec

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
        freeze_gc()
        start = time.perf_counter()
        yield
        took = time.perf_counter() - start
        self.seconds[name] = took
        self.current = None
        LGR.info("%s done in %.1f s", what, took)


STEP_NAMES = {
    "ale": "ALE fit", "clusters": "cluster", "labels": "anatomical labelling", "jackknife": "jackknife", "write": "writing",
    "figures": "figure", "report": "report", "inference": "Monte Carlo inference",
    "fwe-clusters": "FWE cluster",
}


def freeze_gc() -> None:
    """Move every object alive now (mostly the imported libraries) out of the garbage
    collector's sight until :func:`run` ends.

    nilearn runs a full ``gc.collect()`` each time it reads an image (``safe_get_data``);
    once NiMARE, nilearn and matplotlib are imported that walks about a million objects, a
    quarter of a second each time, a dozen times a run. Frozen objects are still freed when
    their last reference goes; only reference cycles among them wait for ``gc.unfreeze()``.
    """
    gc.freeze()


@contextmanager
def _unfreeze_gc_at_end():
    try:
        yield
    finally:
        gc.unfreeze()


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
    """Read and check the input data, and that the declared mode may run on it; return the
    :class:`~ale_app.inputs.evidence.Evidence`."""
    from ale_app.inputs.evidence import load_evidence

    evidence = load_evidence(spec.input, spec_dir, spec.ale)
    check_mode(spec, len(evidence.ids))
    return evidence


def check_mode(spec: AnalysisSpec, n_experiments: int) -> None:
    """Refuse ``mode: inferential`` below ``inference.min_experiments`` (before computing anything)."""
    minimum = spec.inference.min_experiments
    if spec.mode == "inferential" and n_experiments < minimum:
        raise InputDataError(
            f"mode: inferential needs at least {minimum} experiments (inference.min_experiments); the input "
            f"has {n_experiments}.",
            hint="ALE's voxelwise inference is not reliable on so few experiments (Eickhoff et al. 2016). "
            "Declare 'mode: descriptive' in the spec for a descriptive analysis of this evidence base.",
        )


def run(spec: AnalysisSpec, spec_dir: Path, spec_text: str, output_dir: Path, options: RunOptions) -> AnalysisResult:
    """Run the whole ALE workflow: read the input, compute the result, write every derivative.

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
    AnalysisResult
        Everything the run computed; ``timings`` holds the seconds per step.

    Notes
    -----
    The output folder is checked and locked before anything is computed. If a step after
    that fails (other than by an interruption), ``report.html`` is still written from the
    results finished before it, naming the step.
    """
    timer = _Timer()
    record = RunRecord(spec_dir=spec_dir, spec_text=spec_text, argv=list(options.argv), n_jobs=options.n_jobs,
                       backend=options.backend, started=O.started_now())
    names = O.owned_names()
    created = not Path(output_dir).exists()
    # The output folder is checked (and locked) first, so a refused folder costs no input reading.
    out_root = D.prepare_output_dir(output_dir)
    with D.lock_output_dir(out_root, names.marker), _unfreeze_gc_at_end():
        try:
            folder = D.inspect_output_dir(out_root, options.overwrite, names)
            with timer.step("inputs", "Reading and checking the input"):
                evidence = validate(spec, spec_dir)
        except BaseException:
            if created:
                _remove_if_empty(out_root, keep=D.LOCK)
            raise
        LGR.info("%d analyses, %d studies, %d foci", len(evidence.ids), len(evidence.study_ids),
                 len(evidence.coordinates))
        result = AnalysisResult(spec=spec, evidence=evidence, record=record, timings=timer.seconds)
        out = D.OutputFolder(out_root, completion=names.completion)
        D.start_writing(out, folder, names)
        # First, so that an interrupted run is recognisable as ale-app's and can be completed.
        O.write_step("start", result, out)
        try:
            compute(result, options, timer)
            write(result, out, timer)
        except (InterruptedRun, KeyboardInterrupt):
            raise
        except Exception:
            # Still inside the lock: the report names the step that failed.
            failed = timer.current
            if failed is not None:
                result.failed_step = STEP_NAMES.get(failed, failed)
                try:
                    O.write_failure_report(result, out)
                    LGR.warning("The %s step failed; report.html describes what was finished.", failed)
                except Exception:  # noqa: BLE001 - the original error is the one to report
                    LGR.debug("could not write the failure report", exc_info=True)
            raise
        stale = D.remove_stale_outputs(out, folder, names)
        if stale:
            LGR.info("Removed %d file(s) of the earlier run that this run does not write: %s",
                     len(stale), ", ".join(stale))
        outputs = O.write_provenance(result, out)
    LGR.info("Wrote %d files to %s", len(outputs) + 1, out_root)
    return result


def _remove_if_empty(folder: Path, keep: str) -> None:
    """Remove a folder this run created when nothing but ``keep`` (the lock) is in it."""
    try:
        if {p.name for p in folder.iterdir()} <= {keep}:
            (folder / keep).unlink(missing_ok=True)
            folder.rmdir()
    except OSError:
        pass


def compute(result: AnalysisResult, options: RunOptions, timer: _Timer | None = None) -> AnalysisResult:
    """Fit ALE, pick the display threshold, find the peak and clusters, run the jackknife.

    Fills ``result`` step by step (so that, if a step fails, the earlier ones are there)
    and returns it. No file is read or written here.
    """
    import numpy as np

    from ale_app.stats import ale as A
    from ale_app.stats import labels as L
    from ale_app.present.figures import study_colors
    from ale_app.stats.jackknife import closed_form_contributions, refit_contributions

    timer = timer or _Timer()
    spec, evidence = result.spec, result.evidence
    result.study_colors = dict(zip(evidence.study_ids, study_colors(len(evidence.study_ids))))

    with timer.step("ale", f"Fitting ALE on {len(evidence.ids)} experiments"), \
            progress_bar(len(evidence.ids), "ALE") as advance:
        fit = A.fit_ale(evidence.studyset, spec.ale, progress=advance)
        result.fit = fit
        result.threshold = A.display_threshold(fit.stat_values, spec.display.threshold_percentile)
        result.peak = A.find_peak(fit.stat_img)
    LGR.info("peak ALE %.5f at (%g, %g, %g) mm; display threshold %.6f", result.peak.value, *result.peak.xyz,
             result.threshold)

    with timer.step("clusters", "Finding descriptive clusters"):
        clusters = A.find_clusters(fit.stat_img, result.threshold, spec.jackknife.cluster_threshold_mm3)
        result.clusters = clusters
    with timer.step("labels", f"Labelling the peak and clusters ({L.ATLAS_TITLES[spec.labels.atlas]})"):
        result.peak_label = L.label_points([result.peak.xyz], spec.labels.atlas)[0]
        clusters.table = L.label_cluster_table(clusters.table, clusters.label_img, spec.labels.atlas)
    LGR.info("%d descriptive cluster%s of at least %d voxels", len(clusters.labels),
             "" if len(clusters.labels) == 1 else "s", clusters.min_voxels)

    if spec.jackknife.enabled and clusters.labels:
        method = spec.jackknife.method
        n = len(fit.ids)
        what = (f"Jackknife ({method}): {n} leave-one-out refits on {options.n_jobs} job(s), "
                f"{options.backend} backend" if method == "refit" else f"Jackknife ({method}): {n} experiments")
        with timer.step("jackknife", what), progress_bar(n, "jackknife") as advance:
            label_values = np.rint(fit.masker.transform(clusters.label_img)).astype(np.int32).ravel()
            if method == "closed-form":
                result.jackknife = closed_form_contributions(
                    fit.ma, fit.ids, fit.stat_values, label_values, clusters.labels, evidence.ids, progress=advance,
                )
            else:
                result.jackknife = refit_contributions(
                    evidence.studyset, evidence.ids, spec.ale, fit.stat_values, label_values, clusters.labels,
                    n_jobs=options.n_jobs, backend=options.backend, scheduler=options.dask_scheduler,
                    progress=advance,
                )
    if result.inferential:
        infer(result, options, timer)
    fit.ma = None  # free the MA maps before drawing
    return result


def infer(result: AnalysisResult, options: RunOptions, timer: _Timer | None = None) -> AnalysisResult:
    """ALE's cluster-level FWE inference (inferential mode): the Monte Carlo null, the clusters
    that pass, their labels, the jackknife over them and the foci each experiment puts in them."""
    import numpy as np

    from ale_app.stats import labels as L
    from ale_app.stats.fwe_clusters import focus_counts, fwe_clusters
    from ale_app.stats.montecarlo import montecarlo_fwe
    from ale_app.stats.jackknife import closed_form_contributions

    timer = timer or _Timer()
    spec, evidence, fit = result.spec, result.evidence, result.fit
    inf = spec.inference
    with timer.step("inference", f"Monte Carlo FWE: {inf.n_iterations} iterations, seed {inf.seed}, on "
                    f"{options.n_jobs} job(s)"), progress_bar(inf.n_iterations, "FWE") as advance:
        result.inference = montecarlo_fwe(
            fit=fit, voxel_p=inf.voxel_p,
            n_iterations=inf.n_iterations, seed=inf.seed, alpha=inf.fwe_alpha, n_jobs=options.n_jobs,
            backend=options.backend, scheduler=options.dask_scheduler, progress=advance,
        )
    with timer.step("fwe-clusters", "Describing the clusters that passed cluster-level FWE"):
        clusters = fwe_clusters(result.inference, fit.stat_img)
        clusters.table = L.label_cluster_table(clusters.table, clusters.label_img, spec.labels.atlas)
        result.fwe_clusters = clusters
        result.fwe_focus_counts = focus_counts(evidence.coordinates, clusters.label_img, clusters.labels,
                                               evidence.ids)
        if clusters.labels:
            label_values = np.rint(fit.masker.transform(clusters.label_img)).astype(np.int32).ravel()
            result.fwe_jackknife = closed_form_contributions(
                fit.ma, fit.ids, fit.stat_values, label_values, clusters.labels, evidence.ids)
    LGR.info("%d cluster%s passed cluster-level FWE at alpha %g (cluster-forming p < %g)", len(clusters.labels),
             "" if len(clusters.labels) == 1 else "s", inf.fwe_alpha, inf.voxel_p)
    return result


def write(result: AnalysisResult, out: D.OutputFolder, timer: _Timer | None = None) -> None:
    """Write every derivative of ``result`` into the locked folder ``out``, step by step
    (provenance apart: :func:`run` writes it last)."""
    timer = timer or _Timer()
    with timer.step("write", "Writing derivatives"):
        O.write_step("data", result, out)
    with timer.step("figures", "Drawing figures"):
        O.write_figures(result, out)
    with timer.step("report", "Writing the report"):
        O.write_step("report", result, out)
