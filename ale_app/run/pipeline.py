"""The one pipeline: a project (:mod:`ale_app.spec.project`) is read, costed, computed and
written here, whatever its analyses.

The command line and ``--verify`` turn a spec into its project once
(:func:`~ale_app.spec.project.to_project`) and call :func:`run`; nothing here or below
reads the spec version. A run reads and checks every group's input
(:func:`ale_app.run.validate.validate`), then takes the declared steps
(:data:`ale_app.run.steps.STEPS`): each group's own steps, each contrast's, then the run's;
then the registry of the project (:func:`ale_app.outputs.registry.registry_for`) writes every
file and :func:`ale_app.outputs.provenance.write_provenance` writes ``provenance.json`` last,
with the folder rules of :func:`ale_app.run.workflow.run_in_folder`.

Every run computes one :class:`~ale_app.result.ProjectResult`: each group's part, then each
contrast's (reading the groups' parts). The project's shape picks only which run-level files
and page the registry writes: version 1's (one group), version 2's (two groups and their
contrast), byte for byte as before, or the project's.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

from ale_app.outputs.registry import owned_names, registry_for
from ale_app.outputs.provenance import write_provenance
from ale_app.result import AnalysisResult, ContrastResult, ProjectResult
from ale_app.run import workflow
from ale_app.run.resume import UnitStore, kept_fields
from ale_app.run.steps import StepContext, step_named, step_title, steps_of
from ale_app.run.validate import validate
from ale_app.run.workflow import RunOptions, _Timer, run_step
from ale_app.spec.project import Project

LGR = logging.getLogger("ale_app")

__all__ = ["compute", "estimate_cost", "run", "validate"]


def estimate_cost(project: Project, evidence: dict, n_jobs: int, executor_kind: str):
    """The run's estimated peak memory and seconds per step (:func:`workflow.estimate_cost`)
    from each group's ``evidence``."""
    return workflow.estimate_cost(project.source, list(evidence.values()), n_jobs, executor_kind,
                                  contrast=project.shape != "single")


class _GroupTimer(_Timer):
    """A timer whose log lines name the group, its seconds kept in the group's timings."""

    def __init__(self, group: str, on_step=None, seconds: dict | None = None):
        super().__init__(on_step)
        self.group = group
        if seconds is not None:
            self.seconds = seconds

    @contextmanager
    def step(self, name: str, what: str):
        with super().step(name, f"[{self.group}] {what}"):
            yield


def compute(result: ProjectResult, options: RunOptions, timer: _Timer | None = None,
            store: UnitStore | None = None) -> ProjectResult:
    """Run every declared step on ``result``, in order: each group's own steps, then each
    contrast's, then the run's (:func:`ale_app.run.steps.steps_of`).

    Fills ``result`` step by step (so that, if a step fails, the earlier ones are there),
    records each step's status in its part's ``step_status`` and returns it. When the run has
    several groups, a group's log lines and a failing group step are named with the group
    (``"a: jackknife"``), a contrast's with its label when the project has several contrasts.

    With a ``store`` (:class:`~ale_app.run.resume.UnitStore`), each finished group and
    contrast is kept in the output folder's work area, and one an interrupted run of the same
    spec finished is reused rather than computed; nothing else is read or written here.
    """
    timer = timer or _Timer(options.on_step)
    context = StepContext(executor=options.executor())
    named = result.shape != "single"
    group_steps, contrast_steps = steps_of("group"), steps_of("contrast")
    keys: dict[str, str] = {}
    refit: set[str] = set()  # reused groups whose MA maps a contrast computed here needs
    pending = []
    for name, group in result.groups.items():
        if store is not None:
            keys[name] = store.group_key(group)
            if _reuse(store, f"group-{name}", keys[name], group, f"group {name}" if named else "the analysis"):
                refit.add(name)
                continue
        pending.append(name)
    if context.executor.kind == "dask" and len(pending) > 1:
        _groups_on_dask(result, pending, context, timer, store, keys)
        refit |= set(pending)  # a unit brings back no MA maps
        pending = []
    for name in pending:
        group = result.groups[name]
        group_timer = _GroupTimer(name, options.on_step, group.timings) if named else timer
        for step in group_steps:
            try:
                run_step(step, group, context, group_timer)
            except BaseException:
                if named:
                    timer.current = f"{name}: {step_title(step.name)}"
                raise
        if store is not None:
            store.save(f"group-{name}", keys[name], kept_fields(group, _computes(group_steps)))
    for label, contrast in result.contrasts.items():
        contrast_timer = _GroupTimer(label, options.on_step, contrast.timings) if result.shape == "project" else timer
        if store is not None:
            key = store.contrast_key(label, contrast, [keys[g] for g in contrast.names])
            if _reuse(store, f"contrast-{label}", key, contrast, f"contrast {label}"):
                continue
        for name in refit & set(contrast.names):  # its MA maps were not kept: fit it again (same numbers)
            LGR.info("Fitting group %s's ALE again for contrast %s (a resumed run keeps no MA maps)", name, label)
            step_named("ale").run(result.groups[name], context)
            refit.discard(name)
        for step in contrast_steps:
            try:
                run_step(step, contrast, context, contrast_timer)
            except BaseException:
                if contrast_timer is not timer:
                    timer.current = f"{label}: {step_title(step.name)}"
                raise
        if store is not None:
            store.save(f"contrast-{label}", key, kept_fields(contrast, _computes(contrast_steps)))
    for step in steps_of("run"):
        run_step(step, result, context, timer)
    return result


def _groups_on_dask(result: ProjectResult, names: list[str], context: StepContext, timer: _Timer,
                    store: UnitStore | None, keys: dict[str, str]) -> None:
    """Each group of ``names`` as one task on the dask cluster (:mod:`ale_app.run.units`): the
    groups' own analyses run side by side; each is filled in (and kept for a resumed run) as
    it comes back, in order; a group step's error is raised here, naming the group's step."""
    from ale_app.run.units import run_group_unit

    LGR.info("Sending the %d groups (%s) to the dask cluster, each group's own analysis as one task",
             len(names), ", ".join(names))
    units = context.executor.map(run_group_unit, [(result.groups[name],) for name in names], n_tasks=len(names))
    for name, unit in zip(names, units):
        group = result.groups[name]
        for field, value in unit.fields.items():
            setattr(group, field, value)
        group.timings.update(unit.seconds)
        if unit.error is not None:
            assert unit.failed_step is not None  # a unit names the step its error came from
            timer.current = f"{name}: {step_title(unit.failed_step)}"
            raise unit.error
        LGR.info("[%s] group analysis done on the dask cluster in %.1f s", name, sum(unit.seconds.values()))
        if store is not None:
            store.save(f"group-{name}", keys[name], unit.fields)


def _computes(steps) -> tuple[str, ...]:
    """Every result field the ``steps`` compute."""
    return tuple(dict.fromkeys(field for step in steps for field in step.computes))


def _reuse(store: UnitStore, unit: str, key: str, part, what: str) -> bool:
    """Fill ``part`` from the store's record of ``unit`` when it matches ``key``."""
    fields = store.load(unit, key)
    if fields is None:
        return False
    for field, value in fields.items():
        setattr(part, field, value)
    LGR.info("Reusing %s, finished by an interrupted run of this spec (its inputs and settings are the same)",
             what)
    return True


def _project_result(project: Project, record, evidence: dict, timer: _Timer) -> ProjectResult:
    """The empty result of ``project``: each group's part from its ``evidence``, each
    contrast's reading its two groups' parts. The run's seconds are kept where the run's
    own files read them: in the one group's part (shape ``single``), the one contrast's
    (``pair``), or the project's."""
    shape = project.shape
    groups = {name: AnalysisResult(spec=project.groups[name], evidence=ev, record=record,
                                   timings=timer.seconds if shape == "single" else {})
              for name, ev in evidence.items()}
    contrasts = {plan.label: ContrastResult(spec=project.contrast_spec(plan),
                                            groups={g: groups[g] for g in plan.groups}, record=record,
                                            timings=timer.seconds if shape == "pair" else {})
                 for plan in project.contrasts}
    return ProjectResult(project=project, record=record, groups=groups, contrasts=contrasts,
                         timings=timer.seconds)


def run(project: Project, spec_dir: Path, spec_text: str, output_dir: Path, options: RunOptions):
    """Run every analysis of ``project``: read the inputs, compute the result, write every
    derivative into ``output_dir``.

    Parameters
    ----------
    project : Project
        The validated spec's project (:func:`~ale_app.spec.project.to_project`).
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
    ProjectResult
        Everything the run computed: each group's part, each contrast's, the seconds per step.

    Notes
    -----
    The output folder is checked and locked before anything is computed. If a step after
    that fails (other than by an interruption), ``report.html`` is still written from the
    results finished before it, naming the step.
    """
    timer = _Timer(options.on_step)
    record = workflow.run_record(spec_dir, spec_text, options)
    holds_groups = project.shape != "single"

    def make_result(evidence: dict) -> ProjectResult:
        for name, ev in evidence.items():
            LGR.info("%s%d analyses, %d studies, %d foci", f"group {name}: " if holds_groups else "", len(ev.ids),
                     len(ev.study_ids), len(ev.coordinates))
        workflow.check_memory(project.source, list(evidence.values()), options, contrast=holds_groups)
        return _project_result(project, record, evidence, timer)

    store = UnitStore(Path(output_dir))

    def compute_here(result: ProjectResult, out) -> ProjectResult:
        # An --overwrite of a finished run writes into its staging folder: all or nothing,
        # nothing kept for a resumed run in the earlier run's folder.
        return compute(result, options, timer, store=None if out.staging else store)

    def provenance(result: ProjectResult, out) -> dict[str, str]:
        if store.reused:
            LGR.info("Reused %d finished analyses of the interrupted run: %s", len(store.reused), ", ".join(store.reused))
        store.clear()  # the run is complete: nothing is left to resume
        return write_provenance(result, out)

    what = "Reading and checking the groups' inputs" if holds_groups else "Reading and checking the input"
    return workflow.run_in_folder(
        output_dir, options, timer, registry_for(project), owned_names(project),
        read=lambda: validate(project, spec_dir), what=what, make_result=make_result,
        compute=compute_here, provenance=provenance)
