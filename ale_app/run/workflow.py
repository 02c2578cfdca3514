"""What every run shares around its steps: the execution options, the timer, one step's run
(:func:`run_step`), the cost estimate, and the folder routine (:func:`run_in_folder`: lock,
check, read, compute, write, provenance last, all-or-nothing ``--overwrite``).

The pipeline (:mod:`ale_app.run.pipeline`) calls these for every project. Knows nothing of
argparse.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ale_app.outputs import folder as D
from ale_app.outputs.folder_state import FolderState, inspect_output_dir, remove_stale_outputs, start_writing
from ale_app.outputs.lock import lock_output_dir
from ale_app.outputs.output_dir import prepare_output_dir
from ale_app.outputs import provenance as P
from ale_app.outputs import registry as O
from ale_app.outputs import swap as S
from ale_app.outputs import writing as W
from ale_app.errors import AleAppError, InterruptedRun, ServiceUnavailable
from ale_app.process.executor import Executor
from ale_app.result import AnalysisResult, RunRecord
from ale_app.run.steps import Step, StepContext, step_title

LGR = logging.getLogger("ale_app")


@dataclass
class RunOptions:
    """Execution options: they never change a number.

    Attributes
    ----------
    n_jobs, backend, dask_scheduler, dask_wait : int, str, str or None, float
        Where parallel work runs (``--n-jobs``, ``--parallel-backend``, ``--dask-scheduler``,
        ``--dask-wait``);
        :meth:`executor` turns them into the one executor every parallel step is handed.
    overwrite : bool
        Replace an earlier ale-app run's outputs.
    argv : list of str
        The command line, for provenance.
    on_step : callable or None
        Called as each step starts, once its libraries are imported. The command line
        freezes the garbage collector there (see :func:`ale_app.process.runtime.frozen_gc`);
        a library call leaves it None and the interpreter as it found it.
    """

    n_jobs: int = 1
    backend: str = "loky"
    dask_scheduler: str | None = None
    dask_wait: float = 120.0
    overwrite: bool = False
    argv: list[str] = field(default_factory=list)
    on_step: Callable[[], None] | None = None

    def executor(self) -> Executor:
        """The executor of these options."""
        return Executor.from_options(self.n_jobs, self.backend, self.dask_scheduler, self.dask_wait)


class _Timer:
    def __init__(self, on_step: Callable[[], None] | None = None):
        self.seconds: dict[str, float] = {}
        self.current: str | None = None
        self.on_step = on_step

    @contextmanager
    def step(self, name: str, what: str):
        LGR.info("%s ...", what)
        self.current = name
        if self.on_step is not None:
            self.on_step()
        start = time.perf_counter()
        yield
        took = time.perf_counter() - start
        self.seconds[name] = took
        self.current = None
        LGR.info("%s done in %.1f s", what, took)


def estimate_cost(spec, evidence: list, n_jobs: int, executor_kind: str, contrast: bool = False):
    """A run's estimated peak memory (:mod:`ale_app.stats.footprint`) and seconds per step
    (:mod:`ale_app.stats.runtime_estimate`), from the size of its ``evidence`` (one per group)."""
    from ale_app.stats.footprint import estimate_peak
    from ale_app.stats.runtime_estimate import estimate_runtime

    sizes = [(len(ev.ids), len(ev.coordinates)) for ev in evidence]
    footprint = estimate_peak(
        sizes, mode=spec.mode, n_iterations=spec.inference.n_iterations, voxel_p=spec.inference.voxel_p,
        jackknife=spec.jackknife.method if spec.jackknife.enabled else "none", n_jobs=n_jobs,
        executor_kind=executor_kind, contrast=contrast)
    return footprint, estimate_runtime(spec, sizes, n_jobs)


def cost_line(footprint, runtime) -> str:
    """The estimate in one sentence: 'expected to take about 3.2 h (2.1 GiB memory) on 2
    workers; measured on a 2-core machine, yours may differ; mostly ...', naming the steps
    that take most of it."""
    from ale_app.process.memory import format_bytes
    from ale_app.stats.runtime_estimate import format_duration

    workers = f"{runtime.workers} worker" + ("" if runtime.workers == 1 else "s")
    return (f"expected to take {format_duration(runtime.seconds)} ({format_bytes(footprint.resident)} memory) on "
            f"{workers}; measured on a 2-core machine, yours may differ; mostly {runtime.describe()}")


def check_memory(spec, evidence: list, options: RunOptions, contrast: bool = False) -> None:
    """Refuse a run whose estimated peak memory (:mod:`ale_app.stats.footprint`) exceeds what
    this process may use (:mod:`ale_app.process.memory`), before anything is computed (exit 71);
    and say how long a run that fits is expected to take when that is more than
    :data:`ale_app.stats.runtime_estimate.ANNOUNCE_SECONDS` (a long run is never refused)."""
    from ale_app.process.memory import check_fits, format_bytes
    from ale_app.stats.runtime_estimate import ANNOUNCE_SECONDS

    footprint, runtime = estimate_cost(spec, evidence, options.n_jobs, options.executor().kind, contrast)
    LGR.debug("estimated peak memory: %s resident, %s address space (%s)", format_bytes(footprint.resident),
              format_bytes(footprint.virtual), footprint.describe())
    check_fits(footprint)
    if runtime.seconds > ANNOUNCE_SECONDS:
        LGR.info("This run is %s", cost_line(footprint, runtime))
    else:
        LGR.debug("estimated time: %s", cost_line(footprint, runtime))


def run_record(spec_dir: Path, spec_text: str, options: RunOptions) -> RunRecord:
    """How and from what a run is made (for provenance and ``spec.json``)."""
    return RunRecord(spec_dir=spec_dir, spec_text=spec_text, argv=list(options.argv), n_jobs=options.n_jobs,
                     backend=options.backend, started=O.started_now(), versions=P.software_versions())


def run_in_folder(output_dir: Path, options: RunOptions, timer: _Timer, registry, names: D.OwnedNames, *,
                  read: Callable, what: str, make_result: Callable, compute: Callable, provenance: Callable):
    """The folder rules every run follows, around its own reading, computing and writing.

    The output folder is locked first, and what a killed ``--overwrite`` left in it is
    completed or removed (:func:`ale_app.outputs.swap.recover_output_dir`); then the folder
    is checked (a refused folder costs no input reading); ``read()`` reads and checks the
    inputs, ``make_result`` turns them into the result, ``compute(result, out)`` runs the steps
    (``out``: the :class:`~ale_app.outputs.folder.OutputFolder` the run writes, its staging folder for an
    ``--overwrite`` of a finished run);
    the registry's entries are then written step by step, and ``provenance(result, folder)``
    last.

    Into a new or unfinished folder the files are written in place, stale files of an earlier
    run removed, and a failing step (not an interruption) still gets a report of what was
    finished. An ``--overwrite`` of a finished run writes the new run into a staging folder
    beside it and swaps it in only once it is complete (:mod:`ale_app.outputs.swap`): any
    failure or interruption before that leaves the earlier run as it was.
    """
    created = not Path(output_dir).exists()
    out_root = prepare_output_dir(output_dir)
    with lock_output_dir(out_root, names.marker):
        try:
            S.recover_output_dir(out_root)
            folder = inspect_output_dir(out_root, options.overwrite, names)
            with timer.step("inputs", what):
                inputs = read()
        except BaseException:
            if created:
                _remove_if_empty(out_root, keep=D.LOCK)
            raise
        result = make_result(inputs)
        if options.overwrite and folder.complete:
            outputs = _replace_run(out_root, folder, names, result, options, timer, registry, compute, provenance)
        else:
            outputs = _write_in_place(out_root, folder, names, result, options, timer, registry, compute, provenance)
    LGR.info("Wrote %d files to %s", len(outputs) + 1, out_root)
    return result


def _write_in_place(out_root: Path, folder: FolderState, names: D.OwnedNames, result, options: RunOptions,
                    timer: _Timer, registry, compute: Callable, provenance: Callable) -> dict[str, str]:
    """Write a run straight into a new or unfinished folder (a re-run completes it)."""
    out = D.OutputFolder(out_root, completion=names.completion)
    start_writing(out, folder, names)
    # First, so that an interrupted run is recognisable as ale-app's and can be completed.
    W.write_step("start", result, out, registry)
    try:
        compute(result, out)
        write(result, out, options.executor(), timer, registry)
    except (InterruptedRun, KeyboardInterrupt):
        raise
    except Exception:
        # Still inside the lock: the report names the step that failed.
        failed = timer.current
        if failed is not None:
            result.failed_step = step_title(failed)
            try:
                W.write_failure_report(result, out, registry)
                LGR.warning("The %s step failed; report.html describes what was finished.", failed)
            except Exception:  # noqa: BLE001 - the original error is the one to report
                LGR.debug("could not write the failure report", exc_info=True)
        raise
    stale = remove_stale_outputs(out, folder, names)
    if stale:
        LGR.info("Removed %d file(s) of the earlier run that this run does not write: %s",
                 len(stale), ", ".join(stale))
    return provenance(result, out)


def _replace_run(out_root: Path, folder: FolderState, names: D.OwnedNames, result, options: RunOptions,
                 timer: _Timer, registry, compute: Callable, provenance: Callable) -> dict[str, str]:
    """``--overwrite`` of a finished run: all or nothing.

    The new run is written into the staging folder beside the earlier one, provenance
    included, then swapped in with signals deferred (a SIGTERM during the swap lets it finish:
    the run is complete, exit 0). Until the swap the earlier run is untouched; if anything
    fails or interrupts the run before it, the staging folder is removed and the error says
    that the earlier run is kept. A failing step writes no failure report (it would be
    thrown away with the staging folder): the message names the step.
    """
    from ale_app.process import runtime

    LGR.info("Writing the new run beside the earlier one in %s; it replaces it once complete "
             "(other files are kept)", out_root)
    for name in folder.temporary:  # left in the folder by a killed run before the earlier one finished
        D.OutputFolder(out_root).remove(name)
    S.start_staging(out_root)
    out = D.OutputFolder(out_root, staging=D.STAGING)
    try:
        W.write_step("start", result, out, registry)
        compute(result, out)
        write(result, out, options.executor(), timer, registry)
        outputs = provenance(result, out)
        with runtime.deferred_signals(completes_run=True):
            S.swap_in(out, names)
    except BaseException as exc:
        if S.swap_started(out_root):
            raise  # a swap that could not move the earlier run back: the next run completes it
        S.discard_new_run(out_root)
        if timer.current is not None and not isinstance(exc, (InterruptedRun, KeyboardInterrupt)):
            LGR.warning("The %s step failed; the earlier run in %s is kept unchanged.", timer.current, out_root)
        if runtime.signal_received() is not None or isinstance(exc, (InterruptedRun, KeyboardInterrupt)):
            # However the interrupt surfaced (a library may wrap it), it ends the run as one.
            interrupted = runtime.interrupted_error()
            interrupted.hint = S.KEPT_HINT
            raise interrupted from None
        if isinstance(exc, AleAppError) and S.KEPT_HINT not in (exc.hint or ""):
            exc.hint = " ".join(h for h in (exc.hint, S.KEPT_HINT) if h)
        raise
    S.finish_swap(out_root)
    stale = sorted(set(folder.own) - set(outputs) - {names.completion})
    if stale:
        LGR.info("Removed %d file(s) of the earlier run that this run does not write: %s",
                 len(stale), ", ".join(stale))
    return outputs


def _remove_if_empty(folder: Path, keep: str) -> None:
    """Remove a folder this run created when nothing but ``keep`` (the lock) is in it."""
    try:
        if {p.name for p in folder.iterdir()} <= {keep}:
            (folder / keep).unlink(missing_ok=True)
            folder.rmdir()
    except OSError:
        pass


def run_step(step: Step, result: Any, context: StepContext, timer: _Timer) -> Any:
    """``result`` (the part of the run's :class:`~ale_app.result.ProjectResult` the step's
    scope names: a group's, a contrast's, or the whole) after ``step``: run, or skipped with
    its reason recorded."""
    reason = step.why_not(result)
    if reason is not None:
        result.step_status[step.name] = f"skipped: {reason}"
        return result
    result.step_status[step.name] = "running"
    try:
        if step.describe is None:  # a step too quick to log or time (releasing memory)
            step.run(result, context)
        else:
            with timer.step(step.name, step.describe(result, context)):
                step.run(result, context)
    except ServiceUnavailable as exc:  # the dask cluster went away: say which step it stopped
        exc.message = f"The {step.title} step stopped: {exc.message[0].lower()}{exc.message[1:]}"
        raise
    result.step_status[step.name] = "ran"
    return result


def write(result: AnalysisResult, out: D.OutputFolder, executor: Executor | None = None,
          timer: _Timer | None = None, registry=O.REGISTRY) -> None:
    """Write every derivative of ``result`` into the locked folder ``out``, step by step
    (provenance apart: :func:`run` writes it last); ``executor`` draws the figures."""
    timer = timer or _Timer()
    with timer.step("write", "Writing derivatives"):
        W.write_step("data", result, out, registry)
    with timer.step("figures", "Drawing figures"):
        W.write_figures(result, out, executor, settle=timer.on_step, registry=registry)
    with timer.step("report", "Writing the report"):
        W.write_step("report", result, out, registry)
