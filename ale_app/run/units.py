"""A group's own analysis as one unit of work, for a dask cluster.

With ``--parallel-backend dask`` and several groups to compute, the pipeline
(:func:`ale_app.run.pipeline.compute`) sends each group's own steps to the cluster as one
task (:func:`run_group_unit`): the groups' main effects run side by side on the workers
rather than one after the other. A unit returns what its steps computed in the form the
resume store keeps (:func:`ale_app.run.resume.kept_fields`: without the MA maps and
NiMARE's estimator, the largest objects, so a contrast fits the group's ALE again here),
with its seconds per step and its steps' status. A step's own error comes back as the unit's
answer, to be raised here with the step named; a unit lost with its worker is run again by
:func:`ale_app.process.dask_cluster.map_on_dask`. Every step gives the same numbers on any
executor, so the files equal a run on one machine byte for byte.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from ale_app.result import AnalysisResult

LGR = logging.getLogger("ale_app")

__all__ = ["GroupUnit", "run_group_unit"]


@dataclass
class GroupUnit:
    """What a group's unit of work gives back."""

    fields: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    failed_step: str | None = None
    error: BaseException | None = None


def _worker_threads() -> int:
    """The threads of the dask worker this runs on (its Monte Carlo loop uses them), else 1."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1


def run_group_unit(group: AnalysisResult, n_threads: int | None = None) -> GroupUnit:
    """Every group step on ``group`` (on a dask worker, with its threads): the fields they
    computed, their seconds and status, and the step that failed with its error."""
    from ale_app.process.executor import Executor
    from ale_app.run.resume import kept_fields
    from ale_app.run.steps import StepContext, steps_of
    from ale_app.run.workflow import _Timer, run_step

    n_threads = n_threads or _worker_threads()
    context = StepContext(executor=Executor("threads", n_threads) if n_threads > 1 else Executor())
    timer = _Timer()
    steps = steps_of("group")
    failed, error = None, None
    for step in steps:
        try:
            run_step(step, group, context, timer)
        except Exception as exc:  # noqa: BLE001 - handed back, raised where the run is
            failed, error = step.name, exc
            break
    context.executor.release()
    computes = tuple(dict.fromkeys(f for step in steps for f in step.computes))
    LGR.debug("group unit done in process %d", os.getpid())
    return GroupUnit(kept_fields(group, computes), dict(timer.seconds), failed, error)
